"""A clock that moves only when a test says so."""

from __future__ import annotations

import asyncio


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.time = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.time + seconds, future))
        await future

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose time has come."""
        self.time += seconds
        waiting = []
        for wake_at, future in self._sleepers:
            if future.done():
                continue
            if wake_at <= self.time:
                future.set_result(None)
            else:
                waiting.append((wake_at, future))
        self._sleepers = waiting

    @property
    def sleepers(self) -> int:
        return sum(1 for _, future in self._sleepers if not future.done())


class InstantClock(FakeClock):
    """A clock whose sleeps pass at once, moving its time on: for retries and backoffs under test."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        super().__init__(start)
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)
