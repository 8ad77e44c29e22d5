"""The SQLite state database: one writer under a lock, one reader, numbered migrations.

Writes go through `transaction()`: `BEGIN IMMEDIATE` … `COMMIT` on the writer connection,
serialised by an asyncio lock so coroutines never share a transaction. With WAL and
`synchronous=FULL`, a committed write survives a crash or `kill -9`. Reads use a second
connection and see the last committed state. Backups are taken under the same lock, so a
copy never holds half of a transaction. The file, its WAL and every copy are created
readable by mamd's user only (0600): they hold MAM's live session cookie. Filesystem calls
run in a thread: a hung volume must not stall the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from mamd.logs import get_logger
from mamd.store.migrations import MIGRATIONS, Migration

log = get_logger(__name__)

BUSY_TIMEOUT_MS = 5000
# SQLite caches up to 2 MB of pages per connection by default; mamd's database stays a few MB and the
# system caches the file anyway, so on a NAS with little memory 1 MB each is plenty
CACHE_KIB = 1024


class StoreError(Exception):
    """The database refused an operation."""


class StoreUnavailable(StoreError):
    """The database cannot be written now (locked, read-only, full, missing); see the message."""


class Store:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        # one read at a time on the reader: a read runs as several steps on aiosqlite's thread, and until its
        # last step its statement holds SQLite's read snapshot, which a read begun meanwhile would share, so
        # missing a row committed just before it
        self._reading = asyncio.Lock()
        self.problem: str | None = "database not opened yet"

    # -- life -----------------------------------------------------------------------------

    async def open(self) -> None:
        """Open (creating the file and its folder when missing) and migrate to the current schema."""
        try:
            await asyncio.to_thread(_create_private, self.path)
            writer = await aiosqlite.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise await self._unavailable(exc, "open") from exc
        try:
            await _configure(writer, synchronous="FULL")
            await self._migrate(writer)
            reader = await aiosqlite.connect(self.path, isolation_level=None)
            await _configure(reader, synchronous="NORMAL")
            await reader.execute("PRAGMA query_only = ON")
        except (OSError, sqlite3.Error) as exc:
            await writer.close()
            raise await self._unavailable(exc, "open") from exc
        except BaseException:
            await writer.close()
            raise
        writer.row_factory = reader.row_factory = aiosqlite.Row
        self._writer, self._reader = writer, reader
        self._set_problem(None)

    async def close(self) -> None:
        for connection in (self._reader, self._writer):
            if connection is not None:
                await connection.close()
        self._reader = self._writer = None
        if self.problem is None:
            self.problem = "database closed"

    def fail(self, problem: str) -> None:
        """Record why the database cannot be used (logged when the reason changes)."""
        self._set_problem(problem)

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    # -- access ---------------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction; it commits when the block ends and rolls back on any error."""
        async with self._lock:
            writer = self._require(self._writer)
            try:
                await writer.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise await self._unavailable(exc, "write") from exc
            except BaseException:
                # cancelled while the connection's thread began the transaction: it did begin, and
                # would be left open under the next writer ("cannot start a transaction within …")
                await self._roll_back(writer)
                raise
            try:
                yield writer
                await writer.execute("COMMIT")
            except BaseException as exc:
                # the transaction may already be gone: SQLite rolls back by itself on some errors
                await self._roll_back(writer)
                # locked, read-only, full or gone: the database is unavailable. A constraint
                # violation is a refused write, not an unavailable database.
                if isinstance(exc, sqlite3.OperationalError):
                    raise await self._unavailable(exc, "write") from exc
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"database refused the write: {exc}") from exc
                raise
        self._set_problem(None)

    @staticmethod
    async def _roll_back(writer: aiosqlite.Connection) -> None:
        """Roll back whatever is open; shielded, so a second cancellation cannot skip it."""
        with contextlib.suppress(sqlite3.Error):
            await asyncio.shield(writer.execute("ROLLBACK"))

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        reader = self._require(self._reader)
        try:
            async with self._reading:  # one step on the reader's thread, not three: /status makes ~50 reads
                return list(await reader.execute_fetchall(sql, tuple(params)))
        except sqlite3.Error as exc:
            raise StoreError(f"database read failed: {exc}") from exc

    async def fetch_tuples(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Like `fetchall`, as plain tuples: for reads of many thousand rows, where `Row` costs."""
        reader = self._require(self._reader)
        try:
            async with self._reading, reader.execute(sql, tuple(params)) as cursor:
                cursor.row_factory = None  # None means plain tuples
                return [tuple(row) for row in await cursor.fetchall()]
        except sqlite3.Error as exc:
            raise StoreError(f"database read failed: {exc}") from exc

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def read_state(self, key: str) -> dict[str, Any]:
        """A small JSON document kept under `key` in `meta` ({} when there is none)."""
        row = await self.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return dict(json.loads(row[0])) if row else {}

    async def write_state(self, key: str, value: dict[str, Any], now: float) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO meta (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, json.dumps(value), now),
            )

    async def probe(self) -> bool:
        """Try a write that is rolled back: finds a locked, read-only or vanished database."""
        if not self.is_open:
            return False
        try:
            async with self.transaction() as db:
                await db.execute(
                    "INSERT OR REPLACE INTO meta (key, value, updated_at) VALUES ('probe', '1', 0)"
                )
                raise _Rollback
        except _Rollback:
            pass
        except StoreUnavailable:
            return False
        if not await asyncio.to_thread(self.path.exists):
            self._set_problem(f"database file {self.path} was removed while mamd runs; restart mamd")
            return False
        self._set_problem(None)
        return True

    async def backup(self, folder: Path, keep: int, now: float) -> Path | None:
        """Write a consistent copy into `folder` (temporary name, then rename); keep the newest `keep`."""
        if keep <= 0:
            return None
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
        final = folder / f"{self.path.stem}-{stamp}.db"
        partial = folder / f".{final.name}.partial"
        await asyncio.to_thread(_create_private, partial, replace=True)
        async with self._lock:  # no transaction is half done while the copy is taken
            await _copy(self._require(self._writer), partial)
        # only the timestamped dailies count; copies made before a migration are kept apart
        await asyncio.to_thread(_finish_backup, partial, final, f"{self.path.stem}-[0-9]*Z.db", keep)
        return final

    # -- internals ------------------------------------------------------------------------

    def _require(self, connection: aiosqlite.Connection | None) -> aiosqlite.Connection:
        if connection is None:
            raise StoreUnavailable(self.problem or "database is not open")
        return connection

    async def _unavailable(self, exc: BaseException, action: str) -> StoreUnavailable:
        message = await asyncio.to_thread(_explain, exc, self.path, action)
        self._set_problem(message)
        return StoreUnavailable(message)

    def _set_problem(self, problem: str | None) -> None:
        if problem != self.problem:
            if problem is None:
                log.info("db.available", path=str(self.path))
            else:
                log.error("db.unavailable", path=str(self.path), problem=problem)
        self.problem = problem

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        async with db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        latest = MIGRATIONS[-1].version
        if current > latest:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this mamd understands ({latest}); "
                "upgrade mamd or restore a backup"
            )
        pending = [m for m in MIGRATIONS if m.version > current]
        if not pending:
            return
        if current > 0:
            copy = self.path.parent / "backups" / f"{self.path.stem}-before-v{pending[0].version}.db"
            await asyncio.to_thread(_create_private, copy, replace=True)
            await _copy(db, copy)
        for migration in pending:
            await _apply(db, migration)
            log.info("db.migrated", path=str(self.path), version=migration.version, what=migration.summary)


class _Rollback(Exception):
    pass


def _create_private(path: Path, replace: bool = False) -> None:
    """Create `path` empty and readable by this user only (and its folder, 0750), unless it exists.

    SQLite gives the WAL and shared-memory files the database file's own permissions.
    `replace` starts again from an empty file (a copy that a crash left half written)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    if replace:
        path.unlink(missing_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


async def _copy(source: aiosqlite.Connection, path: Path) -> None:
    """A consistent copy of `source` into the (private, empty) file `path`."""
    target = await aiosqlite.connect(path)
    try:
        await source.backup(target)
    finally:
        await target.close()


async def _configure(db: aiosqlite.Connection, synchronous: str) -> None:
    await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    async with db.execute("PRAGMA journal_mode = WAL") as cursor:
        row = await cursor.fetchone()
    if row is None or str(row[0]).lower() != "wal":
        raise StoreError(f"SQLite refused WAL mode (got {row[0] if row else None})")
    await db.execute("PRAGMA foreign_keys = ON")
    await db.execute(f"PRAGMA synchronous = {synchronous}")


async def _apply(db: aiosqlite.Connection, migration: Migration) -> None:
    """One migration in one transaction, with foreign keys off: SQLite can change a CHECK constraint only
    by building the table again, and dropping the old one with them on would run every `ON DELETE` of the
    tables that point at it (SQLite's "making other kinds of table schema changes"); the references are
    checked before the commit instead."""
    await db.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction: set before it
    try:
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in migration.statements():
                await db.execute(statement)
            async with db.execute("PRAGMA foreign_key_check") as cursor:
                broken = await cursor.fetchone()
            if broken is not None:
                raise StoreError(f"migration {migration.version} would break a reference: {tuple(broken)}")
            await db.execute(f"PRAGMA user_version = {migration.version}")
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
    finally:
        await db.execute("PRAGMA foreign_keys = ON")


def _explain(exc: BaseException, path: Path, action: str) -> str:
    text = str(exc)
    lowered = text.lower()
    with contextlib.suppress(OSError):
        if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            return f"cannot write {path}: its folder is on a read-only filesystem"
    writable = os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))
    if "readonly" in lowered or "read-only" in lowered or not writable:
        return f"cannot write {path}: the file or its folder is read-only for uid {os.getuid()}"
    if "locked" in lowered or "busy" in lowered:
        return f"cannot {action} {path}: the database is locked by another process"
    if "unable to open" in lowered or isinstance(exc, FileNotFoundError | PermissionError):
        return f"cannot open {path}: {text} (check the folder exists and is writable)"
    if "full" in lowered:
        return f"cannot write {path}: the disk is full"
    return f"cannot {action} {path}: {text}"


def _finish_backup(partial: Path, final: Path, pattern: str, keep: int) -> None:
    """Make the copy durable, give it its final name, and drop all but the newest `keep`."""
    with partial.open("rb+") as handle:
        os.fsync(handle.fileno())
    partial.replace(final)
    backups = sorted(final.parent.glob(pattern))
    for old in backups[:-keep]:
        old.unlink(missing_ok=True)
