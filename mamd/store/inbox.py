"""The durable inbox of completion hooks: what qBittorrent (or the reconcile job) told mamd.

A hook is stored before it is acknowledged. While a hash is pending, more hooks for it only
count as seen again, so duplicates are harmless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

from mamd.store.db import Store


@dataclass(frozen=True)
class Accepted:
    id: int
    duplicate: bool


@dataclass(frozen=True)
class InboxEntry:
    id: int
    hash: str
    source: str
    received_at: float
    payload: dict[str, Any]
    attempts: int
    last_error: str | None


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
                DO UPDATE SET last_seen_at = excluded.last_seen_at, times_seen = times_seen + 1,
                    next_attempt_at = excluded.next_attempt_at
                RETURNING id, times_seen
                """,
                (torrent_hash, source, now, now, json.dumps(payload), now),
            )
            row = await cursor.fetchone()
            await cursor.close()
        assert row is not None  # RETURNING always yields the inserted or updated row
        return Accepted(id=int(row[0]), duplicate=int(row[1]) > 1)

    async def due(self, now: float, limit: int) -> list[InboxEntry]:
        """Pending entries whose time has come, oldest first."""
        rows = await self._store.fetchall(
            "SELECT id, hash, source, received_at, payload, attempts, last_error FROM hook_inbox "
            "WHERE state = 'pending' AND coalesce(next_attempt_at, 0) <= ? ORDER BY id LIMIT ?",
            (now, limit),
        )
        return [InboxEntry(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]

    async def next_due(self) -> float | None:
        row = await self._store.fetchone(
            "SELECT min(next_attempt_at) FROM hook_inbox WHERE state = 'pending'"
        )
        return float(row[0]) if row and row[0] is not None else None

    async def finish(self, entry_id: int, state: str, now: float, error: str | None = None) -> None:
        """Close an entry: done (imported or already was), ignored (not mamd's), failed (with why)."""
        async with self._store.transaction() as db:
            await close_entry(db, entry_id, state, now, error)

    async def retry(self, entry_id: int, at: float, error: str) -> None:
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE hook_inbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
                "WHERE id = ?",
                (at, error, entry_id),
            )

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


async def close_entry(
    db: aiosqlite.Connection, entry_id: int, state: str, now: float, error: str | None = None
) -> None:
    """`Inbox.finish` inside a transaction the caller holds."""
    await db.execute(
        "UPDATE hook_inbox SET state = ?, finished_at = ?, last_error = ?, attempts = attempts + 1 "
        "WHERE id = ?",
        (state, now, error, entry_id),
    )
