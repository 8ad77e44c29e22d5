"""The key-protected API: run a job now, read the audit log, the wanted books, test the notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from mamd.runtime import Runtime
from mamd.schedule import AlreadyRunning, UnknownJob
from mamd.store.candidates import ChosenRelease
from mamd.store.wanted import STATES, WantedBook
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


async def notify_test(request: web.Request) -> web.Response:
    """Send one test message to every notification target now; each result (`ok`, and why not)."""
    runtime = runtime_of(request)
    results = await runtime.notifications.test()
    body = {
        "results": [result.as_dict() for result in results],
        "sent": sum(result.ok for result in results),
        "failed": sum(not result.ok for result in results),
    }
    return web.json_response(runtime.redactor.value(body))


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


async def with_chosen(runtime: Runtime, books: list[WantedBook]) -> list[dict[str, Any]]:
    """Wanted books, each with the release chosen for it at its last search (grabbed, or blocked), or
    null."""
    chosen = await runtime.candidates.chosen(book.id for book in books)
    return [_with_chosen(book.as_dict(), chosen.get(book.id)) for book in books]


def _with_chosen(book: dict[str, Any], chosen: ChosenRelease | None) -> dict[str, Any]:
    return {**book, "chosen": chosen.as_dict() if chosen else None}


async def wanted_list(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    state = request.query.get("state") or None
    if state is not None and state not in STATES:
        fail(400, f"`state` must be one of {', '.join(STATES)}")
    limit = whole_number(request.query.get("limit", "200"), "`limit`", 1, MAX_WANTED)
    after = whole_number(request.query.get("after", "0"), "`after`")
    books = await runtime.wanted.page(state, limit, after)
    body = {
        "wanted": await with_chosen(runtime, books),
        "counts": await runtime.wanted.counts(),
        "next": books[-1].id if len(books) == limit else None,
    }
    return web.json_response(runtime.redactor.value(body))


async def wanted_detail(runtime: Runtime, book_id: int) -> dict[str, Any] | None:
    """One wanted book with every release considered for it and its recent events; None when unknown."""
    book = await runtime.wanted.get(book_id)
    if book is None:
        return None
    history = await runtime.events.about(f"wanted:{book.id}", EVENTS_PER_BOOK)
    candidates = await runtime.candidates.of(book.id)
    [shown] = await with_chosen(runtime, [book])
    return {
        "wanted": shown,
        "candidates": [candidate.as_dict() for candidate in candidates],
        "events": [event.as_dict() for event in history],
    }


async def wanted_one(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    book_id = whole_number(request.match_info["id"], "a wanted book's id")
    body = await wanted_detail(runtime, book_id)
    if body is None:
        fail(404, f"no wanted book has id {book_id}")
    return web.json_response(runtime.redactor.value(body))
