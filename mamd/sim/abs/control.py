"""The simulator's own HTTP controls under `/__sim/`, for a simulator running as a separate process.

They need no ABS token and exist only at the root, never under `/api`; faults never apply to them.

- `GET /__sim/state`: the library's id, `lastScan`, counts, scan delay and watcher setting.
- `PATCH /__sim/library`: `{"disableWatcher": bool, "scanDelay": s, "watcherDelay": s}`, each optional.
- `GET /__sim/faults`, `DELETE /__sim/faults` (clear all), `POST /__sim/faults` with one of
  `{"latency": s}`, `{"kind": "status", "status": 503, "count": 2, "pathPrefix": "/api/", "retryAfter": 3}`,
  `{"kind": "garbage", "count": 1}`, `{"kind": "hang", "count": 1, "seconds": 30}`,
  `{"kind": "failAfter", "successes": 10, "status": 500, "count": null}`.
- `GET /__sim/scans`: `{"scans": [{requestedAt, libraryId, force, accepted}], "completed", "running",
  "watcher": [...]}`.
- `POST /__sim/items` with `{"title", "authors": [...], "narrators": [...], "series": [{"name",
  "sequence"}] or ["Name #seq"], "asin", "isbn", "publishedYear", ...}` → 201 `{"item": expanded item}`.
- `PATCH /__sim/items/{id}` with any of those fields and `isMissing` / `isInvalid` → `{"item": ...}`.
- `DELETE /__sim/items/{id}` → `{"removed": id}`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mamd.sim.abs import edit as abs_edit
from mamd.sim.abs import render as abs_render
from mamd.sim.abs.api_server import json_response, not_found
from mamd.sim.abs.state import AbsState, state_of
from mamd.sim.control import add_fault_routes, json_object, snake_case


def _error(message: str, status: int = 400) -> web.Response:
    return json_response({"error": message}, status=status)


def _state_json(state: AbsState) -> dict[str, Any]:
    items = state.library.items.values()
    return {
        "libraryId": state.library.id,
        "libraryName": state.library.name,
        "folder": state.library.folder_path,
        "lastScan": state.library.last_scan,
        "items": len(state.library.items),
        "missing": sum(1 for item in items if item.is_missing),
        "invalid": sum(1 for item in items if item.is_invalid),
        "scanDelay": state.scanner.delay,
        "watcherDelay": state.scanner.watcher_delay,
        "disableWatcher": state.library.disable_watcher,
    }


async def get_state(request: web.Request) -> web.Response:
    return json_response(_state_json(state_of(request)))


async def patch_library(request: web.Request) -> web.Response:
    state, body = state_of(request), await json_object(request)
    if body is None:
        return _error("expected a JSON object")
    if isinstance(body.get("disableWatcher"), bool):
        state.library.disable_watcher = body["disableWatcher"]
        state.library.changed(state.now_ms())
    for key, attribute in (("scanDelay", "delay"), ("watcherDelay", "watcher_delay")):
        if isinstance(body.get(key), int | float) and body[key] >= 0:
            setattr(state.scanner, attribute, float(body[key]))
    return json_response(_state_json(state))


async def get_scans(request: web.Request) -> web.Response:
    scanner = state_of(request).scanner
    return json_response(
        {
            "scans": [scan.as_json() for scan in scanner.requests],
            "completed": scanner.completed,
            "running": scanner.running is not None,
            "watcher": scanner.watcher_events,
        }
    )


async def add_item(request: web.Request) -> web.Response:
    state, body = state_of(request), await json_object(request)
    if body is None:
        return _error("expected a JSON object")
    parts = int(body.pop("parts", 1) or 1)
    try:
        item = abs_edit.new_item(state.library, snake_case(body), state.now_ms(), parts=parts)
    except abs_edit.EditError as error:
        return _error(str(error))
    return json_response({"item": abs_render.expanded_item(state.library, item)}, status=201)


async def change_item(request: web.Request) -> web.Response:
    state, body = state_of(request), await json_object(request)
    item = state.library.items.get(request.match_info["item_id"])
    if item is None:
        return not_found()
    if body is None:
        return _error("expected a JSON object")
    try:
        abs_edit.change_item(state.library, item, snake_case(body), state.now_ms())
    except abs_edit.EditError as error:
        return _error(str(error))
    return json_response({"item": abs_render.expanded_item(state.library, item)})


async def remove_item(request: web.Request) -> web.Response:
    state, item_id = state_of(request), request.match_info["item_id"]
    if not abs_edit.remove_item(state.library, item_id, state.now_ms()):
        return not_found()
    return json_response({"removed": item_id})


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/__sim/state", get_state)
    app.router.add_patch("/__sim/library", patch_library)
    add_fault_routes(app, lambda request: state_of(request).faults, json_response)
    app.router.add_get("/__sim/scans", get_scans)
    app.router.add_post("/__sim/items", add_item)
    app.router.add_patch("/__sim/items/{item_id}", change_item)
    app.router.add_delete("/__sim/items/{item_id}", remove_item)
