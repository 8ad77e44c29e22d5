"""The owners of background work: `TaskOwner` for short tasks, `Loops` for the daemon's long-running loops.

Short background work goes through `TaskOwner.spawn()`, which keeps a reference to every task and
logs every failure. The long-running loops (scheduler, importer, library scans, reloads, …) live in
the daemon's TaskGroup, each under `Loops.run()`: one unexpected error in a loop is logged, shown
in `/status`, and the loop starts again after a backoff, instead of ending the TaskGroup and with
it the daemon.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from mamd.backoff import Backoff
from mamd.clock import iso
from mamd.health import Health
from mamd.logs import get_logger

log = get_logger(__name__)

RESTART = Backoff(first_s=1.0, max_s=300.0)  # a loop that keeps failing is started again at most every 5 min
STEADY_S = 60.0  # a loop that ran this long after a restart counts as well again


class TaskOwner:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task.failed", task=task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, grace_s: float) -> None:
        """Let running tasks finish for up to `grace_s` seconds, then cancel and await the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


@dataclass
class LoopState:
    name: str
    state: Literal["running", "restarting", "ended"] = "running"
    restarts: int = 0
    last_error: str | None = None
    last_error_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "last_error_at": iso(self.last_error_at),
        }


class Loops:
    """Runs each long-running loop, starting it again (with `RESTART` backoff) when it fails."""

    def __init__(
        self,
        health: Health,
        redact: Callable[[str], str] = str,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        steady_s: float = STEADY_S,
    ) -> None:
        self._health = health
        self._redact = redact
        self._sleep = sleep  # real time: a loop's restart is about the process, not the schedule
        self._steady_s = steady_s
        self.states: dict[str, LoopState] = {}

    def section(self) -> dict[str, dict[str, Any]]:
        """The `loops` section of `/status`: each long-running loop's state, by name."""
        return {name: state.as_dict() for name, state in self.states.items()}

    async def run(self, name: str, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `loop()` until it returns or this is cancelled; restart it whenever it raises."""
        state = self.states[name] = LoopState(name)
        failures = 0
        while True:
            task = asyncio.create_task(loop(), name=name)
            started = time.monotonic()
            try:
                if failures:
                    await asyncio.wait({task}, timeout=self._steady_s)
                    if not task.done():
                        failures = 0
                        state.state = "running"
                        self._health.clear(f"loop.{name}")
                        log.info("loop.steady", loop=name, restarts=state.restarts)
                await task
            except asyncio.CancelledError:
                task.cancel()
                raise
            except Exception as exc:
                failures = 1 if time.monotonic() - started > self._steady_s else failures + 1
                wait = RESTART.delay(failures)
                state.state, state.restarts = "restarting", state.restarts + 1
                state.last_error = self._redact(f"{type(exc).__name__}: {exc}")
                state.last_error_at = time.time()
                log.error("loop.failed", loop=name, error=state.last_error, restart_in_s=wait, exc_info=exc)
                self._health.report(
                    f"loop.{name}",
                    "warning",
                    f"{name} failed ({state.last_error}); started again in {wait:g} s",
                )
                await self._sleep(wait)
                continue
            state.state = "ended"
            return
