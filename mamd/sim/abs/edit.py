"""Changes a test makes to the library behind the server's back: add, change, remove, mark items.

Field names are snake_case (`published_year`, `is_missing`); `series` entries are `(name, sequence)`
pairs or `"Name #seq"` strings. The control endpoints translate their camelCase JSON to these names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mamd.sim.abs.files import audio_size, padded_duration, summarize_plan
from mamd.sim.abs.model import Item, Library, SeriesLink
from mamd.sim.abs.sidecars import parse_series_entry

TEXT_FIELDS = ("title", "subtitle", "published_year", "publisher", "description", "isbn", "asin", "language")
LIST_FIELDS = ("authors", "narrators", "series", "genres", "tags")
FLAG_FIELDS = ("explicit", "abridged", "is_missing", "is_invalid")
FIELDS = frozenset(TEXT_FIELDS + LIST_FIELDS + FLAG_FIELDS)


class EditError(ValueError):
    """A change that names an unknown field or gives a value of the wrong kind."""


def _series_links(library: Library, entries: Iterable[Any], now_ms: int) -> tuple[SeriesLink, ...]:
    links = []
    for entry in entries:
        if isinstance(entry, str):
            name, sequence = parse_series_entry(entry)
        elif isinstance(entry, Mapping):
            name, sequence = str(entry["name"]), entry.get("sequence")
        else:
            name, sequence = entry
        links.append(
            SeriesLink(library.series_named(name, now_ms), None if sequence is None else str(sequence))
        )
    return tuple(links)


def _apply(library: Library, item: Item, changes: Mapping[str, Any], now_ms: int) -> None:
    unknown = set(changes) - FIELDS
    if unknown:
        raise EditError(
            f"unknown item fields: {', '.join(sorted(unknown))}; known: {', '.join(sorted(FIELDS))}"
        )
    for name, value in changes.items():
        if name in TEXT_FIELDS:
            if value is not None and not isinstance(value, str | int):
                raise EditError(f"{name} must be a string or null")
            if name == "title" and not value:
                raise EditError("title must not be empty")
            setattr(item, name, None if value is None else str(value))
        elif name in FLAG_FIELDS:
            if not isinstance(value, bool):
                raise EditError(f"{name} must be true or false")
            setattr(item, name, value)
        elif not isinstance(value, list | tuple):
            raise EditError(f"{name} must be a list")
        elif name == "authors":
            item.authors = tuple(library.author(str(author), now_ms) for author in dict.fromkeys(value))
        elif name == "series":
            item.series = _series_links(library, value, now_ms)
        else:
            setattr(item, name, tuple(str(entry) for entry in value))


def new_item(library: Library, fields: Mapping[str, Any], now_ms: int, *, parts: int = 1) -> Item:
    """A new item as if a scan had just found it: new id, `addedAt` = `updatedAt` = now."""
    title = fields.get("title")
    if not isinstance(title, str) or not title:
        raise EditError("a new item needs a title")
    authors = list(fields.get("authors") or ["Unknown Author"])
    series = _series_links(library, fields.get("series") or (), now_ms)
    folder = f"Book {series[0].sequence} - {title}" if series and series[0].sequence else title
    rel_path = "/".join([str(authors[0]), *([series[0].series.name] if series else []), folder])
    while any(existing.rel_path == rel_path for existing in library.items.values()):
        rel_path += " (2)"
    ext = ".m4b" if parts == 1 else ".mp3"
    part_duration = padded_duration(36_000.0 / parts, ext)
    ino = max((int(existing.ino) for existing in library.items.values() if existing.ino.isdigit()), default=0)
    item = Item(
        id=library.ids.make("item", f"{rel_path}@{now_ms}"),
        ino=str(ino + 100),
        rel_path=rel_path,
        title=title,
        added_at=now_ms,
        updated_at=now_ms,
        last_scan=now_ms,
        mtime_ms=now_ms - 1_000,
        ctime_ms=now_ms - 1_000,
        birthtime_ms=now_ms - 1_000,
        audio_ext=ext,
        parts=parts,
        part_duration=part_duration,
        part_size=audio_size(part_duration, 64_000),
        tag_keys=frozenset(),
    )
    _apply(library, item, {"authors": authors, **fields}, now_ms)
    library.put(summarize_plan(item))
    library.changed(now_ms)
    return item


def change_item(library: Library, item: Item, changes: Mapping[str, Any], now_ms: int) -> Item:
    """Change an item's metadata or flags; `updatedAt` moves to now, as a real edit or rescan does."""
    _apply(library, item, changes, now_ms)
    item.updated_at = now_ms
    library.prune()
    library.changed(now_ms)
    return item


def remove_item(library: Library, item_id: str, now_ms: int) -> bool:
    """Remove an item outright (as clearing issues does); False when there was none."""
    removed = library.drop(item_id) is not None
    if removed:
        library.prune()
        library.changed(now_ms)
    return removed
