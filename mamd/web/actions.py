"""Acting on a wanted book through the API: want one, drop it, ignore it, search it now, import again.

Each action is an event, works in dry run (none of them spends or grabs), and is refused with 409 and the
reason when the book's state does not allow it. A grab by hand is in `mamd.web.grab`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

from aiohttp import web

from mamd.clients.errors import UpstreamError
from mamd.domain.discovery import ManualEntry, OwnedIndex, WantSpec, ignored_by, manual_wants, title_want_key
from mamd.domain.sequence import parse_sequence
from mamd.schedule import UnknownJob
from mamd.store.wanted import OPEN_STATES, WantedBook
from mamd.web.errors import fail
from mamd.web.hooks import HASH_RE
from mamd.web.keys import runtime_of
from mamd.web.params import whole_number

MAX_BODY_BYTES = 16 * 1024
MAX_TEXT = 300
SEARCHABLE = OPEN_STATES  # a book being searched, grabbed or ignored is not searched again by hand


async def read_body(request: web.Request) -> dict[str, Any]:
    """A small JSON object; anything else is a 400 that quotes nothing of it."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        fail(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        fail(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        fail(400, "the body is not JSON")
    if not isinstance(body, dict):
        fail(400, "the body must be a JSON object")
    return body


def text_field(body: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            fail(400, f"`{name}` is required")
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and name == "position":
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        fail(400, f"`{name}` must be non-empty text")
    if len(value) > MAX_TEXT or any(ord(c) < 32 for c in value):
        fail(400, f"`{name}` must be at most {MAX_TEXT} characters, without control characters")
    return value.strip()


async def book_of(request: web.Request) -> WantedBook:
    runtime = runtime_of(request)
    book_id = whole_number(request.match_info["id"], "a wanted book's id")
    book = await runtime.wanted.get(book_id)
    if book is None:
        fail(404, f"no wanted book has id {book_id}")
    return book


def refuse_state(book: WantedBook, action: str, allowed: frozenset[str]) -> None:
    if book.state in allowed:  # its state allows it: a grab of it is under way (or it changed meanwhile)
        fail(409, f"cannot {action} {book.spec.label} now: a grab of it is under way or it just changed")
    shown = f"{book.state} ({book.state_reason})" if book.state_reason else book.state
    fail(
        409,
        f"cannot {action} {book.spec.label}: it is {shown}; only a book {', '.join(sorted(allowed))} can be",
    )


async def want(request: web.Request) -> web.Response:
    """`POST /api/v1/wanted`: a book wanted by hand, kept in the database beside `wanted.manual`."""
    runtime = runtime_of(request)
    body = await read_body(request)
    unknown = sorted(set(body) - {"title", "author", "series", "position"})
    if unknown:
        fail(400, f"unknown field(s) {', '.join(unknown)}; known: title, author, series, position")
    title = text_field(body, "title", required=True)
    author = text_field(body, "author", required=True)
    series = text_field(body, "series", required=False)
    position = text_field(body, "position", required=False)
    if (series is None) != (position is None):
        fail(400, "`series` and `position` go together: give both or neither")
    if position is not None:
        parsed = parse_sequence(position)
        if parsed is None or parsed.single is None:
            fail(400, f"`position` {position!r} is not one position such as 3 or 2.5")
    entry = ManualEntry(title or "", author or "", series, position)
    [spec] = manual_wants([entry])
    spec = replace(spec, reason="api")
    settings = runtime.config.wanted
    names = _names(spec)
    in_yaml = manual_wants(ManualEntry(m.title, m.author, m.series, m.position) for m in settings.manual)
    if any(_names(want) & names for want in in_yaml):
        fail(409, f"{spec.label} is already under wanted.manual in the configuration file")
    existing = next((book for book in await runtime.wanted.all() if _names(book.spec) & names), None)
    if existing is not None:
        fail(
            409,
            f"{spec.label} is already wanted as id {existing.id} ({existing.reason}, {existing.state})",
            id=existing.id,
        )
    ignored = ignored_by(spec, settings.ignore)
    if ignored is not None:
        fail(409, f"wanted.ignore in the configuration file lists {ignored!r}, which excludes {spec.label}")
    owned = await asyncio.to_thread(OwnedIndex, await runtime.library.books())
    if owned.owns(spec):
        fail(409, f"{spec.label} is in the library already")
    now = runtime.clock.now()
    added = list((await runtime.wanted.add_found([(spec, {"by": "api"})], now)).values())
    if not added:  # another request wanted it meanwhile
        fail(409, f"{spec.label} is already wanted")
    await runtime.events.add(
        now, "wanted.added", f"wanted: {spec.label} (api)", f"wanted:{added[0]}", reason="api"
    )
    book = await runtime.wanted.written(added[0])
    shown = book.as_dict() if book is not None else None
    return web.json_response(runtime.redactor.value({"wanted": shown}), status=201)


async def drop(request: web.Request) -> web.Response:
    """`DELETE /api/v1/wanted/{id}`: only a want added through the API, and only before a grab."""
    runtime = runtime_of(request)
    book = await book_of(request)
    if book.reason != "api":
        where = "wanted.manual" if book.reason == "manual" else f"mamd ({book.reason})"
        fail(409, f"{book.spec.label} was wanted by {where}, not through the API; ignore it instead")
    allowed = OPEN_STATES | {"ignored"}
    if not await runtime.wanted.remove(book.id, allowed):
        refuse_state(book, "delete", allowed)
    now = runtime.clock.now()
    await runtime.events.add(
        now,
        "wanted.dropped",
        f"no longer wanted: {book.spec.label}: deleted through the API",
        f"wanted:{book.id}",
    )
    return web.json_response({"deleted": book.id})


async def ignore(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    book = await book_of(request)
    now = runtime.clock.now()
    if not await runtime.wanted.move(book.id, OPEN_STATES, "ignored", "ignored through the API", now):
        refuse_state(book, "ignore", OPEN_STATES)
    await runtime.events.add(now, "wanted.ignored", f"ignored: {book.spec.label}", f"wanted:{book.id}")
    return await _shown(request, book.id)


async def unignore(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    book = await book_of(request)
    entry = ignored_by(book.spec, runtime.config.wanted.ignore)
    if entry is not None:
        fail(409, f"wanted.ignore in the configuration file lists {entry!r}, and it wins; remove it there")
    now = runtime.clock.now()
    if not await runtime.wanted.move(book.id, {"ignored"}, "wanted", "no longer ignored", now):
        fail(409, f"{book.spec.label} is not ignored (it is {book.state})")
    await runtime.events.add(
        now, "wanted.unignored", f"no longer ignored: {book.spec.label}", f"wanted:{book.id}"
    )
    return await _shown(request, book.id)


async def search(request: web.Request) -> web.Response:
    """`POST /api/v1/wanted/{id}/search`: due at once, first in line; the search job runs now (or again
    right after the run under way), so MAM's spacing holds as for any search."""
    runtime = runtime_of(request)
    book = await book_of(request)
    now = runtime.clock.now()
    if not await runtime.wanted.move(book.id, SEARCHABLE, "wanted", "a search was asked for", now):
        refuse_state(book, "search", SEARCHABLE)
    running = runtime.scheduler.states.get("search")
    started = (
        "queued: the search runs again as soon as the one running ends"
        if running and running.running
        else "started"
    )
    try:
        runtime.scheduler.run_soon("search")  # now, or once more right after the run under way
    except UnknownJob:
        fail(503, "the search job is not available")
    await runtime.events.add(
        now, "wanted.search_asked", f"search asked for: {book.spec.label}", f"wanted:{book.id}"
    )
    return web.json_response({"id": book.id, "search": started}, status=202)


async def import_again(request: web.Request) -> web.Response:
    """`POST /api/v1/torrents/{hash}/import`: a completed torrent of mamd's imported again (after a path or
    a permission was fixed), through the hook's inbox and so with the hook's checks."""
    runtime = runtime_of(request)
    torrent_hash = request.match_info["hash"]
    if not HASH_RE.match(torrent_hash):
        fail(400, "the hash must be 40 hexadecimal characters")
    torrent_hash = torrent_hash.lower()
    try:
        torrent = await runtime.require_qbittorrent().torrent(torrent_hash)
    except UpstreamError as exc:
        fail(503, f"qBittorrent cannot be asked now: {exc.message}")
    if torrent is None:
        fail(404, f"qBittorrent does not know the torrent {torrent_hash}")
    settings = runtime.config.qbittorrent
    if not torrent.belongs_to(settings.category, settings.tags):
        fail(
            409,
            f"{torrent.name} is not mamd's: not in category {settings.category!r} "
            f"nor tagged {list(settings.tags)}",
        )
    if not torrent.complete:
        fail(409, f"{torrent.name} is not complete ({torrent.progress:.0%}, {torrent.state})")
    record = await runtime.torrents.get(torrent_hash)
    if record is not None and record.imported_at is not None:
        fail(409, f"{torrent.name} is imported already, into {record.import_path}")
    now = runtime.clock.now()
    accepted = await runtime.inbox.add(torrent_hash, {"name": torrent.name}, "api", now)
    runtime.importer.wake()
    await runtime.events.add(
        now, "import.asked", f"import asked for: {torrent.name}", f"torrent:{torrent_hash}"
    )
    return web.json_response(
        {"hash": torrent_hash, "accepted": True, "duplicate": accepted.duplicate}, status=202
    )


async def _shown(request: web.Request, book_id: int) -> web.Response:
    runtime = runtime_of(request)
    book = await runtime.wanted.written(book_id)
    return web.json_response(runtime.redactor.value({"wanted": book.as_dict() if book else None}))


def _names(spec: WantSpec) -> set[str]:
    """The keys a book is wanted under: its own (by series position, when it has one) and by its title, so
    that "Stormlight #1" and "The Way of Kings" by the same author are one book."""
    return {spec.key, title_want_key(spec.author, spec.title)} if spec.title else {spec.key}
