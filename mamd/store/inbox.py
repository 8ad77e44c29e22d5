"""The durable inbox of completion hooks: what qBittorrent (or the reconcile job) told mamd.

A hook is stored before it is acknowledged. While a hash is pending, more hooks for it only
count as seen again, so duplicates are harmless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mamd.store.db import Store


@dataclass(frozen=True)
class Accepted:
    id: int
    duplicate: bool


class Inbox:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, torrent_hash: str, payload: dict[str, Any], source: str, now: float) -> Accepted:
        async with self._store.transaction() as db:
            cursor = await db.execute(
                """
                INSERT INTO hook_inbox (hash, source, received_at, last_seen_at, payload, next_attempt_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (hash) WHERE state = 'pending'
                DO UPDATE SET last_seen_at = excluded.last_seen_at, times_seen = times_seen + 1
                RETURNING id, times_seen
                """,
                (torrent_hash, source, now, now, json.dumps(payload), now),
            )
            row = await cursor.fetchone()
            await cursor.close()
        assert row is not None  # RETURNING always yields the inserted or updated row
        return Accepted(id=int(row[0]), duplicate=int(row[1]) > 1)

    async def pending_count(self) -> int:
        row = await self._store.fetchone("SELECT count(*) FROM hook_inbox WHERE state = 'pending'")
        return int(row[0]) if row else 0

    async def count(self) -> int:
        row = await self._store.fetchone("SELECT count(*) FROM hook_inbox")
        return int(row[0]) if row else 0

    async def prune(self, before: float) -> int:
        """Forget finished entries older than `before`; pending ones are kept whatever their age."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "DELETE FROM hook_inbox WHERE state != 'pending' AND finished_at < ?", (before,)
            )
            return cursor.rowcount
