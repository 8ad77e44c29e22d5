"""The simulated qBittorrent WebUI, through mamd's own qBittorrent client and real sockets on 127.0.0.1.

It answers what mamd asks as qBittorrent 4.5 does, and lives on the clock it is given: downloads
finish, files appear and seeding time counts as that clock moves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mamd.clients.errors import Unauthorized, Unavailable
from mamd.clients.qbittorrent import QbittorrentClient
from mamd.config.model import QbittorrentConfig
from mamd.config.units import Secret
from mamd.domain.torrentfile import parse_torrent
from mamd.sim.qbittorrent.webui import QbittorrentWebUI, SimTorrent
from mamd.sim.torrents import make_torrent, write_payload
from tests.support.clock import FakeClock
from tests.support.mam_client import serving

FILES = {"Author - Book/Book - Part 01.mp3": 70_000, "Author - Book/Book - Part 02.mp3": 80_000}


@pytest.fixture
async def webui() -> AsyncIterator[tuple[QbittorrentWebUI, QbittorrentClient, FakeClock, list[str]]]:
    clock = FakeClock()
    finished: list[str] = []

    def completed(torrent: SimTorrent) -> None:
        finished.append(torrent.hash)

    sim = QbittorrentWebUI(clock=clock.now, download_s=lambda h: 600.0, on_complete=completed)
    async with serving(sim.app) as url:
        settings = QbittorrentConfig(url=url, username="admin", password=Secret("adminadmin"))
        yield sim, QbittorrentClient(lambda: settings), clock, finished


def torrent_of(tmp_path: Path) -> tuple[bytes, str]:
    write_payload(tmp_path / "staging", FILES, seed="book")
    data = make_torrent(tmp_path / "staging" / "Author - Book", announce="http://127.0.0.1:9/announce")
    return data, parse_torrent(data).info_hash


async def test_a_torrent_downloads_on_the_clock_then_its_files_appear_and_it_seeds(
    webui: tuple[QbittorrentWebUI, QbittorrentClient, FakeClock, list[str]], tmp_path: Path
) -> None:
    _, client, clock, finished = webui
    data, info_hash = torrent_of(tmp_path)
    save = tmp_path / "torrents"
    assert await client.ensure_category("mamd", str(save)) is True
    assert await client.ensure_category("mamd", str(save)) is False
    await client.ensure_tags(["mamd"])
    assert await client.add(data, info_hash, save_path=str(save), category="mamd", tags=["mamd"]) == "added"
    assert await client.add(data, info_hash, save_path=str(save), category="mamd", tags=["mamd"]) == "present"

    clock.advance(300)
    [half] = await client.torrents(category="mamd")
    assert (half.state, half.downloading, round(half.progress, 2)) == ("downloading", True, 0.5)
    assert not (save / "Author - Book").exists()

    clock.advance(900)  # done after 600 s; seeding for the other 600
    done = await client.torrent(info_hash)
    assert done is not None
    assert (done.complete, done.state, done.seeding_time) == (True, "stalledUP", 600)
    assert done.tags == ("mamd",)
    assert finished == [info_hash]
    files = await client.files(info_hash)
    assert {(f.name, f.size) for f in files} == set(FILES.items())
    assert all((save / name).stat().st_size == size for name, size in FILES.items())
    [tracker] = await client.trackers(info_hash)
    assert tracker.working


async def test_a_stopped_download_makes_no_progress_until_started(
    webui: tuple[QbittorrentWebUI, QbittorrentClient, FakeClock, list[str]], tmp_path: Path
) -> None:
    _, client, clock, _ = webui
    data, info_hash = torrent_of(tmp_path)
    await client.add(data, info_hash, save_path=str(tmp_path / "t"), category="mamd", tags=[])
    clock.advance(100)
    await client.stop([info_hash])
    clock.advance(10_000)
    stopped = await client.torrent(info_hash)
    assert stopped is not None
    assert (stopped.state, stopped.stopped, round(stopped.progress, 3)) == ("pausedDL", True, 0.167)
    await client.start([info_hash])
    clock.advance(500)
    assert (await client.torrents(hashes=[info_hash]))[0].complete


async def test_down_is_unavailable_and_a_wrong_password_is_refused(
    webui: tuple[QbittorrentWebUI, QbittorrentClient, FakeClock, list[str]],
) -> None:
    sim, client, _, _ = webui
    sim.down = True
    with pytest.raises(Unavailable):
        await client.torrents()
    sim.down = False
    assert await client.torrents() == []
    sim.password = "changed"
    refused = QbittorrentClient(
        lambda: QbittorrentConfig(url=f"{client._settings().url}", password=Secret("adminadmin"))
    )
    with pytest.raises(Unauthorized):
        await refused.torrents()
