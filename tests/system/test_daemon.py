"""`mamd run` as a real process: systemd notifications, hot reload, signals, bad input, crashes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.abs_sim import abs_simulator
from tests.support.configs import free_port, write_config
from tests.support.daemon import DaemonProcess, NotifySocket, running_daemon, wait_for

pytestmark = pytest.mark.system

HASH = "a" * 40


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    socket_ = NotifySocket()
    yield socket_
    socket_.close()


def edit(path: Path, **section_changes: dict[str, object]) -> str:
    """The file's YAML with some keys changed, as text (the caller decides how to save it)."""
    data = yaml.safe_load(path.read_text())
    for section, changes in section_changes.items():
        data.setdefault(section, {}).update(changes)
    return yaml.safe_dump(data, sort_keys=False)


def generation(daemon: DaemonProcess) -> int:
    return int(daemon.status()["config"]["generation"])


def test_daemon_tells_systemd_the_truth_and_reloads_within_a_second(
    tmp_path: Path, notify: NotifySocket
) -> None:
    """The acceptance walk: READY after the bind, two kinds of edit, a broken edit, SIGHUP, SIGTERM."""
    config = write_config(tmp_path)
    daemon = DaemonProcess(config, notify=notify).start()
    try:
        ready = notify.wait_line("READY=1")
        # the port already answers at the moment READY=1 arrives
        with socket.create_connection(("127.0.0.1", daemon.http["port"]), timeout=1):
            pass
        assert any(line.startswith("STATUS=") for line in notify.drain()[ready].split("\n"))
        assert generation(daemon) == 1

        # an edit saved in place (same inode)
        started = time.monotonic()
        with config.open("r+") as handle:
            text = edit(config, schedule={"retention": "2d"})
            handle.seek(0)
            handle.write(text)
            handle.truncate()
        wait_for("the in-place edit", lambda: generation(daemon) == 2, timeout=1.0)
        assert time.monotonic() - started < 1.0

        # an edit saved by atomic rename (a new inode), as most editors do
        partial = tmp_path / ".mamd.yaml.swp"
        partial.write_text(edit(config, schedule={"retention": "3d"}))
        started = time.monotonic()
        os.replace(partial, config)
        wait_for("the renamed edit", lambda: generation(daemon) == 3, timeout=1.0)
        assert daemon.status()["jobs"]["retention"]["interval_s"] == 3 * 86400

        # a broken file: refused whole, the running configuration kept, the error shown with file:line
        good = config.read_text()
        config.write_text(good + "rules:\n  min_seeders: many\n")
        status = wait_for("the rejection", lambda: (s := daemon.status())["config"]["last_error"] and s)
        assert status["config"]["generation"] == 3
        assert f"{config}:" in status["config"]["last_error"]
        problem = status["config"]["problems"][0]
        assert (problem["key"], problem["line"]) == ("rules.min_seeders", len(good.splitlines()) + 2)
        assert status["jobs"]["retention"]["interval_s"] == 3 * 86400
        config.write_text(good)
        wait_for("the error to clear", lambda: daemon.status()["config"]["last_error"] is None)

        # SIGHUP: RELOADING=1 (with MONOTONIC_USEC) and then READY=1
        seen = len(notify.drain())
        daemon.signal(signal.SIGHUP)
        reloading = notify.wait_line("RELOADING=1", after=seen)
        assert any(line.startswith("MONOTONIC_USEC=") for line in notify.drain()[reloading].split("\n"))
        notify.wait_line("READY=1", after=reloading + 1)

        # SIGTERM: STOPPING=1 and a clean exit within 5 s
        seen = len(notify.drain())
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit(timeout=5) == 0
        assert time.monotonic() - started < 5
        notify.wait_line("STOPPING=1", after=seen, timeout=1)
    finally:
        daemon.stop()


def test_invalid_file_at_start_exits_2_and_lists_every_problem(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"http": {"port": 70000}, "rules": {"freeleech": "sometimes"}})
    config.write_text(config.read_text() + "surprise: true\n")
    result = subprocess.run(
        [sys.executable, "-m", "mamd", "run", "-c", str(config)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    for key in ("http.port", "rules.freeleech", "surprise"):
        assert key in result.stderr
    assert result.stderr.count(f"{config}:") == 3


def test_port_already_in_use_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = write_config(tmp_path, {"http": {"port": taken.getsockname()[1]}})
        daemon = DaemonProcess(config).start()
        try:
            assert daemon.wait_exit(timeout=15) == 1
        finally:
            daemon.stop()
    assert "already in use" in daemon.log()
    assert "http.port" in daemon.log()


def import_problems(daemon: DaemonProcess) -> tuple[int, list[str]]:
    code, ready = daemon.get("/readyz", key=False)
    return code, [p["summary"] for p in ready["problems"] if p["id"] == "import.link"]


def test_imports_that_cannot_work_are_reported_at_start_and_checked_again_on_reload(tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted"
    config = write_config(tmp_path, {"qbittorrent": {"save_path": str(missing)}})
    with running_daemon(config) as daemon:
        code, problems = import_problems(daemon)
        assert code == 503
        [summary] = problems
        assert f"qbittorrent.save_path {missing} does not exist (ENOENT)" in summary
        assert [p["summary"] for p in daemon.status()["problems"] if p["id"] == "import.link"] == [summary]

        # an edit that names another folder is checked at once
        config.write_text(edit(config, qbittorrent={"save_path": str(tmp_path / "torrents")}))
        wait_for("the problem to clear", lambda: import_problems(daemon) == (200, []))
        config.write_text(edit(config, qbittorrent={"save_path": str(missing)}))
        wait_for("the problem again", lambda: import_problems(daemon)[0] == 503)

        # the folder appears (a disk is mounted): a reload checks again while a problem stands
        missing.mkdir()
        daemon.signal(signal.SIGHUP)
        wait_for("the problem to clear after SIGHUP", lambda: import_problems(daemon) == (200, []))
        assert [e["event"] for e in daemon.log_events() if e.get("id") == "import.link"] == [
            "health.problem",
            "health.resolved",
            "health.problem",
            "health.resolved",
        ]


def test_a_second_daemon_on_the_same_database_exits_1_and_the_first_runs_on(tmp_path: Path) -> None:
    first = write_config(tmp_path)
    with running_daemon(first) as daemon:
        second = DaemonProcess(write_config(tmp_path, name="second.yaml")).start()  # another port
        try:
            assert second.wait_exit(timeout=15) == 1
        finally:
            second.stop()
        assert f"another mamd (pid {daemon.pid}) is running with the database" in second.log()
        assert "state.database" in second.log()
        assert daemon.get("/readyz", key=False)[0] == 200


def test_a_hook_accepted_before_kill_9_is_still_there_after_restart(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    daemon = DaemonProcess(config).start()
    try:
        daemon.wait_healthy()
        code, body = daemon.post_json("/hooks/qbittorrent", {"hash": HASH, "name": "A Book"})
        assert code == 202, body
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.wait_exit()
    finally:
        daemon.stop()
    with running_daemon(config) as again:
        assert again.status()["inbox"]["pending"] == 1
    database = yaml.safe_load(config.read_text())["state"]["database"]
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute("SELECT hash, state, payload FROM hook_inbox").fetchall()
    assert rows == [(HASH, "pending", '{"name": "A Book"}')]


def test_an_edit_of_wanted_is_worked_out_within_seconds_not_at_the_next_discovery(tmp_path: Path) -> None:
    with abs_simulator(items=3) as library:  # discover works only from a library that was read
        config = write_config(
            tmp_path,
            {
                "schedule": {"library_sync": "12h", "discover": "12h"},
                "audiobookshelf": {"url": library.url, "api_key": library.api_key},
                "mam": {"base_url": f"http://127.0.0.1:{free_port()}"},
                "wanted": {"series_gaps": False},  # only what the edits name
            },
        )
        with running_daemon(config) as daemon:
            _wanted_follows_each_edit(config, daemon)


def _wanted_follows_each_edit(config: Path, daemon: DaemonProcess) -> None:
    def titles() -> list[str]:
        code, body = daemon.get("/api/v1/wanted")
        assert code == 200, body
        return [book["title"] for book in body["wanted"]]

    def discovered() -> object:
        jobs = daemon.status()["jobs"]
        return jobs["library_sync"]["last_result"] == "ok" and jobs["discover"]["last_result"] == "ok"

    wait_for("the library read and the first discovery", discovered, timeout=30)
    manual = [{"title": "The Hero of Ages", "author": "Brandon Sanderson"}]
    config.write_text(edit(config, wanted={"manual": manual}))
    wait_for("the new manual book", lambda: titles() == ["The Hero of Ages"], timeout=10)
    config.write_text(edit(config, wanted={"manual": manual, "ignore": ["Brandon Sanderson"]}))
    wait_for("the ignored book to go", lambda: titles() == [], timeout=10)
    assert daemon.status()["jobs"]["discover"]["last_result"] == "ok"


def test_a_storm_of_sighups_collapses_and_the_daemon_keeps_serving(
    tmp_path: Path, notify: NotifySocket
) -> None:
    config = write_config(tmp_path)
    with running_daemon(config, notify=notify) as daemon:
        notify.wait_line("READY=1")
        for _ in range(100):
            daemon.signal(signal.SIGHUP)
        time.sleep(0.3)
        assert daemon.get("/healthz")[0] == 200
        reloads = [m for m in notify.drain() if "RELOADING=1" in m.split("\n")]
        assert 1 <= len(reloads) < 100
        assert generation(daemon) == 1  # nothing changed, so no new generation
        config.write_text(edit(config, schedule={"retention": "5d"}))
        wait_for("the edit after the storm", lambda: generation(daemon) == 2)


def test_a_half_written_save_is_refused_and_the_completed_save_applies(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with running_daemon(config) as daemon:
        complete = edit(config, limits={"grabs_per_day": 4})
        config.write_text(complete[: complete.index("grabs_per_day") + 6])  # cut mid-key
        wait_for("the half-written file to be refused", lambda: daemon.status()["config"]["last_error"])
        assert generation(daemon) == 1
        config.write_text(complete)
        wait_for("the completed file", lambda: generation(daemon) == 2)
        assert daemon.status()["config"]["last_error"] is None


def test_watchdog_is_kicked_from_the_event_loop_at_half_the_interval(
    tmp_path: Path, notify: NotifySocket
) -> None:
    config = write_config(tmp_path)
    with running_daemon(config, notify=notify, env={"WATCHDOG_USEC": "400000"}):
        notify.wait_line("READY=1")
        first = len(notify.drain())
        time.sleep(1.0)
        notify.drain()
        kicks = [at for at, m in notify.messages[first:] if m == "WATCHDOG=1"]
    assert 3 <= len(kicks) <= 8  # every 0.2 s


def test_a_locked_database_makes_readyz_503_and_the_daemon_recovers(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    database = yaml.safe_load(config.read_text())["state"]["database"]
    with running_daemon(config) as daemon:
        locker = sqlite3.connect(database, isolation_level=None, timeout=10)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            code, body = daemon.post_json("/hooks/qbittorrent", {"hash": HASH})
            assert code == 503
            assert body["error"]["code"] == "unavailable"
            code, ready = daemon.get("/readyz", key=False)
            assert code == 503
            assert "locked" in ready["problems"][0]["summary"]
            assert daemon.get("/healthz", key=False)[0] == 200
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        wait_for("readiness to return", lambda: daemon.get("/readyz", key=False)[0] == 200, timeout=15)
        assert daemon.post_json("/hooks/qbittorrent", {"hash": HASH})[0] == 202


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make `folder` read-only honestly for this user: a read-only bind mount as root, modes otherwise."""
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
        if mounted.returncode != 0:
            pytest.skip(f"cannot bind-mount as root here: {mounted.stderr.decode().strip()}")
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True, capture_output=True)
            yield
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)
    else:
        modes = {p: p.stat().st_mode for p in [folder, *folder.iterdir()]}
        for path in modes:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)


def test_a_read_only_database_is_reported_and_readyz_says_503(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with running_daemon(config):
        pass  # creates and migrates the database
    state = tmp_path / "state"
    with read_only(state), running_daemon(config) as daemon:
        code, ready = daemon.get("/readyz", key=False)
        assert code == 503
        summary = ready["problems"][0]["summary"]
        assert ready["problems"][0]["id"] == "database"
        expected = "read-only filesystem" if os.geteuid() == 0 else "read-only"
        assert expected in summary, summary
        assert daemon.post_json("/hooks/qbittorrent", {"hash": HASH})[0] == 503
        assert daemon.get("/healthz", key=False)[0] == 200
        assert daemon.status()["database"]["problem"]


def test_sigint_stops_the_daemon_as_cleanly_as_sigterm(tmp_path: Path, notify: NotifySocket) -> None:
    daemon = DaemonProcess(write_config(tmp_path), notify=notify).start()
    try:
        notify.wait_line("READY=1")
        seen = len(notify.drain())
        daemon.signal(signal.SIGINT)
        assert daemon.wait_exit(timeout=5) == 0
        notify.wait_line("STOPPING=1", after=seen, timeout=1)
    finally:
        daemon.stop()


def test_under_journald_every_line_is_one_event_with_a_priority_and_no_timestamp(tmp_path: Path) -> None:
    """`logging.format: auto` recognises journald by $JOURNAL_STREAM naming the daemon's stdout."""
    config = write_config(tmp_path, {"logging": {"format": "auto", "level": "info"}})
    daemon = DaemonProcess(config)
    daemon.log_path.touch()
    info = daemon.log_path.stat()
    daemon.env["JOURNAL_STREAM"] = f"{info.st_dev}:{info.st_ino}"
    daemon.start()
    try:
        daemon.wait_healthy()
        config.write_text(config.read_text() + "rules: {freeleech: sometimes}\n")  # an error-level event
        wait_for("the rejection", lambda: daemon.status()["config"]["last_error"])
    finally:
        assert daemon.stop() == 0
    lines = daemon.log().splitlines()
    assert any(line.startswith("<6>daemon.ready ") for line in lines)
    assert any(line.startswith("<3>config.rejected ") for line in lines)
    assert all(line[:1] == "<" and line[1].isdigit() and line[2] == ">" for line in lines), lines
    assert not any(" at=" in line or '"at"' in line for line in lines)
