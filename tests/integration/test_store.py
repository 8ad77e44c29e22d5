"""The state database on real SQLite files: opening, transactions, queries, backups and refusals."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from mamd.store import Events, Inbox, JobRuns, Store, StoreError, StoreUnavailable
from mamd.store.migrations import MIGRATIONS

LATEST = MIGRATIONS[-1].version
T0 = 1_800_000_000.0
DAY = 86400.0
HASH_A = "a" * 40
HASH_B = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "mamd.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    opened = Store(db_path)
    await opened.open()
    yield opened
    await opened.close()


def plain(path: Path) -> sqlite3.Connection:
    """A connection of our own, outside mamd, as another process would have."""
    return sqlite3.connect(path, isolation_level=None, timeout=0)


def scalar(path: Path, sql: str) -> object:
    connection = plain(path)
    try:
        return connection.execute(sql).fetchone()[0]
    finally:
        connection.close()


async def writer_pragma(store: Store, name: str) -> object:
    async with store.transaction() as db:
        cursor = await db.execute(f"PRAGMA {name}")
        row = await cursor.fetchone()
        await cursor.close()
    assert row is not None
    return row[0]


# -- opening ---------------------------------------------------------------------------------------


async def test_open_creates_the_missing_folder_and_the_file_at_the_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "mamd.db"
    store = Store(path)
    assert store.problem is not None  # not opened yet
    await store.open()
    try:
        assert path.is_file()
        assert store.is_open
        assert store.problem is None
        tables = {row["name"] for row in await store.fetchall("SELECT name FROM sqlite_master")}
        assert {"meta", "events", "job_runs", "hook_inbox"} <= tables
        assert scalar(path, "PRAGMA user_version") == LATEST
    finally:
        await store.close()
    assert not store.is_open


async def test_open_under_a_path_that_is_a_file_refuses_and_says_which_path(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("not a folder")
    store = Store(blocker / "mamd.db")
    with pytest.raises(StoreUnavailable, match="cannot open") as raised:
        await store.open()
    assert str(blocker / "mamd.db") in str(raised.value)
    assert store.problem == str(raised.value)
    assert not store.is_open


async def test_the_database_file_is_in_wal_mode(store: Store, db_path: Path) -> None:
    assert scalar(db_path, "PRAGMA journal_mode") == "wal"


async def test_the_writer_has_foreign_keys_a_five_second_busy_timeout_and_synchronous_full(
    store: Store,
) -> None:
    assert await writer_pragma(store, "foreign_keys") == 1
    assert await writer_pragma(store, "busy_timeout") == 5000
    assert await writer_pragma(store, "synchronous") == 2  # FULL
    assert await writer_pragma(store, "journal_mode") == "wal"


async def test_the_reader_has_foreign_keys_and_the_busy_timeout_and_cannot_write(store: Store) -> None:
    assert (await store.fetchone("PRAGMA foreign_keys"))[0] == 1
    assert (await store.fetchone("PRAGMA busy_timeout"))[0] == 5000
    assert (await store.fetchone("PRAGMA query_only"))[0] == 1
    with pytest.raises(StoreError, match="read failed"):
        await store.fetchall("INSERT INTO meta (key, value, updated_at) VALUES ('x', 'y', 0)")


async def test_reads_and_writes_on_a_store_that_is_not_open_say_so(db_path: Path) -> None:
    store = Store(db_path)
    with pytest.raises(StoreUnavailable, match="not opened"):
        await store.fetchall("SELECT 1")
    with pytest.raises(StoreUnavailable, match="not opened"):
        await Events(store).add(T0, "x", "never written")
    assert await store.probe() is False


async def test_a_database_from_a_newer_mamd_is_refused_with_upgrade_or_restore_advice(db_path: Path) -> None:
    first = Store(db_path)
    await first.open()
    await first.close()
    connection = plain(db_path)
    connection.execute(f"PRAGMA user_version = {LATEST + 1}")
    connection.close()

    store = Store(db_path)
    with pytest.raises(StoreError) as raised:
        await store.open()
    message = str(raised.value)
    assert "upgrade mamd" in message
    assert "restore a backup" in message
    assert f"schema version {LATEST + 1}" in message
    assert not store.is_open
    assert scalar(db_path, "PRAGMA user_version") == LATEST + 1  # left as it was


# -- transactions ----------------------------------------------------------------------------------


async def test_a_transaction_commits_when_its_block_ends(store: Store) -> None:
    async with store.transaction() as db:
        await db.execute("INSERT INTO meta (key, value, updated_at) VALUES ('greeting', 'hello', ?)", (T0,))
        await db.execute("INSERT INTO meta (key, value, updated_at) VALUES ('answer', '42', ?)", (T0,))
    rows = await store.fetchall("SELECT key, value FROM meta ORDER BY key")
    assert [tuple(row) for row in rows] == [("answer", "42"), ("greeting", "hello")]


async def test_a_transaction_rolls_back_everything_when_its_block_raises(store: Store) -> None:
    async def write_then_fail() -> None:
        async with store.transaction() as db:
            await db.execute("INSERT INTO events (at, kind, message) VALUES (?, 'a', 'first')", (T0,))
            await db.execute("INSERT INTO events (at, kind, message) VALUES (?, 'b', 'second')", (T0,))
            raise ValueError("changed my mind")

    with pytest.raises(ValueError, match="changed my mind"):
        await write_then_fail()
    assert (await store.fetchone("SELECT count(*) FROM events"))[0] == 0
    assert store.problem is None
    await Events(store).add(T0, "after", "the writer is free again")
    assert (await store.fetchone("SELECT count(*) FROM events"))[0] == 1


async def test_a_transaction_rolls_back_earlier_statements_when_a_later_one_is_refused(store: Store) -> None:
    async def write_then_break_a_rule() -> None:
        async with store.transaction() as db:
            await db.execute("INSERT INTO events (at, kind, message) VALUES (?, 'a', 'first')", (T0,))
            await db.execute(
                "INSERT INTO job_runs (job, trigger, started_at) VALUES ('search', 'whenever', ?)", (T0,)
            )

    with pytest.raises(StoreError, match="CHECK constraint"):
        await write_then_break_a_rule()
    assert (await store.fetchone("SELECT count(*) FROM events"))[0] == 0
    assert (await store.fetchone("SELECT count(*) FROM job_runs"))[0] == 0
    await Events(store).add(T0, "after", "the writer is free again")
    assert (await store.fetchone("SELECT count(*) FROM events"))[0] == 1


async def test_concurrent_transactions_never_share_one(store: Store) -> None:
    """Each coroutine gets its own transaction, so one failing cannot undo or keep the other's rows."""
    inside = asyncio.Event()

    async def good() -> None:
        async with store.transaction() as db:
            await db.execute("INSERT INTO events (at, kind, message) VALUES (?, 'good', '1')", (T0,))
            inside.set()
            await asyncio.sleep(0)
            await db.execute("INSERT INTO events (at, kind, message) VALUES (?, 'good', '2')", (T0,))

    async def bad() -> None:
        await inside.wait()
        async with store.transaction() as db:
            await db.execute("INSERT INTO events (at, kind, message) VALUES (?, 'bad', '1')", (T0,))
            raise RuntimeError("bad block")

    results = await asyncio.wait_for(asyncio.gather(good(), bad(), return_exceptions=True), 5)
    assert results[0] is None
    assert isinstance(results[1], RuntimeError)
    rows = await store.fetchall("SELECT kind, message FROM events ORDER BY id")
    assert [tuple(row) for row in rows] == [("good", "1"), ("good", "2")]


# -- the hook inbox --------------------------------------------------------------------------------


async def test_inbox_add_stores_a_pending_entry(store: Store) -> None:
    inbox = Inbox(store)
    accepted = await inbox.add(HASH_A, {"name": "A Book"}, "webhook", T0)
    assert accepted.duplicate is False
    row = await store.fetchone("SELECT * FROM hook_inbox WHERE id = ?", (accepted.id,))
    assert row is not None
    assert row["hash"] == HASH_A
    assert row["source"] == "webhook"
    assert row["state"] == "pending"
    assert row["times_seen"] == 1
    assert row["received_at"] == row["last_seen_at"] == row["next_attempt_at"] == T0
    assert json.loads(row["payload"]) == {"name": "A Book"}
    assert await inbox.pending_count() == 1


async def test_a_second_hook_for_a_pending_hash_is_a_duplicate_of_the_same_entry(store: Store) -> None:
    inbox = Inbox(store)
    first = await inbox.add(HASH_A, {"name": "A Book"}, "webhook", T0)
    second = await inbox.add(HASH_A, {"name": "renamed"}, "reconcile", T0 + 60)
    assert second.id == first.id
    assert second.duplicate is True
    row = await store.fetchone("SELECT * FROM hook_inbox WHERE id = ?", (first.id,))
    assert row["times_seen"] == 2
    assert row["received_at"] == T0
    assert row["last_seen_at"] == T0 + 60
    assert json.loads(row["payload"]) == {"name": "A Book"}
    assert await inbox.pending_count() == 1
    assert await inbox.count() == 1


async def test_a_hook_for_a_hash_that_is_no_longer_pending_opens_a_new_entry(store: Store) -> None:
    inbox = Inbox(store)
    first = await inbox.add(HASH_A, {}, "webhook", T0)
    await inbox.add(HASH_B, {}, "webhook", T0)
    async with store.transaction() as db:
        await db.execute(
            "UPDATE hook_inbox SET state = 'done', finished_at = ? WHERE id = ?", (T0 + 1, first.id)
        )
    assert await inbox.pending_count() == 1
    again = await inbox.add(HASH_A, {}, "webhook", T0 + 2)
    assert again.id != first.id
    assert again.duplicate is False
    assert await inbox.pending_count() == 2
    assert await inbox.count() == 3


async def test_inbox_prune_forgets_old_finished_entries_and_keeps_pending_ones_of_any_age(
    store: Store,
) -> None:
    inbox = Inbox(store)
    old_pending = await inbox.add("1" * 40, {}, "webhook", T0 - 400 * DAY)
    old_done = await inbox.add("2" * 40, {}, "webhook", T0 - 40 * DAY)
    recent_done = await inbox.add("3" * 40, {}, "webhook", T0 - 2 * DAY)
    async with store.transaction() as db:
        await db.execute(
            "UPDATE hook_inbox SET state = 'done', finished_at = ? WHERE id = ?", (T0 - 39 * DAY, old_done.id)
        )
        await db.execute(
            "UPDATE hook_inbox SET state = 'failed', finished_at = ? WHERE id = ?", (T0 - DAY, recent_done.id)
        )
    assert await inbox.prune(T0 - 30 * DAY) == 1
    remaining = {row["id"] for row in await store.fetchall("SELECT id FROM hook_inbox")}
    assert remaining == {old_pending.id, recent_done.id}
    assert await inbox.pending_count() == 1


# -- events ----------------------------------------------------------------------------------------


async def test_events_are_read_back_in_order_with_their_data(store: Store) -> None:
    events = Events(store)
    first = await events.add(T0, "grab.sent", "grabbed A Book", "book:1", size=123, tags=["x"])
    second = await events.add(T0 + 1, "config.reloaded", "generation 2")
    assert second > first
    read = await events.read()
    assert [e.id for e in read] == [first, second]
    assert read[0].kind == "grab.sent"
    assert read[0].subject == "book:1"
    assert read[0].message == "grabbed A Book"
    assert read[0].data == {"size": 123, "tags": ["x"]}
    assert read[1].subject is None
    assert read[1].data == {}
    assert read[0].as_dict()["at"] == "2027-01-15T08:00:00Z"


async def test_events_read_after_an_id_from_a_time_and_up_to_a_limit(store: Store) -> None:
    events = Events(store)
    ids = [await events.add(T0 + n * 60, "tick", f"tick {n}") for n in range(6)]
    assert [e.id for e in await events.read(after_id=ids[3])] == ids[4:]
    assert [e.id for e in await events.read(since=T0 + 120)] == ids[2:]
    assert [e.id for e in await events.read(limit=2)] == ids[:2]
    assert [e.id for e in await events.read(after_id=ids[0], since=T0 + 240, limit=1)] == [ids[4]]
    assert await events.read(after_id=ids[-1]) == []


async def test_recent_events_come_newest_first(store: Store) -> None:
    events = Events(store)
    ids = [await events.add(T0 + n, "tick", f"tick {n}") for n in range(5)]
    assert [e.id for e in await events.recent(3)] == [ids[4], ids[3], ids[2]]


async def test_events_prune_forgets_events_older_than_the_cutoff(store: Store) -> None:
    events = Events(store)
    await events.add(T0 - 200 * DAY, "old", "old")
    await events.add(T0 - 181 * DAY, "old", "old")
    kept = [await events.add(T0 - 180 * DAY, "edge", "edge"), await events.add(T0, "new", "new")]
    assert await events.prune(T0 - 180 * DAY) == 2
    assert [e.id for e in await events.read()] == kept


# -- job runs --------------------------------------------------------------------------------------


async def test_a_job_run_is_recorded_when_it_starts_and_completed_when_it_finishes(store: Store) -> None:
    runs = JobRuns(store)
    run_id = await runs.start("search", "manual", T0)
    started = (await runs.latest())["search"]
    assert (started.id, started.trigger, started.started_at) == (run_id, "manual", T0)
    assert (started.finished_at, started.result, started.error, started.summary) == (None, None, None, {})

    await runs.finish(run_id, "error", T0 + 5, "Unavailable: MAM is down", {"searched": 3})
    finished = (await runs.latest())["search"]
    assert finished.finished_at == T0 + 5
    assert finished.result == "error"
    assert finished.error == "Unavailable: MAM is down"
    assert finished.summary == {"searched": 3}


async def test_latest_gives_the_newest_run_of_every_job(store: Store) -> None:
    runs = JobRuns(store)
    for n in range(3):
        await runs.finish(await runs.start("search", "schedule", T0 + n), "ok", T0 + n + 1)
    newest_account = await runs.start("account", "schedule", T0 + 10)
    latest = await runs.latest()
    assert set(latest) == {"search", "account"}
    assert latest["search"].started_at == T0 + 2
    assert latest["account"].id == newest_account


async def test_mark_interrupted_closes_only_runs_that_never_finished(store: Store) -> None:
    runs = JobRuns(store)
    done = await runs.start("search", "schedule", T0)
    await runs.finish(done, "ok", T0 + 1)
    await runs.start("account", "schedule", T0 + 2)
    await runs.start("discover", "manual", T0 + 3)
    assert await runs.mark_interrupted(T0 + 100) == 2
    latest = await runs.latest()
    assert latest["search"].result == "ok"
    assert latest["search"].finished_at == T0 + 1
    for job in ("account", "discover"):
        assert latest[job].result == "interrupted"
        assert latest[job].finished_at == T0 + 100
        assert latest[job].error == "mamd stopped before the run finished"
    assert await runs.mark_interrupted(T0 + 200) == 0


async def test_failure_streaks_count_failed_runs_in_a_row_back_from_the_newest(store: Store) -> None:
    runs = JobRuns(store)
    history = {
        "search": ["ok", "error", "error"],
        "account": ["error", "ok"],
        "discover": [
            "error",
            "interrupted",
            "error",
            "interrupted",
        ],  # interrupted runs neither fail nor heal
        "reconcile": ["error"] * 5,
    }
    at = T0
    for job, results in history.items():
        for result in results:
            at += 1
            await runs.finish(await runs.start(job, "schedule", at), result, at + 0.5)
    assert await runs.failure_streaks() == {"search": 2, "account": 0, "discover": 2, "reconcile": 5}


async def test_counts_group_finished_runs_by_job_and_result(store: Store) -> None:
    runs = JobRuns(store)
    for result in ("ok", "ok", "error"):
        await runs.finish(await runs.start("search", "schedule", T0), result, T0 + 1)
    await runs.finish(await runs.start("account", "manual", T0), "interrupted", T0 + 1)
    await runs.start("account", "schedule", T0 + 2)  # still running: not counted
    assert await runs.counts() == {("search", "ok"): 2, ("search", "error"): 1, ("account", "interrupted"): 1}


async def test_job_runs_prune_forgets_old_runs_but_keeps_the_newest_few_of_every_job(store: Store) -> None:
    runs = JobRuns(store)
    search = [await runs.start("search", "schedule", T0 - (100 - n) * DAY) for n in range(5)]
    lonely = await runs.start("retention", "schedule", T0 - 300 * DAY)
    fresh = [await runs.start("account", "schedule", T0 - n) for n in range(4)]
    assert await runs.prune(T0 - 90 * DAY, keep_per_job=2) == 3
    remaining = {row["id"] for row in await store.fetchall("SELECT id FROM job_runs")}
    assert remaining == {*search[-2:], lonely, *fresh}


# -- backups ---------------------------------------------------------------------------------------


def backup_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_a_backup_is_a_complete_usable_copy_under_its_final_name(store: Store, tmp_path: Path) -> None:
    await Events(store).add(T0, "grab.sent", "grabbed A Book")
    await Inbox(store).add(HASH_A, {}, "webhook", T0)
    folder = tmp_path / "state" / "backups"
    copy = await store.backup(folder, keep=3, now=T0)
    assert copy == folder / "mamd-20270115T080000Z.db"
    assert backup_names(folder) == [copy.name]  # no temporary file left behind
    connection = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == LATEST
        assert connection.execute("SELECT kind FROM events").fetchall() == [("grab.sent",)]
        assert connection.execute("SELECT hash FROM hook_inbox").fetchall() == [(HASH_A,)]
    finally:
        connection.close()


async def test_backups_keep_only_the_newest_n(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "state" / "backups"
    made = [await store.backup(folder, keep=2, now=T0 + n * DAY) for n in range(4)]
    assert backup_names(folder) == ["mamd-20270117T080000Z.db", "mamd-20270118T080000Z.db"]
    assert all(path is not None for path in made)
    assert made[-1] is not None
    assert made[-1].exists()


async def test_a_backup_with_keep_zero_writes_nothing(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "state" / "backups"
    assert await store.backup(folder, keep=0, now=T0) is None
    assert not folder.exists()


@pytest.mark.parametrize("keep", [1, 2])
async def test_daily_backups_are_counted_apart_from_the_copy_made_before_a_migration(
    store: Store, db_path: Path, keep: int
) -> None:
    """`open()` leaves `mamd-before-vN.db` in the same `backups/` folder before migrating an older file.

    That safety copy must neither push the fresh daily backup out nor count towards `keep`.
    """
    folder = db_path.parent / "backups"
    folder.mkdir()
    before = folder / f"mamd-before-v{LATEST + 1}.db"  # the name `Store._migrate` gives its copy
    source, target = plain(db_path), sqlite3.connect(before)
    source.backup(target)
    source.close()
    target.close()

    made = [await store.backup(folder, keep=keep, now=T0 + n * DAY) for n in range(3)]
    assert made[-1] is not None
    assert made[-1].exists(), "the backup just written was deleted at once"
    daily = ["mamd-20270115T080000Z.db", "mamd-20270116T080000Z.db", "mamd-20270117T080000Z.db"]
    assert backup_names(folder) == [*daily[-keep:], before.name]


async def test_a_backup_never_holds_half_of_a_transaction(store: Store, tmp_path: Path) -> None:
    """Another coroutine's transaction, open while the copy is asked for, is not in the copy."""
    inside, release = asyncio.Event(), asyncio.Event()

    async def half_done() -> None:
        async with store.transaction() as db:
            await db.execute("INSERT INTO meta (key, value, updated_at) VALUES ('half', 'done', 0)")
            inside.set()
            await release.wait()
            raise RuntimeError("this transaction is rolled back")

    writer = asyncio.create_task(half_done())
    await asyncio.wait_for(inside.wait(), 5)
    backup = asyncio.create_task(store.backup(tmp_path / "backups", keep=2, now=T0))
    await asyncio.wait({backup}, timeout=1.0)  # long enough for an unlocked copy to be taken meanwhile
    release.set()
    with pytest.raises(RuntimeError, match="rolled back"):
        await asyncio.wait_for(writer, 5)  # a copy taken inside it would hold the writer's thread
    copy = await asyncio.wait_for(backup, 5)
    assert copy is not None
    assert scalar(copy, "SELECT count(*) FROM meta WHERE key = 'half'") == 0


async def test_the_database_its_wal_and_its_copies_are_readable_by_mamd_only(
    store: Store, db_path: Path, tmp_path: Path
) -> None:
    await Events(store).add(T0, "mam.cookie", "the file holds the live session cookie")
    copy = await store.backup(tmp_path / "backups", keep=2, now=T0)
    assert copy is not None
    files = [db_path, db_path.with_name("mamd.db-wal"), db_path.with_name("mamd.db-shm"), copy]
    assert {path.name: oct(path.stat().st_mode & 0o777) for path in files} == {
        path.name: "0o600" for path in files
    }


async def test_the_store_makes_no_filesystem_call_on_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database on a hung network volume must not stall the loop: every file-system call runs in a
    thread. The calls are spied on where pathlib and the store make them: `os`."""
    loop_thread = threading.get_ident()
    on_the_loop: list[str] = []
    for name in ("stat", "lstat", "mkdir", "open", "access", "statvfs", "unlink", "replace", "rename"):
        original = getattr(os, name)

        def spy(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            if threading.get_ident() == loop_thread:
                on_the_loop.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(os, name, spy)
    store = Store(tmp_path / "state" / "mamd.db")
    await store.open()
    try:
        await Events(store).add(T0, "probe", "a write")
        assert await store.probe()
        await store.backup(tmp_path / "state" / "backups", keep=1, now=T0)
    finally:
        await store.close()
    refused = Store(tmp_path / "a-file" / "mamd.db")
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(StoreUnavailable):
        await refused.open()  # the explanation looks at the file system too
    monkeypatch.undo()
    assert on_the_loop == []


# -- refusals: locked and read-only ----------------------------------------------------------------


async def test_a_locked_database_refuses_writes_reports_the_lock_and_recovers_once_released(
    store: Store, db_path: Path
) -> None:
    """Another process holding `BEGIN EXCLUSIVE`: writes wait the 5 s busy timeout once, then refuse."""
    watcher = Store(db_path)  # a second store probes in parallel, so the test waits the timeout only once
    await watcher.open()
    locker = plain(db_path)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        write, probe = await asyncio.wait_for(
            asyncio.gather(Events(store).add(T0, "x", "blocked"), watcher.probe(), return_exceptions=True),
            timeout=15,
        )
        assert isinstance(write, StoreUnavailable)
        assert "locked" in str(write)
        assert store.problem == str(write)
        assert probe is False
        assert watcher.problem is not None
        assert "locked" in watcher.problem
        assert (await store.fetchone("SELECT count(*) FROM events"))[0] == 0  # reads still work

        locker.execute("ROLLBACK")
        assert await asyncio.wait_for(watcher.probe(), timeout=5) is True
        assert watcher.problem is None
        assert await asyncio.wait_for(store.probe(), timeout=5) is True
        assert store.problem is None
        await Events(store).add(T0, "x", "written")
        assert (await store.fetchone("SELECT count(*) FROM events"))[0] == 1
    finally:
        locker.close()
        await watcher.close()


async def test_probe_waits_out_a_short_lock_and_succeeds(store: Store, db_path: Path) -> None:
    locker = plain(db_path)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        probing = asyncio.create_task(store.probe())
        await asyncio.sleep(0.05)
        assert not probing.done()
        locker.execute("ROLLBACK")
        assert await asyncio.wait_for(probing, timeout=5) is True
        assert store.problem is None
    finally:
        locker.close()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make `path` unwritable honestly: a file mode for a user, the immutable flag for root."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip(
            "running as root, where file modes do not stop writes, and chattr is not installed; "
            "the system tests cover a read-only database as another user"
        )
    done = subprocess.run([chattr, "+i", str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(
            "running as root, where file modes do not stop writes, and this file system refuses "
            f"the immutable flag ({done.stderr.strip()}); the system tests cover it as another user"
        )
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


async def test_a_read_only_database_refuses_writes_and_says_it_is_read_only(db_path: Path) -> None:
    first = Store(db_path)
    await first.open()
    await Events(first).add(T0, "x", "written before")
    await first.close()

    with read_only(db_path):
        store = Store(db_path)
        await store.open()
        try:
            with pytest.raises(StoreUnavailable, match="read-only") as raised:
                await Events(store).add(T0, "x", "refused")
            assert store.problem == str(raised.value)
            assert await store.probe() is False
            assert [e.message for e in await Events(store).read()] == ["written before"]
        finally:
            await store.close()


async def test_a_writer_cancelled_at_any_point_leaves_no_transaction_open(store: Store) -> None:
    """Cancelled while beginning, writing or committing (as at shutdown): the next writer still writes."""

    async def write(value: int) -> None:
        async with store.transaction() as db:
            await db.execute("INSERT INTO meta (key, value, updated_at) VALUES (?, ?, 0)", (f"k{value}", "v"))

    for yields in range(12):  # cancel after 0, 1, 2 … turns of the loop: a different step each time
        task = asyncio.create_task(write(yields))
        for _ in range(yields):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.wait_for(write(100 + yields), 5)
    count = await store.fetchall("SELECT count(*) FROM meta WHERE key LIKE 'k1%' AND length(key) = 4")
    assert count[0][0] == 12


async def test_a_read_after_a_commit_sees_it_while_other_reads_are_under_way(store: Store) -> None:
    """Reads from other tasks, each several steps on the reader's thread, must not lend a later read their
    older snapshot: every row committed is found by the read that follows its commit."""
    async with store.transaction() as db:
        await db.executemany(
            "INSERT INTO meta (key, value, updated_at) VALUES (?, '{}', 0)",
            [(f"filler{i}",) for i in range(3000)],
        )
    done = asyncio.Event()

    async def reading() -> None:
        while not done.is_set():
            await store.fetchall("SELECT key, value FROM meta")

    others = [asyncio.create_task(reading()) for _ in range(3)]
    missed = []
    try:
        for i in range(300):
            await store.write_state(f"mark{i}", {"i": i}, T0)
            if await store.read_state(f"mark{i}") != {"i": i}:
                missed.append(i)
    finally:
        done.set()
        await asyncio.gather(*others)
    assert missed == []
