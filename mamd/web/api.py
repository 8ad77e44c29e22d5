"""The key-protected API: run a job now, read the audit log."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from mamd.schedule import AlreadyRunning, UnknownJob
from mamd.web.errors import fail
from mamd.web.keys import runtime_of

MAX_EVENTS = 1000


async def run_job(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    name = request.match_info["name"]
    if runtime.stopping:
        fail(503, "mamd is shutting down")
    if runtime.store.problem is not None:
        fail(503, f"jobs cannot run while the database is unavailable: {runtime.store.problem}")
    try:
        runtime.scheduler.run_now(name)
    except UnknownJob:
        known = ", ".join(sorted(runtime.scheduler.jobs))
        fail(404, f"no job named {name!r}; jobs: {known}")
    except AlreadyRunning:
        fail(409, f"{name} is already running")
    return web.json_response({"job": name, "started": True}, status=202)


async def events(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    since = request.query.get("since", "").strip()
    limit_text = request.query.get("limit", "100").strip()
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_EVENTS:
        fail(400, f"`limit` must be a whole number from 1 to {MAX_EVENTS}")
    after_id: int | None = None
    since_at: float | None = None
    if since.isdigit():
        after_id = int(since)
    elif since:
        try:
            parsed = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            fail(400, "`since` must be an event id or an ISO 8601 time such as 2026-11-22T10:00:00Z")
        if parsed.tzinfo is None:
            fail(400, "`since` needs a time zone, for example a trailing Z for UTC")
        since_at = parsed.timestamp()
    found = await runtime.events.read(after_id=after_id, since=since_at, limit=int(limit_text))
    body = {"events": [e.as_dict() for e in found], "next": found[-1].id if found else after_id}
    return web.json_response(runtime.redactor.value(body))
