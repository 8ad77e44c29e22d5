"""The audit log: grabs, imports, guard transitions, spends, reloads, failures."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiosqlite

from mamd.clock import iso
from mamd.logs import get_logger
from mamd.store.db import Store

log = get_logger(__name__)


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


class Subscriber(Protocol):
    """Told of every event it wants, inside the transaction that stores it (the notifications' outbox)."""

    def wants(self, kind: str) -> bool: ...

    async def published(self, db: aiosqlite.Connection, event: Event) -> None: ...


class Events:
    def __init__(self, store: Store, redact: Callable[[Any], Any] = lambda value: value) -> None:
        self._store = store
        self._redact = redact  # applied to every event before it is written: the log is readable by API
        self._subscriber: Subscriber | None = None

    def subscribe(self, subscriber: Subscriber) -> None:
        """Tell `subscriber` of each event it wants, in the event's own transaction: both are stored or
        neither. Its failure is logged and undone alone; the event is stored all the same."""
        self._subscriber = subscriber

    async def add(self, at: float, kind: str, message: str, subject: str | None = None, **data: Any) -> int:
        async with self._store.transaction() as db:
            return await self.insert(db, at, kind, message, subject, **data)

    async def insert(
        self, db: aiosqlite.Connection, at: float, kind: str, message: str, subject: str | None, **data: Any
    ) -> int:
        """One event written in a transaction the caller holds: it is kept only if the caller's change
        is, and so is what a subscriber makes of it."""
        message, data = self._redact(message), self._redact(data)
        cursor = await db.execute(
            "INSERT INTO events (at, kind, subject, message, data) VALUES (?, ?, ?, ?, ?)",
            (at, kind, subject, message, json.dumps(data, default=str)),
        )
        event_id = int(cursor.lastrowid or 0)
        await self._publish(db, [Event(event_id, at, kind, subject, message, data)])
        return event_id

    async def add_many(
        self, at: float, events: Sequence[tuple[str, str, str | None, dict[str, Any]]]
    ) -> None:
        """Several events (kind, message, subject, data) in one transaction."""
        if not events:
            return
        rows = [
            (at, kind, subject, self._redact(message), self._redact(data))
            for kind, message, subject, data in events
        ]
        subscriber = self._subscriber
        async with self._store.transaction() as db:
            if subscriber is None or not any(subscriber.wants(row[1]) for row in rows):
                await db.executemany(
                    "INSERT INTO events (at, kind, subject, message, data) VALUES (?, ?, ?, ?, ?)",
                    [(*row[:4], json.dumps(row[4], default=str)) for row in rows],
                )
                return
            stored = []
            for when, kind, subject, message, data in rows:
                cursor = await db.execute(
                    "INSERT INTO events (at, kind, subject, message, data) VALUES (?, ?, ?, ?, ?)",
                    (when, kind, subject, message, json.dumps(data, default=str)),
                )
                stored.append(Event(int(cursor.lastrowid or 0), when, kind, subject, message, data))
            await self._publish(db, stored)

    async def _publish(self, db: aiosqlite.Connection, events: Sequence[Event]) -> None:
        subscriber = self._subscriber
        wanted = [e for e in events if subscriber is not None and subscriber.wants(e.kind)]
        if subscriber is None or not wanted:
            return
        await db.execute("SAVEPOINT publish")
        try:
            for event in wanted:
                await subscriber.published(db, event)
        except Exception:
            # a fault in telling must never cost the event, nor the job that records it
            await db.execute("ROLLBACK TO publish")
            log.exception("event.publish_failed", kinds=sorted({e.kind for e in wanted}))
        await db.execute("RELEASE publish")

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
