"""A reload cannot wedge or stop the daemon: whatever happens, the last good configuration stays."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mamd import detached
from mamd.config import Config, load_config
from mamd.reload import Reloader
from mamd.runtime import Runtime
from tests.support.clock import FakeClock
from tests.support.configs import write_config


def make_runtime(path: Path, clock: FakeClock) -> Runtime:
    return Runtime(load_config(path), path, clock=clock)


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


async def test_a_reload_whose_apply_raises_keeps_the_running_configuration(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = write_config(tmp_path)
    runtime = make_runtime(path, clock)
    calls: list[tuple[int, int]] = []

    def apply(old: Config, new: Config) -> None:
        calls.append((old.state.backups, new.state.backups))
        if new.state.backups == 3:
            raise RuntimeError("the logging handler could not be replaced")

    reloader = Reloader(runtime, apply)
    edit(path, "backups: 2", "backups: 3")
    assert await reloader.reload("file") is False
    assert runtime.config.state.backups == 2
    assert runtime.config_state.generation == 1
    assert "cannot be applied: RuntimeError: the logging handler could not be replaced" in (
        runtime.config_state.last_error or ""
    )
    assert calls == [(2, 3), (3, 2)]  # and then put back
    edit(path, "backups: 3", "backups: 4")
    assert await reloader.reload("file") is True
    assert (runtime.config.state.backups, runtime.config_state.generation) == (4, 2)
    assert runtime.config_state.last_error is None


async def test_a_reload_that_fails_unexpectedly_keeps_the_reloader_running(
    tmp_path: Path, clock: FakeClock
) -> None:
    """An error outside the loader (here in applying) neither ends `run()` nor the next reload."""
    path = write_config(tmp_path)
    runtime = make_runtime(path, clock)
    applied = asyncio.Event()

    def apply(old: Config, new: Config) -> None:
        if new.state.backups == 3:
            raise ValueError("boom")
        if new.state.backups == 5:
            applied.set()

    reloader = Reloader(runtime, apply)
    runner = asyncio.create_task(reloader.run())
    try:
        edit(path, "backups: 2", "backups: 3")
        reloader.request("signal")
        for _ in range(500):
            if runtime.config_state.last_error:
                break
            await asyncio.sleep(0.01)
        assert "ValueError: boom" in (runtime.config_state.last_error or "")
        edit(path, "backups: 3", "backups: 5")
        reloader.request("signal")
        await asyncio.wait_for(applied.wait(), 5)
        assert runtime.config.state.backups == 5
        assert not runner.done()
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
async def test_a_special_file_saved_over_the_configuration_is_rejected_at_once(
    tmp_path: Path, clock: FakeClock, kind: str
) -> None:
    path = write_config(tmp_path)
    runtime = make_runtime(path, clock)
    reloader = Reloader(runtime, lambda old, new: None)
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    started = time.monotonic()
    assert await asyncio.wait_for(reloader.reload("file"), 5) is False
    assert time.monotonic() - started < 2.5  # refused on fstat, not by the read's time limit
    assert "not a regular file" in (runtime.config_state.last_error or "")
    assert runtime.config_state.generation == 1


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    yield path
    with contextlib.suppress(OSError):  # release a thread still blocked opening it
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


async def test_a_blocked_call_is_abandoned_and_never_blocks_the_loop(fifo: Path) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    try:
        with pytest.raises(detached.Abandoned):
            await detached.run(lambda: fifo.read_bytes(), "blocked-read", 0.3)
    finally:
        ticker.cancel()
    assert ticks >= 5  # the loop turned while the read was blocked


async def test_cancelling_a_blocked_call_returns_at_once(fifo: Path) -> None:
    """What shutdown does to a reload stuck in a read: it must not wait for the read."""
    waiting = asyncio.create_task(detached.run(lambda: fifo.read_bytes(), "blocked-read", 60))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert time.monotonic() - started < 1


async def test_a_call_that_finishes_gives_its_result_or_its_error() -> None:
    assert await detached.run(lambda: 42, "answer", 5) == 42

    def fails() -> int:
        raise OSError("the disk is gone")

    with pytest.raises(OSError, match="the disk is gone"):
        await detached.run(fails, "failing", 5)


async def test_a_load_that_does_not_finish_in_time_is_abandoned_and_shown_as_the_last_error(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No time at all to load: the reload gives up at once, as it would after 10 s on a hung mount."""
    path = write_config(tmp_path)
    runtime = make_runtime(path, clock)
    reloader = Reloader(runtime, lambda old, new: None)
    edit(path, "backups: 2", "backups: 3")
    monkeypatch.setattr("mamd.reload.LOAD_TIMEOUT_S", 0)
    assert await reloader.reload("file") is False
    assert "reading the configuration did not finish within 0 s and was abandoned" in (
        runtime.config_state.last_error or ""
    )
    assert (runtime.config.state.backups, runtime.config_state.generation) == (2, 1)
    monkeypatch.undo()
    assert await reloader.reload("file") is True
    assert runtime.config.state.backups == 3
