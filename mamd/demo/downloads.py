"""The demo's qBittorrent: a real `qbittorrent-nox` on loopback, running `mamd hook` on finished torrents."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from mamd.sim.qbittorrent import QbittorrentNox

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
