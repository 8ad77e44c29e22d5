"""`mamd run` as a real process meeting the unexpected: it keeps running, and dry run changes nothing."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from tests.support.configs import free_port, write_config
from tests.support.daemon import running_daemon, wait_for
from tests.support.qbittorrent import QbittorrentFactory, api_client, qbittorrent_settings

pytestmark = pytest.mark.system


def database_of(config: Path) -> str:
    return str(yaml.safe_load(config.read_text())["state"]["database"])


def test_one_unexpected_error_in_a_loop_is_shown_and_the_daemon_runs_on(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"qbittorrent": {"url": f"http://127.0.0.1:{free_port()}"}})
    with running_daemon(config):
        pass  # creates the database
    with contextlib.closing(sqlite3.connect(database_of(config))) as db, db:
        # a row the importer cannot read (a hand edit, a newer mamd): reading the inbox raises
        db.execute(
            "INSERT INTO hook_inbox (hash, source, received_at, last_seen_at, payload, next_attempt_at) "
            "VALUES (?, 'webhook', 0, 0, '{not json', 0)",
            ("b" * 40,),
        )
    with running_daemon(config) as daemon:

        def importer_failed() -> bool:
            loop = daemon.status()["loops"]["importer"]
            return loop["restarts"] >= 2 and "JSONDecodeError" in (loop["last_error"] or "")

        wait_for("the importer to fail and be started again", importer_failed, timeout=20)
        assert daemon.get("/healthz")[0] == 200
        status = daemon.status()
        assert status["loops"]["scheduler"]["state"] == "running"
        # every long-running loop is supervised, the probes' and the notifications' too
        assert set(status["loops"]) == {
            "scheduler", "reloader", "config-watch", "database-watch", "importer", "qbittorrent-prepare",
            "import-probe", "library-scans", "service-probes", "notifications",
        }  # fmt: skip
        problems = {p["id"]: p["summary"] for p in status["problems"]}
        assert "importer failed (JSONDecodeError" in problems["loop.importer"]
        code, body = daemon.post_json("/hooks/qbittorrent", {"hash": "c" * 40})
        assert code == 202, body  # the rest of mamd still works
        assert not any(e.get("event") == "daemon.stopped" for e in daemon.log_events())


@pytest.mark.qbittorrent
def test_a_dry_run_creates_nothing_in_qbittorrent(
    tmp_path: Path, qbittorrent_nox: QbittorrentFactory
) -> None:
    qbt = qbittorrent_nox()
    config = write_config(
        tmp_path,
        {
            "dry_run": True,
            "qbittorrent": qbittorrent_settings(qbt),
        },
    )
    with running_daemon(config) as daemon:
        code, body = daemon.post_json("/api/v1/jobs/reconcile", {})
        assert code == 202, body
        wait_for(
            "the reconcile run",
            lambda: daemon.status()["jobs"]["reconcile"]["last_result"] == "ok",
            timeout=20,
        )
        wait_for("qBittorrent to be looked at", lambda: daemon.status()["services"].get("qbittorrent"))
        time.sleep(0.5)  # what the start-up preparation would have needed
        events = [e for e in daemon.log_events() if e.get("event") == "qbittorrent.not_prepared"]
        assert "dry run" in events[0]["reason"]
    with api_client(qbt) as client:
        assert dict(client.torrents_categories()) == {}
        assert list(client.torrents_tags()) == []
