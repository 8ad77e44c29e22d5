"""The journal of grabs: each decided, fetched (its `.torrent` kept) and then done, or failed.

A grab is written down before its `.torrent` is asked of MAM, and the bytes are kept as soon as
they arrive, so a grab cut short (a crash, qBittorrent refusing or away) is finished from them:
the `.torrent` is never fetched twice and the torrent never added twice. A decided grab that
never fetched anything did nothing anywhere and is dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mamd.domain.book import BookMeta
from mamd.domain.budget import Since
from mamd.domain.rules import Decision
from mamd.store.db import Store, StoreError
from mamd.store.events import Events
from mamd.store.torrents import record_grab
from mamd.store.wanted import mark_grabbed

_COLUMNS = (
    "id, wanted_id, mam_id, label, size, freeleech, wedge, meta, state, torrent, hash, name, decided_at, "
    "failures, last_error"
)


@dataclass(frozen=True)
class GrabRecord:
    id: int
    wanted_id: int | None
    mam_id: int
    label: str
    size: int | None
    freeleech: bool
    wedge: bool
    meta: BookMeta
    state: str  # decided | fetched | done | failed
    torrent: bytes | None
    hash: str | None
    name: str | None
    decided_at: float
    failures: int
    last_error: str | None


class Grabs:
    def __init__(self, store: Store, events: Events) -> None:
        self._store = store
        self._events = events

    async def decide(self, wanted_id: int, decision: Decision, meta: BookMeta, now: float) -> GrabRecord:
        """Written down before anything is asked of MAM."""
        release = decision.release
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO grabs (wanted_id, mam_id, label, size, freeleech, wedge, meta, state, "
                "decided_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'decided', ?, ?)",
                (
                    wanted_id,
                    release.id,
                    release.label,
                    release.size,
                    int(decision.freeleech),
                    int(decision.use_wedge),
                    json.dumps(meta.as_dict()),
                    now,
                    now,
                ),
            )
            # read back on the writer: the shared reader may still be inside an older snapshot, begun by a
            # read another task has not finished yet, which does not hold this row
            async with db.execute(f"SELECT {_COLUMNS} FROM grabs WHERE id = ?", (cursor.lastrowid,)) as read:
                row = await read.fetchone()
        if row is None:
            raise StoreError(f"the grab of {release.label} was written but cannot be read back")
        return _grab(row)

    async def fetched(self, grab_id: int, data: bytes, info_hash: str, name: str, now: float) -> None:
        """MAM handed over the `.torrent`: kept, so the grab is finished from it whatever happens next."""
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE grabs SET state = 'fetched', torrent = ?, hash = ?, name = ?, fetched_at = ?, "
                "updated_at = ? WHERE id = ?",
                (data, info_hash, name, now, now, grab_id),
            )

    async def refused(self, grab_id: int, error: str, now: float) -> None:
        """qBittorrent did not take it this time: one more failure in a row, the bytes kept."""
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE grabs SET failures = failures + 1, last_error = ?, updated_at = ? WHERE id = ?",
                (error, now, grab_id),
            )

    async def failed(self, grab_id: int, error: str, now: float) -> None:
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE grabs SET state = 'failed', last_error = ?, updated_at = ? WHERE id = ?",
                (error, now, grab_id),
            )

    async def record(
        self, grab: GrabRecord, reason: str, now: float, event: tuple[str, str, dict[str, Any]]
    ) -> None:
        """The torrent is in qBittorrent: the torrent, the book's state, the grab and its event, at once."""
        if grab.hash is None:
            raise ValueError(f"grab {grab.id} has no .torrent yet")
        kind, message, data = event
        async with self._store.transaction() as db:
            await record_grab(db, grab.hash, grab.name or "", grab.wanted_id, grab.mam_id, grab.meta, now)
            if grab.wanted_id is not None:
                await mark_grabbed(db, grab.wanted_id, reason, now)
            await db.execute(
                "UPDATE grabs SET state = 'done', torrent = NULL, updated_at = ? WHERE id = ?", (now, grab.id)
            )
            subject = f"wanted:{grab.wanted_id}" if grab.wanted_id is not None else f"torrent:{grab.hash}"
            await self._events.insert(db, now, kind, message, subject, **data)

    async def get(self, grab_id: int) -> GrabRecord | None:
        row = await self._store.fetchone(f"SELECT {_COLUMNS} FROM grabs WHERE id = ?", (grab_id,))
        return _grab(row) if row else None

    async def unfinished(self) -> list[GrabRecord]:
        """Grabs decided or fetched but not done: what a crash or a refusal left."""
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM grabs WHERE state IN ('decided', 'fetched') ORDER BY id"
        )
        return [_grab(row) for row in rows]

    async def since(self, at: float) -> Since:
        """What the grabs fetched at or after `at` (an account reading) did to the account."""
        row = await self._store.fetchone(
            "SELECT count(*), coalesce(sum(CASE WHEN freeleech THEN 0 ELSE size END), 0), "
            "coalesce(sum(wedge), 0) FROM grabs WHERE fetched_at >= ?",
            (at,),
        )
        return Since(int(row[0]), int(row[1]), int(row[2])) if row else Since()

    async def pending(self) -> int:
        """Fetched, not in qBittorrent yet: each will be a download, and counts as one."""
        row = await self._store.fetchone("SELECT count(*) FROM grabs WHERE state = 'fetched'")
        return int(row[0]) if row else 0

    async def prune(self, before: float) -> int:
        """Forget finished grabs older than `before`; unfinished ones are kept whatever their age."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "DELETE FROM grabs WHERE state IN ('done', 'failed') AND updated_at < ?", (before,)
            )
            return cursor.rowcount


def _grab(row: Any) -> GrabRecord:
    values = list(row)
    values[5], values[6] = bool(values[5]), bool(values[6])
    values[7] = BookMeta.from_dict(json.loads(values[7]))
    values[9] = bytes(values[9]) if values[9] is not None else None
    return GrabRecord(*values)
