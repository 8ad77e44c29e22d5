"""The audit log: grabs, imports, guard transitions, spends, reloads, failures."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from mamd.clock import iso
from mamd.store.db import Store


@dataclass(frozen=True)
class Event:
    id: int
    at: float
    kind: str
    subject: str | None
    message: str
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "kind": self.kind,
            "subject": self.subject,
            "message": self.message,
            "data": self.data,
        }


class Events:
    def __init__(self, store: Store, redact: Callable[[Any], Any] = lambda value: value) -> None:
        self._store = store
        self._redact = redact  # applied to every event before it is written: the log is readable by API

    async def add(self, at: float, kind: str, message: str, subject: str | None = None, **data: Any) -> int:
        async with self._store.transaction() as db:
            return await self.insert(db, at, kind, message, subject, **data)

    async def insert(
        self, db: aiosqlite.Connection, at: float, kind: str, message: str, subject: str | None, **data: Any
    ) -> int:
        """One event written in a transaction the caller holds: it is kept only if the caller's change is."""
        cursor = await db.execute(
            "INSERT INTO events (at, kind, subject, message, data) VALUES (?, ?, ?, ?, ?)",
            (at, kind, subject, self._redact(message), json.dumps(self._redact(data), default=str)),
        )
        return int(cursor.lastrowid or 0)

    async def add_many(
        self, at: float, events: Sequence[tuple[str, str, str | None, dict[str, Any]]]
    ) -> None:
        """Several events (kind, message, subject, data) in one transaction."""
        if not events:
            return
        rows = [
            (at, kind, subject, self._redact(message), json.dumps(self._redact(data), default=str))
            for kind, message, subject, data in events
        ]
        async with self._store.transaction() as db:
            await db.executemany(
                "INSERT INTO events (at, kind, subject, message, data) VALUES (?, ?, ?, ?, ?)", rows
            )

    async def read(
        self, *, after_id: int | None = None, since: float | None = None, limit: int = 100
    ) -> list[Event]:
        """Events in order of id, after `after_id` or from time `since` on."""
        clauses: list[str] = []
        params: list[float] = []
        if after_id is not None:
            clauses.append("id > ?")
            params.append(after_id)
        if since is not None:
            clauses.append("at >= ?")
            params.append(since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._store.fetchall(
            f"SELECT * FROM events {where} ORDER BY id LIMIT ?",
            (*params, limit),
        )
        return [_event(row) for row in rows]

    async def about(self, subject: str, limit: int) -> list[Event]:
        """The newest events about one subject (a wanted book, a torrent), newest first."""
        rows = await self._store.fetchall(
            "SELECT * FROM events WHERE subject = ? ORDER BY id DESC LIMIT ?", (subject, limit)
        )
        return [_event(row) for row in rows]

    async def recent(self, limit: int) -> list[Event]:
        rows = await self._store.fetchall("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,))
        return [_event(row) for row in rows]

    async def prune(self, before: float) -> int:
        async with self._store.transaction() as db:
            cursor = await db.execute("DELETE FROM events WHERE at < ?", (before,))
            return cursor.rowcount


def _event(row: Any) -> Event:
    return Event(row["id"], row["at"], row["kind"], row["subject"], row["message"], json.loads(row["data"]))
