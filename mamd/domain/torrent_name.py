"""Book metadata guessed from a torrent's name, for completions mamd did not grab itself.

Uploaders write `Author - Title`, `Author - Series 03 - Title`, `Author - [Series #3] - Title`
or `Title by Author`, with extras in brackets (year, format, bitrate, `Unabridged`,
`{Narrator}`). The guess is only as good as the name; it is recorded as such.
"""

from __future__ import annotations

import re

from mamd.domain.book import BookMeta
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
