"""Which books are wanted: gaps in owned series and wants written by hand, never a book owned.

`discover()` is a pure function of the library and the `wanted:` settings. Its answer says
what is wanted and, for everything it left out, why: owned, ignored, or a series whose
numbering is too sparse to guess from (precision first: when unsure, skip and say why).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from mamd.domain.library import Book
from mamd.domain.matching import Want, match
from mamd.domain.normalize import name_key, series_key, split_names, title_key, title_keys
from mamd.domain.parts import part_of
from mamd.domain.release import AUDIOBOOKS, Release, SeriesTag
from mamd.domain.sequence import format_position, parse_sequence

Reason = Literal["series_gap", "manual", "follow", "series_next", "top", "api"]

HIGHEST_PLAUSIBLE_POSITION = 200  # beyond this a "position" is a year or a catalogue number
MIN_GAPS_ALWAYS_OK = 20  # this many gaps are fine in any series …
GAPS_PER_OWNED_BOOK = 4  # … more only while they stay within this many per owned book


@dataclass(frozen=True)
class WantSpec:
    key: str
    reason: Reason
    author: str
    title: str | None = None
    series: str | None = None
    position: str | None = None
    asin: str | None = None

    @property
    def label(self) -> str:
        if self.title:
            return f"{self.title} by {self.author}"
        return f"{self.series} #{self.position} by {self.author}"


@dataclass(frozen=True)
class ManualEntry:
    title: str
    author: str
    series: str | None = None
    position: str | None = None


@dataclass
class Discovery:
    index: OwnedIndex
    wants: dict[str, WantSpec] = field(default_factory=dict)
    owned: list[WantSpec] = field(default_factory=list)  # asked for by hand, already in the library
    ignored: list[tuple[WantSpec, str]] = field(default_factory=list)  # with the `wanted.ignore` entry
    skipped_series: list[tuple[str, str]] = field(default_factory=list)  # (series, why no gaps are wanted)


def series_want_key(series: str, position: str) -> str:
    return f"series|{series_key(series)}|{position}"


def title_want_key(author: str, title: str) -> str:
    return f"title|{name_key(author)}|{title_key(title)}"


class OwnedIndex:
    """What the library holds, and whether a want is one of those books.

    A want is owned by its ASIN, by its series position, or by a book the MAM matcher would take for it
    (`mamd.domain.matching.match`, the owned book standing in for a release): the author under any
    spelling of one person (`Cixin Liu` is `Liu Cixin`, `Ursula Le Guin` is `Ursula K. Le Guin`), and
    the title in any form it is written (`Pyramids (Discworld 7)` is `Pyramids`). The same evidence
    tells books apart: another series position or another part is another book, and a title that is
    only the part after the wanted title's colon, or only starts the same, is not enough.
    """

    def __init__(self, books: Iterable[Book]) -> None:
        self.asins: set[str] = set()
        self.positions: dict[str, set[Decimal]] = defaultdict(set)
        self._by_name: dict[str, list[Book]] = defaultdict(list)
        for book in books:
            if book.asin:
                self.asins.add(book.asin.upper())
            for entry in book.series:
                position = parse_sequence(entry.sequence)
                if position is not None:
                    self.positions[series_key(entry.name)].update(position.values)
            for word in _name_words(book.authors):
                self._by_name[word].append(book)

    def owns(self, want: WantSpec) -> bool:
        if want.asin and want.asin.upper() in self.asins:
            return True
        if want.series and want.position:
            position = parse_sequence(want.position)
            owned = self.positions.get(series_key(want.series), set())
            if position is not None and set(position.values) <= owned:
                return True
        if not want.title:
            return False
        candidates = {b.id: b for word in _name_words((want.author,)) for b in self._by_name.get(word, ())}
        if not candidates:
            return False
        part = part_of(want.title)
        # owning the whole book is owning each of its parts: a wanted part is looked for by its book's title
        whole = Want(part.base, (want.author,), want.series, want.position, want.asin) if part else None
        wanted = Want(want.title, (want.author,), want.series, want.position, want.asin)
        for book in candidates.values():
            release = _as_release(book)  # only for books by the same person: a few per want
            owned_part = part_of(release.title)
            if owned_part is None and whole is not None and whole.title:
                if match(whole, release).ok:
                    return True
            elif match(wanted, release).ok:
                return True
        return False


@lru_cache(maxsize=65536)
def _name_words(authors: tuple[str, ...]) -> frozenset[str]:
    """Index words of names: every word of each person, and the name without spaces (`LeGuin`), so
    that every spelling `matching` takes for one person shares at least one of them."""
    words: set[str] = set()
    for author in authors:
        for name in split_names(author) or [author]:
            key = name_key(name)
            words.update(key.split())
            words.add(key.replace(" ", ""))
    words.discard("")
    return frozenset(words)


def _as_release(book: Book) -> Release:
    title = f"{book.title}: {book.subtitle}" if book.subtitle else book.title
    return Release(
        id=0,
        title=title,
        authors=book.authors,
        series=tuple(SeriesTag(entry.name, entry.sequence or "") for entry in book.series),
        asin=book.asin,
        main_cat=AUDIOBOOKS,
    )


@dataclass
class SeriesTally:
    """What the library says of one series: the positions owned, and how often each spelling of its name
    and each author was seen (the most common is the one used)."""

    positions: set[Decimal] = field(default_factory=set)
    names: Counter[str] = field(default_factory=Counter)
    authors: Counter[str] = field(default_factory=Counter)


def tally_series(books: Iterable[Book], *, positioned_only: bool = False) -> dict[str, SeriesTally]:
    """Each series of the library by its key; with `positioned_only`, only the books with a readable
    position in it count."""
    tallies: dict[str, SeriesTally] = defaultdict(SeriesTally)
    for book in books:
        for entry in book.series:
            key = series_key(entry.name)
            position = parse_sequence(entry.sequence)
            if not key or (positioned_only and position is None):
                continue
            tally = tallies[key]
            tally.names[entry.name] += 1
            # every author of every book counts, whatever their order: Audiobookshelf may list a
            # book's authors in another order without changing its `updatedAt`
            tally.authors.update(dict.fromkeys(book.authors, 1))
            if position is not None:
                tally.positions.update(position.values)
    return tallies


def series_gaps(
    books: Iterable[Book], include_novellas: bool
) -> tuple[list[WantSpec], list[tuple[str, str]]]:
    """Missing whole positions from 1 to the furthest owned one, per series, with the series skipped."""
    tallies = tally_series(books)
    positions = {key: tally.positions for key, tally in tallies.items() if tally.positions}
    names = {key: tally.names for key, tally in tallies.items()}
    authors = {key: tally.authors for key, tally in tallies.items()}
    wants: list[WantSpec] = []
    skipped: list[tuple[str, str]] = []
    for key in sorted(positions):
        owned = positions[key]
        name = most_common(names[key])
        counted = owned if include_novellas else {p for p in owned if p % 1 == 0}
        if not counted:
            continue
        if not authors[key]:
            skipped.append((name, "no book in it names an author, so MAM could not be searched for it"))
            continue
        furthest = max(counted)
        if furthest > HIGHEST_PLAUSIBLE_POSITION:
            skipped.append((name, f"positions up to {format_position(furthest)} look like years or codes"))
            continue
        missing = [n for n in range(1, int(furthest) + 1) if Decimal(n) not in owned]
        books_owned = len({p for p in owned if p >= 1})
        if len(missing) > max(MIN_GAPS_ALWAYS_OK, GAPS_PER_OWNED_BOOK * books_owned):
            skipped.append(
                (
                    name,
                    f"{len(missing)} gaps for {books_owned} owned book(s) are too many to guess; "
                    "want them by hand",
                )
            )
            continue
        author = most_common(authors[key])
        for number in missing:
            wants.append(
                WantSpec(series_want_key(name, str(number)), "series_gap", author, None, name, str(number))
            )
    return wants, skipped


def manual_wants(entries: Iterable[ManualEntry]) -> list[WantSpec]:
    wants = []
    for entry in entries:
        position = parse_sequence(entry.position)
        shown: str | None = entry.position
        if entry.series and position is not None and position.single is not None:
            shown = format_position(position.single)
            key = series_want_key(entry.series, shown)
        else:
            key = title_want_key(entry.author, entry.title)
        wants.append(WantSpec(key, "manual", entry.author, entry.title, entry.series, shown))
    return wants


def ignored_by(want: WantSpec, ignore: Iterable[str]) -> str | None:
    """The `wanted.ignore` entry that excludes `want`, if any: a title, an author or a series."""
    keys: set[str] = set()
    if want.title:
        keys |= title_keys(want.title)
    keys.update(name_key(a) for a in split_names(want.author))
    if want.series:
        keys.add(series_key(want.series))
    for entry in ignore:
        if title_key(entry) in keys or name_key(entry) in keys:
            return entry
    return None


def discover(
    books: Iterable[Book],
    *,
    series_gaps_wanted: bool,
    include_novellas: bool,
    manual: Iterable[ManualEntry] = (),
    ignore: Iterable[str] = (),
) -> Discovery:
    library = list(books)
    index = OwnedIndex(library)
    result = Discovery(index)
    candidates: list[WantSpec] = []
    if series_gaps_wanted:
        gaps, result.skipped_series = series_gaps(library, include_novellas)
        candidates.extend(gaps)
    candidates.extend(manual_wants(manual))  # after the gaps: a manual want replaces the same gap
    ignore = list(ignore)
    for want in candidates:
        entry = ignored_by(want, ignore)
        if entry is not None:
            result.ignored.append((want, entry))
        elif index.owns(want):
            if want.reason == "manual":
                result.owned.append(want)
        else:
            result.wants[want.key] = want
    return result


def most_common(counts: Mapping[str, int]) -> str:
    """The most counted; among equals, the first in a case-blind order (the same whatever came first)."""
    return min(counts, key=lambda name: (-counts[name], name.casefold(), name))
