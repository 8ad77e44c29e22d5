"""The `series_next` job: look on MAM for the books after the last one owned of each series in the library.

Off unless `wanted.series_next` is true. Each run looks up at most `SERIES_PER_RUN` series, those looked up
longest ago first, each at most once per `schedule.series_check`: one search per series (its name and author
in MAM's series and author fields, one page of 100, newest first), through the MAM client, so with its
spacing, its backoff and its pause. What each search finds is written, with the look-up, before the next
is sent; MAM refusing or throttling ends the run there, and the series not reached are due at the next run.
The positions found are wanted with reason `series_next`, the MAM rows that named them as evidence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mamd.clients.errors import Rejected, UpstreamError
from mamd.clients.mam import MamClient
from mamd.clock import iso
from mamd.config import Config
from mamd.domain.continuation import Allowed, next_books, owned_series, query
from mamd.domain.discovery import OwnedIndex, WantSpec, ignored_by, title_want_key
from mamd.logs import get_logger
from mamd.schedule import JobContext
from mamd.store.db import Store
from mamd.store.events import Events
from mamd.store.library import LibraryItems
from mamd.store.series_checks import SeriesChecks
from mamd.store.wanted import Wanted

log = get_logger(__name__)

SERIES_PER_RUN = 20  # one MAM search each: a run never sends more than this many requests
PER_SERIES = 100  # rows read per series (one page): the newest, where the next books are
_STATUS_KEY = "series_next.last"


@dataclass(frozen=True)
class Parts:
    """What the job uses, handed over by the daemon (or a test, or the benchmark)."""

    config: Config
    mam: MamClient
    store: Store
    library: LibraryItems
    wanted: Wanted
    events: Events
    checks: SeriesChecks


def allowed(config: Config) -> Allowed:
    return Allowed(
        frozenset(code.upper() for code in config.mam.languages),
        frozenset(config.rules.formats),
        config.rules.allow_abridged,
        config.wanted.include_novellas,
    )


async def run(parts: Parts, context: JobContext) -> Mapping[str, Any]:
    config = parts.config
    if not config.wanted.series_next:
        return {"enabled": False}
    now = context.clock.now()
    books = await parts.library.books()
    owned = await asyncio.to_thread(owned_series, books)
    last = await parts.checks.last_checked()
    period = config.schedule.series_check.seconds
    due = sorted(
        (s for s in owned if last.get(s.key, float("-inf")) <= now - period),
        key=lambda s: (last.get(s.key, float("-inf")), s.key),
    )
    summary: dict[str, Any] = {
        "enabled": True,
        "series": len(owned),
        "due": len(due),
        "checked": 0,
        "requests": 0,
        "added": 0,
    }
    if not due:
        return summary
    index = await asyncio.to_thread(OwnedIndex, books)
    existing = {book.key for book in await parts.wanted.all()}
    stopped: str | None = None
    sent = parts.mam.sent.get("search", 0)  # every search sent counts, a retry after a 429 or a timeout too
    for number, series in enumerate(due[:SERIES_PER_RUN], 1):
        context.progress(phase="searching", series=number, of=min(len(due), SERIES_PER_RUN))
        try:
            releases = await parts.mam.search_all(
                query(series),
                fields=("series", "author"),
                languages=config.mam.languages,
                active_only=False,  # a book without seeders today is still the next book
                sort="dateDesc",
                pages=1,
                perpage=PER_SERIES,
                description=False,
            )
        except Rejected as exc:  # MAM refused this one query: checked, nothing found, the sweep goes on
            summary.setdefault("refused", []).append(f"{series.name}: {exc.message}")
            log.warning("series_next.refused", series=series.name, reason=exc.message)
            await parts.checks.checked(series.key, series.name, series.author, 1, 0, context.clock.now())
            summary["checked"] += 1
            continue
        except UpstreamError as exc:  # MAM throttling, away or the session refused: the rest wait
            stopped = exc.message
            log.warning("series_next.stopped", series=series.name, reason=exc.message)
            break
        found = next_books(series, releases, allowed(config), index)
        found = [(spec, rows) for spec, rows in found if not _listed(spec, existing)]
        added = await _want(parts, found, context.clock.now())
        existing.update(spec.key for spec, _ in found)
        await parts.checks.checked(series.key, series.name, series.author, 1, added, context.clock.now())
        summary["added"] += added
        summary["checked"] += 1
    summary["requests"] = parts.mam.sent.get("search", 0) - sent
    if stopped is not None:
        summary["stopped"] = stopped
    await parts.store.write_state(_STATUS_KEY, {**summary, "at": context.clock.now()}, context.clock.now())
    return summary


async def status_section(store: Store) -> dict[str, Any] | None:
    """The `series_next` section of `/status`: the last sweep, its MAM requests and what it added."""
    sweep = await store.read_state(_STATUS_KEY)
    return {**sweep, "at": iso(sweep["at"])} if sweep else None


def _listed(spec: WantSpec, existing: set[str]) -> bool:
    """On the wanted list already: by its position, or by its title (a want written by hand)."""
    return spec.key in existing or bool(spec.title and title_want_key(spec.author, spec.title) in existing)


async def _want(parts: Parts, found: list[tuple[WantSpec, list[dict[str, Any]]]], now: float) -> int:
    """Want what `wanted.ignore` does not exclude and the wanted list does not hold yet (under any reason,
    ignored by hand included); an event for each."""
    ignore = parts.config.wanted.ignore
    fresh = [(spec, {"rows": rows}) for spec, rows in found if ignored_by(spec, ignore) is None]
    if not fresh:
        return 0
    ids = await parts.wanted.add_found(fresh, now)
    events = [
        (
            "wanted.added",
            f"wanted: {spec.label} (series_next)",
            f"wanted:{ids[spec.key]}",
            {"reason": "series_next"},
        )
        for spec, _ in fresh
        if spec.key in ids
    ]
    await parts.events.add_many(now, events)
    return len(ids)
