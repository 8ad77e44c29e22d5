"""The account guard's memory: its level and since when, and exactly which downloads it stopped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from mamd.clock import iso
from mamd.domain.guard import LEVELS, Level
from mamd.store.db import Store

GUARD_KEY = "guard.state"


@dataclass(frozen=True)
class GuardState:
    level: Level
    since: float | None
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "since": iso(self.since), "reasons": list(self.reasons)}


@dataclass(frozen=True)
class StoppedTorrent:
    hash: str
    name: str
    stopped_at: float
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "name": self.name,
            "stopped_at": iso(self.stopped_at),
            "last_error": self.last_error,
        }


class GuardRecords:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def state(self) -> GuardState:
        data = await self._store.read_state(GUARD_KEY)
        level = data.get("level")
        return GuardState(
            cast(Level, level) if level in LEVELS else "ok", data.get("since"), tuple(data.get("reasons", ()))
        )

    async def set_state(self, level: Level, reasons: Iterable[str], since: float, now: float) -> None:
        await self._store.write_state(
            GUARD_KEY, {"level": level, "since": since, "reasons": list(reasons)}, now
        )

    async def stopped(self) -> list[StoppedTorrent]:
        rows = await self._store.fetchall(
            "SELECT hash, name, stopped_at, last_error FROM guard_stopped ORDER BY stopped_at, hash"
        )
        return [StoppedTorrent(*row) for row in rows]

    async def add_stopped(self, torrents: Iterable[tuple[str, str]], now: float) -> None:
        """Remember torrents stopped in an emergency, before asking qBittorrent to stop them."""
        async with self._store.transaction() as db:
            await db.executemany(
                "INSERT INTO guard_stopped (hash, name, stopped_at) VALUES (?, ?, ?) "
                "ON CONFLICT (hash) DO NOTHING",
                [(h, name, now) for h, name in torrents],
            )

    async def forget_stopped(self, hashes: Iterable[str]) -> None:
        async with self._store.transaction() as db:
            await db.executemany("DELETE FROM guard_stopped WHERE hash = ?", [(h,) for h in hashes])

    async def stopped_error(self, hashes: Iterable[str], error: str | None) -> None:
        async with self._store.transaction() as db:
            await db.executemany(
                "UPDATE guard_stopped SET last_error = ? WHERE hash = ?", [(error, h) for h in hashes]
            )
