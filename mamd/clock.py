"""Time as an input: the daemon reads the wall clock and sleeps only through a `Clock`.

Tests hand in a clock they move by hand, so nothing in them waits for real time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (wall-clock time, UTC)."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def iso(timestamp: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with a `Z`, as every API answer shows time."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def sleep_or_wake(clock: Clock, seconds: float, wake: asyncio.Event) -> None:
    """Sleep `seconds` of `clock` time, or less when `wake` is set meanwhile."""
    current = asyncio.current_task()
    owner = current.get_name() if current is not None else "sleep"
    # named after the task that sleeps, so a clock (and a person reading a task dump) can tell whose it is
    sleeper = asyncio.create_task(clock.sleep(seconds), name=f"{owner}.sleep")
    waker = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, waker):
            task.cancel()
        await asyncio.gather(sleeper, waker, return_exceptions=True)
