"""The route table of the simulated ABS: every route at the root and under `/audiobookshelf`, like ABS."""

from __future__ import annotations

from aiohttp import web

from mamd.sim.abs import api_library as content
from mamd.sim.abs import api_server as server

ROUTER_BASES = ("", "/audiobookshelf")


def add_api_routes(app: web.Application) -> None:
    for base in ROUTER_BASES:
        api = f"{base}/api"
        libraries = f"{api}/libraries/{{library_id}}"
        router = app.router
        router.add_get(f"{base}/healthcheck", server.healthcheck)
        router.add_get(f"{base}/ping", server.ping)
        router.add_get(f"{base}/status", server.status)
        router.add_post(f"{base}/login", server.login)
        router.add_get(f"{api}/me", server.me)
        router.add_get(f"{api}/api-keys", server.api_keys)
        router.add_get(f"{api}/tasks", server.tasks)
        router.add_post(f"{api}/watcher/update", server.watcher_update)
        router.add_get(f"{api}/libraries", content.libraries)
        router.add_get(libraries, content.library)
        router.add_get(f"{libraries}/filterdata", content.filterdata)
        router.add_get(f"{libraries}/stats", content.stats)
        router.add_get(f"{libraries}/items", content.items)
        router.add_get(f"{libraries}/series", content.series_list)
        router.add_get(f"{libraries}/series/{{series_id}}", content.series_one)
        router.add_get(f"{libraries}/authors", content.authors)
        router.add_get(f"{libraries}/narrators", content.narrators)
        router.add_get(f"{libraries}/search", content.search)
        router.add_post(f"{libraries}/scan", server.scan_library)
        router.add_delete(f"{libraries}/issues", server.remove_issues)
        router.add_post(f"{api}/items/batch/get", content.batch_get)
        router.add_get(f"{api}/items/{{item_id}}", content.item)
        router.add_post(f"{api}/items/{{item_id}}/scan", content.scan_item)
        router.add_get(f"{api}/series/{{series_id}}", content.series_one)
        router.add_get(f"{api}/authors/{{author_id}}", content.author_one)
