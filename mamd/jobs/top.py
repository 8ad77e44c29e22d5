"""The `top` job: the most snatched new audiobooks of chosen categories become wanted (`wanted.top`).

For each entry, at most once a day: MAM's browse of that category (an empty search text) for uploads since
`period` ago, most snatched first, one page. The first `count` releases that are one book in an allowed
language and format, with at least `min_snatches`, neither owned nor excluded by `wanted.ignore`, are the
entry's best; those not on the wanted list yet (under any reason, or ignored by hand) are wanted with reason
`top`. MAM throttling or refusing ends the run; the entries not reached are due at the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mamd.clients.errors import UpstreamError
from mamd.config.wanted import TopWant
from mamd.domain.categories import AUDIOBOOK_CATEGORIES, category_id
from mamd.domain.continuation import one_allowed_book
from mamd.domain.discovery import OwnedIndex, WantSpec, ignored_by, series_want_key, title_want_key
from mamd.domain.matching import strip_series_prefix
from mamd.domain.release import Release
from mamd.domain.sequence import format_position, parse_sequence
from mamd.jobs.series_next import Parts, allowed
from mamd.logs import get_logger
from mamd.schedule import JobContext

log = get_logger(__name__)

EVERY_S = 86400.0  # each entry's browse at most this often: a weekly list barely moves within a day
PER_PAGE = 100
STATE_KEY = "top.browsed"


def entry_key(entry: TopWant) -> str:
    return f"{category_id(entry.category)}|{entry.period.seconds:g}|{entry.count}|{entry.min_snatches}"


async def run(parts: Parts, context: JobContext) -> Mapping[str, Any]:
    entries = parts.config.wanted.top
    if not entries:
        return {"enabled": False}
    now = context.clock.now()
    browsed: dict[str, float] = dict(await parts.store.read_state(STATE_KEY))
    due = [e for e in entries if browsed.get(entry_key(e), float("-inf")) <= now - EVERY_S]
    summary: dict[str, Any] = {
        "enabled": True,
        "entries": len(entries),
        "browsed": 0,
        "requests": 0,
        "added": 0,
    }
    if not due:
        return summary
    index = await asyncio.to_thread(OwnedIndex, await parts.library.books())
    existing = {book.key for book in await parts.wanted.all()}
    for entry in due:
        category = category_id(entry.category)
        if category is None:  # the configuration's check refuses it: never here
            continue
        since = datetime.fromtimestamp(now - entry.period.seconds, UTC).strftime("%Y-%m-%d")
        try:
            page = await parts.mam.search(
                "",
                languages=parts.config.mam.languages,
                sort="snatchedDesc",
                active_only=False,
                perpage=PER_PAGE,
                description=False,
                categories=(category,),
                start_date=since,
            )
        except UpstreamError as exc:
            summary["stopped"] = exc.message
            log.warning("top.stopped", category=entry.category, reason=exc.message)
            break
        summary["requests"] += 1
        best = best_of(page.releases, entry, parts, index)
        fresh = [(spec, why) for spec, why in best if spec.key not in existing]
        ids = await parts.wanted.add_found(fresh, context.clock.now())
        existing.update(spec.key for spec, _ in fresh)
        name = AUDIOBOOK_CATEGORIES[category]
        await parts.events.add_many(
            context.clock.now(),
            [
                (
                    "wanted.added",
                    f"wanted: {spec.label} (top of {name})",
                    f"wanted:{ids[spec.key]}",
                    {"reason": "top"},
                )
                for spec, _ in fresh
                if spec.key in ids
            ],
        )
        summary["added"] += len(ids)
        summary["browsed"] += 1
        browsed[entry_key(entry)] = context.clock.now()
        await parts.store.write_state(STATE_KEY, browsed, context.clock.now())
    return summary


def best_of(
    releases: list[Release], entry: TopWant, parts: Parts, index: OwnedIndex
) -> list[tuple[WantSpec, dict[str, Any]]]:
    """The entry's `count` best books, most snatched first, with what placed each."""
    rules = allowed(parts.config)
    found: list[tuple[WantSpec, dict[str, Any]]] = []
    seen: set[str] = set()
    for rank, release in enumerate(sorted(releases, key=lambda r: (-r.snatched, r.id)), 1):
        if release.snatched < entry.min_snatches or len(found) >= entry.count:
            break
        if not one_allowed_book(release, rules):
            continue
        spec = as_want(release)
        if (
            spec is None
            or spec.key in seen
            or ignored_by(spec, parts.config.wanted.ignore)
            or index.owns(spec)
        ):
            continue
        seen.add(spec.key)
        why = {
            "category": entry.category,
            "rank": rank,
            "snatches": release.snatched,
            "torrent_id": release.id,
        }
        found.append((spec, {**why, "title": release.title}))
    return found


def as_want(release: Release) -> WantSpec | None:
    """The book a release is: by its series position when it names one alone, else by its title."""
    author = release.authors[0]
    for tag in release.series:
        position = parse_sequence(tag.number)
        if position is not None and position.several:
            return None  # a bundle is not one book
        if position is not None and position.single is not None:
            title = strip_series_prefix(release.title, [tag.name]) or release.title
            shown = format_position(position.single)
            return WantSpec(series_want_key(tag.name, shown), "top", author, title, tag.name, shown)
    return WantSpec(title_want_key(author, release.title), "top", author, release.title)
