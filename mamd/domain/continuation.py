"""The next books of the series the library holds, told from MAM's rows; and which books a listing offers.

Pure functions: `owned_series()` reads the library, `next_books()` reads the rows one series search
returned. A position is wanted only when a row names it alone (`series_info` `"4"`): a range or a list
(`"4-6"`, `"4, 5"`) is a bundle, which says the books exist but is no release of one of them; an empty or
unreadable number says nothing. A row counts only when one of its authors wrote books of the owned series:
a same-named series by someone else is another series.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mamd.domain.credits import people
from mamd.domain.discovery import (
    HIGHEST_PLAUSIBLE_POSITION,
    OwnedIndex,
    WantSpec,
    most_common,
    series_want_key,
    tally_series,
)
from mamd.domain.library import Book
from mamd.domain.matching import strip_series_prefix
from mamd.domain.normalize import name_key, series_key
from mamd.domain.release import Release
from mamd.domain.sequence import format_position, parse_sequence

EVIDENCE_ROWS = 5  # the rows kept as evidence for one wanted position


@dataclass(frozen=True)
class OwnedSeries:
    key: str
    name: str  # the spelling most books use
    author: str  # the author most books credit
    authors: frozenset[str]  # name keys of everyone credited on a book of it
    highest: Decimal


@dataclass(frozen=True)
class Allowed:
    """What a wanted book's release must be: in one of these languages and formats."""

    languages: frozenset[str]
    formats: frozenset[str]
    allow_abridged: bool = False
    include_novellas: bool = False


def owned_series(books: Iterable[Book]) -> list[OwnedSeries]:
    """Each series of the library with a readable position, its furthest position and its authors."""
    tallies = tally_series(books, positioned_only=True)
    found = []
    for key in sorted(tallies):
        tally = tallies[key]
        highest = max(tally.positions)
        if not tally.authors or highest > HIGHEST_PLAUSIBLE_POSITION:
            continue  # no author to search with, or positions that are years or codes
        keys = {name_key(person) for credit in tally.authors for person in people(credit)}
        found.append(
            OwnedSeries(key, most_common(tally.names), most_common(tally.authors), frozenset(keys), highest)
        )
    return found


def query(series: OwnedSeries) -> str:
    """The search text: the series name and the author, matched against MAM's series and author fields."""
    return f"{series.name} {series.author}"


def next_books(
    series: OwnedSeries, releases: Sequence[Release], allowed: Allowed, owned: OwnedIndex
) -> list[tuple[WantSpec, list[dict[str, Any]]]]:
    """The positions above the furthest owned that a row of this series (by its authors) names alone, in an
    allowed language and format, not owned under any title; each with the rows that named it."""
    named: dict[Decimal, list[tuple[Release, str]]] = defaultdict(list)
    for release in releases:
        if not _fits(release, series, allowed):
            continue
        for tag in release.series:
            if series_key(tag.name) != series.key:
                continue
            position = parse_sequence(tag.number)
            value = position.single if position is not None else None
            if value is None or value <= series.highest or value > HIGHEST_PLAUSIBLE_POSITION:
                continue  # a year or a catalogue number in the series field is no position
            if value % 1 and not allowed.include_novellas:
                continue
            named[value].append((release, tag.number))
    wants = []
    for value in sorted(named):
        rows = sorted(named[value], key=lambda pair: (-pair[0].snatched, pair[0].id))
        shown = format_position(value)
        first = rows[0][0]
        title = strip_series_prefix(first.title, [series.name]) or first.title
        spec = WantSpec(
            series_want_key(series.name, shown), "series_next", series.author, title, series.name, shown
        )
        if owned.owns(spec):
            continue
        evidence = [
            {"torrent_id": r.id, "title": r.title, "authors": list(r.authors), "series_number": number}
            for r, number in rows[:EVIDENCE_ROWS]
        ]
        wants.append((spec, evidence))
    return wants


def _fits(release: Release, series: OwnedSeries, allowed: Allowed) -> bool:
    if not {name_key(p) for credit in release.authors for p in people(credit)} & series.authors:
        return False  # a same-named series by someone else
    return one_allowed_book(release, allowed)


def one_allowed_book(release: Release, allowed: Allowed) -> bool:
    """An audiobook by a named author, read (not dramatised), in an allowed language and format."""
    if not release.audiobook or release.dramatized or not release.authors:
        return False
    if release.lang_code and release.lang_code.upper() not in allowed.languages:
        return False
    if not set(release.filetypes) & allowed.formats:
        return False
    return allowed.allow_abridged or not release.abridged
