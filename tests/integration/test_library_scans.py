"""Confirming imports in Audiobookshelf (the simulator on loopback): found by path wherever they are
listed, owned at once, and given up on after a bounded number of growing waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mamd.config import load_config
from mamd.domain.book import BookMeta
from mamd.domain.discovery import OwnedIndex, WantSpec, series_want_key
from mamd.importing.scans import CONFIRM, CONFIRM_ROUNDS, IDLE_S, OUTAGE, poll_delay
from mamd.jobs import library_sync
from mamd.runtime import Runtime
from mamd.schedule import JobContext, JobState
from mamd.sim.abs.app import AbsSimulator
from mamd.web.status import status_document
from tests.support.clock import FakeClock
from tests.support.configs import write_config

THRONE = "Naomi Novik/Temeraire/2 - Throne of Jade"
HASH = "7" * 40


def write_book(root: Path, folder: str) -> None:
    (root / folder).mkdir(parents=True)
    (root / folder / "book.m4b").write_bytes(b"\0" * 4096)


@pytest.fixture
async def scanning(tmp_path: Path, aiohttp_server: Any) -> AsyncIterator[Callable[..., Any]]:
    sessions: list[tuple[Runtime, aiohttp.ClientSession]] = []

    async def make(served: Path, configured: Path | None = None) -> tuple[Runtime, AbsSimulator, FakeClock]:
        sim = AbsSimulator.from_folder(served, scan_delay=0.01)
        server = await aiohttp_server(sim.app)
        path = write_config(
            tmp_path,
            {
                "audiobookshelf": {
                    "url": str(server.make_url("")),
                    "api_key": sim.api_key,
                    "path": str(configured or served),
                }
            },
        )
        clock = FakeClock()
        runtime = Runtime(load_config(path), path, clock=clock)
        await runtime.store.open()
        session = aiohttp.ClientSession()
        runtime.connect(session)
        sessions.append((runtime, session))
        return runtime, sim, clock

    yield make
    for runtime, session in sessions:
        await session.close()
        await runtime.store.close()


async def imported(runtime: Runtime, folder: str, torrent_hash: str = HASH) -> None:
    now = runtime.clock.now()
    await runtime.torrents.seen(torrent_hash, "Temeraire 2 - Throne of Jade", now)
    book = BookMeta("Throne of Jade", ("Naomi Novik",), series="Temeraire", position="2", source="tags")
    await runtime.torrents.imported(torrent_hash, book, folder, now)


def test_rounds_that_miss_a_book_wait_longer_each_time_then_stop() -> None:
    delays = [CONFIRM.next_try(n, 0.0) for n in range(1, CONFIRM_ROUNDS + 1)]
    assert delays == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, None]
    assert [OUTAGE.delay(n) for n in (1, 2, 3, 7, 50)] == [1.0, 2.0, 4.0, 60.0, 60.0]
    assert poll_delay(0) == pytest.approx(0.1)
    assert poll_delay(100) == 2.0


async def test_a_book_is_found_by_its_folder_however_many_books_were_added_after_it(
    tmp_path: Path, scanning: Callable[..., Any]
) -> None:
    library = tmp_path / "library"
    write_book(library, THRONE)
    runtime, sim, _ = await scanning(library)
    await imported(runtime, THRONE)
    await asyncio.sleep(0.01)
    for n in range(450):  # the user's own batch, listed before the import when newest come first
        sim.add_item(f"Later Book {n}", authors=["Somebody Else"])
    assert await runtime.scans.round() == IDLE_S
    [record] = await runtime.torrents.all()
    assert record.abs_confirmed_at is not None
    assert [r.requested_at for r in sim.scan_requests]  # it asked for a scan first


async def test_a_confirmed_book_is_owned_at_once_without_a_library_sync(
    tmp_path: Path, scanning: Callable[..., Any]
) -> None:
    library = tmp_path / "library"
    write_book(library, THRONE)
    runtime, _, _ = await scanning(library)
    await imported(runtime, THRONE)
    gap = WantSpec(series_want_key("Temeraire", "2"), "series_gap", "Naomi Novik", None, "Temeraire", "2")
    assert not OwnedIndex(await runtime.library.books()).owns(gap)
    await runtime.scans.round()
    books = await runtime.library.books()
    assert [(b.title, b.authors, [(s.name, s.sequence) for s in b.series]) for b in books] == [
        ("Throne of Jade", ("Naomi Novik",), [("Temeraire", "2")])
    ]
    assert OwnedIndex(books).owns(gap)


async def test_an_import_never_listed_is_asked_about_with_growing_waits_then_marked_failed(
    tmp_path: Path, scanning: Callable[..., Any]
) -> None:
    served, elsewhere = tmp_path / "library", tmp_path / "not-the-library"
    served.mkdir()
    write_book(elsewhere, THRONE)  # linked where Audiobookshelf does not look
    runtime, sim, clock = await scanning(served, configured=elsewhere)
    await imported(runtime, THRONE)
    waits = []
    for _ in range(CONFIRM_ROUNDS):
        wait = await runtime.scans.round()
        waits.append(wait)
        clock.advance(wait)
    assert waits == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, IDLE_S]
    scans = len(sim.scan_requests)
    assert scans == CONFIRM_ROUNDS
    assert await runtime.scans.round() == IDLE_S  # nothing more is asked
    assert len(sim.scan_requests) == scans

    status = await status_document(runtime)
    [failed] = status["imports"]["not_in_library"]
    assert failed["folder"] == THRONE
    assert "did not list" in failed["reason"]
    assert "audiobookshelf.path" in failed["reason"]
    assert status["imports"]["waiting_for_library"] == 0
    assert "imports.not_in_library" in [p["id"] for p in status["problems"]]
    [event] = [e for e in await runtime.events.recent(20) if e.kind == "import.not_in_library"]
    assert "mamd run-job library_sync" in event.message

    await runtime.scans.scan_again()  # a reload, a new hook or a run-job takes it up again
    assert await runtime.scans.round() == 5.0
    assert len(sim.scan_requests) == scans + 1
    assert (await status_document(runtime))["imports"]["waiting_for_library"] == 1


async def test_a_reload_and_a_sync_by_hand_take_up_an_import_never_listed_and_mamds_own_sync_does_not(
    tmp_path: Path, scanning: Callable[..., Any]
) -> None:
    served, elsewhere = tmp_path / "library", tmp_path / "not-the-library"
    served.mkdir()
    write_book(elsewhere, THRONE)
    runtime, _, clock = await scanning(served, configured=elsewhere)
    await imported(runtime, THRONE)

    async def given_up() -> None:
        for _ in range(CONFIRM_ROUNDS):
            clock.advance(await runtime.scans.round())
        assert [t.import_path for t in await runtime.torrents.not_in_library()] == [THRONE]

    async def sync(by_hand: bool) -> None:
        state = JobState("library_sync")
        await library_sync.run(runtime, JobContext("library_sync", 0, "manual", clock, state, by_hand))

    await given_up()
    await sync(by_hand=False)  # mamd's own: Audiobookshelf back after an outage, say
    assert await runtime.torrents.not_in_library() != []
    await sync(by_hand=True)  # `mamd run-job library_sync`
    assert await runtime.torrents.not_in_library() == []

    await given_up()
    config = runtime.config
    await runtime.config_changed(config, config)  # what a reload that changed something runs
    assert await runtime.torrents.not_in_library() == []
    assert [t.import_path for t in await runtime.torrents.awaiting_scan()] == [THRONE]
