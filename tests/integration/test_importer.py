"""The inbox worker when qBittorrent cannot be reached: completions wait together, nothing is lost."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mamd.config import load_config
from mamd.runtime import Runtime
from mamd.sim.qbittorrent.webui import QbittorrentWebUI, SimTorrent
from tests.support.clock import FakeClock
from tests.support.configs import free_port
from tests.support.mam_client import serving


@pytest.fixture
async def offline(config_file: Callable[..., Path], clock: FakeClock) -> AsyncIterator[Runtime]:
    """A runtime whose qBittorrent address has nothing listening."""
    path = config_file({"qbittorrent": {"url": f"http://127.0.0.1:{free_port()}"}})
    runtime = Runtime(load_config(path), path, clock=clock)
    await runtime.store.open()
    async with aiohttp.ClientSession() as session:
        runtime.connect(session)
        yield runtime
    await runtime.store.close()


async def attempts(runtime: Runtime) -> list[int]:
    rows = await runtime.store.fetchall("SELECT attempts FROM hook_inbox ORDER BY id")
    return [int(row[0]) for row in rows]


async def test_with_qbittorrent_down_one_completion_is_tried_and_the_rest_wait(
    offline: Runtime, clock: FakeClock
) -> None:
    for n in range(5):
        await offline.inbox.add(f"{n:040x}", {}, "webhook", clock.now())
    wait = await offline.importer.process_due()
    assert await attempts(offline) == [1, 0, 0, 0, 0]
    assert 4.0 <= wait <= 5.0
    service = offline.health.services["qbittorrent"]
    assert service.state == "down"
    assert "cannot reach qBittorrent" in (service.last_error or "")
    assert await offline.importer.process_due() == pytest.approx(wait, abs=0.01)  # still paused: no new try
    assert await attempts(offline) == [1, 0, 0, 0, 0]
    assert await offline.inbox.pending_count() == 5


async def test_after_the_pause_it_tries_again_and_backs_off_further(
    offline: Runtime, clock: FakeClock
) -> None:
    await offline.inbox.add("a" * 40, {}, "webhook", clock.now())
    first = await offline.importer.process_due()
    clock.advance(first)
    second = await offline.importer.process_due()
    assert second > first
    rows: list[Any] = await offline.store.fetchall("SELECT attempts, last_error FROM hook_inbox")
    assert rows[0][0] == 2
    assert "cannot reach qBittorrent" in rows[0][1]


async def test_an_unexpected_error_whose_retry_cannot_be_written_stops_only_that_import(
    config_file: Callable[..., Path], clock: FakeClock, tmp_path: Path
) -> None:
    """An odd row (a record whose book no longer parses) raises where nothing expects it, and the
    database refuses the retry's write as well: the inbox worker says so and goes on."""
    info_hash = "c" * 40
    sim = QbittorrentWebUI(clock=clock.now)
    sim.torrents[info_hash] = SimTorrent(
        info_hash, "Odd Book", [("Odd Book/odd.m4b", 1000)], str(tmp_path / "torrents"), "mamd", {"mamd"},
        "http://127.0.0.1:9/announce", clock.now(), 1.0, completed_on=clock.now(), ticked_at=clock.now(),
    )  # fmt: skip
    async with serving(sim.app) as url, aiohttp.ClientSession() as session:
        path = config_file({"qbittorrent": {"url": url, "username": sim.username, "password": sim.password}})
        runtime = Runtime(load_config(path), path, clock=clock)
        await runtime.store.open()
        try:
            runtime.connect(session)
            await runtime.torrents.seen(info_hash, "Odd Book", clock.now())
            async with runtime.store.transaction() as db:
                await db.execute("UPDATE torrents SET meta = '{not json' WHERE hash = ?", (info_hash,))
            await runtime.inbox.add(info_hash, {}, "webhook", clock.now())
            writer = runtime.store._writer  # the write is refused as a full or read-only disk refuses it
            assert writer is not None
            await writer.execute("PRAGMA query_only = ON")
            await runtime.importer.process_due()  # does not raise
            assert runtime.store.problem is not None  # the refused write is known …
            assert await runtime.importer.process_due() == 5.0  # … and the worker waits for the database
            assert await runtime.inbox.pending_count() == 1  # the completion is kept for then
        finally:
            await runtime.store.close()
