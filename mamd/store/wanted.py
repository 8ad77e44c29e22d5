"""Wanted books and their states, and the names the user follows (search intents)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import aiosqlite

from mamd.clock import iso
from mamd.domain.discovery import Reason, WantSpec
from mamd.domain.normalize import name_key, series_key
from mamd.store.db import Store

STATES = (
    "wanted",
    "searching",
    "grabbed",
    "downloading",
    "importing",
    "imported",
    "skipped",
    "blocked",
    "failed",
    "ignored",
)
# states in which a book is only wished for: discovery may still drop it; later ones have a torrent
OPEN_STATES = frozenset({"wanted", "skipped", "blocked", "failed"})
_COLUMNS = (
    "id, key, reason, title, author, series, position, asin, state, state_reason, "
    "created_at, updated_at, next_search_at, attempts, failures, evidence"
)
# a book is searched when its time has come: never while a grab of it is under way, and never once it
# has failed for good (`failed` without a next search), until something changes and it is armed again
_NO_GRAB_UNDER_WAY = (
    "NOT EXISTS (SELECT 1 FROM grabs WHERE grabs.wanted_id = wanted.id AND grabs.state IN "
    "('decided', 'fetched'))"
)
_DUE = (
    "((state IN ('wanted', 'skipped', 'blocked') AND coalesce(next_search_at, 0) <= ?) "
    "OR (state = 'failed' AND next_search_at <= ?)) "
    f"AND {_NO_GRAB_UNDER_WAY}"
)


@dataclass(frozen=True)
class WantedBook:
    id: int
    key: str
    reason: Reason
    title: str | None
    author: str
    series: str | None
    position: str | None
    asin: str | None
    state: str
    state_reason: str | None
    created_at: float
    updated_at: float
    next_search_at: float | None
    attempts: int
    failures: int = 0  # failed grabs in a row
    evidence: str | None = None  # JSON: what named this book (the MAM rows of a series continuation)

    @property
    def spec(self) -> WantSpec:
        return WantSpec(self.key, self.reason, self.author, self.title, self.series, self.position, self.asin)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reason": self.reason,
            "title": self.title,
            "author": self.author,
            "series": self.series,
            "position": self.position,
            "asin": self.asin,
            "label": self.spec.label,
            "state": self.state,
            "state_reason": self.state_reason,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "next_search_at": iso(self.next_search_at),
            "attempts": self.attempts,
            "failures": self.failures,
            "evidence": json.loads(self.evidence) if self.evidence else None,
        }


class Wanted:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def all(self) -> list[WantedBook]:
        return [
            _book(row) for row in await self._store.fetchall(f"SELECT {_COLUMNS} FROM wanted ORDER BY id")
        ]

    async def get(self, wanted_id: int) -> WantedBook | None:
        row = await self._store.fetchone(f"SELECT {_COLUMNS} FROM wanted WHERE id = ?", (wanted_id,))
        return _book(row) if row else None

    async def page(self, state: str | None, limit: int, after_id: int) -> list[WantedBook]:
        where, params = "WHERE id > ?", list[object]([after_id])
        if state is not None:
            where += " AND state = ?"
            params.append(state)
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM wanted {where} ORDER BY id LIMIT ?",
            (*params, limit),
        )
        return [_book(row) for row in rows]

    async def failed_lately(self, limit: int) -> list[WantedBook]:
        """Books `failed`, the most recent first."""
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM wanted WHERE state = 'failed' ORDER BY updated_at DESC, id LIMIT ?",
            (limit,),
        )
        return [_book(row) for row in rows]

    async def counts(self) -> dict[str, int]:
        rows = await self._store.fetchall("SELECT state, count(*) FROM wanted GROUP BY state")
        found = {row[0]: int(row[1]) for row in rows}
        return {state: found.get(state, 0) for state in STATES}

    async def apply(
        self,
        added: Iterable[WantSpec],
        changed: Mapping[int, WantSpec],
        dropped: Iterable[int],
        now: float,
    ) -> None:
        """Insert new wants, rewrite changed ones, delete dropped ones: all in one transaction."""
        async with self._store.transaction() as db:
            await db.executemany(
                "INSERT INTO wanted (key, reason, title, author, series, position, asin, created_at, "
                "updated_at, next_search_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (s.key, s.reason, s.title, s.author, s.series, s.position, s.asin, now, now, now)
                    for s in added
                ],
            )
            await db.executemany(
                "UPDATE wanted SET reason = ?, title = ?, author = ?, series = ?, position = ?, asin = ?, "
                "updated_at = ? WHERE id = ?",
                [
                    (s.reason, s.title, s.author, s.series, s.position, s.asin, now, wanted_id)
                    for wanted_id, s in changed.items()
                ],
            )
            await db.executemany("DELETE FROM wanted WHERE id = ?", [(i,) for i in dropped])

    async def written(self, wanted_id: int) -> WantedBook | None:
        """A book as the last write left it, read on the writer: the shared reader may still be inside a
        snapshot another task's read began before that write."""
        async with (
            self._store.transaction() as db,
            db.execute(f"SELECT {_COLUMNS} FROM wanted WHERE id = ?", (wanted_id,)) as cursor,
        ):
            row = await cursor.fetchone()
        return _book(row) if row else None

    async def by_key(self, key: str) -> WantedBook | None:
        row = await self._store.fetchone(f"SELECT {_COLUMNS} FROM wanted WHERE key = ?", (key,))
        return _book(row) if row else None

    async def add_found(self, found: Iterable[tuple[WantSpec, Any]], now: float) -> dict[str, int]:
        """New wants, each with its evidence (stored as JSON), in one transaction; a key already on the
        list is left as it is. Returns the ids of those added, by key."""
        added: dict[str, int] = {}
        async with self._store.transaction() as db:
            for spec, evidence in found:
                cursor = await db.execute(
                    "INSERT OR IGNORE INTO wanted (key, reason, title, author, series, position, asin, "
                    "created_at, updated_at, next_search_at, evidence) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        spec.key,
                        spec.reason,
                        spec.title,
                        spec.author,
                        spec.series,
                        spec.position,
                        spec.asin,
                        now,
                        now,
                        now,
                        json.dumps(evidence) if evidence is not None else None,
                    ),
                )
                if cursor.rowcount and cursor.lastrowid is not None:
                    added[spec.key] = cursor.lastrowid
        return added

    async def move(
        self, wanted_id: int, states: Iterable[str], state: str, reason: str | None, now: float
    ) -> bool:
        """Move a book in one of `states` to `state`, due for a search at once; False when it was in
        another state (or a grab of it is under way)."""
        wanted = list(states)
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE wanted SET state = ?, state_reason = ?, updated_at = ?, next_search_at = 0, "
                "failures = 0 WHERE id = ? AND state IN (SELECT value FROM json_each(?)) "
                f"AND {_NO_GRAB_UNDER_WAY}",
                (state, reason, now, wanted_id, json.dumps(wanted)),
            )
            return cursor.rowcount > 0

    async def remove(self, wanted_id: int, states: Iterable[str]) -> bool:
        """Delete a book in one of `states`; False when it is in another one (or a grab of it is under way:
        a `.torrent` fetched and not yet in qBittorrent is still finished by the search job)."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "DELETE FROM wanted WHERE id = ? AND state IN (SELECT value FROM json_each(?)) "
                f"AND {_NO_GRAB_UNDER_WAY}",
                (wanted_id, json.dumps(list(states))),
            )
            return cursor.rowcount > 0

    async def due_for_search(self, now: float, limit: int) -> list[WantedBook]:
        """Books without a torrent whose next search is due, those waiting longest first."""
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM wanted WHERE {_DUE} ORDER BY coalesce(next_search_at, 0), id LIMIT ?",
            (now, now, limit),
        )
        return [_book(row) for row in rows]

    async def hold(self, wanted_ids: Iterable[int], reason: str, now: float) -> int:
        """Mark books `blocked` without searching them (nothing may be grabbed now); they stay due."""
        async with self._store.transaction() as db:
            cursor = await db.executemany(
                "UPDATE wanted SET state = 'blocked', state_reason = ?, updated_at = ? "
                "WHERE id = ? AND (state != 'blocked' OR state_reason IS NOT ?)",
                [(reason, now, wanted_id, reason) for wanted_id in wanted_ids],
            )
            return cursor.rowcount

    async def failed(self, wanted_id: int, reason: str, next_search_at: float | None, now: float) -> None:
        """A failed grab: one more failure in a row; without a next search the book waits for a change."""
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE wanted SET state = 'failed', state_reason = ?, next_search_at = ?, updated_at = ?, "
                "failures = failures + 1 WHERE id = ?",
                (reason, next_search_at, now, wanted_id),
            )

    async def retry_failed(self, now: float) -> int:
        """Books whose grab failed for good are searched again (a reload, a search asked for by hand)."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE wanted SET next_search_at = ?, failures = 0, updated_at = ? "
                "WHERE state = 'failed' AND next_search_at IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM torrents WHERE torrents.wanted_id = wanted.id)",
                (now, now),
            )
            return cursor.rowcount

    async def searched(
        self, wanted_id: int, state: str, reason: str | None, next_search_at: float | None, now: float
    ) -> None:
        """The outcome of a search: a new state, why, and when to look again."""
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE wanted SET state = ?, state_reason = ?, next_search_at = ?, updated_at = ?, "
                "attempts = attempts + 1 WHERE id = ?",
                (state, reason, next_search_at, now, wanted_id),
            )

    async def advance(self, wanted_id: int, was: str, state: str, reason: str | None, now: float) -> bool:
        """Move a book from state `was` to `state`; False when it was in another state, or when a grab of
        it is under way (a `failed` book whose `.torrent` qBittorrent refused is still being finished)."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE wanted SET state = ?, state_reason = ?, updated_at = ? WHERE id = ? AND state = ? "
                f"AND {_NO_GRAB_UNDER_WAY}",
                (state, reason, now, wanted_id, was),
            )
            return cursor.rowcount > 0

    async def release_searches(self, now: float) -> int:
        """Books left `searching` by a search that never finished (a crash) are wanted again, unless a
        `.torrent` was fetched for one: that grab is finished first."""
        async with self._store.transaction() as db:
            cursor = await db.execute(
                "UPDATE wanted SET state = 'wanted', state_reason = 'a search was interrupted', "
                "updated_at = ? WHERE state = 'searching' AND NOT EXISTS (SELECT 1 FROM grabs "
                "WHERE grabs.wanted_id = wanted.id AND grabs.state = 'fetched')",
                (now,),
            )
            return cursor.rowcount

    async def set_state(self, wanted_id: int, state: str, reason: str | None, now: float) -> None:
        async with self._store.transaction() as db:
            await set_state(db, wanted_id, state, reason, now)

    async def follows(self) -> dict[str, list[str]]:
        rows = await self._store.fetchall("SELECT kind, name FROM follows ORDER BY kind, name")
        out: dict[str, list[str]] = {"author": [], "series": [], "narrator": []}
        for row in rows:
            out[row[0]].append(row[1])
        return out

    async def follows_due(self, searched_before: float) -> list[tuple[str, str]]:
        """Followed names not searched since `searched_before`: (kind, name)."""
        rows = await self._store.fetchall(
            "SELECT kind, name FROM follows WHERE coalesce(last_searched_at, 0) < ? ORDER BY kind, name",
            (searched_before,),
        )
        return [(row[0], row[1]) for row in rows]

    async def follow_searched(self, kind: str, name: str, now: float) -> None:
        key = series_key(name) if kind == "series" else name_key(name)
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE follows SET last_searched_at = ? WHERE kind = ? AND name_key = ?", (now, kind, key)
            )

    async def set_follows(self, wanted: Mapping[str, Iterable[str]], now: float) -> tuple[int, int]:
        """Make the stored follows exactly `wanted` (kind → names); returns (added, removed)."""
        rows = await self._store.fetchall("SELECT kind, name_key FROM follows")
        stored = {(row[0], row[1]) for row in rows}
        desired: dict[tuple[str, str], str] = {}
        for kind, names in wanted.items():
            for name in names:
                key = series_key(name) if kind == "series" else name_key(name)
                if key:
                    desired.setdefault((kind, key), name)
        add = [(k, n, key, now) for (k, key), n in desired.items() if (k, key) not in stored]
        remove = [pair for pair in stored if pair not in desired]
        if add or remove:
            async with self._store.transaction() as db:
                await db.executemany(
                    "INSERT INTO follows (kind, name, name_key, created_at) VALUES (?, ?, ?, ?)", add
                )
                await db.executemany("DELETE FROM follows WHERE kind = ? AND name_key = ?", remove)
        return len(add), len(remove)


async def set_state(
    db: aiosqlite.Connection, wanted_id: int, state: str, reason: str | None, now: float
) -> None:
    """`Wanted.set_state` inside a transaction the caller holds."""
    await db.execute(
        "UPDATE wanted SET state = ?, state_reason = ?, updated_at = ? WHERE id = ?",
        (state, reason, now, wanted_id),
    )


async def mark_grabbed(db: aiosqlite.Connection, wanted_id: int, reason: str, now: float) -> None:
    """A book's torrent is in qBittorrent, inside a transaction the caller holds."""
    await db.execute(
        "UPDATE wanted SET state = 'grabbed', state_reason = ?, next_search_at = NULL, updated_at = ?, "
        "attempts = attempts + 1, failures = 0 WHERE id = ?",
        (reason, now, wanted_id),
    )


def _book(row: Any) -> WantedBook:
    values = list(row)
    values[2] = cast(Reason, values[2])  # the table's CHECK keeps it one of the reasons
    return WantedBook(*values)
