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
        CREATE INDEX events_by_subject ON events (subject, id);
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
    Migration(
        2,
        "the library as Audiobookshelf holds it, wanted books and followed names",
        """
        CREATE TABLE library_items (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            subtitle TEXT,
            authors TEXT NOT NULL DEFAULT '[]',
            narrators TEXT NOT NULL DEFAULT '[]',
            asin TEXT,
            isbn TEXT,
            path TEXT NOT NULL,
            rel_path TEXT NOT NULL,
            published_year TEXT,
            language TEXT,
            abridged INTEGER NOT NULL DEFAULT 0,
            updated_at INTEGER NOT NULL,
            synced_at REAL NOT NULL
        );
        CREATE INDEX library_items_by_asin ON library_items (asin);
        CREATE TABLE library_series (
            item_id TEXT NOT NULL REFERENCES library_items (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            sequence TEXT,
            series_id TEXT,
            PRIMARY KEY (item_id, name)
        );
        CREATE INDEX library_series_by_name ON library_series (name);
        CREATE TABLE wanted (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            reason TEXT NOT NULL CHECK (reason IN ('series_gap', 'manual', 'follow')),
            title TEXT,
            author TEXT NOT NULL,
            series TEXT,
            position TEXT,
            asin TEXT,
            state TEXT NOT NULL DEFAULT 'wanted' CHECK (state IN (
                'wanted', 'searching', 'grabbed', 'downloading', 'importing', 'imported',
                'skipped', 'blocked', 'failed'
            )),
            state_reason TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            next_search_at REAL,
            attempts INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX wanted_by_state ON wanted (state, next_search_at);
        CREATE TABLE follows (
            kind TEXT NOT NULL CHECK (kind IN ('author', 'series', 'narrator')),
            name TEXT NOT NULL,
            name_key TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_searched_at REAL,
            PRIMARY KEY (kind, name_key)
        )
        """,
    ),
    Migration(
        3,
        "torrents mamd knows: book metadata, import, seeding and tracker state",
        """
        CREATE TABLE torrents (
            hash TEXT PRIMARY KEY CHECK (length(hash) = 40 AND hash NOT GLOB '*[^0-9a-f]*'),
            name TEXT NOT NULL DEFAULT '',
            wanted_id INTEGER REFERENCES wanted (id) ON DELETE SET NULL,
            mam_id INTEGER,
            meta TEXT,
            state TEXT NOT NULL DEFAULT 'seen'
                CHECK (state IN ('grabbed', 'seen', 'imported', 'ignored', 'failed')),
            first_seen_at REAL NOT NULL,
            last_seen_at REAL,
            completed_at REAL,
            imported_at REAL,
            import_path TEXT,
            abs_confirmed_at REAL,
            scan_attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            qbt_state TEXT,
            seeding_time_s INTEGER,
            tracker_ok INTEGER,
            tracker_message TEXT,
            vanished_at REAL
        );
        CREATE INDEX torrents_awaiting_scan ON torrents (imported_at) WHERE abs_confirmed_at IS NULL
        """,
    ),
    Migration(
        4,
        "candidate decisions per wanted book, account snapshots, grab times",
        """
        CREATE TABLE candidates (
            wanted_id INTEGER NOT NULL REFERENCES wanted (id) ON DELETE CASCADE,
            mam_id INTEGER NOT NULL,
            title TEXT NOT NULL,
            authors TEXT NOT NULL DEFAULT '[]',
            accepted INTEGER NOT NULL,
            chosen INTEGER NOT NULL DEFAULT 0,
            score REAL NOT NULL,
            reasons TEXT NOT NULL DEFAULT '[]',
            details TEXT NOT NULL DEFAULT '{}',
            decided_at REAL NOT NULL,
            PRIMARY KEY (wanted_id, mam_id)
        );
        CREATE TABLE account_snapshots (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            data TEXT NOT NULL
        );
        CREATE INDEX account_snapshots_by_time ON account_snapshots (at);
        ALTER TABLE torrents ADD COLUMN grabbed_at REAL;
        CREATE INDEX torrents_by_grab ON torrents (grabbed_at)
        """,
    ),
    Migration(
        5,
        "the account guard's stopped downloads, bonus point spends, torrents at risk",
        """
        CREATE TABLE guard_stopped (
            hash TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            stopped_at REAL NOT NULL,
            last_error TEXT
        );
        CREATE TABLE spends (
            id INTEGER PRIMARY KEY,
            decision TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('vip', 'upload')),
            amount INTEGER NOT NULL,
            cost REAL NOT NULL,
            reason TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('intent', 'sent', 'done', 'failed', 'unknown', 'let_go')),
            decided_at REAL NOT NULL,
            sent_at REAL,
            settled_at REAL,
            points_before REAL,
            points_after REAL,
            detail TEXT
        );
        CREATE INDEX spends_by_time ON spends (decided_at);
        ALTER TABLE torrents ADD COLUMN risk TEXT
        """,
    ),
    Migration(
        6,
        "when Audiobookshelf is next asked about an import, and when mamd gave up asking",
        """
        ALTER TABLE torrents ADD COLUMN scan_next_at REAL;
        ALTER TABLE torrents ADD COLUMN scan_failed_at REAL
        """,
    ),
    Migration(
        7,
        "the notification outbox: messages, their deliveries per target, targets' state, problems said",
        """
        CREATE TABLE notify_messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at REAL NOT NULL,
            ready_at REAL NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('events', 'problem', 'resolved', 'summary')),
            topic TEXT NOT NULL,
            level TEXT NOT NULL CHECK (level IN ('info', 'warning', 'error')),
            batch TEXT,
            dry_run INTEGER NOT NULL DEFAULT 0,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            items TEXT NOT NULL DEFAULT '[]',
            count INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX notify_messages_gathering ON notify_messages (batch, ready_at) WHERE batch IS NOT NULL;
        CREATE TABLE notify_deliveries (
            target TEXT NOT NULL,
            message_id INTEGER NOT NULL REFERENCES notify_messages (id) ON DELETE CASCADE,
            attempts INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (target, message_id)
        );
        CREATE INDEX notify_deliveries_by_message ON notify_deliveries (message_id);
        CREATE TABLE notify_targets (
            target TEXT PRIMARY KEY,
            failures INTEGER NOT NULL DEFAULT 0,
            next_at REAL,
            last_error TEXT,
            last_error_at REAL,
            last_ok_at REAL,
            sent INTEGER NOT NULL DEFAULT 0,
            dropped INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE notify_problems (
            id TEXT PRIMARY KEY,
            variant TEXT NOT NULL,
            topic TEXT NOT NULL,
            level TEXT NOT NULL,
            title TEXT NOT NULL,
            summary TEXT NOT NULL,
            since REAL NOT NULL,
            sent INTEGER NOT NULL DEFAULT 0
        )
        """,
    ),
    Migration(
        8,
        "a journal of grabs (decided, fetched with its .torrent, done, failed); failures in a row per book",
        """
        CREATE TABLE grabs (
            id INTEGER PRIMARY KEY,
            wanted_id INTEGER REFERENCES wanted (id) ON DELETE SET NULL,
            mam_id INTEGER NOT NULL,
            label TEXT NOT NULL,
            size INTEGER,
            freeleech INTEGER NOT NULL,
            wedge INTEGER NOT NULL,
            meta TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('decided', 'fetched', 'done', 'failed')),
            torrent BLOB,
            hash TEXT,
            name TEXT,
            decided_at REAL NOT NULL,
            fetched_at REAL,
            updated_at REAL NOT NULL,
            failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        );
        CREATE INDEX grabs_by_state ON grabs (state, id);
        CREATE INDEX grabs_by_fetch ON grabs (fetched_at);
        ALTER TABLE wanted ADD COLUMN failures INTEGER NOT NULL DEFAULT 0
        """,
    ),
    Migration(
        9,
        "wanted books found by series continuation, a weekly best or the API, ignored by hand, with "
        "evidence; when each owned series was last looked up",
        """
        CREATE TABLE wanted_next (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            reason TEXT NOT NULL CHECK (reason IN (
                'series_gap', 'manual', 'follow', 'series_next', 'top', 'api'
            )),
            title TEXT,
            author TEXT NOT NULL,
            series TEXT,
            position TEXT,
            asin TEXT,
            state TEXT NOT NULL DEFAULT 'wanted' CHECK (state IN (
                'wanted', 'searching', 'grabbed', 'downloading', 'importing', 'imported',
                'skipped', 'blocked', 'failed', 'ignored'
            )),
            state_reason TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            next_search_at REAL,
            attempts INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            evidence TEXT
        );
        INSERT INTO wanted_next (id, key, reason, title, author, series, position, asin, state, state_reason,
            created_at, updated_at, next_search_at, attempts, failures)
            SELECT id, key, reason, title, author, series, position, asin, state, state_reason,
            created_at, updated_at, next_search_at, attempts, failures FROM wanted;
        DROP TABLE wanted;
        ALTER TABLE wanted_next RENAME TO wanted;
        CREATE INDEX wanted_by_state ON wanted (state, next_search_at);
        CREATE TABLE series_checks (
            series_key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            author TEXT NOT NULL,
            checked_at REAL NOT NULL,
            requests INTEGER NOT NULL DEFAULT 0,
            found INTEGER NOT NULL DEFAULT 0
        )
        """,
    ),
)
