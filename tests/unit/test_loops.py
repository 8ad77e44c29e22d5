"""mamd/tasks.py `Loops`: a long-running loop that fails is shown and started again, never ending the rest."""

from __future__ import annotations

import asyncio

import pytest

from mamd.health import Health
from mamd.tasks import RESTART, Loops
from tests.support.clock import FakeClock


class Recorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


async def test_a_loop_that_fails_is_started_again_after_a_growing_wait_and_shown() -> None:
    health, recorder = Health(FakeClock()), Recorder()
    loops = Loops(health, redact=lambda text: text.replace("secret", "***"), sleep=recorder.sleep)
    runs = 0

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs <= 3:
            raise KeyError(f"bad row {runs} with a secret")

    await asyncio.wait_for(loops.run("importer", flaky), 5)
    assert runs == 4
    assert recorder.waits == [RESTART.delay(1), RESTART.delay(2), RESTART.delay(3)]
    state = loops.states["importer"].as_dict()
    assert (state["state"], state["restarts"]) == ("ended", 3)
    assert state["last_error"] == "KeyError: 'bad row 3 with a ***'"
    [problem] = health.problems()
    assert problem.id == "loop.importer"
    assert "importer failed (KeyError" in problem.summary


async def test_a_loop_that_stays_up_after_a_restart_is_well_again() -> None:
    health, recorder = Health(FakeClock()), Recorder()
    loops = Loops(health, sleep=recorder.sleep, steady_s=0.05)
    runs = 0
    release = asyncio.Event()

    async def once_broken() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("boom")
        await release.wait()

    task = asyncio.create_task(loops.run("scheduler", once_broken))
    for _ in range(200):
        if loops.states.get("scheduler") and loops.states["scheduler"].state == "running" and runs == 2:
            break
        await asyncio.sleep(0.01)
    assert health.problems() == []
    assert loops.states["scheduler"].restarts == 1
    release.set()
    await asyncio.wait_for(task, 5)


async def test_cancelling_the_supervisor_cancels_the_loop() -> None:
    loops = Loops(Health(FakeClock()))
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    task = asyncio.create_task(loops.run("reloader", forever))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()
