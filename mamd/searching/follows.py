"""Followed authors, series and narrators: searched newest first; their unowned books become wanted."""

from __future__ import annotations

from mamd.config import Config
from mamd.domain.discovery import WantSpec, series_want_key, title_want_key
from mamd.domain.normalize import name_key, series_key
from mamd.domain.queries import words
from mamd.domain.release import Release
from mamd.domain.sequence import format_position, parse_sequence
from mamd.searching.grab import clean_title
from mamd.searching.run import Run

FOLLOW_EVERY_S = 86400.0
FOLLOW_NEW_PER_RUN = 10

FIELDS = {"author": ("author",), "series": ("series",), "narrator": ("narrator",)}


async def follow(search: Run) -> None:
    runtime = search.runtime
    settings = runtime.config
    now = search.context.clock.now()
    follows = await runtime.wanted.follows_due(now - FOLLOW_EVERY_S)
    if not follows:
        return
    existing = {book.key for book in await runtime.wanted.all()}
    for kind, name in follows:
        releases = await search.mam.search_all(
            words(name),
            fields=FIELDS[kind],
            languages=settings.mam.languages,
            sort="dateDesc",
            pages=1,
            perpage=50,
        )
        added: list[WantSpec] = []
        for release in releases:
            spec = _followed_book(kind, name, release, settings)
            if spec is None or spec.key in existing or search.owned.owns(spec):
                continue
            if settings.rules.allow_abridged is False and release.abridged:
                continue
            existing.add(spec.key)
            added.append(spec)
            if len(added) >= FOLLOW_NEW_PER_RUN:
                break
        await runtime.wanted.apply(added, {}, [], now)
        await runtime.wanted.follow_searched(kind, name, now)
        for spec in added:
            await runtime.events.add(
                now, "wanted.added", f"wanted: {spec.label} (follows {kind} {name})", None
            )
        search.follows_added += len(added)


def _followed_book(kind: str, name: str, release: Release, settings: Config) -> WantSpec | None:
    """The book a release of a followed name is, when it can be told exactly and is in an allowed
    language and format; None otherwise."""
    if not release.audiobook or not release.authors or release.dramatized:
        return None
    if release.lang_code and release.lang_code.upper() not in {c.upper() for c in settings.mam.languages}:
        return None
    if not set(release.filetypes) & set(settings.rules.formats):
        return None
    novellas = settings.wanted.include_novellas
    if kind == "author" and name_key(name) not in {name_key(a) for a in release.authors}:
        return None
    if kind == "narrator" and name_key(name) not in {name_key(n) for n in release.narrators}:
        return None
    tag = next(
        (s for s in release.series if kind != "series" or series_key(s.name) == series_key(name)), None
    )
    if kind == "series" and tag is None:
        return None
    position = parse_sequence(tag.number) if tag else None
    if tag is not None and (position is None or position.single is None):
        return None  # a bundle or an unreadable position: not one book
    if position is not None and position.single is not None and position.single % 1 and not novellas:
        return None
    author = release.authors[0]
    title = clean_title(release)
    if tag is not None and position is not None and position.single is not None:
        shown = format_position(position.single)
        return WantSpec(
            series_want_key(tag.name, shown), "follow", author, title, tag.name, shown, release.asin
        )
    return WantSpec(title_want_key(author, title), "follow", author, title, None, None, release.asin)
