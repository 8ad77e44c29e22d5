"""Book metadata from the tags of a torrent's audio files, read without changing a byte.

Audiobookshelf reads tags through ffprobe, under ffprobe's names (`album`, `artist`, `composer`,
`series`, `series-part`, `grouping`, `asin`), and maps them to a book: `album` (else `title`) is the
title, `artist` (else `album_artist`) the authors, `composer` the narrators, `series` with `series-part`
(or `grouping` written `Name #1; Other #2`) the series. mamd reads the same tags the same way, so
the folder it files a book in and the `metadata.json` it writes agree with what Audiobookshelf would
have shown on its own. Reading uses mutagen; the names follow ffprobe's:

- MP4/M4B atoms: `©alb` is `album`, `©wrt` is `composer`, `©grp` is `grouping`, a freeform
  `----:com.apple.iTunes:SERIES` is `series`; a file that ffmpeg wrote with `-movflags
  use_metadata_tags` numbers its items and names them in a `keys` atom, which mutagen does not read:
  the names are read from that atom here.
- ID3 frames: `TALB` is `album`, `TCOM` is `composer`, `TIT1` is `grouping`, `TXXX:series` is `series`.
- Vorbis comments (FLAC, Ogg, Opus) are already named so.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import mutagen
from mutagen.mp4 import MP4
from mutagen.mp4._atom import Atoms  # the atom tree: mutagen reads `keys` only for its own use

from mamd.domain.book import BookMeta
from mamd.domain.names import parse_names
from mamd.domain.sequence import format_position, parse_sequence

AUDIO_SUFFIXES = (".m4b", ".m4a", ".mp3", ".flac", ".ogg", ".opus", ".aac", ".wma")

# ffprobe's names for MP4 atoms (libavformat's mov demuxer)
_MP4_NAMES = {
    "©nam": "title",
    "©alb": "album",
    "©ART": "artist",
    "aART": "album_artist",
    "©wrt": "composer",
    "©day": "date",
    "©gen": "genre",
    "©cmt": "comment",
    "desc": "description",
    "ldes": "synopsis",
    "©grp": "grouping",
    "tvsh": "show",
    "tven": "episode_id",
    "©too": "encoder",
    "cprt": "copyright",
    "©pub": "publisher",
}
# ffprobe's names for ID3 frames (libavformat's id3v2 table); other frames keep their id
_ID3_NAMES = {
    "TALB": "album",
    "TCOM": "composer",
    "TCON": "genre",
    "TCOP": "copyright",
    "TENC": "encoded_by",
    "TIT1": "grouping",
    "TIT2": "title",
    "TLAN": "language",
    "TPE1": "artist",
    "TPE2": "album_artist",
    "TPE3": "performer",
    "TPOS": "disc",
    "TPUB": "publisher",
    "TRCK": "track",
    "TSSE": "encoder",
    "TDRC": "date",
    "TYER": "date",
    "TSOA": "album-sort",
    "TSOP": "artist-sort",
    "TSOT": "title-sort",
}
# the names Audiobookshelf looks under, in order, for each field (its prober's `tryGrabTags`)
ALIASES: Mapping[str, tuple[str, ...]] = {
    "title": ("title", "tit2", "tt2"),
    "subtitle": ("subtitle", "tit3", "tt3"),
    "album": ("album", "talb", "tal"),
    "artist": ("artist", "tpe1", "tp1"),
    "album_artist": ("albumartist", "album_artist", "tpe2"),
    "date": ("date", "tyer", "tye"),
    "composer": ("composer", "tcom", "tcm"),
    "publisher": ("publisher", "tpub", "tpb"),
    "comment": ("comment", "comm", "com"),
    "description": ("description", "desc"),
    "genre": ("genre", "tcon", "tco"),
    "series": ("series", "show", "mvnm"),
    "series_part": ("series-part", "episode_id", "mvin", "part"),
    "grouping": ("grouping", "grp1"),
    "isbn": ("isbn",),
    "language": ("language", "lang"),
    "asin": ("asin", "audible_asin"),
}


def _text(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        texts = [t for t in (_text(v) for v in value) if t]
        return "; ".join(texts) if texts else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None  # track numbers, covers, flags: not text
    value = value.replace("\x00", "").strip()
    return value or None


def _mdta_names(path: Path) -> dict[str, str]:
    """The names of numbered MP4 items, from the `keys` atom ffmpeg writes with `use_metadata_tags`."""
    with path.open("rb") as handle:
        atoms = Atoms(handle)
        for route in (("moov", "udta", "meta", "keys"), ("moov", "meta", "keys")):
            try:
                keys = atoms.path(*[name.encode() for name in route])[-1]
            except KeyError:
                continue
            handle.seek(keys.offset + 8)
            data = handle.read(keys.length - 8)
            # full box: version and flags (4 bytes), entry count, then (size, namespace, name) entries
            count = struct.unpack(">I", data[4:8])[0]
            names, at = {}, 8
            for number in range(1, count + 1):
                size = struct.unpack(">I", data[at : at + 4])[0]
                if size < 8:
                    break
                name = data[at + 8 : at + size].decode("utf-8", "replace")
                names[number.to_bytes(4, "big").decode("latin-1")] = name
                at += size
            return names
    return {}


def read_tags(path: Path) -> dict[str, str] | None:
    """The file's tags as ffprobe names them, in lower case; None when it cannot be read as audio."""
    try:
        audio = mutagen.File(path)
    except (mutagen.MutagenError, OSError, ValueError, struct.error):
        return None
    if audio is None:
        return None
    tags: dict[str, str] = {}
    raw = audio.tags or {}
    numbered: dict[str, str] = {}
    if isinstance(audio, MP4) and any(len(key) == 4 and key.startswith("\x00") for key in raw):
        try:
            numbered = _mdta_names(path)
        except (OSError, KeyError, struct.error, ValueError):
            numbered = {}
    for key, value in raw.items():
        text = _text(getattr(value, "text", value))
        if text is None:
            continue
        tags.setdefault(_tag_name(key, numbered), text)
    return tags


def _tag_name(key: str, numbered: Mapping[str, str]) -> str:
    if key in numbered:
        return numbered[key].lower()
    if key in _MP4_NAMES:
        return _MP4_NAMES[key]
    if key.startswith("----:"):
        return key.rsplit(":", 1)[-1].lower()  # freeform: `----:com.apple.iTunes:SERIES`
    frame, _, description = key.partition(":")
    if frame == "TXXX" and description:
        return description.lower()
    if frame in ("COMM", "USLT"):
        return "comment" if frame == "COMM" else "lyrics"
    return _ID3_NAMES.get(frame, frame).lower()


def tag(tags: Mapping[str, str], field: str) -> str | None:
    """A field under the first of Audiobookshelf's names for it that holds text."""
    for name in ALIASES[field]:
        value = tags.get(name)
        if value and value.strip():
            return value.strip()
    return None


def meta_from_tags(files: Iterable[Path]) -> BookMeta | None:
    """The book the first readable audio file's tags describe, as Audiobookshelf maps them; None
    when no audio file has a title in its tags."""
    for path in sorted(p for p in files if p.suffix.lower() in AUDIO_SUFFIXES):
        tags = read_tags(path)
        if tags is None:
            continue
        book = book_from_tags(tags)
        if book is not None:
            return book
    return None


def book_from_tags(tags: Mapping[str, str]) -> BookMeta | None:
    title = tag(tags, "album") or tag(tags, "title")
    if not title:
        return None
    series, position = series_from_tags(tags)
    parsed = parse_sequence(position)
    return BookMeta(
        title=title,
        authors=parse_names(tag(tags, "artist") or tag(tags, "album_artist")),
        narrators=parse_names(tag(tags, "composer")),
        series=series,
        position=format_position(parsed.single) if parsed and parsed.single is not None else None,
        subtitle=tag(tags, "subtitle"),
        asin=tag(tags, "asin"),
        isbn=tag(tags, "isbn"),
        year=(tag(tags, "date") or "")[:4] or None,
        language=tag(tags, "language"),
        source="tags",
    )


def series_from_tags(tags: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The first series and its position: `series` and `series-part`, else `grouping` as `Name #1; …`."""
    name = tag(tags, "series")
    if name:
        part = tag(tags, "series_part")
        if ";" in name and part and ";" in part:  # several series, one part each
            return name.split(";")[0].strip() or None, part.split(";")[0].strip() or None
        return name, part
    grouping = tag(tags, "grouping")
    for entry in (grouping or "").split(";"):
        found = split_series(entry.strip())
        if found is not None:
            return found
    return None, None


def split_series(text: str) -> tuple[str, str | None] | None:
    """`Mistborn #4` → (`Mistborn`, `4`): Audiobookshelf takes what follows the last ` #` as the position."""
    if not text:
        return None
    head, separator, sequence = text.rpartition(" #")
    if separator and sequence and "#" not in sequence and not any(c.isspace() for c in sequence):
        return head, sequence
    return text, None
