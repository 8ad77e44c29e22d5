"""Book metadata guessed from a torrent's name, for completions mamd did not grab itself.

Uploaders write `Author - Title`, `Author - Series 03 - Title`, `Author - [Series #3] - Title`
or `Title by Author`, with extras in brackets (year, format, bitrate, `Unabridged`,
`{Narrator}`). The guess is only as good as the name: `Temeraire 2 - Throne of Jade` reads as the
author "Temeraire 2" as well as it reads as the second Temeraire book. So `identify()` takes a reading
only when something else confirms it: a wanted book the name names (its series and position, or its
title), or an author the library or the wanted list knows. Otherwise the book is unsure, and nothing
is filed under a made-up author.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

from mamd.domain.book import BookMeta
from mamd.domain.normalize import fold, name_key, series_key, split_names, title_key
from mamd.domain.sequence import format_position, parse_sequence

_YEAR = re.compile(r"[\(\[]\s*((?:19|20)\d{2})\s*[\)\]]")
_NARRATOR = re.compile(r"\{\s*([^{}]+?)\s*\}")
_EXTRAS = re.compile(r"[\(\[][^\(\)\[\]]*[\)\]]")
_SERIES_PART = re.compile(
    r"^\s*\[?\s*(?P<series>.+?)\s*(?:,\s*)?(?:#|book|bk\.?|vol\.?|volume|part)?\s*(?P<pos>\d+(?:\.\d+)?)\s*\]?\s*$",
    re.IGNORECASE,
)
_POSITION_HINT = re.compile(r"(#|\bbook\b|\bbk\b|\bvol)\.?\s*\d", re.IGNORECASE)
_BY = re.compile(r"^(?P<title>.+?)\s+by\s+(?P<author>[^-]+)$", re.IGNORECASE)


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("_", " ")).strip(" -–—.")


def _series_of(text: str) -> tuple[str | None, str | None]:
    found = _SERIES_PART.match(text)
    if found is None:
        return None, None
    position = parse_sequence(found.group("pos"))
    if position is None or position.single is None:
        return None, None
    return _clean(found.group("series")) or None, format_position(position.single)


def meta_from_name(name: str) -> BookMeta:
    """The best reading of `name`; the title is never empty (the whole name at worst)."""
    year_match = _YEAR.search(name)
    narrators = tuple(n.strip() for n in _NARRATOR.findall(name)[:1] for n in n.split(",") if n.strip())
    hints: list[str] = []

    def drop_extra(match: re.Match[str]) -> str:
        # a bracketed note goes, but one naming a series position (`[Mistborn #3]`) is kept aside
        inner = match.group(0)[1:-1]
        if _POSITION_HINT.search(inner):
            hints.append(inner)
            return " - " if match.start() > 0 else " "
        return " "

    base = _clean(_EXTRAS.sub(drop_extra, _NARRATOR.sub(" ", name)))
    parts = [_clean(p) for p in re.split(r"\s+[-–—]\s+", base) if _clean(p)]
    authors: tuple[str, ...] = ()
    series: str | None = None
    position: str | None = None
    title = base or _clean(name) or name.strip() or "Untitled"
    if len(parts) >= 3:
        authors, title = (parts[0],), parts[-1]
        series, position = _series_of(" ".join(parts[1:-1]))
    elif len(parts) == 2:
        authors, title = (parts[0],), parts[1]
    else:
        by = _BY.match(base)
        if by:
            title, authors = _clean(by.group("title")), (_clean(by.group("author")),)
    if series is None and hints:
        series, position = _series_of(hints[0])
    return BookMeta(
        title=title,
        authors=authors,
        narrators=narrators,
        series=series,
        position=position,
        year=year_match.group(1) if year_match else None,
        source="torrent_name",
    )


class NamedWant(Protocol):
    """A wanted book as `identify` needs it (`mamd.domain.discovery.WantSpec` is one)."""

    @property
    def author(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def series(self) -> str | None: ...
    @property
    def position(self) -> str | None: ...


MIN_TITLE_CHARS = 8  # a shorter wanted title ("It", "Dune") found in a name also needs its author there


def _names_want(folded: str, want: NamedWant) -> bool:
    if want.series and want.position:
        position = parse_sequence(want.position)
        series = series_key(want.series)
        if series and position is not None and position.single is not None:
            number = format_position(position.single)
            pattern = rf"\b{re.escape(series)} (?:book |bk |vol |volume |part |no )?0*{re.escape(number)}\b"
            if re.search(pattern, folded):
                return True
    if want.title:
        title = title_key(want.title)
        if title and re.search(rf"\b{re.escape(title)}\b", folded):
            author_named = any(
                word in folded.split()
                for name in split_names(want.author)
                for word in name_key(name).split()[-1:]
            )
            return author_named or len(title) >= MIN_TITLE_CHARS
    return False


def identify(name: str, wants: Iterable[NamedWant], known_authors: Iterable[str]) -> BookMeta | None:
    """The book a torrent's name holds, when more than the name says so; None when only the name does.

    A single wanted book the name names (by series and position, or by title) gives the author, series
    and position; the title is the name's (or the want's). Otherwise the name's own reading counts only
    when its author is someone the library or the wanted list knows.
    """
    reading = meta_from_name(name)
    folded = fold(name.replace("_", " "))
    named = [want for want in wants if _names_want(folded, want)]
    if len({(name_key(w.author), w.series, w.position, w.title) for w in named}) == 1:
        want = named[0]
        return BookMeta(
            title=want.title or reading.title,
            authors=tuple(split_names(want.author)) or (want.author,),
            narrators=reading.narrators,
            series=want.series or reading.series,
            position=want.position if want.series else reading.position,
            year=reading.year,
            source="torrent_name+wanted",
        )
    known = {name_key(author) for author in known_authors}
    if reading.authors and all(name_key(author) in known for author in reading.authors):
        return reading
    return None
