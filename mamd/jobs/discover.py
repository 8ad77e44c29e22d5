"""The `discover` job: work out which books are wanted and record every change as an event.

The decision is `mamd.domain.discovery.discover()`; this job only loads the library and the
wanted list, applies the difference in one transaction, and stores the followed names as
search intents for the search job.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import Any

from mamd.domain.discovery import Discovery, ManualEntry, OwnedIndex, WantSpec, discover, ignored_by
from mamd.logs import get_logger
from mamd.runtime import Runtime
from mamd.schedule import JobCannotRun, JobContext
from mamd.store.wanted import OPEN_STATES, WantedBook

log = get_logger(__name__)


class LibraryNotRead(JobCannotRun):
    """What is wanted cannot be told from a library mamd has not read."""


async def run(runtime: Runtime, context: JobContext) -> Mapping[str, Any]:
    settings = runtime.config.wanted
    await _library_read(runtime)
    books = await runtime.library.books()
    context.progress(phase="deciding", books=len(books))
    found = await asyncio.to_thread(  # the whole library: seconds of work, off the event loop
        functools.partial(
            discover,
            books,
            series_gaps_wanted=settings.series_gaps,
            include_novellas=settings.include_novellas,
            manual=[ManualEntry(m.title, m.author, m.series, m.position) for m in settings.manual],
            ignore=settings.ignore,
        )
    )
    existing = {book.key: book for book in await runtime.wanted.all()}
    owned = found.index
    added = [spec for key, spec in found.wants.items() if key not in existing]
    changed = {
        book.id: spec
        for key, spec in found.wants.items()
        if (book := existing.get(key)) is not None and book.state in OPEN_STATES and _differs(book, spec)
    }
    dropped = {
        book.id: why
        for book in existing.values()
        if book.state in OPEN_STATES and (why := _why_not_wanted(book, found, owned, settings.ignore))
    }
    now = context.clock.now()
    await runtime.wanted.apply(added, changed, dropped, now)
    follows_added, follows_removed = await runtime.wanted.set_follows(
        {
            "author": settings.follow.authors,
            "series": settings.follow.series,
            "narrator": settings.follow.narrators,
        },
        now,
    )
    await _record(runtime, now, added, dropped, existing, found)
    counts = await runtime.wanted.counts()
    return {
        "books": len(books),
        "wanted": sum(counts.values()),
        "added": len(added),
        "changed": len(changed),
        "dropped": len(dropped),
        "ignored": len(found.ignored),
        "owned_manual": len(found.owned),
        "series_skipped": len(found.skipped_series),
        "follows_added": follows_added,
        "follows_removed": follows_removed,
    }


async def _library_read(runtime: Runtime) -> None:
    """Refuse to work from a library that was never read, or from another one than configured: with
    no books, every gap would vanish and an empty wanted list would look like a result."""
    state = await runtime.library.sync_state()
    configured = runtime.config.audiobookshelf.library
    sync = runtime.scheduler.states.get("library_sync")
    why = f" (library_sync: {sync.last_error})" if sync is not None and sync.last_error else ""
    if not state.get("last_sync_at"):
        raise LibraryNotRead(
            f"the Audiobookshelf library {configured!r} has not been read yet{why}; nothing is wanted "
            "until library_sync reads it"
        )
    read = str(state.get("library") or "")
    if configured.strip().casefold() not in (read.casefold(), str(state.get("library_id") or "").casefold()):
        raise LibraryNotRead(
            f"the library read last is {read!r}, not audiobookshelf.library {configured!r}{why}; "
            "nothing is wanted until library_sync reads it"
        )


def _differs(book: WantedBook, spec: WantSpec) -> bool:
    return (book.reason, book.title, book.author, book.series, book.position) != (
        spec.reason,
        spec.title,
        spec.author,
        spec.series,
        spec.position,
    )


def _why_not_wanted(
    book: WantedBook, found: Discovery, owned: OwnedIndex, ignore: tuple[str, ...]
) -> str | None:
    """Why a book on the wanted list (and without a torrent yet) should leave it, if it should."""
    if book.key in found.wants:
        return None
    spec = book.spec
    if owned.owns(spec):
        return "it is in the library now"
    entry = ignored_by(spec, ignore)
    if entry is not None:
        return f"wanted.ignore lists {entry!r}"
    if book.reason in ("follow", "series_next", "top", "api"):
        return None  # found by another job, or asked for through the API: discovery does not create those
    if book.reason == "manual":
        return "it is no longer under wanted.manual"
    return "it is no longer a gap in an owned series"


async def _record(
    runtime: Runtime,
    now: float,
    added: list[WantSpec],
    dropped: Mapping[int, str],
    existing: Mapping[str, WantedBook],
    found: Discovery,
) -> None:
    by_key = {book.key: book for book in await runtime.wanted.all()}
    events: list[tuple[str, str, str, dict[str, Any]]] = []
    for spec in added:
        book = by_key[spec.key]
        events.append(
            (
                "wanted.added",
                f"wanted: {spec.label} ({spec.reason})",
                f"wanted:{book.id}",
                {"reason": spec.reason},
            )
        )
    by_id = {book.id: book for book in existing.values()}
    for wanted_id, why in dropped.items():
        label = by_id[wanted_id].spec.label
        events.append(
            ("wanted.dropped", f"no longer wanted: {label}: {why}", f"wanted:{wanted_id}", {"why": why})
        )
    for series, why in found.skipped_series:
        log.info("discover.series_skipped", series=series, why=why)
    for spec in found.owned:
        log.info("discover.manual_owned", want=spec.label)
    await runtime.events.add_many(now, events)
