"""mamd's copy of the Audiobookshelf library: each usable item with its authors, narrators and series."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from mamd.domain.library import Book, SeriesEntry
from mamd.store.db import Store

SYNC_STATE_KEY = "library.sync"


@dataclass(frozen=True)
class LibraryCounts:
    items: int
    series: int
    authors: int


class LibraryItems:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def versions(self) -> dict[str, int]:
        """Every stored item id with the `updatedAt` it was stored at."""
        rows = await self._store.fetchall("SELECT id, updated_at FROM library_items")
        return {row[0]: int(row[1]) for row in rows}

    async def upsert(self, books: Sequence[Book], now: float) -> None:
        """Store `books` in one transaction, replacing what was stored for them."""
        if not books:
            return
        ids = [(book.id,) for book in books]
        async with self._store.transaction() as db:
            await db.executemany("DELETE FROM library_series WHERE item_id = ?", ids)
            await db.executemany(
                """
                INSERT INTO library_items (id, title, subtitle, authors, narrators, asin, isbn, path,
                    rel_path, published_year, language, abridged, updated_at, synced_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET title = excluded.title, subtitle = excluded.subtitle,
                    authors = excluded.authors, narrators = excluded.narrators, asin = excluded.asin,
                    isbn = excluded.isbn, path = excluded.path, rel_path = excluded.rel_path,
                    published_year = excluded.published_year, language = excluded.language,
                    abridged = excluded.abridged, updated_at = excluded.updated_at,
                    synced_at = excluded.synced_at
                """,
                [_row(book, now) for book in books],
            )
            await db.executemany(
                "INSERT OR IGNORE INTO library_series (item_id, name, sequence, series_id) "
                "VALUES (?, ?, ?, ?)",
                [(book.id, s.name, s.sequence, s.series_id) for book in books for s in book.series],
            )

    async def remove(self, ids: Iterable[str]) -> int:
        chunk = [(item_id,) for item_id in ids]
        if not chunk:
            return 0
        async with self._store.transaction() as db:
            await db.executemany("DELETE FROM library_items WHERE id = ?", chunk)
        return len(chunk)

    async def books(self) -> list[Book]:
        series: dict[str, list[SeriesEntry]] = {}
        for item_id, name, sequence, series_id in await self._store.fetch_tuples(
            "SELECT item_id, name, sequence, series_id FROM library_series"
        ):
            series.setdefault(item_id, []).append(SeriesEntry(name, sequence, series_id))
        rows = await self._store.fetch_tuples(
            "SELECT id, title, subtitle, authors, narrators, asin, isbn, path, rel_path, published_year, "
            "language, abridged, updated_at FROM library_items"
        )
        return [
            Book(
                id=item_id,
                title=title,
                subtitle=subtitle,
                authors=tuple(_names(authors)),
                narrators=tuple(_names(narrators)),
                asin=asin,
                isbn=isbn,
                path=path,
                rel_path=rel_path,
                published_year=year,
                language=language,
                abridged=bool(abridged),
                updated_at=updated_at,
                series=tuple(series.get(item_id, ())),
            )
            for (
                item_id,
                title,
                subtitle,
                authors,
                narrators,
                asin,
                isbn,
                path,
                rel_path,
                year,
                language,
                abridged,
                updated_at,
            ) in rows
        ]

    async def authors(self) -> list[str]:
        """Every author named in the library, once each."""
        rows = await self._store.fetch_tuples(
            "SELECT DISTINCT value FROM library_items, json_each(library_items.authors)"
        )
        return [str(row[0]) for row in rows]

    async def version(self) -> tuple[int, float]:
        """Changes whenever the library's books do: how many there are, and the newest write."""
        row = await self._store.fetchone("SELECT count(*), coalesce(max(synced_at), 0) FROM library_items")
        return (int(row[0]), float(row[1])) if row else (0, 0.0)

    async def counts(self) -> LibraryCounts:
        row = await self._store.fetchone(
            """
            SELECT (SELECT count(*) FROM library_items),
                   (SELECT count(DISTINCT lower(name)) FROM library_series),
                   (SELECT count(DISTINCT lower(value)) FROM library_items, json_each(library_items.authors))
            """
        )
        assert row is not None
        return LibraryCounts(items=row[0], series=row[1], authors=row[2])

    async def sync_state(self) -> dict[str, Any]:
        return await self._store.read_state(SYNC_STATE_KEY)

    async def set_sync_state(self, state: dict[str, Any], now: float) -> None:
        await self._store.write_state(SYNC_STATE_KEY, state, now)


_names = msgspec.json.Decoder(list[str]).decode  # a list of names per row, 100,000 rows on a large library


def _row(book: Book, now: float) -> tuple[Any, ...]:
    return (
        book.id,
        book.title,
        book.subtitle,
        json.dumps(list(book.authors)),
        json.dumps(list(book.narrators)),
        book.asin,
        book.isbn,
        book.path,
        book.rel_path,
        book.published_year,
        book.language,
        int(book.abridged),
        book.updated_at,
        now,
    )
