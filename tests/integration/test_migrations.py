"""Every older schema upgrades to the current one with its rows intact and a copy taken first.

The test is generic over `MIGRATIONS`: a new migration is covered without editing it, except
that a new table needs a representative row in `ROWS` (the test says so when one is missing).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mamd.store import Store
from mamd.store.migrations import MIGRATIONS, Migration

LATEST = MIGRATIONS[-1].version

# One plausible row per table, by column; columns a table lacks at some version are left out.
ROWS: dict[str, dict[str, Any]] = {
    "candidates": {
        "wanted_id": 17,
        "mam_id": 900001,
        "title": "The Hero of Ages",
        "authors": '["Brandon Sanderson"]',
        "accepted": 1,
        "chosen": 1,
        "score": 41.5,
        "reasons": '["same author"]',
        "details": "{}",
        "decided_at": 1_800_000_010.0,
    },
    "account_snapshots": {"id": 3, "at": 1_800_000_011.0, "data": '{"ratio": 2.5}'},
    "meta": {"key": "probe-of-time", "value": "kept", "updated_at": 1_800_000_000.0},
    "events": {
        "id": 7,
        "at": 1_800_000_001.0,
        "kind": "grab.sent",
        "subject": "book:1",
        "message": "grabbed A Book",
        "data": '{"size": 123}',
    },
    "job_runs": {
        "id": 11,
        "job": "search",
        "trigger": "schedule",
        "started_at": 1_800_000_002.0,
        "finished_at": 1_800_000_003.0,
        "result": "ok",
        "error": None,
        "summary": '{"searched": 4}',
    },
    "hook_inbox": {
        "id": 13,
        "hash": "0123456789abcdef0123456789abcdef01234567",
        "source": "webhook",
        "received_at": 1_800_000_004.0,
        "last_seen_at": 1_800_000_005.0,
        "times_seen": 2,
        "payload": '{"name": "A Book"}',
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": 1_800_000_004.0,
        "last_error": None,
        "finished_at": None,
    },
    "library_items": {
        "id": "item-1",
        "title": "The Final Empire",
        "subtitle": None,
        "authors": '["Brandon Sanderson"]',
        "narrators": '["Michael Kramer"]',
        "asin": "B002UZMLXM",
        "isbn": None,
        "path": "/srv/media/audiobooks/Brandon Sanderson/Mistborn/Book 1 - The Final Empire",
        "rel_path": "Brandon Sanderson/Mistborn/Book 1 - The Final Empire",
        "published_year": "2006",
        "language": None,
        "abridged": 0,
        "updated_at": 1_795_304_157_849,
        "synced_at": 1_800_000_006.0,
    },
    "library_series": {"item_id": "item-1", "name": "Mistborn", "sequence": "1", "series_id": "series-1"},
    "wanted": {
        "id": 17,
        "key": "series|mistborn|3",
        "reason": "series_gap",
        "title": None,
        "author": "Brandon Sanderson",
        "series": "Mistborn",
        "position": "3",
        "asin": None,
        "state": "wanted",
        "state_reason": None,
        "created_at": 1_800_000_007.0,
        "updated_at": 1_800_000_007.0,
        "next_search_at": 1_800_000_007.0,
        "attempts": 0,
        "failures": 0,
    },
    "follows": {
        "kind": "author",
        "name": "Joe Abercrombie",
        "name_key": "joe abercrombie",
        "created_at": 1_800_000_008.0,
        "last_searched_at": None,
    },
    "torrents": {
        "hash": "89abcdef0123456789abcdef0123456789abcdef",
        "name": "Brandon Sanderson - The Hero of Ages",
        "wanted_id": 17,
        "mam_id": 1001,
        "meta": '{"title": "The Hero of Ages", "source": "grab"}',
        "state": "imported",
        "first_seen_at": 1_800_000_009.0,
        "last_seen_at": 1_800_000_010.0,
        "completed_at": 1_800_000_010.0,
        "imported_at": 1_800_000_011.0,
        "import_path": "Brandon Sanderson/Mistborn/3 - The Hero of Ages",
        "abs_confirmed_at": None,
        "scan_attempts": 0,
        "last_error": None,
        "qbt_state": "stalledUP",
        "seeding_time_s": 3600,
        "tracker_ok": 1,
        "tracker_message": None,
        "vanished_at": None,
        "grabbed_at": 1_800_000_008.5,
        "risk": None,
        "scan_next_at": 1_800_000_012.0,
        "scan_failed_at": None,
    },
    "guard_stopped": {
        "hash": "fedcba9876543210fedcba9876543210fedcba98",
        "name": "Naomi Novik - Throne of Jade",
        "stopped_at": 1_800_000_013.0,
        "last_error": None,
    },
    "spends": {
        "id": 2,
        "decision": "vip:2027-01-01",
        "kind": "vip",
        "amount": 4,
        "cost": 5000.0,
        "reason": "VIP ends within 7 days",
        "state": "done",
        "decided_at": 1_800_000_014.0,
        "sent_at": 1_800_000_014.5,
        "settled_at": 1_800_000_015.0,
        "points_before": 60000.0,
        "points_after": 55000.0,
        "detail": None,
    },
    "notify_messages": {
        "id": 5,
        "created_at": 1_800_000_017.0,
        "ready_at": 1_800_000_077.0,
        "kind": "events",
        "topic": "imported",
        "level": "info",
        "batch": "imported",
        "dry_run": 0,
        "title": "Imported: The Hero of Ages",
        "body": "The Hero of Ages by Brandon Sanderson is in the library.",
        "items": '["The Hero of Ages"]',
        "count": 1,
    },
    "notify_deliveries": {"target": "phone", "message_id": 5, "attempts": 1},
    "notify_targets": {
        "target": "phone",
        "failures": 1,
        "next_at": 1_800_000_080.0,
        "last_error": "HTTP 500",
        "last_error_at": 1_800_000_078.0,
        "last_ok_at": None,
        "sent": 3,
        "dropped": 0,
    },
    "notify_problems": {
        "id": "service:qbittorrent",
        "variant": "down",
        "topic": "problem",
        "level": "error",
        "title": "qBittorrent is unreachable",
        "summary": "connection refused",
        "since": 1_800_000_018.0,
        "sent": 1,
    },
    "grabs": {
        "id": 23,
        "wanted_id": 17,
        "mam_id": 900001,
        "label": "The Hero of Ages by Brandon Sanderson [MAM 900001]",
        "size": 790_000_000,
        "freeleech": 0,
        "wedge": 0,
        "meta": '{"title": "The Hero of Ages", "source": "grab"}',
        "state": "fetched",
        "torrent": b"d8:announce0:e",
        "hash": "89abcdef0123456789abcdef0123456789abcdef",
        "name": "Brandon Sanderson - The Hero of Ages",
        "decided_at": 1_800_000_015.0,
        "fetched_at": 1_800_000_016.0,
        "updated_at": 1_800_000_016.0,
        "failures": 0,
        "last_error": None,
    },
}


def build_at(path: Path, version: int) -> None:
    """A database as a mamd of schema `version` left it: migrations 1..version applied, WAL on."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        for migration in MIGRATIONS:
            if migration.version <= version:
                apply(connection, migration)
    finally:
        connection.close()


def apply(connection: sqlite3.Connection, migration: Migration) -> None:
    connection.execute("BEGIN IMMEDIATE")
    for statement in migration.statements():
        connection.execute(statement)
    connection.execute(f"PRAGMA user_version = {migration.version}")
    connection.execute("COMMIT")


def tables(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return [name for (name,) in rows]


def insert_representative_rows(path: Path) -> dict[str, dict[str, Any]]:
    """One row in every table that exists now; returns what was written, by table."""
    written: dict[str, dict[str, Any]] = {}
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for table in tables(connection):
            assert table in ROWS, f"add a representative row for the new table {table!r} to ROWS"
            info = connection.execute(f"PRAGMA table_info({table})").fetchall()
            columns = {name for _, name, *_ in info}
            required = {name for _, name, _, notnull, default, pk in info if notnull and default is None}
            row = {key: value for key, value in ROWS[table].items() if key in columns}
            missing = required - set(row)
            assert not missing, f"ROWS[{table!r}] lacks the required column(s) {sorted(missing)}"
            names = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            connection.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(row.values()))
            written[table] = row
    finally:
        connection.close()
    return written


def schema(path: Path) -> list[tuple[str, str, str, str]]:
    """Every table, index, view and trigger with its SQL, whitespace normalised."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name"
        ).fetchall()
    finally:
        connection.close()
    return [(kind, name, table, re.sub(r"\s+", " ", sql).strip()) for kind, name, table, sql in rows]


def user_version(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("PRAGMA user_version").fetchone()[0])
    finally:
        connection.close()


def read_row(path: Path, table: str, row: dict[str, Any]) -> dict[str, Any] | None:
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    try:
        info = connection.execute(f"PRAGMA table_info({table})").fetchall()
        keys = [name for _, name, _, _, _, pk in info if pk] or ["rowid"]
        where = " AND ".join(f"{key} = ?" for key in keys)
        found = connection.execute(
            f"SELECT * FROM {table} WHERE {where}", tuple(row[k] for k in keys)
        ).fetchone()
    finally:
        connection.close()
    if found is None:
        return None
    columns = set(found.keys())
    return {name: found[name] for name in row if name in columns}


@pytest.fixture
async def fresh_schema(tmp_path: Path) -> list[tuple[str, str, str, str]]:
    """The schema `Store.open()` creates on a new file."""
    path = tmp_path / "fresh" / "mamd.db"
    store = Store(path)
    await store.open()
    await store.close()
    assert user_version(path) == LATEST
    assert not (path.parent / "backups").exists()  # nothing to save in a new file
    return schema(path)


def test_migrations_are_numbered_one_to_n_without_gaps() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    for migration in MIGRATIONS:
        assert migration.statements(), f"migration {migration.version} has no statements"
        assert migration.summary.strip()


def test_applying_every_migration_by_hand_gives_the_schema_of_a_new_database(
    tmp_path: Path, fresh_schema: list[tuple[str, str, str, str]]
) -> None:
    """The builder below is faithful: at the latest version it makes what `Store.open()` makes."""
    path = tmp_path / "by-hand.db"
    build_at(path, LATEST)
    assert user_version(path) == LATEST
    assert schema(path) == fresh_schema


@pytest.mark.parametrize("version", range(LATEST), ids=lambda v: f"from_v{v}")
async def test_a_database_at_an_older_version_upgrades_with_its_rows_and_a_copy_taken_first(
    tmp_path: Path, version: int, fresh_schema: list[tuple[str, str, str, str]]
) -> None:
    path = tmp_path / "state" / "mamd.db"
    path.parent.mkdir()
    build_at(path, version)
    assert user_version(path) == version
    written = insert_representative_rows(path)
    old_schema = schema(path)

    store = Store(path)
    await store.open()
    await store.close()

    assert user_version(path) == LATEST
    assert schema(path) == fresh_schema
    for table, row in written.items():
        assert read_row(path, table, row) == row, f"the row in {table} did not survive the upgrade"

    backups = path.parent / "backups"
    if version == 0:
        assert not backups.exists(), "an empty version-0 file has nothing worth a copy"
        return
    copy = backups / f"mamd-before-v{version + 1}.db"
    assert copy.is_file(), f"no copy of the version-{version} database before migrating it"
    assert user_version(copy) == version
    assert schema(copy) == old_schema
    for table, row in written.items():
        assert read_row(copy, table, row) == row
