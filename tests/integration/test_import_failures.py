"""Imports that cannot be done end `failed` with their reason, and come back only when something changed.

A book is grabbed from the MAM simulator into a real qbittorrent-nox with its data in place; the
inbox worker runs on an `InstantClock`, so its backoff passes at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mamd.domain.discovery import WantSpec, series_want_key
from mamd.importing.worker import RETRY
from mamd.jobs import reconcile
from mamd.sim.mam.catalogue import GOOD
from mamd.store.wanted import WantedBook
from mamd.web.status import status_document
from tests.support.mam_env import Env
from tests.support.qbittorrent import api_client, wait_complete

pytestmark = pytest.mark.qbittorrent

HERO = WantSpec(
    series_want_key("Mistborn", "3"), "series_gap", "Brandon Sanderson", "The Hero of Ages", "Mistborn", "3"
)
FOLDER = Path("Brandon Sanderson/Mistborn/3 - The Hero of Ages")


async def grabbed_and_complete(env: Env) -> tuple[WantedBook, str]:
    env.sim.write_payload(GOOD["The Hero of Ages"], env.qbt.save_path)
    [book] = await env.want(HERO)
    await env.account()
    assert (await env.search())["grabbed"] == 1
    [record] = await env.runtime.torrents.all()
    with api_client(env.qbt) as client:
        await asyncio.to_thread(wait_complete, client, record.hash)
    return book, record.hash


async def work_through_the_inbox(env: Env) -> int:
    """Run the inbox worker until nothing is pending, its waits passing at once; the rounds it took."""
    for rounds in range(1, 200):
        wait = await env.runtime.importer.process_due()
        if await env.runtime.inbox.pending_count() == 0:
            return rounds
        env.clock.advance(wait)
    raise AssertionError("the inbox never emptied: an import is tried for ever")


def library_of(env: Env) -> Path:
    return Path(env.runtime.config.audiobookshelf.path)


async def test_an_import_that_keeps_failing_ends_failed_and_a_run_by_hand_takes_it_up(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env()
    book, torrent_hash = await grabbed_and_complete(env)
    library_of(env).rmdir()  # not mounted
    assert not library_of(env).exists()
    await env.runtime.inbox.add(torrent_hash, {}, "webhook", env.clock.now())

    assert await work_through_the_inbox(env) == RETRY.give_up_after
    [row] = await env.runtime.store.fetchall("SELECT state, attempts, last_error FROM hook_inbox")
    assert (row[0], row[1]) == ("failed", RETRY.give_up_after)
    assert "does not exist or is not mounted" in row[2]
    failed = await env.book(book)
    assert failed.state == "failed"
    assert (failed.state_reason or "").startswith("import failed: the library folder")
    record = await env.runtime.torrents.get(torrent_hash)
    assert record is not None
    assert record.state == "failed"
    [event] = await env.events("import.failed")
    assert "The Hero of Ages" in event.message
    failures = (await status_document(env.runtime))["failed"]
    assert [t["hash"] for t in failures["imports"]] == [torrent_hash]
    assert "does not exist or is not mounted" in failures["imports"][0]["reason"]
    assert [b["id"] for b in failures["books"]] == [book.id]

    await env.reconcile()  # on its timer: a failed import stays failed
    assert await env.runtime.inbox.pending_count() == 0

    library_of(env).mkdir()
    result = await reconcile.run(env.runtime, env.context("reconcile", "manual"))  # `mamd run-job reconcile`
    assert result["queued_for_import"] == 1
    await work_through_the_inbox(env)
    assert (library_of(env) / FOLDER).is_dir()
    assert (await env.book(book)).state == "importing"


async def test_a_book_whose_import_is_refused_for_good_is_failed_and_a_reload_takes_it_up(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env()
    book, torrent_hash = await grabbed_and_complete(env)
    taken = library_of(env) / FOLDER
    taken.mkdir(parents=True)
    (taken / "someone else's.mp3").write_bytes(b"\0" * 10)
    await env.runtime.inbox.add(torrent_hash, {}, "webhook", env.clock.now())

    assert await work_through_the_inbox(env) == 1  # not tried again: waiting would not help
    failed = await env.book(book)
    assert failed.state == "failed"
    assert "already exists and holds other files" in (failed.state_reason or "")
    assert (await env.search())["searched"] == 0  # its torrent is there: it is not searched again

    taken.rename(taken.with_name("moved aside"))
    config = env.runtime.config
    await env.runtime.config_changed(config, config)  # what a reload that changed something runs
    await work_through_the_inbox(env)
    assert (await env.book(book)).state == "importing"
    assert {p.name for p in taken.iterdir()} >= {"The Hero of Ages.m4b"}
