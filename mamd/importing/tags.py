"""Book metadata from the tags of a torrent's audio files, read without changing a byte.

Audiobook rippers put the book title in `album`, the author in `artist` (or `album artist`),
the narrator in `composer`, and sometimes a series and its part in custom tags. Reading
uses mutagen: parsing MP4 atoms and ID3 frames by hand is where such tools go wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import mutagen

from mamd.domain.book import BookMeta
from mamd.domain.normalize import split_names
from mamd.domain.sequence import format_position, parse_sequence

AUDIO_SUFFIXES = (".m4b", ".m4a", ".mp3", ".flac", ".ogg", ".opus", ".aac", ".wma")
_SERIES_KEYS = ("series", "----:com.apple.iTunes:SERIES", "TXXX:SERIES", "TXXX:series", "MVNM", "©mvn")
_PART_KEYS = (
    "series-part",
    "----:com.apple.iTunes:SERIES-PART",
    "TXXX:SERIES-PART",
    "TXXX:series-part",
    "MVIN",
)
_ASIN_KEYS = ("asin", "----:com.apple.iTunes:ASIN", "TXXX:ASIN", "TXXX:asin")


def _first(tags: Any, keys: Iterable[str]) -> str | None:
    for key in keys:
        try:
            value = tags.get(key)
        except (KeyError, ValueError, TypeError):
            continue
        if value is None:
            continue
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if hasattr(value, "text"):  # an ID3 frame
            texts = value.text
            value = texts[0] if texts else None
        text = str(value).strip() if value is not None else ""
        if text:
            return text
    return None


def meta_from_tags(files: Iterable[Path]) -> BookMeta | None:
    """The tags of the first audio file that has any; None when no file can be read."""
    for path in sorted(p for p in files if p.suffix.lower() in AUDIO_SUFFIXES):
        try:
            easy = mutagen.File(path, easy=True)
            raw = mutagen.File(path)
        except (mutagen.MutagenError, OSError, ValueError):
            continue
        if easy is None or not easy.tags:
            continue
        title = _first(easy, ("album", "title"))
        authors = _first(easy, ("albumartist", "artist"))
        if not title:
            continue
        series = _first(raw.tags, _SERIES_KEYS) if raw is not None and raw.tags else None
        part = _first(raw.tags, _PART_KEYS) if raw is not None and raw.tags else None
        position = parse_sequence(part)
        return BookMeta(
            title=title,
            authors=tuple(split_names(authors)) if authors else (),
            narrators=tuple(split_names(n)) if (n := _first(easy, ("composer",))) else (),
            series=series,
            position=format_position(position.single) if position and position.single is not None else None,
            asin=_first(raw.tags, _ASIN_KEYS) if raw is not None and raw.tags else None,
            year=(_first(easy, ("date",)) or "")[:4] or None,
            source="tags",
        )
    return None
