"""The qBittorrent client against a real qbittorrent-nox: answers, adds, stop/start, sessions, errors."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import qbittorrentapi

from mamd.clients.errors import Rejected, Unauthorized, Unavailable
from mamd.clients.qbittorrent import QbittorrentClient, Torrent, torrent_from
from mamd.config.model import QbittorrentConfig
from mamd.config.units import Secret
from mamd.domain.torrentfile import parse_torrent
from mamd.sim.qbittorrent.launcher import QbittorrentNox
from mamd.sim.torrents import make_torrent, write_payload
from tests.support.configs import free_port
from tests.support.qbittorrent import QbittorrentFactory, api_client

pytestmark = pytest.mark.qbittorrent
FILES = {"Author - Title/Part 1.mp3": 150_000, "Author - Title/Part 2.mp3": 150_001}


def client_for(
    qbt: QbittorrentNox, password: str | None = None
) -> tuple[QbittorrentClient, list[tuple[str, Any]]]:
    states: list[tuple[str, Any]] = []
    settings = QbittorrentConfig(
        url=qbt.url,
        username=qbt.username,
        password=Secret(password or qbt.password),
        save_path=str(qbt.save_path),
    )
    return QbittorrentClient(lambda: settings, on_state=lambda s, e: states.append((s, e))), states


def torrent_bytes(tmp_path: Path, qbt: QbittorrentNox, with_data: bool = True) -> tuple[bytes, str]:
    write_payload(tmp_path / "staging", FILES, seed="client")
    data = make_torrent(tmp_path / "staging" / "Author - Title")
    if with_data:
        write_payload(qbt.save_path, FILES, seed="client")
    return data, parse_torrent(data).info_hash


async def until_complete(client: QbittorrentClient, torrent_hash: str) -> Torrent:
    for _ in range(300):
        found = await client.torrent(torrent_hash)
        if found is not None and found.complete:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("the torrent did not complete within 15 s")


async def test_adding_and_reading_a_torrent_gives_typed_answers(
    qbittorrent_nox: QbittorrentFactory, tmp_path: Path
) -> None:
    qbt = qbittorrent_nox()
    client, states = client_for(qbt)
    assert (await client.version()).startswith("v")
    assert await client.ensure_category("mamd", str(qbt.save_path)) is True
    assert await client.ensure_category("mamd", str(qbt.save_path)) is False  # left as it is
    await client.ensure_tags(["mamd", "audiobook"])
    data, info_hash = torrent_bytes(tmp_path, qbt)
    added = await client.add(
        data, info_hash, save_path=str(qbt.save_path), category="mamd", tags=["mamd", "audiobook"]
    )
    assert added == "added"
    again = await client.add(data, info_hash, save_path=str(qbt.save_path), category="mamd", tags=["mamd"])
    assert again == "present"  # qBittorrent had it already: "Fails." up to 5.1, 409 Conflict from 5.3
    torrent = await until_complete(client, info_hash)
    assert (torrent.hash, torrent.category, torrent.name) == (info_hash, "mamd", "Author - Title")
    assert set(torrent.tags) == {"mamd", "audiobook"}
    assert torrent.belongs_to("mamd", ["other"])
    assert not torrent.belongs_to("other", ["other"])
    files = await client.files(info_hash)
    assert sorted((f.name, f.size) for f in files) == sorted(FILES.items())
    assert (
        await client.trackers(info_hash)
    ) == []  # no real tracker; DHT/PeX/LSD pseudo-entries are left out
    assert await client.torrent("0" * 40) is None
    assert [t.hash for t in await client.torrents(category="mamd")] == [info_hash]
    assert states[-1] == ("ok", None)


def version_of(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def duplicate_answer(qbt: QbittorrentNox, data: bytes) -> str:
    """What this qBittorrent answers, through qbittorrent-api, to a torrent it has already."""
    with api_client(qbt) as client:
        try:
            return repr(client.torrents_add(torrent_files=data))
        except qbittorrentapi.Conflict409Error as exc:
            return f"409 {exc}"


async def test_a_duplicate_is_present_whether_this_version_answers_fails_or_409(
    qbittorrent_nox: QbittorrentFactory, tmp_path: Path
) -> None:
    qbt = qbittorrent_nox()
    client, states = client_for(qbt)
    data, info_hash = torrent_bytes(tmp_path, qbt)
    assert (
        await client.add(data, info_hash, save_path=str(qbt.save_path), category="mamd", tags=[]) == "added"
    )
    version = version_of(await client.version())
    answer = await asyncio.to_thread(duplicate_answer, qbt, data)
    # measured: 4.5.2 and 5.1.0 answer "Fails.", 5.3.0 answers HTTP 409 Conflict
    assert answer == ("409 Conflict" if version >= (5, 3) else "'Fails.'")
    again = await client.add(data, info_hash, save_path=str(qbt.save_path), category="other", tags=[])
    assert again == "present"
    assert states[-1] == ("ok", None)
    [torrent] = await client.torrents()
    assert torrent.category == "mamd"  # the duplicate changed nothing


async def test_bytes_that_are_no_torrent_are_refused_naming_qbittorrents_answer(
    qbittorrent_nox: QbittorrentFactory,
) -> None:
    qbt = qbittorrent_nox()
    client, states = client_for(qbt)
    with pytest.raises(Rejected) as refused:
        await client.add(b"not a torrent", "0" * 40, save_path=str(qbt.save_path), category="mamd", tags=[])
    assert refused.value.status == 415
    assert "is not a valid torrent file" in refused.value.message
    assert states[-1] == ("ok", None)


@contextlib.asynccontextmanager
async def port_mapping(target: int) -> AsyncIterator[int]:
    """A port on 127.0.0.1 that forwards to `target`, as a Docker port mapping (`-p 18080:8080`) does."""

    writers: list[asyncio.StreamWriter] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target)
        writers.extend((writer, upstream_writer))
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(forward, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for writer in writers:  # kept-alive connections outlive the listening socket
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        await server.wait_closed()


async def test_a_host_header_qbittorrent_does_not_expect_is_explained_not_called_a_ban(
    qbittorrent_nox: QbittorrentFactory,
) -> None:
    qbt = qbittorrent_nox()
    async with port_mapping(qbt.webui_port) as mapped:
        settings = QbittorrentConfig(
            url=f"http://127.0.0.1:{mapped}", username=qbt.username, password=Secret(qbt.password)
        )
        states: list[tuple[str, Any]] = []
        client = QbittorrentClient(lambda: settings, on_state=lambda s, e: states.append((s, e)))
        with pytest.raises(Unauthorized) as refused:
            await client.version()
    message = refused.value.message
    assert f"Host header '127.0.0.1:{mapped}' (from qbittorrent.url)" in message
    assert "Enable Host header validation" in message
    assert "banned" not in message
    assert "qbittorrent.password" not in message
    assert states[-1] == ("unauthorized", message)
    # the same credentials through qBittorrent's own port are fine: it was the header, not the login
    assert (await client_for(qbt)[0].version()).startswith("v")


async def test_stop_and_start_work_on_this_qbittorrent_version(
    qbittorrent_nox: QbittorrentFactory, tmp_path: Path
) -> None:
    qbt = qbittorrent_nox()
    client, _ = client_for(qbt)
    data, info_hash = torrent_bytes(tmp_path, qbt, with_data=False)
    await client.add(data, info_hash, save_path=str(qbt.save_path), category="mamd", tags=["mamd"])
    wait = await until_state(client, info_hash, lambda t: t.downloading)
    assert not wait.complete
    await client.stop([info_hash])
    assert (await until_state(client, info_hash, lambda t: t.stopped)).state in ("pausedDL", "stoppedDL")
    await client.start([info_hash])
    assert not (await until_state(client, info_hash, lambda t: not t.stopped)).stopped


async def until_state(client: QbittorrentClient, torrent_hash: str, check: Any) -> Torrent:
    found = None
    for _ in range(200):
        found = await client.torrent(torrent_hash)
        if found is not None and check(found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no such state within 10 s (last: {found})")


async def test_a_restarted_qbittorrent_is_logged_into_again_by_itself(
    qbittorrent_nox: QbittorrentFactory,
) -> None:
    qbt = qbittorrent_nox()
    client, _ = client_for(qbt)
    await client.version()
    qbt.restart()  # its sessions are gone: the next call gets a 403 and logs in again
    assert (await client.version()).startswith("v")


async def test_wrong_credentials_are_unauthorized_with_advice(qbittorrent_nox: QbittorrentFactory) -> None:
    qbt = qbittorrent_nox()
    client, states = client_for(qbt, password="not-the-password")
    with pytest.raises(Unauthorized, match=r"qbittorrent\.password"):
        await client.version()
    assert states[-1][0] == "unauthorized"


async def test_nothing_listening_is_unavailable_and_the_service_down() -> None:
    settings = QbittorrentConfig(url=f"http://127.0.0.1:{free_port()}", password=Secret("x" * 16))
    states: list[tuple[str, Any]] = []
    client = QbittorrentClient(lambda: settings, on_state=lambda s, e: states.append((s, e)))
    with pytest.raises(Unavailable, match="cannot reach qBittorrent"):
        await client.version()
    assert states[-1][0] == "down"


@pytest.mark.parametrize(
    ("state", "progress", "complete", "stopped", "downloading"),
    [
        ("stalledUP", 1.0, True, False, False),
        ("uploading", 1.0, True, False, False),
        ("pausedUP", 1.0, True, True, False),
        ("stoppedUP", 1.0, True, True, False),  # qBittorrent 5.x
        ("pausedDL", 0.4, False, True, False),
        ("stoppedDL", 0.4, False, True, False),  # qBittorrent 5.x
        ("downloading", 0.4, False, False, True),
        ("stalledDL", 0.0, False, False, True),
        ("checkingResumeData", 1.0, False, False, False),  # paths not to be trusted yet
        ("queuedUP", 1.0, True, False, False),
    ],
)
def test_states_of_both_major_versions_are_read_alike(
    state: str, progress: float, complete: bool, stopped: bool, downloading: bool
) -> None:
    torrent = torrent_from(
        {
            "hash": "AB" * 20,
            "state": state,
            "progress": progress,
            "amount_left": 0 if progress == 1 else 9,
            "tags": "mamd, test",
        }
    )
    assert (torrent.complete, torrent.stopped, torrent.downloading) == (complete, stopped, downloading)
    assert torrent.hash == "ab" * 20
    assert torrent.tags == ("mamd", "test")
