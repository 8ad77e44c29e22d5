"""mamd's HTTP surface as an aiohttp application."""

from __future__ import annotations

from aiohttp import web

from mamd.runtime import Runtime
from mamd.web import actions, api, grab, health, hooks, page, status, templates
from mamd.web.hosts import HostCheck, machine_names
from mamd.web.keys import GUESSES, HOSTS, REFUSALS, RUNTIME, TEMPLATES
from mamd.web.middleware import authenticate, check_host, error_envelope, request_context
from mamd.web.refusals import GuessLimit, RefusalLog

MAX_BODY_BYTES = 64 * 1024


def create_app(runtime: Runtime) -> web.Application:
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[request_context, error_envelope, check_host, authenticate],
    )
    app[RUNTIME] = runtime
    app[REFUSALS] = RefusalLog()
    app[GUESSES] = GuessLimit()
    app[HOSTS] = HostCheck(machine_names())
    app[TEMPLATES] = templates.environment()
    app[page.CHART_READINGS] = page.ChartReadings()

    async def close_refusals(app: web.Application) -> None:
        app[REFUSALS].close()  # the counts of the last minute are said before mamd stops

    app.on_cleanup.append(close_refusals)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/", page.index)
    app.router.add_get("/status", page.status_by_accept)
    app.router.add_get("/wanted", page.wanted_state)
    app.router.add_get("/wanted/{id}", page.wanted_book)
    app.router.add_post("/sign-in", page.sign_in)
    app.router.add_get("/metrics", status.metrics)
    app.router.add_post("/hooks/qbittorrent", hooks.qbittorrent_hook)
    app.router.add_post("/api/v1/jobs/{name}", api.run_job)
    app.router.add_get("/api/v1/events", api.events)
    app.router.add_post("/api/v1/notify/test", api.notify_test)
    app.router.add_get("/api/v1/wanted", api.wanted_list)
    app.router.add_get("/api/v1/wanted/{id}", api.wanted_one)
    app.router.add_post("/api/v1/wanted", actions.want)
    app.router.add_delete("/api/v1/wanted/{id}", actions.drop)
    app.router.add_post("/api/v1/wanted/{id}/ignore", actions.ignore)
    app.router.add_post("/api/v1/wanted/{id}/unignore", actions.unignore)
    app.router.add_post("/api/v1/wanted/{id}/search", actions.search)
    app.router.add_post("/api/v1/wanted/{id}/grab", grab.grab)
    app.router.add_post("/api/v1/torrents/{hash}/import", actions.import_again)
    return app
