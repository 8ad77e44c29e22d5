"""The demo's qBittorrent: a real `qbittorrent-nox` on loopback, and a download that finishes in it."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import qbittorrentapi

from mamd.domain.torrentfile import parse_torrent
from mamd.sim.qbittorrent import QbittorrentNox
from mamd.sim.torrents import make_torrent, write_payload

INSTALL_HINT = (
    "install it with `sudo apt-get install qbittorrent-nox` (Debian, Ubuntu) and run the demo again"
)


def available() -> bool:
    return shutil.which("qbittorrent-nox") is not None


async def start_qbittorrent(folder: Path, config: Path) -> QbittorrentNox:
    """qbittorrent-nox whose "run external program on torrent finished" is `mamd hook %I`."""
    program = f"{sys.executable} -m mamd hook %I -c {config}"
    instance = QbittorrentNox(folder, autorun_program=program)
    return await asyncio.to_thread(instance.start)


def _add(qbt: QbittorrentNox, data: bytes) -> None:
    client = qbittorrentapi.Client(
        host=qbt.url, username=qbt.username, password=qbt.password, REQUESTS_ARGS={"timeout": (3, 15)}
    )
    try:
        client.torrents_add(torrent_files=data, category="mamd", tags="mamd", save_path=str(qbt.save_path))
    finally:
        client._trigger_session_initialization()  # closes its HTTP session


async def finish_download(qbt: QbittorrentNox, staging: Path, name: str, files: dict[str, int]) -> str:
    """Put a book's data where qBittorrent saves and add its torrent: qBittorrent checks it and completes.

    The data is written beside the torrent, as if the download had just finished.
    """
    await asyncio.to_thread(write_payload, staging, files, name)
    data = await asyncio.to_thread(make_torrent, staging / name)
    await asyncio.to_thread(write_payload, qbt.save_path, files, name)
    await asyncio.to_thread(_add, qbt, data)
    return parse_torrent(data).info_hash
