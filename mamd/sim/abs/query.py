"""The listing endpoints' semantics: filters, sorts, collapsing, paging.

Orderings are cached per library version, so paging through 50,000 items sorts once, not once per page.
"""

from __future__ import annotations

import base64
import binascii
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from mamd.sim.abs import render as abs_render
from mamd.sim.abs.model import Item, Library, Series, SeriesLink, sequence_key, strip_prefix

JSON = dict[str, Any]
Query = Mapping[str, str]


def int_param(query: Query, name: str) -> int:
    """A numeric parameter as ABS reads it: missing, non-numeric or negative counts as 0."""
    try:
        return max(int(float(query.get(name, "") or 0)), 0)
    except ValueError:
        return 0


def flag(query: Query, name: str) -> bool:
    return query.get(name) == "1"


def decode_filter(raw: str) -> tuple[str, str] | None:
    """`"series.<urlencoded base64 id>"` → `("series", id)`; None when the value cannot be decoded."""
    group, _, encoded = raw.partition(".")
    if not encoded:
        return None
    text = unquote(encoded)
    try:
        value = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return group, value


_MISSING_FIELDS: dict[str, Callable[[Item], object]] = {
    "asin": lambda item: item.asin,
    "isbn": lambda item: item.isbn,
    "subtitle": lambda item: item.subtitle,
    "authors": lambda item: item.authors,
    "narrators": lambda item: item.narrators,
    "series": lambda item: item.series,
    "genres": lambda item: item.genres,
    "tags": lambda item: item.tags,
    "publishedYear": lambda item: item.published_year,
    "description": lambda item: item.description,
    "publisher": lambda item: item.publisher,
    "language": lambda item: item.language,
    "cover": lambda item: item.cover_file,
}


def item_filter(group: str, value: str) -> Callable[[Item], bool]:
    """The predicate of one `filter=<group>.<value>`; an unknown group filters nothing."""
    if group == "authors":
        return lambda item: any(author.id == value for author in item.authors)
    if group == "series":
        if value == "no-series":
            return lambda item: not item.series
        return lambda item: item.link_to(value) is not None
    if group == "narrators":
        return lambda item: value in item.narrators
    if group == "genres":
        return lambda item: value in item.genres
    if group == "tags":
        return lambda item: value in item.tags
    if group == "languages":
        return lambda item: item.language == value
    if group == "publishers":
        return lambda item: item.publisher == value
    if group == "missing" and value in _MISSING_FIELDS:
        field = _MISSING_FIELDS[value]
        return lambda item: not field(item)
    if group == "issues":
        return lambda item: item.has_issue
    return lambda item: True


def _default_key(item: Item) -> tuple[Any, ...]:
    # Without `sort` the order is unspecified; 2.36 was seen to list by authorNameLF, then addedAt
    return (item.author_name_lf.lower(), item.added_at, item.id)


_SORT_KEYS: dict[str, Callable[[Item], tuple[Any, ...]]] = {
    "media.metadata.title": lambda item: (item.title.lower(), item.id),
    "media.metadata.authorName": lambda item: (item.author_name.lower(), item.id),
    "media.metadata.authorNameLF": lambda item: (item.author_name_lf.lower(), item.id),
    "media.metadata.publishedYear": lambda item: (item.published_year or "", item.id),
    "media.duration": lambda item: (item.duration, item.id),
    "addedAt": lambda item: (item.added_at, item.id),
    "updatedAt": lambda item: (item.updated_at, item.id),
    "size": lambda item: (item.size, item.id),
    "mtimeMs": lambda item: (item.mtime_ms, item.id),
    "birthtimeMs": lambda item: (item.birthtime_ms, item.id),
}


@dataclass(frozen=True, slots=True)
class Collapsed:
    """A series folded into its first book by `collapseseries=1`."""

    series: Series
    sequence: str | None
    item_ids: tuple[str, ...]


Entry = tuple[Item, Collapsed | None]


class OrderCache:
    """Orderings and the series→books map of one library version; any change empties it."""

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._version = -1
        self._orders: dict[tuple[str, ...], list[Entry]] = {}
        self._series_books: dict[str, list[tuple[Item, SeriesLink]]] | None = None

    def _check(self, library: Library) -> None:
        if library.version != self._version:
            self._version = library.version
            self._orders.clear()
            self._series_books = None

    def order(self, library: Library, key: tuple[str, ...], build: Callable[[], list[Entry]]) -> list[Entry]:
        self._check(library)
        found = self._orders.get(key)
        if found is None:
            if len(self._orders) >= self._size:
                self._orders.clear()
            found = self._orders[key] = build()
        return found

    def series_books(self, library: Library) -> dict[str, list[tuple[Item, SeriesLink]]]:
        """Every series id → its (item, link) pairs in sequence order."""
        self._check(library)
        if self._series_books is None:
            books: dict[str, list[tuple[Item, SeriesLink]]] = {}
            for item in library.items.values():
                for link in item.series:
                    books.setdefault(link.series.id, []).append((item, link))
            for pairs in books.values():
                pairs.sort(key=lambda pair: (sequence_key(pair[1].sequence), pair[0].added_at))
            self._series_books = books
        return self._series_books


def _collapse(items: list[Item]) -> list[Entry]:
    groups: dict[str, list[tuple[Item, SeriesLink]]] = {}
    entries: list[Entry] = []
    for item in items:
        if not item.series:
            entries.append((item, None))
            continue
        link = item.series[0]
        groups.setdefault(link.series.id, []).append((item, link))
    for pairs in groups.values():
        pairs.sort(key=lambda pair: (sequence_key(pair[1].sequence), pair[0].added_at))
        first, link = pairs[0]
        entries.append((first, Collapsed(link.series, link.sequence, tuple(item.id for item, _ in pairs))))
    return entries


def _entry_key(sort: str, series_id: str | None) -> Callable[[Entry], tuple[Any, ...]]:
    if sort == "sequence" and series_id:
        return lambda entry: (sequence_key(_sequence_in(entry[0], series_id)), entry[0].added_at, entry[0].id)
    if sort == "media.metadata.title":
        # A collapsed series sorts under its own name, not its first book's title
        return lambda entry: (
            (entry[1].series.name.lower() if entry[1] else entry[0].title.lower()),
            entry[0].id,
        )
    key = _SORT_KEYS.get(sort, _default_key)
    return lambda entry: key(entry[0])


def _sequence_in(item: Item, series_id: str) -> str | None:
    link = item.link_to(series_id)
    return link.sequence if link else None


def list_items(library: Library, query: Query, cache: OrderCache) -> JSON:
    """`GET /api/libraries/:id/items` with the exact paging and envelope of ABS."""
    limit, page = int_param(query, "limit"), int_param(query, "page")
    sort, raw_filter = query.get("sort", ""), query.get("filter", "")
    desc, collapse = flag(query, "desc"), flag(query, "collapseseries")
    decoded = decode_filter(raw_filter) if raw_filter else None
    series_id = decoded[1] if decoded and decoded[0] == "series" and decoded[1] != "no-series" else None

    def build() -> list[Entry]:
        items = list(library.items.values())
        if raw_filter:
            keep = item_filter(*decoded) if decoded else (lambda item: False)
            items = [item for item in items if keep(item)]
        entries: list[Entry] = (
            _collapse(items) if collapse and series_id is None else [(item, None) for item in items]
        )
        entries.sort(key=_entry_key(sort, series_id), reverse=desc)
        return entries

    if sort == "random":
        entries = build()
        random.shuffle(entries)
    else:
        entries = cache.order(library, ("items", sort, str(desc), raw_filter, str(collapse)), build)
    window = entries if limit == 0 else entries[page * limit : (page + 1) * limit]
    results = [_render_entry(library, item, collapsed, series_id) for item, collapsed in window]
    payload: JSON = {"results": results, "total": len(entries), "limit": limit, "page": page}
    # `sortBy` and `filterBy` appear only when given
    if sort:
        payload["sortBy"] = sort
    payload["sortDesc"] = desc
    if raw_filter:
        payload["filterBy"] = raw_filter
    payload.update(
        mediaType="book",
        minified=flag(query, "minified"),
        collapseseries=collapse,
        include=query.get("include", ""),
        offset=page * limit,
    )
    return payload


def _render_entry(library: Library, item: Item, collapsed: Collapsed | None, series_id: str | None) -> JSON:
    rendered = abs_render.list_item(library, item)
    if series_id is not None:
        # A series filter adds the structured series as ONE object
        link = item.link_to(series_id)
        if link is not None:
            rendered["media"]["metadata"]["series"] = abs_render.series_link(link)
    if collapsed is not None:
        rendered["collapsedSeries"] = {
            "id": collapsed.series.id,
            "name": collapsed.series.name,
            "nameIgnorePrefix": strip_prefix(collapsed.series.name),
            "sequence": collapsed.sequence,
            "numBooks": len(collapsed.item_ids),
            "libraryItemIds": list(collapsed.item_ids),
        }
    return rendered


_SERIES_SORTS: dict[str, Callable[[Series, list[tuple[Item, SeriesLink]]], Any]] = {
    "name": lambda series, books: series.name.lower(),
    "numBooks": lambda series, books: len(books),
    "addedAt": lambda series, books: series.added_at,
    "totalDuration": lambda series, books: sum(item.duration for item, _ in books),
    "lastBookAdded": lambda series, books: max(item.added_at for item, _ in books),
    "lastBookUpdated": lambda series, books: max(item.updated_at for item, _ in books),
}


def list_series(library: Library, query: Query, cache: OrderCache) -> JSON:
    """`GET /api/libraries/:id/series`. Without `limit` the server applies a limit of 0 and answers
    `results: []` with the right `total`."""
    limit, page, sort = int_param(query, "limit"), int_param(query, "page"), query.get("sort", "")
    books = cache.series_books(library)
    found = [series for series in library.series.values() if books.get(series.id)]
    order = _SERIES_SORTS.get(sort, _SERIES_SORTS["addedAt"])
    found.sort(key=lambda series: (order(series, books[series.id]), series.id), reverse=flag(query, "desc"))
    window = found[page * limit : (page + 1) * limit] if limit else []
    results = [
        {
            **abs_render.series_object(library, series),
            "books": [abs_render.list_item(library, item) for item, _ in books[series.id]],
        }
        for series in window
    ]
    payload: JSON = {"results": results, "total": len(found), "limit": limit, "page": page}
    if sort:
        payload["sortBy"] = sort
    payload["sortDesc"] = flag(query, "desc")
    payload.update(minified=flag(query, "minified"), include=query.get("include", ""))
    return payload


def book_counts(library: Library) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in library.items.values():
        for author in item.authors:
            counts[author.id] = counts.get(author.id, 0) + 1
    return counts


_AUTHOR_SORTS: dict[str, Callable[[JSON], Any]] = {
    "name": lambda author: author["name"].lower(),
    "lastFirst": lambda author: author["lastFirst"].lower(),
    "numBooks": lambda author: author["numBooks"],
    "addedAt": lambda author: author["addedAt"],
    "updatedAt": lambda author: author["updatedAt"],
}


def list_authors(library: Library, query: Query) -> JSON:
    """`GET /api/libraries/:id/authors`: `{"authors": [...]}`, or the paginated shape when `limit` or
    `page` is given."""
    counts = book_counts(library)
    authors = [
        {**abs_render.author_object(library, a), "numBooks": counts[a.id], "lastFirst": a.last_first}
        for a in library.authors.values()
        if counts.get(a.id)
    ]
    if "limit" not in query and "page" not in query:
        return {"authors": authors}
    limit, page, sort = int_param(query, "limit"), int_param(query, "page"), query.get("sort", "")
    if sort in _AUTHOR_SORTS:
        authors.sort(key=_AUTHOR_SORTS[sort], reverse=flag(query, "desc"))
    window = authors[page * limit : (page + 1) * limit] if limit else authors
    payload: JSON = {"results": window, "total": len(authors), "limit": limit, "page": page}
    if sort:
        payload["sortBy"] = sort
    payload.update(sortDesc=flag(query, "desc"), minified=flag(query, "minified"))
    return payload


def author_detail(library: Library, author_id: str, include: str) -> JSON | None:
    """`GET /api/authors/:id[?include=items,series]`; None for an unknown author."""
    author = library.authors.get(author_id)
    if author is None:
        return None
    wanted = {part.strip() for part in include.split(",")}
    payload = abs_render.author_object(library, author)
    items = sorted(library.items_of_author(author_id), key=lambda item: item.added_at, reverse=True)
    if "series" in wanted:
        # The author's own books per series, series in the order their newest book appears
        grouped: dict[str, list[tuple[Item, SeriesLink]]] = {}
        for item in items:
            for link in item.series:
                grouped.setdefault(link.series.id, []).append((item, link))
        payload["series"] = [
            {
                "id": pairs[0][1].series.id,
                "name": pairs[0][1].series.name,
                "items": [
                    _with_series(library, item, link)
                    for item, link in sorted(pairs, key=lambda pair: sequence_key(pair[1].sequence))
                ],
            }
            for pairs in grouped.values()
        ]
    if "items" in wanted:
        payload["libraryItems"] = [abs_render.list_item(library, item) for item in items]
    return payload


def _with_series(library: Library, item: Item, link: SeriesLink) -> JSON:
    rendered = abs_render.list_item(library, item)
    rendered["media"]["metadata"]["series"] = {
        "id": link.series.id,
        "name": link.series.name,
        "nameIgnorePrefix": strip_prefix(link.series.name),
        "sequence": link.sequence,
    }
    return rendered
