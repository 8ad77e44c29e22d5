"""The daemon of the soak benchmark: mamd's own `Daemon`, on a clock that jumps ahead when it only waits.

`python -m tests.bench.soak_daemon CONFIG CLOCK_FILE END STATS_FILE` runs `mamd run` in this process
with a `LeapClock` starting at the time in CLOCK_FILE. Whenever every job, the scheduler and the
importer wait for nothing but this clock, the clock leaps to the next time something is due (a job,
a retry, MAM's request spacing), so months pass in minutes while mamd does all it would do in them.
The clock's time is kept in CLOCK_FILE (8 bytes, a double) for the simulators in the benchmark's own
process; once it reaches END a second double there turns 1, and the daemon keeps serving, its clock
still, until it is stopped. Once a day of that time, STATS_FILE gets a line of what mamd holds in
memory, to find what grows.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import json
import mmap
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mamd.daemon import Daemon
from mamd.importing.worker import IDLE_WAKE_S
from mamd.runtime import Runtime
from mamd.schedule import MAX_SLEEP_S

DAY = 86400.0
BUSY_POLL_S = 0.005  # while someone is at work, look again this often at least (threads need the GIL)
STUCK_S = 1.0  # waiting longer than this for quiet, time moves on anyway (a lock only time releases)
SHAPE = struct.Struct("<dd")  # the clock's time, then 1.0 once the end is reached


@dataclass(order=True)
class Sleeper:
    wake_at: float
    order: int
    seconds: float = field(compare=False)
    owner: str = field(compare=False)
    future: asyncio.Future[None] = field(compare=False)


class LeapClock:
    """Time that moves only when `leap_to` says; `sleep` waits for it. Its time is shared in `shared`."""

    def __init__(self, start: float, shared: mmap.mmap) -> None:
        self.time = start
        self.touched = 0  # every call counts: the daemon at work reads the time
        self._shared = shared
        self._sleepers: list[Sleeper] = []
        self._order = 0
        self.fell_asleep = asyncio.Event()  # set whenever someone starts sleeping: the end of a busy spell
        self._publish(done=False)

    def now(self) -> float:
        self.touched += 1
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.touched += 1
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        task = asyncio.current_task()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._order += 1
        owner = task.get_name() if task is not None else ""
        heapq.heappush(self._sleepers, Sleeper(self.time + seconds, self._order, seconds, owner, future))
        self.fell_asleep.set()
        await future

    def waiting(self) -> list[Sleeper]:
        self._sleepers = [s for s in self._sleepers if not s.future.done()]
        heapq.heapify(self._sleepers)
        return list(self._sleepers)

    def leap_to(self, when: float) -> None:
        self.time = max(self.time, when)
        self._publish(done=False)
        while self._sleepers and self._sleepers[0].wake_at <= self.time:
            sleeper = heapq.heappop(self._sleepers)
            if not sleeper.future.done():
                sleeper.future.set_result(None)

    def finish(self) -> None:
        self._publish(done=True)

    def _publish(self, done: bool) -> None:
        self._shared[: SHAPE.size] = SHAPE.pack(self.time, 1.0 if done else 0.0)


def _busy(runtime: Runtime, clock: LeapClock) -> list[str]:
    """Who is at work, not asleep on the clock: running jobs, the scheduler, the importer."""
    owners = {sleeper.owner for sleeper in clock.waiting()}
    busy = [job for job in runtime.scheduler.running() if f"job:{job}" not in owners]
    return busy + [loop for loop in ("scheduler", "importer") if f"{loop}.sleep" not in owners]


async def _quiet(runtime: Runtime, clock: LeapClock) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + STUCK_S
    while loop.time() < give_up:
        for _ in range(3):
            await asyncio.sleep(0)
        if not _busy(runtime, clock):
            touched = clock.touched
            for _ in range(3):
                await asyncio.sleep(0)
            if clock.touched == touched and not _busy(runtime, clock):
                return
        clock.fell_asleep.clear()
        with contextlib.suppress(TimeoutError):  # a thread's or a socket's answer may end it too
            await asyncio.wait_for(clock.fell_asleep.wait(), BUSY_POLL_S)


def _next(runtime: Runtime, clock: LeapClock, end: float) -> float:
    """The next time something is due: the scheduler's and the importer's idle re-checks do not count."""
    waiting = clock.waiting()
    times = [end]
    for sleeper in waiting:
        if sleeper.owner == "scheduler.sleep" and sleeper.seconds >= MAX_SLEEP_S - 1e-6:
            continue
        if sleeper.owner == "importer.sleep" and sleeper.seconds >= IDLE_WAKE_S - 1e-6:
            continue
        times.append(sleeper.wake_at)
    times += [
        s.next_due_at
        for s in runtime.scheduler.states.values()
        if not s.running and s.next_due_at is not None
    ]
    target = min(times)
    if target <= clock.time and waiting:  # due now, its waker asleep: wake the first sleeper
        target = max(clock.time, waiting[0].wake_at)
    return min(target, end)


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _memory(runtime: Runtime, clock: LeapClock, day: int) -> dict[str, Any]:
    mam = runtime.mam
    return {
        "day": day,
        "wall_s": round(time.monotonic(), 3),
        "rss_kib": _rss_kib(),
        "python_objects": len(gc.get_objects()),
        "asyncio_tasks": len(asyncio.all_tasks()),
        "background_tasks": len(runtime.tasks),
        "redactor_secrets": len(runtime.redactor.secrets),
        "mam_request_log": len(mam.requests) if mam is not None else 0,
        "health_problems": len(runtime.health.problems()),
        "clock_sleepers": len(clock.waiting()),
        "scheduler_counts": len(runtime.scheduler.counts),
        "counters": len(runtime.counters),
    }


async def _drive(daemon: Daemon, clock: LeapClock, end: float, stats: Path) -> None:
    while True:  # the daemon makes its runtime and opens its database as it starts
        runtime = daemon.runtime
        if runtime is not None and runtime.store.is_open:
            break
        await asyncio.sleep(0.01)
    start = clock.time
    next_day = 1
    with stats.open("a") as out:
        while clock.time < end:
            await _quiet(runtime, clock)
            clock.leap_to(_next(runtime, clock, end))
            if clock.time >= start + next_day * DAY:
                out.write(json.dumps(_memory(runtime, clock, next_day)) + "\n")
                out.flush()
                next_day += 1
    await _quiet(runtime, clock)
    clock.finish()


async def main(config: Path, clock_file: Path, end: float, stats: Path) -> int:
    with clock_file.open("r+b") as handle, mmap.mmap(handle.fileno(), SHAPE.size) as shared:
        start, _ = SHAPE.unpack(shared[: SHAPE.size])
        clock = LeapClock(start, shared)
        daemon = Daemon(config, clock=clock)
        driver = asyncio.create_task(_drive(daemon, clock, end, stats))
        try:
            return await daemon.serve()
        finally:
            driver.cancel()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4]))))
