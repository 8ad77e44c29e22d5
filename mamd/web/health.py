"""`/healthz` (the loop answers) and `/readyz` (mamd can do its work), both without a key."""

from __future__ import annotations

from aiohttp import web

from mamd.web.keys import runtime_of
from mamd.web.middleware import auth


@auth("none")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@auth("none")
async def readyz(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    ready = runtime.ready
    body = runtime.redactor.value({"ready": ready, "problems": runtime.readiness_problems()})
    return web.json_response(body, status=200 if ready else 503)
