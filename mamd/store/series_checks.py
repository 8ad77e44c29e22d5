"""When each owned series was last looked up on MAM for its next books, and what that cost."""

from __future__ import annotations

import json
from collections.abc import Iterable

from mamd.store.db import Store


class SeriesChecks:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def checked_since(self, keys: Iterable[str], since: float) -> set[str]:
        """Of these series keys, those looked up at or after `since`."""
        rows = await self._store.fetchall(
            "SELECT series_key FROM series_checks WHERE checked_at >= ? "
            "AND series_key IN (SELECT value FROM json_each(?))",
            (since, json.dumps(list(keys))),
        )
        return {str(row[0]) for row in rows}

    async def last_checked(self) -> dict[str, float]:
        rows = await self._store.fetchall("SELECT series_key, checked_at FROM series_checks")
        return {str(row[0]): float(row[1]) for row in rows}

    async def checked(self, key: str, name: str, author: str, requests: int, found: int, now: float) -> None:
        async with self._store.transaction() as db:
            await db.execute(
                """
                INSERT INTO series_checks (series_key, name, author, checked_at, requests, found)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (series_key) DO UPDATE SET name = excluded.name, author = excluded.author,
                    checked_at = excluded.checked_at, requests = excluded.requests, found = excluded.found
                """,
                (key, name, author, now, requests, found),
            )
