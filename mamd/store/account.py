"""MAM account snapshots over time, and the session cookie as MAM last rotated it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mamd.domain.account import AccountSnapshot, Counter
from mamd.store.db import Store

COOKIE_KEY = "mam.session"


def _snapshot(at: float, data: dict[str, Any]) -> AccountSnapshot:
    counters = {
        k: Counter(v["count"], v.get("limit"), v.get("size")) for k, v in data.get("counters", {}).items()
    }
    ratio = data.get("ratio")
    return AccountSnapshot(
        at=at,
        classname=data.get("classname"),
        ratio=float("inf") if data.get("ratio_infinite") else ratio,
        uploaded=data.get("uploaded"),
        downloaded=data.get("downloaded"),
        seedbonus=data.get("seedbonus"),
        wedges=data.get("wedges"),
        vip_until=data.get("vip_until"),
        counters=counters,
    )


@dataclass(frozen=True)
class AccountPoint:
    """One reading of the account, as the status page charts it."""

    at: float
    ratio: float | None  # None when MAM reported no ratio, or an infinite one (nothing downloaded)
    seedbonus: float | None
    uploaded: int | None
    downloaded: int | None


class AccountHistory:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, snapshot: AccountSnapshot) -> None:
        data = snapshot.as_dict()
        data["ratio_infinite"] = snapshot.ratio == float("inf")
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO account_snapshots (at, data) VALUES (?, ?)", (snapshot.at, json.dumps(data))
            )

    async def latest(self) -> AccountSnapshot | None:
        """The snapshot read last, whatever time the clock gave it (a clock that moved back)."""
        row = await self._store.fetchone("SELECT at, data FROM account_snapshots ORDER BY id DESC LIMIT 1")
        return _snapshot(row[0], json.loads(row[1])) if row else None

    async def since(self, at: float) -> list[AccountSnapshot]:
        rows = await self._store.fetchall(
            "SELECT at, data FROM account_snapshots WHERE at >= ? ORDER BY at", (at,)
        )
        return [_snapshot(r[0], json.loads(r[1])) for r in rows]

    async def points(self, since: float, until: float, slice_s: float) -> list[AccountPoint]:
        """The last reading in each slice of `slice_s` seconds (counted from the epoch, so that the
        slices stay put as time passes) between `since` and `until`, oldest first.

        A reading every five minutes is 8,640 in 30 days: the times alone are grouped (from the
        index on `at`), and only the reading picked for each slice has its JSON read."""
        rows = await self._store.fetchall(
            """
            WITH picked AS (
                SELECT max(at) AS at FROM account_snapshots WHERE at >= ? AND at <= ?
                GROUP BY CAST(at / ? AS INTEGER)
            )
            SELECT s.at, json_extract(s.data, '$.ratio'), json_extract(s.data, '$.seedbonus'),
                   json_extract(s.data, '$.uploaded'), json_extract(s.data, '$.downloaded')
            FROM picked JOIN account_snapshots AS s ON s.at = picked.at
            GROUP BY s.at ORDER BY s.at
            """,
            (since, until, max(slice_s, 1.0)),
        )
        return [AccountPoint(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    async def prune(self, before: float) -> int:
        """Forget snapshots read before `before`, but never the newest: the guard judges by it."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "DELETE FROM account_snapshots WHERE at < ? AND id < (SELECT max(id) FROM account_snapshots)",
                (before,),
            )
            return cursor.rowcount

    async def cookie_state(self) -> dict[str, Any]:
        return await self._store.read_state(COOKIE_KEY)

    async def save_cookie_state(self, state: dict[str, Any]) -> None:
        await self._store.write_state(COOKIE_KEY, state, state.get("rotated_at") or 0)
