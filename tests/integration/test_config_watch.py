"""Watching the configuration file: inotify on the event loop, and the watchfiles fallback."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mamd.config import load_config
from mamd.inotify import FolderWatch
from mamd.reload import Reloader
from mamd.runtime import Runtime
from tests.support.clock import FakeClock
from tests.support.configs import write_config

QUIET, LONGEST = 0.03, 0.4


@pytest.fixture
async def watch(tmp_path: Path) -> AsyncIterator[FolderWatch]:
    watcher = FolderWatch([tmp_path], names={"mamd.yaml"})
    watcher.start()
    yield watcher
    watcher.close()


async def next_changes(watch: FolderWatch, limit_s: float = 2.0) -> set[str]:
    return await asyncio.wait_for(watch.changes(QUIET, LONGEST), limit_s)


async def test_a_save_in_place_is_reported(tmp_path: Path, watch: FolderWatch) -> None:
    (tmp_path / "mamd.yaml").write_text("a: 1\n")
    assert await next_changes(watch) == {"mamd.yaml"}


async def test_a_save_by_rename_is_reported(tmp_path: Path, watch: FolderWatch) -> None:
    (tmp_path / ".mamd.yaml.tmp").write_text("a: 2\n")
    os.replace(tmp_path / ".mamd.yaml.tmp", tmp_path / "mamd.yaml")
    assert await next_changes(watch) == {"mamd.yaml"}


async def test_other_files_in_the_folder_neither_report_nor_prolong_a_burst(
    tmp_path: Path, watch: FolderWatch
) -> None:
    """A log written beside the configuration all the time must not delay a reload."""
    noisy = tmp_path / "mamd.log"
    stop = asyncio.Event()

    async def keep_writing() -> None:
        with noisy.open("a") as log:
            while not stop.is_set():
                log.write("line\n")
                log.flush()
                await asyncio.sleep(0.005)

    writer = asyncio.create_task(keep_writing())
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(watch.changes(QUIET, LONGEST), 0.3)
        started = time.monotonic()
        (tmp_path / "mamd.yaml").write_text("a: 3\n")
        assert await next_changes(watch) == {"mamd.yaml"}
        assert time.monotonic() - started < LONGEST  # ended by quiet, not by the longest burst
    finally:
        stop.set()
        await writer


async def test_a_folder_that_disappears_is_watched_again_when_it_returns(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    watcher = FolderWatch([folder], names={"mamd.yaml"})
    watcher.start()
    try:
        shutil.rmtree(folder)
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(watcher.changes(QUIET, LONGEST, retry_s=0.05))
        await asyncio.sleep(0.1)
        folder.mkdir()
        await asyncio.sleep(0.2)  # the retry re-adds the watch
        (folder / "mamd.yaml").write_text("a: 4\n")
        assert await asyncio.wait_for(waiting, 2) == {"mamd.yaml"}
        assert watcher.watching == [str(folder)]
    finally:
        watcher.close()


async def test_a_missing_folder_is_refused_at_first_and_not_an_error(tmp_path: Path) -> None:
    watcher = FolderWatch([tmp_path / "nowhere"], names={"mamd.yaml"})
    try:
        assert watcher.watching == []
    finally:
        watcher.close()


@pytest.mark.parametrize("prefer_inotify", [True, False], ids=["inotify", "watchfiles"])
async def test_the_reloader_applies_an_edit_with_either_watcher(
    tmp_path: Path, clock: FakeClock, prefer_inotify: bool
) -> None:
    path = write_config(tmp_path)
    runtime = Runtime(load_config(path), path, clock=clock)
    applied = asyncio.Event()

    def apply(old: object, new: object) -> None:
        applied.set()

    reloader = Reloader(runtime, apply)
    runner = asyncio.create_task(reloader.run())
    watcher = asyncio.create_task(reloader.watch(prefer_inotify=prefer_inotify))
    try:
        await asyncio.sleep(0.3)  # let the watcher set up its watches
        edited = path.read_text().replace("backups: 2", "backups: 3")
        path.write_text(edited)
        await asyncio.wait_for(applied.wait(), 5)
        assert runtime.config.state.backups == 3
        assert runtime.config_state.generation == 2
    finally:
        reloader.stop_event.set()
        for task in (watcher, runner):
            task.cancel()
        await asyncio.gather(watcher, runner, return_exceptions=True)
