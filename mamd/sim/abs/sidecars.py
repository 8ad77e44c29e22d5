"""A book's metadata as ABS fills it from its sources in precedence order: the first audio file's tags,
`metadata.json` and an OPF file (the folder's own names are `folder`'s)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mamd.domain.names import parse_names
from mamd.importing.tags import tag

_SERIES_SEQUENCE = re.compile(r" #([^#\s]+)$")


@dataclass
class BookMetadata:
    """The metadata ABS keeps for a book, filled from the sources in precedence order."""

    title: str
    subtitle: str | None = None
    authors: list[str] = field(default_factory=list)
    narrators: list[str] = field(default_factory=list)
    series: list[tuple[str, str | None]] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    published_year: str | None = None
    publisher: str | None = None
    description: str | None = None
    isbn: str | None = None
    asin: str | None = None
    language: str | None = None
    explicit: bool = False
    abridged: bool = False


def apply_audio_tags(metadata: BookMetadata, tags: Mapping[str, str]) -> BookMetadata:
    """The first audio file's tags, as ABS's `setBookMetadataFromAudioMetaTags` maps them."""
    changes: dict[str, Any] = {}
    if narrators := tag(tags, "composer"):
        changes["narrators"] = list(parse_names(narrators))
    if description := tag(tags, "description") or tag(tags, "comment"):
        changes["description"] = description
    for field_name, attr in (
        ("publisher", "publisher"),
        ("date", "published_year"),
        ("subtitle", "subtitle"),
    ):
        if value := tag(tags, field_name):
            changes[attr] = value
    if title := tag(tags, "album") or tag(tags, "title"):
        changes["title"] = title
    if authors := tag(tags, "artist") or tag(tags, "album_artist"):
        changes["authors"] = list(parse_names(authors))
    if genre := tag(tags, "genre"):
        changes["genres"] = _genres(genre)
    if series := tag(tags, "series"):
        part = tag(tags, "series_part")
        names = [n.strip() for n in series.split(";") if n.strip()]
        parts = [p.strip() for p in (part or "").split(";") if p.strip()]
        if ";" in series and part and ";" in part and len(names) > 1 and len(names) == len(parts):
            changes["series"] = list(zip(names, parts, strict=True))
        else:
            changes["series"] = [(series, part)]
    elif grouping := tag(tags, "grouping"):
        found = [parse_series_entry(entry.strip()) for entry in grouping.split(";") if entry.strip()]
        if found:
            changes["series"] = found
    for field_name in ("isbn", "language", "asin"):
        if value := tag(tags, field_name):
            changes[field_name] = value
    return replace(metadata, **changes)


def _genres(text: str) -> list[str]:
    for separator in ("/", "//", ";"):
        if separator in text:
            return [genre.strip() for genre in text.split(separator) if genre.strip()]
    return [text]


_JSON_STRINGS = {
    "title": "title",
    "subtitle": "subtitle",
    "publishedYear": "published_year",
    "publisher": "publisher",
    "description": "description",
    "isbn": "isbn",
    "asin": "asin",
    "language": "language",
}


def apply_abs_metadata(metadata: BookMetadata, text: str) -> BookMetadata:
    """`metadata.json` in ABS's own format, the highest source. As in ABS's `AbsMetadataFileScanner`,
    a null field is skipped, and so is an empty list of authors, genres or tags; but an empty list of
    narrators or series, or an empty string, replaces what the other sources said."""
    data = json.loads(text)
    if not isinstance(data, dict):
        return metadata
    if isinstance(data.get("metadata"), dict):  # the old nested form
        data = {**data, **data["metadata"]}
    changes: dict[str, Any] = {}
    for key, attr in _JSON_STRINGS.items():
        value = data.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            changes[attr] = str(value)
    for key in ("authors", "narrators", "genres", "tags", "series"):
        if key not in data:
            continue
        value = data[key]
        if value is None:
            value = []
        if not isinstance(value, list):
            continue
        cleaned = list(dict.fromkeys(v.strip() for v in value if isinstance(v, str) and v.strip()))
        if not cleaned and key in ("authors", "genres", "tags"):
            continue
        changes[key] = [parse_series_entry(v) for v in cleaned] if key == "series" else cleaned
    for key in ("explicit", "abridged"):
        value = data.get(key)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if isinstance(value, bool):
            changes[key] = value
    return replace(metadata, **changes)


def parse_series_entry(text: str) -> tuple[str, str | None]:
    """`"Mistborn #4"` → `("Mistborn", "4")`: what follows the last ` #` (without spaces) is the position."""
    found = _SERIES_SEQUENCE.search(text)
    if found is None:
        return text, None
    return text[: found.start()], found.group(1)


def apply_opf(metadata: BookMetadata, text: str) -> BookMetadata:
    """`metadata.opf`, as ABS's `parseOpfMetadata` reads it: title, `dc:creator` with role `aut`
    (authors) or `nrt` (narrators; `dc:contributor` is not read), publisher, date, an identifier with
    the scheme `ISBN` or `ASIN`, and `calibre:series` with the `calibre:series_index` after it."""
    root = ET.fromstring(text)
    changes: dict[str, Any] = {}
    authors: list[str] = []
    narrators: list[str] = []
    genres: list[str] = []
    metas: list[dict[str, str]] = []
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1]
        attributes = {key.rsplit("}", 1)[-1]: value for key, value in element.attrib.items()}
        value = element.text or ""
        role = attributes.get("role", "")
        if name == "title" and value and "title" not in changes:
            changes["title"] = value
        elif name == "creator" and value.strip() and role in ("aut", "nrt"):
            (narrators if role == "nrt" else authors).append(value.strip())
        elif name in ("publisher", "language", "subtitle") and value and name not in changes:
            changes[name] = value
        elif name == "description" and value and "description" not in changes:
            changes["description"] = re.sub(r"<[^>]*>", "", value)
        elif name == "date" and "published_year" not in changes:
            year = value.split("-")[0]
            if len(year) == 4 and year.isdigit():
                changes["published_year"] = year
        elif name == "subject" and value:
            genres.append(value)
        elif name == "identifier" and value:
            scheme = attributes.get("scheme", "")
            if scheme in ("ISBN", "ASIN") and scheme.lower() not in changes:
                changes[scheme.lower()] = value
        elif name == "meta" and attributes.get("name"):
            metas.append(attributes)
    for key, found in (("authors", authors), ("narrators", narrators), ("genres", genres)):
        if found:
            changes[key] = list(dict.fromkeys(found))
    series = _opf_series(metas)
    if series:
        changes["series"] = series
    return replace(metadata, **changes)


def _opf_series(metas: list[dict[str, str]]) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for index, meta in enumerate(metas):
        if meta.get("name") != "calibre:series" or not meta.get("content", "").strip():
            continue
        after = metas[index + 1] if index + 1 < len(metas) else {}
        sequence = after.get("content", "").strip() if after.get("name") == "calibre:series_index" else ""
        found.append((meta["content"].strip(), sequence or None))
    if len(found) == 1 and found[0][1] is None:  # an index that is not right after its series
        index_meta = next(
            (m for m in metas if m.get("name") == "calibre:series_index" and m.get("content", "").strip()),
            None,
        )
        if index_meta is not None:
            found = [(found[0][0], index_meta["content"].strip())]
    names = [name for name, _ in found]
    return [entry for n, entry in enumerate(found) if names.index(entry[0]) == n]
