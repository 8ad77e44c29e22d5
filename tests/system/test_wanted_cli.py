"""Every action on a wanted book from the `mamd` command line against a running daemon, and each refusal.

The daemon, the MAM simulator and qbittorrent-nox are real processes on 127.0.0.1; the simulator writes a
grabbed torrent's payload into qBittorrent's save path, so the grab completes and can be imported.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mamd.domain.torrentfile import parse_torrent
from mamd.sim.torrents import make_torrent
from tests.support.configs import write_config
from tests.support.daemon import DaemonProcess, wait_for
from tests.support.mam_sim import SIM_COOKIE, mam_simulator
from tests.support.qbittorrent import QbittorrentFactory, api_client, qbittorrent_settings, wait_complete

pytestmark = [pytest.mark.system, pytest.mark.qbittorrent]

GIB = 1024**3
UPLOADED = 300 * GIB  # the simulated account's upload
BEST, OTHER_AUTHOR, NEVER = 900_001, 900_101, 900_110


def mamd(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mamd", *args, "-c", str(config)], capture_output=True, text=True, timeout=60
    )


def ok(config: Path, *args: str) -> str:
    result = mamd(config, *args)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def refused(config: Path, *args: str) -> str:
    result = mamd(config, *args)
    assert result.returncode == 1, (args, result.stdout, result.stderr)
    assert result.stderr.startswith("mamd: refused ("), result.stderr
    return result.stderr


def run_job(daemon: DaemonProcess, name: str) -> None:
    before = daemon.status()["jobs"][name]["last_run_id"]
    code, body = daemon.post_json(f"/api/v1/jobs/{name}", {})
    assert code == 202, body
    finished(daemon, name, before)


def finished(daemon: DaemonProcess, name: str, before: Any) -> None:
    def done() -> bool:
        job = daemon.status()["jobs"][name]
        return bool(job["last_run_id"] != before and not job["running"] and job["last_result"])

    wait_for(f"the {name} job", done, timeout=60)
    assert daemon.status()["jobs"][name]["last_result"] == "ok", daemon.log()[-3000:]


def reconfigure(daemon: DaemonProcess, **changes: Any) -> None:
    data = yaml.safe_load(daemon.config.read_text())
    generation = daemon.status()["config"]["generation"]
    daemon.config.write_text(yaml.safe_dump({**data, **changes}))
    wait_for("the edit to load", lambda: daemon.status()["config"]["generation"] > generation)


@pytest.fixture
def daemon(tmp_path: Path, qbittorrent_nox: QbittorrentFactory) -> Iterator[tuple[DaemonProcess, Any, Any]]:
    qbt = qbittorrent_nox()
    with mam_simulator(count=20, complete_into=qbt.save_path) as mam:
        config = write_config(
            tmp_path,
            {
                "logging": {"level": "info"},
                "mam": {"base_url": mam.url, "session": SIM_COOKIE, "search_interval": "1s"},
                "qbittorrent": qbittorrent_settings(qbt),
                "limits": {"min_free_space": "1MiB"},
                # only mp3 is allowed: the m4b of The Hero of Ages is refused by the rules, so the search
                # goes on to the title alone, which also finds another author's book of that title
                "rules": {"formats": ["mp3"]},
                "wanted": {"manual": [{"title": "Dune", "author": "Frank Herbert"}]},
            },
        )
        process = DaemonProcess(config).start()
        try:
            process.wait_healthy()
            yield process, mam, qbt
        finally:
            process.stop()


@pytest.mark.timeout(300)
def test_every_action_from_the_command_line_and_each_refusal(
    daemon: tuple[DaemonProcess, Any, Any], tmp_path: Path
) -> None:
    process, mam, qbt = daemon
    config = process.config
    run_job(process, "account")

    # want, and the duplicates of an API want and of a YAML want
    said = ok(
        config,
        "want",
        "The Hero of Ages",
        "--author",
        "Brandon Sanderson",
        "--series",
        "Mistborn",
        "--position",
        "3",
    )
    match = re.search(r"\(id (\d+)\)", said)
    assert match, said
    book = match.group(1)
    assert "already wanted as id" in refused(
        config,
        "want",
        "The Hero of Ages",
        "--author",
        "Brandon Sanderson",
        "--series",
        "Mistborn",
        "--position",
        "3",
    )
    assert "wanted.manual" in refused(config, "want", "Dune", "--author", "Frank Herbert")
    listed = ok(config, "wanted")
    assert re.search(rf"^\s*{book}\s+wanted\s+api\s+The Hero of Ages by Brandon Sanderson", listed, re.M), (
        listed
    )
    first = ok(config, "why", book)
    assert "no release considered yet" in first
    assert "wanted by api" in first

    # ignore, a search refused while ignored, unignore
    assert " ignored " in ok(config, "ignore", book)
    assert "it is ignored" in refused(config, "search", book)
    assert ok(config, "wanted", "--state", "ignored").startswith(f"{book:>5}  ignored")
    assert " wanted " in ok(config, "unignore", book)

    # search now: the candidates and why, readably
    before = process.status()["jobs"]["search"]["last_run_id"]
    assert "search of" in ok(config, "search", book)
    finished(process, "search", before)
    why = ok(config, "why", book)
    assert f"MAM {BEST}" in why
    assert "m4b is not among rules.formats" in why
    assert f"MAM {OTHER_AUTHOR}" in why

    # grab: never a candidate, another book, the rules, the guard, dry run, then for real
    assert "never a candidate" in refused(config, "grab", book, str(NEVER))
    assert "is not The Hero of Ages" in refused(config, "grab", book, str(OTHER_AUTHOR), "--override-rules")
    by_rules = refused(config, "grab", book, str(BEST))
    assert "the rules refuse" in by_rules
    assert "m4b is not among rules.formats" in by_rules
    assert "override_rules" in by_rules  # the API's word, said as the way to take it anyway
    mam.control("account", "PATCH", {"downloadedBytes": UPLOADED})  # ratio 1.0: the guard allows no paid grab
    run_job(process, "account")
    assert "never overridden" in refused(config, "grab", book, str(BEST), "--override-rules")
    mam.control("account", "PATCH", {"downloadedBytes": int(UPLOADED / 2)})
    run_job(process, "account")
    reconfigure(process, dry_run=True)
    assert "dry run: would grab" in ok(config, "grab", book, str(BEST), "--override-rules")
    assert mam.control("downloads")["downloads"] == []
    reconfigure(process, dry_run=False)
    grabbed = ok(config, "grab", book, str(BEST), "--override-rules")
    torrent_hash = grabbed.strip().rsplit(" ", 1)[-1]
    assert re.fullmatch(r"[0-9a-f]{40}", torrent_hash), grabbed
    assert "it is grabbed" in refused(config, "grab", book, str(BEST), "--override-rules")

    # import: unknown, incomplete, then the completed grab
    assert "does not know" in refused(config, "import", "ab" * 20)
    payload = tmp_path / "elsewhere" / "Never Downloaded.mp3"
    payload.parent.mkdir()
    payload.write_bytes(b"\0" * 100_000)
    data = make_torrent(payload)
    incomplete = parse_torrent(data).info_hash
    with api_client(qbt) as client:
        client.torrents_add(torrent_files=data, category="mamd", save_path=str(qbt.save_path), is_paused=True)
        wait_for("qBittorrent to list it", lambda: client.torrents_info(torrent_hashes=incomplete))
        assert "not complete" in refused(config, "import", incomplete)
        wait_complete(client, torrent_hash)
    assert "importing" in ok(config, "import", torrent_hash)

    def linked() -> bool:
        code, body = process.get("/api/v1/events?limit=1000")
        return code == 200 and any(e["kind"] == "import.linked" for e in body["events"])

    wait_for("the import", linked, timeout=60)
    assert "imported already" in refused(config, "import", torrent_hash)

    # an API want is dropped; a YAML want is not the API's to drop
    other = re.search(r"\(id (\d+)\)", ok(config, "want", "Warbreaker", "--author", "Brandon Sanderson"))
    assert other
    assert "no longer wanted" in ok(config, "unwant", other.group(1))
    assert "cannot delete" in refused(config, "unwant", book)  # importing now: too late
    kinds = {e["kind"] for e in process.get("/api/v1/events?limit=1000")[1]["events"]}
    assert {
        "wanted.added",
        "wanted.ignored",
        "wanted.unignored",
        "wanted.search_asked",
        "grab.by_hand",
    } <= kinds
    assert {"grab.would_grab", "grab.blocked", "import.asked", "wanted.dropped"} <= kinds
