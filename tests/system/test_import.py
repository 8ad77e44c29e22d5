"""Completed torrents in a real qbittorrent-nox become books in the library, through the daemon as a process.

qBittorrent's "run external program" is `mamd hook %I`; the Audiobookshelf simulator runs as its own
process over the library folder. Each test builds the whole chain on loopback in its temporary folder.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mamd.domain.torrentfile import bencode, parse_torrent
from mamd.sim.qbittorrent.launcher import QbittorrentNox
from mamd.sim.torrents import make_torrent, write_payload
from tests.support.abs_sim import AbsSimProcess, abs_simulator
from tests.support.configs import write_config
from tests.support.daemon import DaemonProcess, hook_program, wait_for
from tests.support.qbittorrent import QbittorrentFactory, api_client, qbittorrent_settings, wait_complete

pytestmark = [pytest.mark.system, pytest.mark.qbittorrent]

BOOK = "Brandon Sanderson - Mistborn 03 - The Hero of Ages"
BOOK_FOLDER = "Brandon Sanderson/Mistborn/3 - The Hero of Ages"
PARTS = {f"{BOOK}/The Hero of Ages - Part {n}.mp3": 300_000 + n for n in (1, 2)}


@dataclass
class Chain:
    tmp: Path
    config: Path
    library: Path
    abs: AbsSimProcess
    qbt: QbittorrentNox
    daemon: DaemonProcess

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return self.daemon.events(kind)

    def add(self, files: dict[str, int], *, with_data: bool = True, name: str = BOOK, **options: Any) -> str:
        """Add a torrent of `files` to qBittorrent, with its data in the save path unless told not to."""
        staging = self.tmp / "staging" / name
        write_payload(staging.parent, files, seed=name)
        data = make_torrent(staging)
        if with_data:
            write_payload(self.qbt.save_path, files, seed=name)
        settings = {"category": "mamd", "tags": "mamd", "save_path": str(self.qbt.save_path), **options}
        with api_client(self.qbt) as client:
            client.torrents_add(torrent_files=data, **settings)
        return parse_torrent(data).info_hash

    def imported(self, folder: str = BOOK_FOLDER, timeout: float = 30) -> Path:
        target = self.library / folder
        wait_for(f"{folder} in the library", lambda: target.is_dir(), timeout=timeout)
        return target


@pytest.fixture
def make_chain(tmp_path: Path, qbittorrent_nox: QbittorrentFactory) -> Iterator[Callable[..., Chain]]:
    daemons: list[DaemonProcess] = []
    stack: list[Any] = []

    def make(*, autorun: bool = True, changes: dict[str, Any] | None = None) -> Chain:
        library = tmp_path / "library"
        # the library already holds a book by the author these torrents name (untagged files): a
        # torrent name's author is believed only when something confirms it
        write_payload(library, {"Brandon Sanderson/Elantris/Elantris.mp3": 4096}, seed="owned")
        config = tmp_path / "mamd.yaml"
        qbt = qbittorrent_nox(hook_program(config) if autorun else None)
        context = abs_simulator(folder=library)
        simulator = context.__enter__()
        stack.append(context)
        settings: dict[str, Any] = {
            "qbittorrent": qbittorrent_settings(qbt),
            "audiobookshelf": {"url": simulator.url, "api_key": simulator.api_key, "path": str(library)},
            "logging": {"level": "info"},
        }
        for section, values in (changes or {}).items():
            settings.setdefault(section, {}).update(values)
        write_config(tmp_path, settings)
        daemon = DaemonProcess(config).start()
        daemons.append(daemon)
        daemon.wait_healthy()
        assert daemon.post_json("/api/v1/jobs/library_sync", {})[0] == 202
        wait_for("the library to be read", lambda: daemon.status()["jobs"]["library_sync"]["last_result"])
        return Chain(tmp_path, config, library, simulator, qbt, daemon)

    yield make
    for daemon in daemons:
        daemon.stop()
    for context in reversed(stack):
        context.__exit__(None, None, None)


# -- the acceptance chain -------------------------------------------------------------------------


def test_a_completed_torrent_is_hardlinked_into_the_library_and_audiobookshelf_scans(
    make_chain: Callable[..., Chain],
) -> None:
    chain = make_chain()
    info_hash = chain.add(PARTS)
    folder = chain.imported()
    for name in PARTS:
        seeding = chain.qbt.save_path / name
        linked = folder / Path(name).name
        assert linked.stat().st_ino == seeding.stat().st_ino  # the same file, not a copy
    assert (folder / "metadata.json").is_file()
    wait_for("a library scan", lambda: chain.abs.scans(), timeout=10)
    done = wait_for("the import to be confirmed", lambda: chain.events("import.done"), timeout=15)
    assert done[0]["subject"] == f"torrent:{info_hash}"
    linked_events = chain.events("import.linked")
    assert [e["data"]["folder"] for e in linked_events] == [BOOK_FOLDER]
    with api_client(chain.qbt) as client:
        [torrent] = client.torrents_info(torrent_hashes=info_hash)
        assert torrent.progress == 1
        assert torrent.state in ("stalledUP", "uploading", "queuedUP")  # still seeding, untouched


def test_a_book_downloaded_from_another_qbittorrent_is_imported(
    make_chain: Callable[..., Chain], qbittorrent_nox: QbittorrentFactory
) -> None:
    """The one end-to-end transfer: a seeder on loopback, the daemon's qBittorrent as the leecher."""
    chain = make_chain()
    seeder = qbittorrent_nox()
    staging = chain.tmp / "staging" / BOOK
    write_payload(staging.parent, PARTS, seed="transfer")
    data = make_torrent(staging)
    info_hash = parse_torrent(data).info_hash
    write_payload(seeder.save_path, PARTS, seed="transfer")
    with api_client(seeder) as client:
        client.torrents_add(torrent_files=data, save_path=str(seeder.save_path))
        wait_complete(client, info_hash)
    with api_client(chain.qbt) as client:
        client.torrents_add(torrent_files=data, category="mamd", save_path=str(chain.qbt.save_path))
        wait_for("the leecher to know it", lambda: client.torrents_info(torrent_hashes=info_hash))
        client.torrents_add_peers(peers=f"127.0.0.1:{seeder.torrent_port}", torrent_hashes=info_hash)
    folder = chain.imported(timeout=60)
    for name in PARTS:
        assert (folder / Path(name).name).read_bytes() == (seeder.save_path / name).read_bytes()
        assert (folder / Path(name).name).stat().st_ino == (chain.qbt.save_path / name).stat().st_ino
    wait_for("the import to be confirmed", lambda: chain.events("import.done"), timeout=15)


def test_after_kill_9_between_the_hook_and_the_import_the_book_is_imported_once(
    make_chain: Callable[..., Chain],
) -> None:
    chain = make_chain(autorun=False)
    info_hash = chain.add(PARTS)
    with api_client(chain.qbt) as client:
        wait_complete(client, info_hash)
    chain.qbt.stop()  # the import cannot happen yet: the hook waits in the inbox
    code, body = chain.daemon.post_json("/hooks/qbittorrent", {"hash": info_hash})
    assert code == 202, body
    wait_for(
        "the importer to find qBittorrent down", lambda: chain.daemon.status()["services"].get("qbittorrent")
    )
    os.kill(chain.daemon.pid, signal.SIGKILL)
    chain.daemon.wait_exit()
    assert not (chain.library / BOOK_FOLDER).exists()
    chain.qbt.start()
    again = DaemonProcess(chain.config).start()
    try:
        again.wait_healthy()
        chain.daemon = again
        chain.imported(timeout=40)
        wait_for("the import event", lambda: chain.events("import.linked"))
        # another hook for the same torrent changes nothing
        assert again.post_json("/hooks/qbittorrent", {"hash": info_hash})[0] == 202
        wait_for("the second hook to be handled", lambda: again.status()["inbox"]["pending"] == 0)
        assert len(chain.events("import.linked")) == 1
    finally:
        again.stop()


# -- bad input ------------------------------------------------------------------------------------


def test_a_hook_for_a_torrent_qbittorrent_does_not_know_is_accepted_and_reported(
    make_chain: Callable[..., Chain],
) -> None:
    chain = make_chain()
    unknown = "c0ffee" * 6 + "c0ff"
    assert chain.daemon.post_json("/hooks/qbittorrent", {"hash": unknown})[0] == 202
    [event] = wait_for("the event", lambda: chain.events("import.unknown_torrent"))
    assert unknown in event["message"]
    assert chain.daemon.get("/healthz")[0] == 200


def test_a_hook_before_the_torrent_is_complete_waits_for_it(make_chain: Callable[..., Chain]) -> None:
    chain = make_chain()
    info_hash = chain.add(PARTS, with_data=False)
    assert chain.daemon.post_json("/hooks/qbittorrent", {"hash": info_hash})[0] == 202
    wait_for(
        "the importer to see it incomplete", lambda: "not complete yet" in str(_inbox(chain)), timeout=15
    )
    assert not (chain.library / BOOK_FOLDER).exists()
    write_payload(chain.qbt.save_path, PARTS, seed=BOOK)
    with api_client(chain.qbt) as client:
        client.torrents_recheck(torrent_hashes=info_hash)
    chain.imported()  # qBittorrent completes it and runs the hook again


def test_file_names_that_try_to_escape_stay_inside_the_book_folder(make_chain: Callable[..., Chain]) -> None:
    chain = make_chain()
    hostile = [["..", "..", "escape.mp3"], ["", "etc", "abs.mp3"], ["bad\nname.mp3"], ["é" * 150 + ".mp3"]]
    sizes = [70_000, 70_001, 70_002, 70_003]
    payload = b"".join(bytes([n]) * size for n, size in enumerate(sizes))
    pieces = b"".join(hashlib.sha1(payload[i : i + 65536]).digest() for i in range(0, len(payload), 65536))
    info = {
        "name": "Brandon Sanderson - Hostile Names",
        "piece length": 65536,
        "pieces": pieces,
        "private": 1,
        "files": [{"length": size, "path": path} for size, path in zip(sizes, hostile, strict=True)],
    }
    data = bencode({"info": info})
    info_hash = parse_torrent(data).info_hash
    with api_client(chain.qbt) as client:
        client.torrents_add(torrent_files=data, category="mamd", save_path=str(chain.qbt.save_path))
        files = wait_for("its file list", lambda: client.torrents_files(torrent_hash=info_hash))
        offset = 0
        for entry, size in zip(files, sizes, strict=True):  # put the data where qBittorrent looks for it
            target = chain.qbt.save_path / entry.name
            assert str(target.resolve()).startswith(str(chain.qbt.save_path)), entry.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(payload[offset : offset + size])
            offset += size
        client.torrents_recheck(torrent_hashes=info_hash)
    folder = chain.imported("Brandon Sanderson/Hostile Names")
    imported = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "metadata.json")
    assert len(imported) == 4
    for path in imported:
        assert folder in path.parents
        assert "\n" not in path.name
        assert len(path.name.encode()) <= 255
    outside = {p.name for p in chain.tmp.rglob("*escape.mp3")} | {p.name for p in chain.tmp.rglob("abs.mp3")}
    assert outside  # qBittorrent kept them somewhere under its own save path …
    owned = chain.library / "Brandon Sanderson" / "Elantris"  # the book the library held before
    assert not [
        p
        for p in chain.library.rglob("*")
        if p.is_file() and folder not in p.parents and owned not in p.parents
    ]  # … and so did mamd


def test_qbittorrent_refusing_the_login_is_reported_and_a_fixed_password_resumes(
    make_chain: Callable[..., Chain],
) -> None:
    chain = make_chain(changes={"qbittorrent": {"password": "wrong-password-for-sure"}})
    info_hash = chain.add(PARTS)
    state = wait_for(
        "qbittorrent to be reported unauthorized",
        lambda: (
            (s := chain.daemon.status()["services"].get("qbittorrent")) and s["state"] == "unauthorized" and s
        ),
        timeout=20,
    )
    assert "qbittorrent.password" in state["last_error"]
    assert not (chain.library / BOOK_FOLDER).exists()
    data = yaml.safe_load(chain.config.read_text())
    data["qbittorrent"]["password"] = chain.qbt.password
    chain.config.write_text(yaml.safe_dump(data))  # a hot reload builds a new qBittorrent session
    wait_for("the new configuration", lambda: chain.daemon.status()["config"]["generation"] == 2)
    assert chain.daemon.post_json("/hooks/qbittorrent", {"hash": info_hash})[0] == 202
    chain.imported()


def test_a_slow_qbittorrent_only_delays_the_import(make_chain: Callable[..., Chain]) -> None:
    chain = make_chain(autorun=False)
    info_hash = chain.add(PARTS)
    with api_client(chain.qbt) as client:
        wait_complete(client, info_hash)
    assert chain.qbt.pid is not None
    os.kill(chain.qbt.pid, signal.SIGSTOP)  # it answers nothing for a while
    try:
        assert chain.daemon.post_json("/hooks/qbittorrent", {"hash": info_hash})[0] == 202
        wait_for("the hook to wait on qBittorrent", lambda: chain.daemon.status()["inbox"]["pending"] == 1)
    finally:
        os.kill(chain.qbt.pid, signal.SIGCONT)
    chain.imported()


def test_a_missing_library_folder_holds_the_import_until_it_is_back(make_chain: Callable[..., Chain]) -> None:
    chain = make_chain(autorun=False)
    info_hash = chain.add(PARTS)
    with api_client(chain.qbt) as client:
        wait_complete(client, info_hash)
    parked = chain.tmp / "unmounted"
    chain.library.rename(parked)
    assert chain.daemon.post_json("/hooks/qbittorrent", {"hash": info_hash})[0] == 202
    [event] = wait_for("the blocked import", lambda: chain.events("import.blocked"))
    assert "does not exist or is not mounted" in event["message"]
    assert not chain.library.exists()  # nothing made in its place
    parked.rename(chain.library)
    assert chain.daemon.post_json("/hooks/qbittorrent", {"hash": info_hash})[0] == 202
    chain.imported()


def test_another_book_at_the_destination_is_not_overwritten_and_an_event_says_why(
    make_chain: Callable[..., Chain],
) -> None:
    chain = make_chain()
    taken = chain.library / BOOK_FOLDER
    taken.mkdir(parents=True)
    (taken / "other.m4b").write_bytes(b"another edition")
    chain.add(PARTS)
    [event] = wait_for("the refusal", lambda: chain.events("import.failed"), timeout=30)
    assert "already exists and holds other files" in event["message"]
    assert sorted(p.name for p in taken.iterdir()) == ["other.m4b"]


def test_a_payload_file_replaced_by_a_link_to_another_torrents_file_is_refused_with_an_event(
    make_chain: Callable[..., Chain],
) -> None:
    """The link stays inside the save path, so only a check against the torrent's own folder catches it."""
    chain = make_chain(autorun=False)
    other = chain.qbt.save_path / "Another Torrent" / "their-book.m4b"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"another torrent's book")
    info_hash = chain.add(PARTS)
    with api_client(chain.qbt) as client:
        wait_complete(client, info_hash)
    replaced = chain.qbt.save_path / next(iter(PARTS))
    replaced.unlink()
    replaced.symlink_to(other)  # qBittorrent keeps calling the torrent complete: it does not recheck
    assert chain.daemon.post_json("/hooks/qbittorrent", {"hash": info_hash})[0] == 202
    [event] = wait_for("the refusal", lambda: chain.events("import.failed"), timeout=30)
    assert f"{replaced} is a symbolic link" in event["message"]
    assert "their-book.m4b" in event["message"]
    assert not (chain.library / BOOK_FOLDER).exists()
    assert other.stat().st_nlink == 1  # never linked into the library


def test_reconcile_imports_a_completion_whose_hook_was_lost(make_chain: Callable[..., Chain]) -> None:
    chain = make_chain(autorun=False)  # no hook at all: only reconcile can find it
    info_hash = chain.add(PARTS)
    with api_client(chain.qbt) as client:
        wait_complete(client, info_hash)
    run = subprocess.run(
        [sys.executable, "-m", "mamd", "run-job", "reconcile", "-c", str(chain.config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    chain.imported()


def _inbox(chain: Chain) -> list[tuple[Any, ...]]:
    database = yaml.safe_load(chain.config.read_text())["state"]["database"]
    with sqlite3.connect(database) as db:
        return db.execute("SELECT hash, state, attempts, last_error FROM hook_inbox").fetchall()
