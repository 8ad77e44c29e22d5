"""The real-qBittorrent harness works: credentials, isolation, completions, the hook, restarts, transfers."""

from __future__ import annotations

import base64
import filecmp
import hashlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import qbittorrentapi

import mamd.sim.qbittorrent.launcher as qbittorrent_module
from mamd.domain.torrentfile import bdecode, bencode, parse_torrent
from mamd.sim.qbittorrent import binary as qbittorrent_binary
from mamd.sim.qbittorrent.launcher import QbittorrentNox
from mamd.sim.qbittorrent.profile import pbkdf2_password
from mamd.sim.torrents import make_torrent, write_payload
from tests.support.daemon import wait_for
from tests.support.qbittorrent import (
    QbittorrentFactory,
    added,
    api_client,
    pid_alive,
    require_qbittorrent,
    wait_complete,
)

pytestmark = pytest.mark.qbittorrent

BOOK = "Jane Doe - Test Book (2024)"
BOOK_FILES = {"Part 1.m4b": 1_500_000, "Part 2.m4b": 1_048_583, "cover.jpg": 30_000}


def hook_script(tmp_path: Path) -> tuple[str, Path]:
    """An autorun program that appends its argument (the `%I` hash) to a file; and that file."""
    calls = tmp_path / "hook calls.txt"
    script = tmp_path / "hook.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{calls}"\n')
    script.chmod(0o755)
    # no shell between qBittorrent and the program: it splits on whitespace, honouring quotes
    return f'"{script}" "%I"', calls


def add_book(qbt: QbittorrentNox, client: qbittorrentapi.Client, folder: Path) -> str:
    """Write the book into `folder`, add its torrent with `folder`'s parent as save path; the hash."""
    write_payload(folder, BOOK_FILES, seed="harness")
    data = make_torrent(folder)
    assert added(client.torrents_add(torrent_files=data, save_path=str(folder.parent)))
    return parse_torrent(data).info_hash


def test_pbkdf2_password_reproduces_qbittorrents_default_hash() -> None:
    vector = (
        "ARQ77eY1NUZaQsuDHbIMCA==:0WMRkYTUWVT9wVvdDtHAjU9b3b7uB8NR1Gur2hmQCvCDpm39Q+PsJRJPaCU51dEiz+dTzh8"
        "qbPsL8WkFljQYFQ=="
    )
    salt = base64.b64decode(vector.split(":")[0])
    assert pbkdf2_password("adminadmin", salt) == f"@ByteArray({vector})"
    fresh = pbkdf2_password("adminadmin")
    assert fresh != pbkdf2_password("adminadmin")  # a new random salt each time
    assert len(base64.b64decode(fresh[len("@ByteArray(") :].split(":")[0])) == 16


def test_without_the_binary_tests_skip_but_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv(qbittorrent_binary.ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="qbittorrent-nox is not installed"):
        require_qbittorrent()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"tests/run\.sh installs it"):
        require_qbittorrent()


def test_the_binary_is_the_one_mamd_qbittorrent_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CI", raising=False)
    missing = tmp_path / "qbittorrent-5.9"
    monkeypatch.setenv(qbittorrent_binary.ENV, str(missing))
    assert QbittorrentNox(tmp_path / "qbt").binary == str(missing)
    with pytest.raises(pytest.skip.Exception, match=f"{missing} is not installed"):
        require_qbittorrent()
    assert qbittorrent_binary.describe() == f"qBittorrent: {missing} is not installed"
    # a launcher that runs qBittorrent in a chroot says how the host's programs are reached from it
    missing.write_text(
        f"#!/bin/sh\n{qbittorrent_binary.HOST_PROGRAM_MARKER} /usr/sbin/chroot /run/host\nexec true\n"
    )
    missing.chmod(0o755)
    require_qbittorrent()
    launched = QbittorrentNox(tmp_path / "qbt", autorun_program='/bin/hook "%N"')
    assert launched.autorun_command == '/usr/sbin/chroot /run/host /bin/hook "%N"'
    assert QbittorrentNox(
        tmp_path / "qbt", autorun_program="/bin/hook", binary="/bin/sh"
    ).autorun_command == ("/bin/hook")
    with pytest.raises(OSError, match="printed no version"):
        qbittorrent_binary.version()


def test_the_version_is_read_without_leaving_files_in_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_qbittorrent()
    monkeypatch.setenv("HOME", str(tmp_path))
    found = qbittorrent_binary.version()
    assert found.startswith("v")
    assert list(tmp_path.iterdir()) == []
    assert qbittorrent_binary.describe().startswith(f"qBittorrent {found} (")


def test_an_instance_answers_its_credentials_on_loopback_only(qbittorrent_nox: QbittorrentFactory) -> None:
    qbt = qbittorrent_nox()
    assert qbt.running
    assert qbt.url == f"http://127.0.0.1:{qbt.webui_port}"
    with api_client(qbt) as client:
        assert client.app_version().startswith("v")
        preferences = client.app_preferences()
    assert {key: preferences[key] for key in ("dht", "pex", "lsd", "upnp", "web_ui_upnp")} == dict.fromkeys(
        ("dht", "pex", "lsd", "upnp", "web_ui_upnp"), False
    )
    assert preferences["current_interface_address"] == "127.0.0.1"
    assert preferences["current_network_interface"] == "lo"
    assert preferences["resolve_peer_countries"] is False
    assert preferences["web_ui_address"] == "127.0.0.1"
    assert preferences["listen_port"] == qbt.torrent_port
    assert preferences["refresh_interval"] == 250
    assert preferences["queueing_enabled"] is False
    assert Path(preferences["save_path"]) == qbt.save_path
    assert preferences["autorun_enabled"] is False


def test_wrong_credentials_fail_without_banning_the_next_login(qbittorrent_nox: QbittorrentFactory) -> None:
    qbt = qbittorrent_nox()
    # more failures than qBittorrent's default limit of 5
    for _ in range(6):
        with pytest.raises(qbittorrentapi.LoginFailed), api_client(qbt, password="wrong"):
            pass
    with api_client(qbt) as client:
        assert client.app_version().startswith("v")


def test_paths_and_programs_with_quotes_accents_and_commas_reach_qbittorrent_intact(
    qbittorrent_nox: QbittorrentFactory, tmp_path: Path
) -> None:
    program = '/bin/echo "%N" a,b \\ é€2𝄞a'
    qbt = qbittorrent_nox(program, folder=tmp_path / 'dé l, x"q€2')
    with api_client(qbt) as client:
        preferences = client.app_preferences()
    assert Path(preferences["save_path"]) == qbt.save_path
    assert (preferences["autorun_enabled"], preferences["autorun_program"]) == (True, qbt.autorun_command)
    assert qbt.autorun_command is not None
    assert qbt.autorun_command.endswith(program)  # a chroot launcher puts its way out in front


def test_a_torrent_over_data_in_the_save_path_completes_and_runs_the_hook(
    qbittorrent_nox: QbittorrentFactory, tmp_path: Path
) -> None:
    program, calls = hook_script(tmp_path)
    qbt = qbittorrent_nox(program)
    with api_client(qbt) as client:
        info_hash = add_book(qbt, client, qbt.save_path / BOOK)
        torrent = wait_complete(client, info_hash, timeout=15)
    assert torrent.hash == info_hash
    assert torrent.name == BOOK
    assert torrent.total_size == sum(BOOK_FILES.values())
    # the hook may run once per completion; each run carries this torrent's hash
    lines = wait_for("the completion hook", lambda: calls.exists() and calls.read_text().split(), 15)
    assert set(lines) == {info_hash}


def test_qbittorrent_hashes_a_non_canonical_info_dict_as_parse_torrent_does(
    qbittorrent_nox: QbittorrentFactory,
) -> None:
    qbt = qbittorrent_nox()
    write_payload(qbt.save_path, {"odd.m4b": 100_000}, seed="odd")
    info = bdecode(make_torrent(qbt.save_path / "odd.m4b"))[b"info"]
    # the same keys in reverse order: valid for libtorrent, but not what a re-encoding would hash
    raw_info = b"d" + b"".join(bencode(key) + bencode(info[key]) for key in sorted(info, reverse=True)) + b"e"
    data = b"d4:info" + raw_info + b"e"
    info_hash = parse_torrent(data).info_hash
    assert info_hash != hashlib.sha1(bencode(info)).hexdigest()
    with api_client(qbt) as client:
        assert added(client.torrents_add(torrent_files=data))
        assert wait_complete(client, info_hash, timeout=15).hash == info_hash


def test_restart_keeps_ports_and_torrents_and_stop_leaves_no_process(
    qbittorrent_nox: QbittorrentFactory,
) -> None:
    qbt = qbittorrent_nox()
    write_payload(qbt.save_path, {"single.m4b": 200_000}, seed="restart")
    data = make_torrent(qbt.save_path / "single.m4b")
    info_hash = parse_torrent(data).info_hash
    with api_client(qbt) as client:
        client.torrents_add(torrent_files=data)
        wait_complete(client, info_hash, timeout=15)
    url, first_pid = qbt.url, qbt.pid
    assert first_pid is not None

    qbt.restart()
    assert not pid_alive(first_pid)
    assert (qbt.url, qbt.running) == (url, True)
    with api_client(qbt) as client:
        restored = wait_complete(client, info_hash, timeout=15)
    assert restored.name == "single.m4b"

    second_pid = qbt.pid
    assert second_pid is not None
    assert second_pid != first_pid
    assert qbt.stop() == 0  # a clean exit on SIGTERM
    assert not qbt.running
    assert not pid_alive(second_pid)


def test_as_a_context_manager_it_starts_and_stops_by_pid(tmp_path: Path) -> None:
    require_qbittorrent()
    mounts = Path("/proc/self/mountinfo").read_text()
    with QbittorrentNox(tmp_path / "qbt") as qbt:
        pid = qbt.pid
        assert pid is not None
        assert pid_alive(pid)
        # the PID is qBittorrent's own, also through a chroot launcher (every step of it execs)
        assert Path(f"/proc/{pid}/comm").read_text().strip() == "qbittorrent-nox"
        listening = qbittorrent_module.WEBUI_LISTENING.search(qbt.log_path.read_text())
        assert listening is not None  # "Web UI: Now listening on IP: …" (4.x) or "WebUI: …" (5.x)
        assert listening.groups() == ("127.0.0.1", str(qbt.webui_port))
    assert not pid_alive(pid)
    assert "Exiting cleanly" in qbt.log_tail()
    assert Path("/proc/self/mountinfo").read_text() == mounts  # a launcher's mounts died with it


@pytest.fixture
def busy_ports(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, int, int, int]]:
    """The first two port pairs offered to the harness: a busy WebUI port, then a busy torrent port."""
    webui_busy, torrent_ok, webui_ok, torrent_busy = qbittorrent_module.free_ports(4)
    offers = [[webui_busy, torrent_ok], [webui_ok, torrent_busy]]
    real = qbittorrent_module.free_ports
    monkeypatch.setattr(qbittorrent_module, "free_ports", lambda n: offers.pop(0) if offers else real(n))
    holders = []
    for port in (webui_busy, torrent_busy):
        holder = socket.socket()
        holder.bind(("127.0.0.1", port))
        holder.listen()
        holders.append(holder)
    yield webui_busy, torrent_ok, webui_ok, torrent_busy
    for holder in holders:
        holder.close()


def test_busy_ports_are_replaced_by_new_ones(
    qbittorrent_nox: QbittorrentFactory, busy_ports: tuple[int, int, int, int]
) -> None:
    qbt = qbittorrent_nox()
    assert qbt.webui_port not in busy_ports
    assert qbt.torrent_port not in busy_ports
    with api_client(qbt) as client:
        assert client.app_preferences()["listen_port"] == qbt.torrent_port
    out = qbt.stdout_path.read_text()
    log = qbt.log_path.read_text()
    # both conflicts happened, each logged where qBittorrent logs it: the WebUI's on stdout (4.x, which
    # then exits) or in its log (5.x, which keeps running); every process was stopped
    assert f"Unable to bind to IP: 127.0.0.1, port: {busy_ports[0]}" in out + log
    assert f'Failed to listen on IP. IP: "127.0.0.1". Port: "TCP/{busy_ports[3]}"' in log
    assert len(qbt.pids) == 3
    assert [pid_alive(pid) for pid in qbt.pids] == [False, False, True]


def test_two_instances_transfer_a_payload_through_add_peers(
    qbittorrent_nox: QbittorrentFactory,
) -> None:
    seeder, leecher = qbittorrent_nox(), qbittorrent_nox()
    with api_client(seeder) as seeding, api_client(leecher) as leeching:
        info_hash = add_book(seeder, seeding, seeder.save_path / BOOK)
        wait_complete(seeding, info_hash, timeout=15)
        data = make_torrent(seeder.save_path / BOOK)
        started = time.monotonic()
        assert added(leeching.torrents_add(torrent_files=data))
        # the torrent is private and there is no tracker: introduce the seeder by hand
        wait_for("the leecher to know the torrent", lambda: leeching.torrents_info(torrent_hashes=info_hash))
        leeching.torrents_add_peers(peers=[f"127.0.0.1:{seeder.torrent_port}"], torrent_hashes=info_hash)
        wait_complete(leeching, info_hash, timeout=30)
    assert time.monotonic() - started < 30
    for name in BOOK_FILES:
        assert filecmp.cmp(seeder.save_path / BOOK / name, leecher.save_path / BOOK / name, shallow=False)
