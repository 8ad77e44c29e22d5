"""Bonus point purchases: each recorded as an intent before its request and settled after it."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from mamd.clock import iso
from mamd.crashpoint import crashpoint
from mamd.domain.spending import Spend
from mamd.store.db import Store, StoreError

HALT_KEY = "bonus.halted"
_COLUMNS = (
    "id, decision, kind, amount, cost, reason, state, decided_at, sent_at, settled_at, points_before, "
    "points_after, detail"
)


@dataclass(frozen=True)
class SpendRecord:
    id: int
    decision: str
    kind: str
    amount: int
    cost: float
    reason: str
    state: str
    decided_at: float
    sent_at: float | None
    settled_at: float | None
    points_before: float | None
    points_after: float | None
    detail: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "amount": self.amount,
            "cost": self.cost,
            "reason": self.reason,
            "state": self.state,
            "decided_at": iso(self.decided_at),
            "sent_at": iso(self.sent_at),
            "settled_at": iso(self.settled_at),
            "points_before": self.points_before,
            "points_after": self.points_after,
            "detail": self.detail,
        }


class Spends:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def intend(self, spend: Spend, points_before: float | None, now: float) -> int | None:
        """Record the decision before any request; None when this decision was taken before."""
        try:
            async with self._store.transaction() as db:
                cursor = await db.execute(
                    "INSERT INTO spends (decision, kind, amount, cost, reason, state, decided_at, "
                    "points_before) VALUES (?, ?, ?, ?, ?, 'intent', ?, ?)",
                    (spend.decision, spend.kind, spend.amount, spend.cost, spend.reason, now, points_before),
                )
                spend_id = cursor.lastrowid
        except StoreError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                return None
            raise
        crashpoint("spend.intended")
        return spend_id

    async def sent(self, spend_id: int, now: float) -> None:
        """Marked just before the request leaves: from here on, it may have gone through."""
        async with self._store.transaction() as db:
            await db.execute("UPDATE spends SET state = 'sent', sent_at = ? WHERE id = ?", (now, spend_id))

    async def settle(
        self,
        spend_id: int,
        state: str,
        now: float | None,
        points_after: float | None = None,
        detail: str | None = None,
        sent: bool = True,
    ) -> None:
        """The outcome; `sent=False` for a purchase known never to have left mamd."""
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE spends SET state = ?, settled_at = ?, points_after = coalesce(?, points_after), "
                "detail = coalesce(?, detail), sent_at = CASE WHEN ? THEN sent_at END WHERE id = ?",
                (state, now, points_after, detail, sent, spend_id),
            )
            if state == "failed":  # nothing was bought: the decision may be taken again (later)
                await db.execute(
                    "UPDATE spends SET decision = decision || '#' || id "
                    "WHERE id = ? AND decision NOT LIKE '%#%'",
                    (spend_id,),
                )
        crashpoint("spend.settled")

    async def of_decision(self, decision: str) -> SpendRecord | None:
        row = await self._store.fetchone(f"SELECT {_COLUMNS} FROM spends WHERE decision = ?", (decision,))
        return SpendRecord(*row) if row else None

    async def refused_since(self, kind: str, since: float) -> bool:
        """Whether a purchase of this kind was sent and failed at or after `since` (MAM refused it, or it
        did not go through); one that never left mamd does not count."""
        row = await self._store.fetchone(
            "SELECT 1 FROM spends WHERE kind = ? AND state = 'failed' AND sent_at IS NOT NULL "
            "AND settled_at >= ?",
            (kind, since),
        )
        return row is not None

    async def let_go(self, now: float) -> int:
        """Stop waiting for purchases whose outcome stays unknown (the user looked, and edited `bonus:`);
        they still count as spent."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE spends SET state = 'let_go', settled_at = ? WHERE state IN ('sent', 'unknown')",
                (now,),
            )
            return cursor.rowcount

    async def open(self) -> list[SpendRecord]:
        """Purchases whose outcome is not known yet (a crash, a timeout): settled before any new one."""
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM spends WHERE state IN ('intent', 'sent', 'unknown') ORDER BY id"
        )
        return [SpendRecord(*row) for row in rows]

    async def spent_since(self, at: float) -> float:
        """Points spent, or possibly spent, since `at`."""
        row = await self._store.fetchone(
            "SELECT coalesce(sum(cost), 0) FROM spends WHERE decided_at >= ? AND state != 'failed'", (at,)
        )
        return float(row[0]) if row else 0.0

    async def recent(self, limit: int) -> list[SpendRecord]:
        rows = await self._store.fetchall(f"SELECT {_COLUMNS} FROM spends ORDER BY id DESC LIMIT ?", (limit,))
        return [SpendRecord(*row) for row in rows]

    async def halted(self) -> dict[str, Any]:
        """Why spending stopped ({} while it may go on)."""
        return await self._store.read_state(HALT_KEY)

    async def halt(self, reason: str, bonus_fingerprint: str, now: float) -> None:
        await self._store.write_state(
            HALT_KEY, {"reason": reason, "at": now, "bonus": bonus_fingerprint}, now
        )

    async def resume(self, now: float) -> None:
        await self._store.write_state(HALT_KEY, {}, now)
