"""The demo's qBittorrent: a real `qbittorrent-nox` on loopback, running `mamd hook` on finished torrents."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import qbittorrentapi

from mamd.sim.qbittorrent import binary as qbittorrent_binary
from mamd.sim.qbittorrent.launcher import QbittorrentNox

INSTALL_HINT = (
    "install it with `sudo apt-get install qbittorrent-nox` (Debian, Ubuntu), or name another binary "
    f"in {qbittorrent_binary.ENV}, and run the demo again"
)


def available() -> bool:
    """Whether the qBittorrent the demo would run (`MAMD_QBITTORRENT`, else qbittorrent-nox) is there."""
    return qbittorrent_binary.locate() is not None


async def start_qbittorrent(folder: Path, config: Path) -> tuple[QbittorrentNox, str]:
    """qbittorrent-nox whose "run external program on torrent finished" is `mamd hook %I`, and its
    version (such as `v5.3.0`)."""
    program = f"{sys.executable} -m mamd hook %I -c {config}"
    instance = QbittorrentNox(folder, autorun_program=program)
    try:
        found = await asyncio.to_thread(qbittorrent_binary.version, instance.binary)
    except OSError as exc:
        found = f"of unknown version ({exc})"
    return await asyncio.to_thread(instance.start), found


STOPPED = ("pausedDL", "stoppedDL")


def _client(qbt: QbittorrentNox) -> qbittorrentapi.Client:
    return qbittorrentapi.Client(
        host=qbt.url, username=qbt.username, password=qbt.password, REQUESTS_ARGS={"timeout": (3, 15)}
    )


def _state(qbt: QbittorrentNox, name_part: str) -> str | None:
    client = _client(qbt)
    try:
        found = [t.state for t in client.torrents_info() if name_part in t.name]
    finally:
        client.auth_log_out()
    return found[0] if found else None


async def state_of(qbt: QbittorrentNox, name_part: str, stopped: bool | None = None) -> str | None:
    """The state of the torrent whose name holds `name_part`, once it is downloading (`stopped` None or
    False) or stopped (`stopped` True); None until then."""
    state = await asyncio.to_thread(_state, qbt, name_part)
    if state is None or state in ("checkingResumeData", "checkingDL", "metaDL"):
        return None
    if stopped is None or stopped is False:
        return state if state not in STOPPED and not state.endswith("UP") else None
    return state if state in STOPPED else None


def _seeding(qbt: QbittorrentNox) -> int:
    client = _client(qbt)
    try:
        return sum(1 for t in client.torrents_info() if t.progress >= 1)
    finally:
        client.auth_log_out()


async def seeding_count(qbt: QbittorrentNox) -> int:
    return await asyncio.to_thread(_seeding, qbt)
