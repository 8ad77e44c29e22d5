"""Numbered schema migrations; `PRAGMA user_version` records the last one applied.

Never edit a released migration: add the next number. Each runs in one transaction with
the version bump, so a database is always at exactly one version. Statements are separated
by `;`, so no statement may hold a `;` of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    sql: str

    def statements(self) -> list[str]:
        return [s.strip() for s in self.sql.split(";") if s.strip()]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "meta, audit events, job runs and the durable hook inbox",
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT,
            message TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_at ON events (at);
        CREATE TABLE job_runs (
            id INTEGER PRIMARY KEY,
            job TEXT NOT NULL,
            trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual')),
            started_at REAL NOT NULL,
            finished_at REAL,
            result TEXT CHECK (result IN ('ok', 'error', 'interrupted')),
            error TEXT,
            summary TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX job_runs_by_job ON job_runs (job, id);
        CREATE TABLE hook_inbox (
            id INTEGER PRIMARY KEY,
            hash TEXT NOT NULL CHECK (length(hash) = 40 AND hash NOT GLOB '*[^0-9a-f]*'),
            source TEXT NOT NULL,
            received_at REAL NOT NULL,
            last_seen_at REAL NOT NULL,
            times_seen INTEGER NOT NULL DEFAULT 1,
            payload TEXT NOT NULL DEFAULT '{}',
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'ignored', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL,
            last_error TEXT,
            finished_at REAL
        );
        CREATE UNIQUE INDEX hook_inbox_one_pending ON hook_inbox (hash) WHERE state = 'pending';
        CREATE INDEX hook_inbox_by_state ON hook_inbox (state, next_attempt_at)
        """,
    ),
)
