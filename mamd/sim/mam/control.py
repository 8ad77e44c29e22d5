"""The simulator's own HTTP controls under `/__sim/`, for a simulated MAM running as a separate process.

They need no cookie, never rotate it, are never faulted and are not in the request log. Bodies are JSON.

- `GET /__sim/state`: the cookie, options, counts (rows, requests, downloads, purchases, rotations,
  rejections) and faults.
- `PATCH /__sim/options`: any of `{"oldUnsatShape": bool, "rejection": "403"|"401"|"empty"|"login",
  "deletionEvery": n, "capitalizedStore": bool, "personalFlCharge": "wedge"|"points", "downloadLimit": n,
  "downloadWindow": s, "completeInto": "/dir" or null, "stringStartNumber": bool}` → the state.
- `GET /__sim/faults`, `DELETE /__sim/faults` (clear all), `POST /__sim/faults` with one of `{"latency": s}`,
  `{"kind": "status", "status": 503, "count": 2, "pathPrefix": "/tor/", "retryAfter": 3}`,
  `{"kind": "garbage", "count": 1, "asJson": false}`, `{"kind": "empty", "count": 1}`,
  `{"kind": "hang", "count": 1, "seconds": 30}`, `{"kind": "failAfter", "successes": 3, "status": 500,
  "count": null}`.
- `GET /__sim/account` → `{"account": {...}, "ratio"}`; `PATCH /__sim/account` with snake_case or camelCase
  fields (`wedges`, `seedbonus`, `classname`, `vipUntil`, `downloadedBytes`, …) and
  `{"counters": {"unsat": {"count": 3, "limit": 50}}}`.
- `GET /__sim/requests[?pathPrefix=/tor/]` → `{"requests": [{monotonic, wall, method, path, query, status,
  accepted, fault}], "minGap"}`; `DELETE /__sim/requests` empties the log.
- `GET /__sim/downloads` → `{"downloads": [...], "purchases": [...]}`.
- `GET /__sim/payload?tid=N` → `{"tid", "name", "files": {path: size}}`; `POST /__sim/payload` with
  `{"tid": N, "folder": "/dir"}` writes those bytes there → the same plus `"folder"`.
- `POST /__sim/expire` → `{"cookie": new}`: every value clients hold is now rejected; the new value is the
  one a user would paste next.
- `GET /__sim/cookie` → `{"cookie", "previous"}`; `PUT /__sim/cookie` with `{"cookie": "..."}` (or `{}` for a
  random one) starts a new session with that value.
- `GET /__sim/rows/{tid}` → the wire row (with `isbn`, `description` and `dl`); `PATCH /__sim/rows/{tid}`
  with integer fields (`seeders`, `leechers`, `times_completed`, `free`, `vip`, `fl_vip`,
  `personal_freeleech`, `my_snatched`, `vip_expire`).
- `GET /__sim/seedbox`; `PATCH /__sim/seedbox` with `{"sessionType": "ip"|"asn", "allowDynamic", "seenIp",
  "registeredIp", "mismatch": "IP"|"ASN"|null, "lastChange", "tooRecentMsg", "tooRecentStatus"}`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from mamd.sim.control import add_fault_routes, json_object, snake_case
from mamd.sim.mam.payload import payload_files, torrent_name, write_payload
from mamd.sim.mam.rows import render_row
from mamd.sim.mam.session import REJECTIONS
from mamd.sim.mam.state import MamState, state_of

_ROW_FIELDS = frozenset(
    {"seeders", "leechers", "times_completed", "free", "vip", "fl_vip", "personal_freeleech", "my_snatched"}
    | {"vip_expire"}
)


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _error(message: str, status: int = 400) -> web.Response:
    return _json({"error": message}, status)


def state_json(state: MamState) -> dict[str, Any]:
    downloads = state.downloads
    return {
        "cookie": state.session.current,
        "previousCookie": state.session.previous,
        "rows": len(state.rows),
        "requests": len(state.requests),
        "downloads": len(downloads.records),
        "purchases": len(state.store.purchases),
        "announces": state.announces,
        "oldUnsatShape": state.old_unsat_shape,
        "rejection": state.session.rejection,
        "deletionEvery": state.session.deletion_every,
        "rotations": state.session.rotations,
        "rejected": state.session.rejected,
        "capitalizedStore": state.store.capitalized,
        "personalFlCharge": state.store.personal_fl_charge,
        "downloadLimit": downloads.limiter.limit,
        "downloadWindow": downloads.limiter.window,
        "completeInto": str(downloads.complete_into) if downloads.complete_into else None,
        "stringStartNumber": state.string_start_number,
        "faults": state.faults.to_json(),
    }


async def get_state(request: web.Request) -> web.Response:
    return _json(state_json(state_of(request)))


def _check(value: Any, kind: type | tuple[type, ...], name: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"{name} has the wrong type: {value!r}")
    return value


def _options(state: MamState, body: dict[str, Any]) -> list[tuple[object, str, Any]]:
    """Validate every option first and return the (object, attribute, value) changes, so a bad body
    changes nothing."""
    session, store, downloads = state.session, state.store, state.downloads
    changes: list[tuple[object, str, Any]] = []
    for key, value in body.items():
        if key == "oldUnsatShape":
            changes.append((state, "old_unsat_shape", _check(value, bool, key)))
        elif key == "stringStartNumber":
            changes.append((state, "string_start_number", _check(value, bool, key)))
        elif key == "rejection":
            if value not in REJECTIONS:
                raise ValueError(f"rejection must be one of {', '.join(REJECTIONS)}")
            changes.append((session, "rejection", value))
        elif key == "deletionEvery":
            changes.append((session, "deletion_every", _check(value, int, key)))
        elif key == "capitalizedStore":
            changes.append((store, "capitalized", _check(value, bool, key)))
        elif key == "personalFlCharge":
            if value not in ("wedge", "points"):
                raise ValueError("personalFlCharge must be wedge or points")
            changes.append((store, "personal_fl_charge", value))
        elif key == "downloadLimit":
            changes.append((downloads.limiter, "limit", _check(value, int, key)))
        elif key == "downloadWindow":
            changes.append((downloads.limiter, "window", float(_check(value, (int, float), key))))
        elif key == "completeInto":
            folder = None if value is None else Path(_check(value, str, key))
            changes.append((downloads, "complete_into", folder))
        else:
            raise ValueError(f"unknown option {key!r}")
    return changes


async def patch_options(request: web.Request) -> web.Response:
    state, body = state_of(request), await json_object(request)
    if body is None:
        return _error("expected a JSON object")
    try:
        changes = _options(state, body)
    except ValueError as error:
        return _error(str(error))
    for target, attribute, value in changes:
        setattr(target, attribute, value)
    return _json(state_json(state))


def _account_json(state: MamState) -> dict[str, Any]:
    account = state.account
    fields = {key: value for key, value in vars(account).items() if key != "counters"}
    return {"account": {**fields, "counters": account.counters}, "ratio": account.ratio}


async def get_account(request: web.Request) -> web.Response:
    return _json(_account_json(state_of(request)))


async def patch_account(request: web.Request) -> web.Response:
    state, body = state_of(request), await json_object(request)
    if body is None:
        return _error("expected a JSON object")
    try:
        state.account.patch(snake_case(body))
    except ValueError as error:
        return _error(str(error))
    return _json(_account_json(state))


async def get_requests(request: web.Request) -> web.Response:
    return _json(state_of(request).requests.to_json(request.query.get("pathPrefix")))


async def clear_requests(request: web.Request) -> web.Response:
    log = state_of(request).requests
    log.clear()
    return _json(log.to_json())


async def get_downloads(request: web.Request) -> web.Response:
    state = state_of(request)
    return _json(
        {
            "downloads": [record.to_json() for record in state.downloads.records],
            "purchases": [purchase.to_json() for purchase in state.store.purchases],
        }
    )


def _tid(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


async def get_payload(request: web.Request) -> web.Response:
    state = state_of(request)
    row = state.rows.get(_tid(request.query.get("tid")) or 0)
    if row is None:
        return _error("unknown tid", 404)
    return _json({"tid": row.id, "name": torrent_name(row), "files": payload_files(row)})


async def write_payload_to(request: web.Request) -> web.Response:
    state, body = state_of(request), await json_object(request)
    if body is None or not isinstance(body.get("folder"), str):
        return _error('expected {"tid": N, "folder": "/dir"}')
    row = state.rows.get(_tid(body.get("tid")) or 0)
    if row is None:
        return _error("unknown tid", 404)
    folder = Path(body["folder"])
    try:
        files = await asyncio.to_thread(_write, row, folder)
    except (OSError, ValueError) as error:
        return _error(f"cannot write the payload: {error}", 500)
    return _json({"tid": row.id, "name": torrent_name(row), "folder": str(folder), "files": files})


def _write(row: Any, folder: Path) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    return write_payload(row, folder)


async def expire(request: web.Request) -> web.Response:
    return _json({"cookie": state_of(request).session.expire()})


async def get_cookie(request: web.Request) -> web.Response:
    session = state_of(request).session
    return _json({"cookie": session.current, "previous": session.previous})


async def put_cookie(request: web.Request) -> web.Response:
    session, body = state_of(request).session, await json_object(request)
    if body is None or not isinstance(body.get("cookie", ""), str | None):
        return _error('expected {"cookie": "value"} or {}')
    return _json({"cookie": session.replace(body.get("cookie") or None), "previous": None})


async def get_row(request: web.Request) -> web.Response:
    row = state_of(request).rows.get(_tid(request.match_info["tid"]) or 0)
    if row is None:
        return _error("unknown tid", 404)
    return _json(render_row(row, isbn=True, description=True, dl=True))


async def patch_row(request: web.Request) -> web.Response:
    state, body = state_of(request), await json_object(request)
    row = state.rows.get(_tid(request.match_info["tid"]) or 0)
    if row is None:
        return _error("unknown tid", 404)
    if body is None:
        return _error("expected a JSON object")
    for key, value in body.items():
        if key not in _ROW_FIELDS or not isinstance(value, int) or isinstance(value, bool):
            return _error(f"{key!r} is not a changeable integer row field ({', '.join(sorted(_ROW_FIELDS))})")
    for key, value in body.items():
        setattr(row, key, value)
    return _json(render_row(row, isbn=True, description=True, dl=True))


async def get_seedbox(request: web.Request) -> web.Response:
    return _json(state_of(request).seedbox.to_json())


_SEEDBOX_FIELDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "sessionType": ("session_type", lambda v: v in ("ip", "asn")),
    "allowDynamic": ("allow_dynamic", lambda v: isinstance(v, bool)),
    "seenIp": ("seen_ip", lambda v: v is None or isinstance(v, str)),
    "registeredIp": ("registered_ip", lambda v: v is None or isinstance(v, str)),
    "mismatch": ("mismatch", lambda v: v in (None, "IP", "ASN")),
    "lastChange": ("last_change", lambda v: v is None or isinstance(v, int | float)),
    "tooRecentMsg": ("too_recent_msg", lambda v: isinstance(v, str)),
    "tooRecentStatus": ("too_recent_status", lambda v: isinstance(v, int)),
    "ASN": ("asn", lambda v: isinstance(v, int)),
    "AS": ("as_name", lambda v: isinstance(v, str)),
}


async def patch_seedbox(request: web.Request) -> web.Response:
    seedbox, body = state_of(request).seedbox, await json_object(request)
    if body is None:
        return _error("expected a JSON object")
    for key, value in body.items():
        known = _SEEDBOX_FIELDS.get(key)
        if known is None or not known[1](value):
            return _error(f"bad seedbox field {key!r}: {value!r}")
    for key, value in body.items():
        setattr(seedbox, _SEEDBOX_FIELDS[key][0], value)
    return _json(seedbox.to_json())


def add_control_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/__sim/state", get_state)
    router.add_patch("/__sim/options", patch_options)
    add_fault_routes(app, lambda request: state_of(request).faults, _json)
    router.add_get("/__sim/account", get_account)
    router.add_patch("/__sim/account", patch_account)
    router.add_get("/__sim/requests", get_requests)
    router.add_delete("/__sim/requests", clear_requests)
    router.add_get("/__sim/downloads", get_downloads)
    router.add_get("/__sim/payload", get_payload)
    router.add_post("/__sim/payload", write_payload_to)
    router.add_post("/__sim/expire", expire)
    router.add_get("/__sim/cookie", get_cookie)
    router.add_put("/__sim/cookie", put_cookie)
    router.add_get("/__sim/rows/{tid}", get_row)
    router.add_patch("/__sim/rows/{tid}", patch_row)
    router.add_get("/__sim/seedbox", get_seedbox)
    router.add_patch("/__sim/seedbox", patch_seedbox)
