"""The key-protected API: run a job now, read the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from mamd.schedule import AlreadyRunning, UnknownJob
from mamd.store.candidates import ChosenRelease
from mamd.store.wanted import STATES
from mamd.web.errors import fail
from mamd.web.keys import runtime_of
from mamd.web.params import whole_number

MAX_EVENTS = 1000
MAX_WANTED = 1000
EVENTS_PER_BOOK = 50


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
    limit = whole_number(request.query.get("limit", "100"), "`limit`", 1, MAX_EVENTS)
    after_id: int | None = None
    since_at: float | None = None
    if since.isdigit():  # digits of any script mean an id; `whole_number` takes only ASCII ones
        after_id = whole_number(since, "`since` as an event id")
    elif since:
        try:
            parsed = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            fail(400, "`since` must be an event id or an ISO 8601 time such as 2026-11-22T10:00:00Z")
        if parsed.tzinfo is None:
            fail(400, "`since` needs a time zone, for example a trailing Z for UTC")
        since_at = parsed.timestamp()
    found = await runtime.events.read(after_id=after_id, since=since_at, limit=limit)
    body = {"events": [e.as_dict() for e in found], "next": found[-1].id if found else after_id}
    return web.json_response(runtime.redactor.value(body))


def _with_chosen(book: dict[str, Any], chosen: ChosenRelease | None) -> dict[str, Any]:
    """A wanted book with the release chosen for it at its last search (grabbed, or blocked), or null."""
    return {**book, "chosen": chosen.as_dict() if chosen else None}


async def wanted_list(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    state = request.query.get("state") or None
    if state is not None and state not in STATES:
        fail(400, f"`state` must be one of {', '.join(STATES)}")
    limit = whole_number(request.query.get("limit", "200"), "`limit`", 1, MAX_WANTED)
    after = whole_number(request.query.get("after", "0"), "`after`")
    books = await runtime.wanted.page(state, limit, after)
    chosen = await runtime.candidates.chosen(book.id for book in books)
    body = {
        "wanted": [_with_chosen(book.as_dict(), chosen.get(book.id)) for book in books],
        "counts": await runtime.wanted.counts(),
        "next": books[-1].id if len(books) == limit else None,
    }
    return web.json_response(runtime.redactor.value(body))


async def wanted_one(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    book_id = whole_number(request.match_info["id"], "a wanted book's id")
    book = await runtime.wanted.get(book_id)
    if book is None:
        fail(404, f"no wanted book has id {book_id}")
    history = await runtime.events.about(f"wanted:{book.id}", EVENTS_PER_BOOK)
    candidates = await runtime.candidates.of(book.id)
    chosen = await runtime.candidates.chosen([book.id])
    body = {
        "wanted": _with_chosen(book.as_dict(), chosen.get(book.id)),
        "candidates": [candidate.as_dict() for candidate in candidates],
        "events": [event.as_dict() for event in history],
    }
    return web.json_response(runtime.redactor.value(body))
