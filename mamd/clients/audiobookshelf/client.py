"""The Audiobookshelf client: libraries, the items list, structured metadata, scans.

It follows what the server really does: items are paged
with `limit` and a 0-based `page` (there is no `offset`); the list carries only joined
strings, so structured authors, narrators and series come from `POST /api/items/batch/get`;
`/series` needs a `limit` or answers an empty list; `/authors` changes shape with paging.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import msgspec

from mamd.clients.audiobookshelf import wire
from mamd.clients.errors import NotFound, Unavailable
from mamd.clients.upstream import RetryPolicy, Sleep, StateReport, Upstream
from mamd.config.model import AudiobookshelfConfig
from mamd.crashpoint import crashpoint
from mamd.domain.library import Book, Library, ListedItem, SeriesEntry
from mamd.domain.normalize import split_names

SERVICE = "audiobookshelf"
T = TypeVar("T")


@dataclass(frozen=True)
class ItemsPage:
    items: list[ListedItem]
    total: int
    unreadable: int  # rows that were not item objects
    server_time: float | None = None  # the answer's `Date`: the server's clock, which times `addedAt`


@dataclass(frozen=True)
class SeriesSummary:
    id: str
    name: str
    book_ids: tuple[str, ...]


@dataclass(frozen=True)
class AuthorSummary:
    id: str
    name: str
    books: int


API_KEYS_MENU = "Settings → API Keys"  # Audiobookshelf 2.26+ (its page /config/api-keys)


def explain_unauthorized(status: int, where: str) -> str:
    """What a person does about a refused key; `where` names the setting that holds it."""
    if status == 403:
        return (
            "Audiobookshelf refused the request (403): the API key's user is not an admin; create a key "
            f"for an admin user under {API_KEYS_MENU} and put it in {where}"
        )
    return (
        f"Audiobookshelf refused the API key (401): create a key for an admin user under {API_KEYS_MENU} "
        f"(a key is created inactive unless switched on) and put it in {where}"
    )


class AudiobookshelfClient:
    def __init__(self, upstream: Upstream) -> None:
        self._upstream = upstream

    @classmethod
    def create(
        cls,
        session: aiohttp.ClientSession,
        settings: Callable[[], AudiobookshelfConfig],
        *,
        on_state: StateReport,
        sleep: Sleep,
        redact: Callable[[str], str] = str,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> AudiobookshelfClient:
        """A client that reads its address and key from `settings()` on every request (reloads apply)."""
        return cls(
            Upstream(
                session=session,
                service=SERVICE,
                base_url=lambda: settings().url,
                headers=lambda: {"Authorization": f"Bearer {settings().api_key.reveal()}"},
                timeout_s=timeout_s,
                retry=retry or RetryPolicy(),
                sleep=sleep,
                on_state=on_state,
                explain_unauthorized=lambda status: explain_unauthorized(
                    status, settings().api_key.source or "audiobookshelf.api_key"
                ),
                redact=redact,
            )
        )

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return (await self._upstream.request("GET", path, params=params)).data

    # -- libraries ------------------------------------------------------------------------

    async def libraries(self) -> list[Library]:
        data = await self._get("/api/libraries")
        return [_library(raw) for raw in _list(_field(data, "libraries", "/api/libraries"))]

    async def find_library(self, wanted: str) -> Library:
        """The library with this id, or else this name (case does not matter)."""
        libraries = await self.libraries()
        for library in libraries:
            if library.id == wanted:
                return library
        for library in libraries:
            if library.name.casefold() == wanted.strip().casefold():
                return library
        known = ", ".join(f"{lib.name!r} (id {lib.id})" for lib in libraries) or "none at all"
        raise NotFound(
            SERVICE,
            f"no library is named {wanted!r} or has that id; audiobookshelf.library may be one of: {known}",
        )

    async def library(self, library_id: str) -> Library:
        return _library(await self._get(f"/api/libraries/{library_id}"))

    async def scan(self, library_id: str) -> bool:
        """Start a scan (it runs in the background and ends when `lastScan` moves); False when the key's
        user may not: library scans are for admins (403), while everything mamd reads is open to any
        user, so the service itself is fine."""
        reply = await self._upstream.request(
            "POST", f"/api/libraries/{library_id}/scan", expect="none", ok=(200, 403)
        )
        crashpoint("import.scan_requested")
        return reply.status != 403

    # -- items ----------------------------------------------------------------------------

    async def items_page(
        self, library_id: str, page: int, limit: int, newest_first: bool = False
    ) -> ItemsPage:
        """One page of the items list, oldest first, so items added meanwhile land on later pages.

        `newest_first` reverses it: the way to find books a scan has just added.
        """
        path = f"/api/libraries/{library_id}/items"
        params = {"limit": str(limit), "page": str(page), "sort": "addedAt", "minified": "1"}
        if newest_first:
            params["desc"] = "1"
        reply = await self._upstream.request("GET", path, params=params, expect="bytes")
        server_time = _date(reply.headers.get("Date"))
        fast = _decode(wire.ITEMS_PAGE, reply.body, path)
        if fast is not None:
            return ItemsPage([wire.to_listed(item) for item in fast.results], fast.total, 0, server_time)
        data = json.loads(reply.body)
        rows = _list(_field(data, "results", "the items list"))
        total = data.get("total")
        if not isinstance(total, int):
            raise Unavailable(SERVICE, "the items list has no total; is this an Audiobookshelf server?")
        items, unreadable = [], 0
        for raw in rows:
            item = listed_from_row(raw)
            if item is None:
                unreadable += 1
            else:
                items.append(item)
        return ItemsPage(items, total, unreadable, server_time)

    async def books(self, item_ids: Sequence[str]) -> list[Book]:
        """Structured metadata of these items, in one `batch/get` request; unknown ids are left out."""
        body = await self._batch_get(item_ids)
        fast = _decode(wire.BATCH, body, "batch/get")
        if fast is not None:
            return [wire.to_book(item) for item in fast.libraryItems]
        rows = _list(_field(json.loads(body), "libraryItems", "batch/get"))
        return [book for book in (book_from_item(raw) for raw in rows) if book is not None]

    async def present(self, item_ids: Sequence[str]) -> set[str]:
        """Which of these items the server still has and can use (not missing, not invalid)."""
        body = await self._batch_get(item_ids)
        fast = _decode(wire.BATCH, body, "batch/get")
        if fast is not None:
            return {item.id for item in map(wire.to_listed, fast.libraryItems) if item.usable}
        rows = _list(_field(json.loads(body), "libraryItems", "batch/get"))
        return {
            item.id for item in (listed_from_row(raw) for raw in rows) if item is not None and item.usable
        }

    async def _batch_get(self, item_ids: Sequence[str]) -> bytes:
        reply = await self._upstream.request(
            "POST", "/api/items/batch/get", json_body={"libraryItemIds": list(item_ids)}, expect="bytes"
        )
        return reply.body

    # -- series, authors ------------------------------------------------------------------

    async def series_page(self, library_id: str, page: int, limit: int) -> tuple[list[SeriesSummary], int]:
        # without `limit` the server answers `results: []` while `total` is right
        data = await self._get(
            f"/api/libraries/{library_id}/series", {"limit": str(limit), "page": str(page)}
        )
        out = []
        for raw in _list(_field(data, "results", "the series list")):
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                books = tuple(b["id"] for b in _list(raw.get("books")) if isinstance(b, dict) and "id" in b)
                out.append(SeriesSummary(raw["id"], str(raw.get("name") or ""), books))
        return out, int(data.get("total") or 0)

    async def authors(
        self, library_id: str, page: int | None = None, limit: int | None = None
    ) -> list[AuthorSummary]:
        params = {} if limit is None else {"limit": str(limit), "page": str(page or 0)}
        data = await self._get(f"/api/libraries/{library_id}/authors", params)
        # `{"authors": [...]}` without paging, `{"results": [...], "total": …}` with it
        rows = (
            data.get("authors")
            if isinstance(data, dict) and "authors" in data
            else _field(data, "results", "")
        )
        return [
            AuthorSummary(raw["id"], str(raw.get("name") or ""), int(raw.get("numBooks") or 0))
            for raw in _list(rows)
            if isinstance(raw, dict) and isinstance(raw.get("id"), str)
        ]


# -- reading answers ----------------------------------------------------------------------


def _decode(decoder: msgspec.json.Decoder[T], body: bytes, what: str) -> T | None:
    """The fast, typed reading of an answer; None when its types are odd (then it is read tolerantly)."""
    try:
        return decoder.decode(body)
    except msgspec.ValidationError:
        return None
    except msgspec.DecodeError as exc:
        sample = body[:60].decode("utf-8", "replace").replace("\n", " ")
        raise Unavailable(SERVICE, f"{what} answered with something that is not JSON: {sample!r}") from exc


def _date(value: str | None) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() if value else None
    except (TypeError, ValueError):
        return None


def _field(data: Any, key: str, what: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise Unavailable(SERVICE, f"{what} answered without `{key}`: not an Audiobookshelf 2.x answer?")
    return data[key]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _library(raw: Any) -> Library:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise Unavailable(SERVICE, "a library without an id in the answer")
    folders = tuple(str(f.get("fullPath")) for f in _list(raw.get("folders")) if isinstance(f, dict))
    settings = _dict(raw.get("settings"))
    last_scan = raw.get("lastScan")
    return Library(
        id=raw["id"],
        name=str(raw.get("name") or ""),
        folders=folders,
        last_scan=last_scan if isinstance(last_scan, int) else None,
        watcher_disabled=bool(settings.get("disableWatcher")),
    )


def listed_from_row(raw: Any) -> ListedItem | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        return None
    media = _dict(raw.get("media"))
    metadata = _dict(media.get("metadata"))
    updated, added = raw.get("updatedAt"), raw.get("addedAt")
    return ListedItem(
        id=raw["id"],
        updated_at=updated if isinstance(updated, int) else 0,
        is_missing=bool(raw.get("isMissing")),
        is_invalid=bool(raw.get("isInvalid")),
        title=_text(metadata.get("title")) or "",
        rel_path=str(raw.get("relPath") or ""),
        added_at=added if isinstance(added, int) else 0,
    )


def book_from_item(raw: Any) -> Book | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        return None
    media = _dict(raw.get("media"))
    metadata = _dict(media.get("metadata"))
    authors = tuple(
        name for a in _list(metadata.get("authors")) if isinstance(a, dict) and (name := _text(a.get("name")))
    )
    if not authors and _text(metadata.get("authorName")):
        authors = tuple(split_names(str(metadata["authorName"])))  # only when the structured list is absent
    series = tuple(
        SeriesEntry(name, _text(s.get("sequence")), _text(s.get("id")))
        for s in _list(metadata.get("series"))
        if isinstance(s, dict) and (name := _text(s.get("name")))
    )
    updated = raw.get("updatedAt")
    return Book(
        id=raw["id"],
        title=_text(metadata.get("title")) or "",
        subtitle=_text(metadata.get("subtitle")),
        authors=authors,
        narrators=tuple(n for n in (_text(x) for x in _list(metadata.get("narrators"))) if n),
        series=series,
        asin=_text(metadata.get("asin")),
        isbn=_text(metadata.get("isbn")),
        path=str(raw.get("path") or ""),
        rel_path=str(raw.get("relPath") or ""),
        published_year=_text(metadata.get("publishedYear")),
        language=_text(metadata.get("language")),
        abridged=bool(metadata.get("abridged")),
        updated_at=updated if isinstance(updated, int) else 0,
    )
