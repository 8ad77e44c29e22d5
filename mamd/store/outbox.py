"""The notification outbox: messages waiting to be sent, one delivery per target, bounded.

A message is stored with a delivery row for each target that wants it, in the same transaction as the
event it tells (so a crash loses neither or both), and leaves when every delivery is done or given up.
A message still gathering (a batch of grabs) takes more events until its `ready_at`. At most
`MAX_MESSAGES` wait: past that the oldest are dropped, and each target that had not received one
counts it. Targets are named by a digest of their URL, never the URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from mamd.store.db import Store

MAX_MESSAGES = 500
MAX_ITEMS = 50  # events a gathered message keeps; more are counted
DROPS_KEY = "notify.dropped"  # in `meta`: messages dropped since the outbox was last empty

Render = Callable[[Sequence[dict[str, Any]], int], tuple[str, str]]


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    created_at: float
    ready_at: float
    kind: str  # events, problem, resolved, summary
    topic: str
    level: str
    title: str
    body: str
    attempts: int = 0  # failed tries of this message for the target it was read for


@dataclass(frozen=True)
class TargetRecord:
    target: str
    failures: int = 0  # failed tries in a row
    next_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    last_ok_at: float | None = None
    sent: int = 0
    dropped: int = 0


class Outbox:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -- adding ---------------------------------------------------------------------------

    async def gather(
        self,
        db: aiosqlite.Connection,
        *,
        batch: str,
        item: dict[str, Any],
        render: Render,
        targets: Sequence[str],
        topic: str,
        level: str,
        dry_run: bool,
        now: float,
        gather_s: float,
        fresh: bool = False,
    ) -> int:
        """Add an event to the message gathering under `batch`, or start one; messages dropped to make room.
        A `fresh` one always starts a message, and what gathered before is ready at once.

        Runs inside the caller's transaction `db` (the one that stores the event).
        """
        if fresh:
            await db.execute(
                "UPDATE notify_messages SET ready_at = ? WHERE batch = ? AND ready_at > ?", (now, batch, now)
            )
        async with db.execute(
            "SELECT id, items, count, level FROM notify_messages "
            "WHERE batch = ? AND ready_at > ? AND dry_run = ? ORDER BY id DESC LIMIT 1",
            (batch, now, int(dry_run)),
        ) as cursor:
            row = await cursor.fetchone()
        if row is not None:
            items = json.loads(row["items"])
            if len(items) < MAX_ITEMS:
                items.append(item)
            count = int(row["count"]) + 1
            title, body = render(items, count)
            worst = max(row["level"], level, key=("info", "warning", "error").index)
            await db.execute(
                "UPDATE notify_messages SET items = ?, count = ?, title = ?, body = ?, level = ? "
                "WHERE id = ?",
                (json.dumps(items), count, title, body, worst, row["id"]),
            )
            return 0
        title, body = render([item], 1)
        return await self._insert(
            db, "events", topic, level, title, body, targets, now, now + gather_s, batch, dry_run, [item]
        )

    async def add(
        self,
        kind: str,
        topic: str,
        level: str,
        title: str,
        body: str,
        targets: Sequence[str],
        now: float,
        *,
        dry_run: bool = False,
        db: aiosqlite.Connection | None = None,
    ) -> int:
        """Store one message for `targets`, ready now; the number of older messages dropped to make room."""
        if db is not None:
            return await self._insert(
                db, kind, topic, level, title, body, targets, now, now, None, dry_run, []
            )
        async with self._store.transaction() as own:
            return await self._insert(
                own, kind, topic, level, title, body, targets, now, now, None, dry_run, []
            )

    async def _insert(
        self,
        db: aiosqlite.Connection,
        kind: str,
        topic: str,
        level: str,
        title: str,
        body: str,
        targets: Sequence[str],
        now: float,
        ready_at: float,
        batch: str | None,
        dry_run: bool,
        items: list[dict[str, Any]],
    ) -> int:
        if not targets:
            return 0
        dropped = await self._make_room(db)
        cursor = await db.execute(
            "INSERT INTO notify_messages (created_at, ready_at, kind, topic, level, batch, dry_run, title, "
            "body, items, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (now, ready_at, kind, topic, level, batch, int(dry_run), title, body, json.dumps(items), 1),
        )
        message_id = int(cursor.lastrowid or 0)
        await db.executemany(
            "INSERT INTO notify_deliveries (target, message_id) VALUES (?, ?)",
            [(target, message_id) for target in sorted(set(targets))],
        )
        return dropped

    async def _make_room(self, db: aiosqlite.Connection) -> int:
        async with db.execute("SELECT count(*) FROM notify_messages") as cursor:
            row = await cursor.fetchone()
        excess = (int(row[0]) if row else 0) - MAX_MESSAGES + 1
        if excess <= 0:
            return 0
        async with db.execute("SELECT id FROM notify_messages ORDER BY id LIMIT ?", (excess,)) as cursor:
            oldest = [int(r[0]) for r in await cursor.fetchall()]
        marks = ",".join("?" * len(oldest))
        await db.execute(
            "INSERT INTO notify_targets (target, dropped) "
            f"SELECT target, count(*) FROM notify_deliveries WHERE message_id IN ({marks}) GROUP BY target "
            "ON CONFLICT (target) DO UPDATE SET dropped = dropped + excluded.dropped",
            oldest,
        )
        await db.execute(f"DELETE FROM notify_messages WHERE id IN ({marks})", oldest)
        await _count_drops(db, len(oldest))
        return len(oldest)

    # -- sending --------------------------------------------------------------------------

    async def next_for(self, target: str, now: float) -> OutboxMessage | None:
        """The oldest message ready for `target`."""
        row = await self._store.fetchone(
            "SELECT m.*, d.attempts FROM notify_deliveries d JOIN notify_messages m ON m.id = d.message_id "
            "WHERE d.target = ? AND m.ready_at <= ? ORDER BY m.id LIMIT 1",
            (target, now),
        )
        return _message(row) if row is not None else None

    async def next_ready_at(self, targets: Iterable[str]) -> float | None:
        """When the earliest message waiting for any of `targets` is ready (maybe in the past)."""
        keys = list(targets)
        if not keys:
            return None
        marks = ",".join("?" * len(keys))
        row = await self._store.fetchone(
            "SELECT min(m.ready_at) FROM notify_deliveries d JOIN notify_messages m ON m.id = d.message_id "
            f"WHERE d.target IN ({marks})",
            keys,
        )
        return float(row[0]) if row is not None and row[0] is not None else None

    async def delivered(self, message_id: int, target: str, now: float) -> None:
        async with self._store.transaction() as db:
            await db.execute(
                "DELETE FROM notify_deliveries WHERE target = ? AND message_id = ?", (target, message_id)
            )
            await _forget_if_done(db, message_id)
            await db.execute(
                "INSERT INTO notify_targets (target, last_ok_at, sent) VALUES (?, ?, 1) "
                "ON CONFLICT (target) DO UPDATE SET failures = 0, next_at = NULL, "
                "last_ok_at = excluded.last_ok_at, sent = sent + 1",
                (target, now),
            )

    async def failed(
        self,
        message_id: int,
        target: str,
        error: str,
        now: float,
        next_at: float,
        *,
        give_up: bool,
    ) -> None:
        """A try failed: the target waits until `next_at`; with `give_up` the message is dropped for it."""
        async with self._store.transaction() as db:
            if give_up:
                await db.execute(
                    "DELETE FROM notify_deliveries WHERE target = ? AND message_id = ?", (target, message_id)
                )
                await _forget_if_done(db, message_id)
                await _count_drops(db, 1)
            else:
                await db.execute(
                    "UPDATE notify_deliveries SET attempts = attempts + 1 "
                    "WHERE target = ? AND message_id = ?",
                    (target, message_id),
                )
            await db.execute(
                "INSERT INTO notify_targets (target, failures, next_at, last_error, last_error_at, dropped) "
                "VALUES (?, 1, ?, ?, ?, ?) ON CONFLICT (target) DO UPDATE SET failures = failures + 1, "
                "next_at = excluded.next_at, last_error = excluded.last_error, "
                "last_error_at = excluded.last_error_at, dropped = dropped + excluded.dropped",
                (target, next_at, error, now, int(give_up)),
            )

    async def retry_now(self, target: str) -> None:
        """Let a target's next try happen at once (a test message just reached it)."""
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE notify_targets SET failures = 0, next_at = NULL WHERE target = ?", (target,)
            )

    # -- targets --------------------------------------------------------------------------

    async def targets(self) -> dict[str, TargetRecord]:
        rows = await self._store.fetchall("SELECT * FROM notify_targets")
        return {row["target"]: TargetRecord(**dict(row)) for row in rows}

    async def keep_targets(self, keep: Iterable[str]) -> int:
        """Forget every target but `keep` (removed from the file), with what waited for it; how many
        deliveries that was."""
        keys = list(keep)
        marks = ",".join("?" * len(keys))
        where = f"WHERE target NOT IN ({marks})" if keys else ""
        async with self._store.transaction() as db:
            cursor = await db.execute(f"DELETE FROM notify_deliveries {where}", keys)
            removed = cursor.rowcount
            await db.execute(f"DELETE FROM notify_targets {where}", keys)
            await db.execute(
                "DELETE FROM notify_messages WHERE id NOT IN (SELECT message_id FROM notify_deliveries)"
            )
            return int(removed)

    async def waiting(self) -> dict[str, int]:
        """Messages waiting, by target."""
        rows = await self._store.fetchall("SELECT target, count(*) FROM notify_deliveries GROUP BY target")
        return {str(row[0]): int(row[1]) for row in rows}

    async def size(self) -> int:
        row = await self._store.fetchone("SELECT count(*) FROM notify_messages")
        return int(row[0]) if row else 0

    async def drops(self) -> dict[str, Any]:
        """Messages dropped (the outbox full, or given up on) since it was last empty: `count`, `since`."""
        return await self._store.read_state(DROPS_KEY)

    async def reset_drops(self, now: float) -> None:
        await self._store.write_state(DROPS_KEY, {}, now)

    # -- problems said ----------------------------------------------------------------------

    async def problems(self) -> dict[str, dict[str, Any]]:
        rows = await self._store.fetchall("SELECT * FROM notify_problems")
        return {row["id"]: dict(row) for row in rows}

    async def remember_problem(self, problem: dict[str, Any]) -> None:
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO notify_problems (id, variant, topic, level, title, summary, since, sent) "
                "VALUES (:id, :variant, :topic, :level, :title, :summary, :since, :sent) "
                "ON CONFLICT (id) DO UPDATE SET variant = excluded.variant, topic = excluded.topic, "
                "level = excluded.level, title = excluded.title, summary = excluded.summary, "
                "since = excluded.since, sent = excluded.sent",
                problem,
            )

    async def forget_problem(self, problem_id: str) -> None:
        async with self._store.transaction() as db:
            await db.execute("DELETE FROM notify_problems WHERE id = ?", (problem_id,))


async def _forget_if_done(db: aiosqlite.Connection, message_id: int) -> None:
    await db.execute(
        "DELETE FROM notify_messages WHERE id = ? AND NOT EXISTS "
        "(SELECT 1 FROM notify_deliveries WHERE message_id = ?)",
        (message_id, message_id),
    )


async def _count_drops(db: aiosqlite.Connection, count: int) -> None:
    async with db.execute("SELECT value FROM meta WHERE key = ?", (DROPS_KEY,)) as cursor:
        row = await cursor.fetchone()
    state = json.loads(row[0]) if row else {}
    state["count"] = int(state.get("count") or 0) + count
    await db.execute(
        "INSERT INTO meta (key, value, updated_at) VALUES (?, ?, 0) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (DROPS_KEY, json.dumps(state)),
    )


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=int(row["id"]),
        created_at=float(row["created_at"]),
        ready_at=float(row["ready_at"]),
        kind=str(row["kind"]),
        topic=str(row["topic"]),
        level=str(row["level"]),
        title=str(row["title"]),
        body=str(row["body"]),
        attempts=int(row["attempts"]),
    )
