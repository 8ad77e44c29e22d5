"""The torrents mamd knows: what book each holds, whether it was imported, how it seeds."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiosqlite

from mamd.clock import iso
from mamd.crashpoint import crashpoint
from mamd.domain.book import BookMeta
from mamd.store.db import Store

_COLUMNS = (
    "hash, name, wanted_id, mam_id, meta, state, first_seen_at, last_seen_at, completed_at, imported_at, "
    "import_path, abs_confirmed_at, scan_attempts, last_error, qbt_state, seeding_time_s, tracker_ok, "
    "tracker_message, vanished_at, risk, scan_next_at, scan_failed_at"
)


@dataclass(frozen=True)
class TorrentRecord:
    hash: str
    name: str
    wanted_id: int | None
    mam_id: int | None
    meta: BookMeta | None
    state: str
    first_seen_at: float
    last_seen_at: float | None
    completed_at: float | None
    imported_at: float | None
    import_path: str | None
    abs_confirmed_at: float | None
    scan_attempts: int
    last_error: str | None
    qbt_state: str | None
    seeding_time_s: int | None
    tracker_ok: bool | None
    tracker_message: str | None
    vanished_at: float | None
    risk: str | None  # why it may become a hit-and-run, while it may
    scan_next_at: float | None  # when Audiobookshelf is next asked whether it lists the import
    scan_failed_at: float | None  # when mamd gave up asking (`last_error` says why)

    def as_dict(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "name": self.name,
            "wanted_id": self.wanted_id,
            "book": self.meta.as_dict() if self.meta else None,
            "state": self.state,
            "imported_at": iso(self.imported_at),
            "import_path": self.import_path,
            "abs_confirmed_at": iso(self.abs_confirmed_at),
            "qbt_state": self.qbt_state,
            "seeding_time_s": self.seeding_time_s,
            "tracker_ok": self.tracker_ok,
            "risk": self.risk,
            "last_error": self.last_error,
            "scan_failed_at": iso(self.scan_failed_at),
        }


@dataclass(frozen=True)
class Sighting:
    """What the reconcile job saw of one torrent in qBittorrent."""

    hash: str
    name: str
    qbt_state: str
    seeding_time_s: int
    completed_at: float | None


class Torrents:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, torrent_hash: str) -> TorrentRecord | None:
        row = await self._store.fetchone(f"SELECT {_COLUMNS} FROM torrents WHERE hash = ?", (torrent_hash,))
        return _record(row) if row else None

    async def all(self) -> list[TorrentRecord]:
        return [
            _record(r) for r in await self._store.fetchall(f"SELECT {_COLUMNS} FROM torrents ORDER BY hash")
        ]

    async def seen(self, torrent_hash: str, name: str, now: float, state: str = "seen") -> None:
        """Remember a torrent mamd has just met (a hook or reconcile), keeping what it knew."""
        async with self._store.transaction() as db:
            await db.execute(
                """
                INSERT INTO torrents (hash, name, state, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (hash) DO UPDATE SET name = excluded.name, last_seen_at = excluded.last_seen_at,
                    state = CASE WHEN torrents.state = 'seen' THEN excluded.state ELSE torrents.state END
                """,
                (torrent_hash, name, state, now, now),
            )

    async def grabbed(
        self, torrent_hash: str, name: str, wanted_id: int | None, mam_id: int, book: BookMeta, now: float
    ) -> None:
        """Record a torrent mamd grabbed: what book it is for comes from the grab, not from its name."""
        async with self._store.transaction() as db:
            await record_grab(db, torrent_hash, name, wanted_id, mam_id, book, now)

    async def grabs_since(self, at: float) -> int:
        row = await self._store.fetchone("SELECT count(*) FROM torrents WHERE grabbed_at >= ?", (at,))
        return int(row[0]) if row else 0

    async def by_mam_id(self, mam_id: int) -> TorrentRecord | None:
        row = await self._store.fetchone(f"SELECT {_COLUMNS} FROM torrents WHERE mam_id = ?", (mam_id,))
        return _record(row) if row else None

    async def imported(self, torrent_hash: str, book: BookMeta, path: str, now: float) -> None:
        async with self._store.transaction() as db:
            await record_import(db, torrent_hash, book, path, now)

    async def failed_lately(self, limit: int) -> list[TorrentRecord]:
        """Torrents whose import failed for good, still in qBittorrent."""
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM torrents WHERE state = 'failed' AND imported_at IS NULL "
            "AND vanished_at IS NULL ORDER BY first_seen_at DESC, hash LIMIT ?",
            (limit,),
        )
        return [_record(row) for row in rows]

    async def failed_imports(self) -> list[str]:
        """Torrents whose import failed for good and that are still in qBittorrent, by hash."""
        rows = await self._store.fetchall(
            "SELECT hash FROM torrents WHERE state = 'failed' AND imported_at IS NULL "
            "AND vanished_at IS NULL ORDER BY hash"
        )
        return [row[0] for row in rows]

    async def failed(self, torrent_hash: str, error: str) -> None:
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE torrents SET state = 'failed', last_error = ? WHERE hash = ?", (error, torrent_hash)
            )

    async def awaiting_scan(self) -> list[TorrentRecord]:
        """Imported, not yet seen in Audiobookshelf, and not given up on."""
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM torrents WHERE imported_at IS NOT NULL AND abs_confirmed_at IS NULL "
            "AND scan_failed_at IS NULL ORDER BY imported_at"
        )
        return [_record(r) for r in rows]

    async def not_in_library(self) -> list[TorrentRecord]:
        """Imports Audiobookshelf never listed, after every confirmation round."""
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM torrents WHERE abs_confirmed_at IS NULL AND scan_failed_at IS NOT NULL "
            "ORDER BY scan_failed_at"
        )
        return [_record(r) for r in rows]

    async def confirmed(self, hashes: Iterable[str], now: float) -> None:
        """Audiobookshelf lists them: their books are imported, in the same transaction, so a crash right
        after cannot leave a confirmed import with its book still waiting."""
        chosen = [(now, h) for h in hashes]
        async with self._store.transaction() as db:
            await db.executemany(
                "UPDATE torrents SET abs_confirmed_at = ?, scan_next_at = NULL, scan_failed_at = NULL "
                "WHERE hash = ?",
                chosen,
            )
            await db.executemany(
                "UPDATE wanted SET state = 'imported', updated_at = ?, "
                "state_reason = 'in the library at ' || (SELECT import_path FROM torrents WHERE hash = ?) "
                "WHERE id = (SELECT wanted_id FROM torrents WHERE hash = ?)",
                [(now, h, h) for _, h in chosen],
            )
        crashpoint("import.confirmed")

    async def scan_missed(self, torrent_hash: str, next_at: float) -> None:
        """One more confirmation round did not find it; the next is at `next_at`."""
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE torrents SET scan_attempts = scan_attempts + 1, scan_next_at = ? WHERE hash = ?",
                (next_at, torrent_hash),
            )

    async def scan_gave_up(self, torrent_hash: str, reason: str, now: float) -> None:
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE torrents SET scan_attempts = scan_attempts + 1, scan_next_at = NULL, "
                "scan_failed_at = ?, last_error = ? WHERE hash = ?",
                (now, reason, torrent_hash),
            )

    async def scan_again(self, hashes: Iterable[str] | None = None) -> int:
        """Confirmation starts over for these imports (all given-up ones when None); how many."""
        async with self._store.transaction() as db:
            if hashes is None:
                cursor = await db.execute(
                    "UPDATE torrents SET scan_attempts = 0, scan_next_at = NULL, scan_failed_at = NULL "
                    "WHERE scan_failed_at IS NOT NULL AND abs_confirmed_at IS NULL"
                )
                return cursor.rowcount
            chosen = [(h,) for h in hashes]
            await db.executemany(
                "UPDATE torrents SET scan_attempts = 0, scan_next_at = NULL, scan_failed_at = NULL "
                "WHERE hash = ? AND abs_confirmed_at IS NULL",
                chosen,
            )
            return len(chosen)

    async def sightings(self, seen: Iterable[Sighting], now: float) -> None:
        """Record what qBittorrent shows now (state, seeding time); a torrent seen again is not vanished."""
        async with self._store.transaction() as db:
            await db.executemany(
                """
                INSERT INTO torrents (hash, name, state, first_seen_at, last_seen_at, qbt_state,
                    seeding_time_s, completed_at) VALUES (?, ?, 'seen', ?, ?, ?, ?, ?)
                ON CONFLICT (hash) DO UPDATE SET name = excluded.name, last_seen_at = excluded.last_seen_at,
                    qbt_state = excluded.qbt_state, seeding_time_s = excluded.seeding_time_s,
                    completed_at = coalesce(torrents.completed_at, excluded.completed_at), vanished_at = NULL
                """,
                [(s.hash, s.name, now, now, s.qbt_state, s.seeding_time_s, s.completed_at) for s in seen],
            )

    async def tracker(self, torrent_hash: str, ok: bool, message: str | None) -> None:
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE torrents SET tracker_ok = ?, tracker_message = ? WHERE hash = ?",
                (int(ok), message, torrent_hash),
            )

    async def set_risk(self, torrent_hash: str, risk: str | None) -> None:
        async with self._store.transaction() as db:
            await db.execute("UPDATE torrents SET risk = ? WHERE hash = ?", (risk, torrent_hash))

    async def at_risk(self) -> list[TorrentRecord]:
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM torrents WHERE risk IS NOT NULL AND vanished_at IS NULL ORDER BY hash"
        )
        return [_record(row) for row in rows]

    async def vanished(self, hashes: Iterable[str], now: float) -> None:
        async with self._store.transaction() as db:
            await db.executemany(
                "UPDATE torrents SET vanished_at = ? WHERE hash = ?", [(now, h) for h in hashes]
            )


async def record_import(
    db: aiosqlite.Connection, torrent_hash: str, book: BookMeta, path: str, now: float
) -> None:
    """`Torrents.imported` inside a transaction the caller holds."""
    await db.execute(
        "UPDATE torrents SET state = 'imported', meta = ?, import_path = ?, imported_at = ?, "
        "last_error = NULL, scan_attempts = 0, scan_next_at = NULL, scan_failed_at = NULL "
        "WHERE hash = ?",
        (json.dumps(book.as_dict()), path, now, torrent_hash),
    )


async def record_grab(
    db: aiosqlite.Connection,
    torrent_hash: str,
    name: str,
    wanted_id: int | None,
    mam_id: int,
    book: BookMeta,
    now: float,
) -> None:
    """`Torrents.grabbed` inside a transaction the caller holds."""
    await db.execute(
        """
        INSERT INTO torrents (hash, name, wanted_id, mam_id, meta, state, first_seen_at, grabbed_at)
        VALUES (?, ?, ?, ?, ?, 'grabbed', ?, ?)
        ON CONFLICT (hash) DO UPDATE SET wanted_id = excluded.wanted_id, mam_id = excluded.mam_id,
            meta = excluded.meta, grabbed_at = excluded.grabbed_at,
            state = CASE WHEN torrents.state IN ('seen', 'ignored') THEN 'grabbed'
                ELSE torrents.state END
        """,
        (torrent_hash, name, wanted_id, mam_id, json.dumps(book.as_dict()), now, now),
    )


def _record(row: Any) -> TorrentRecord:
    values = list(row)
    values[4] = BookMeta.from_dict(json.loads(values[4])) if values[4] else None
    values[16] = None if values[16] is None else bool(values[16])
    return TorrentRecord(*values)
