"""Jobs by name on intervals: when each is due, and running each at most once at a time.

"When next" is the pure function `next_due` of (the last run, the interval, the start of
the daemon, now). Last runs live in the database, so a restart neither re-fires a job that
just ran nor forgets one that is overdue; a run the daemon died under counts as not done.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mamd import memory
from mamd.backoff import Backoff
from mamd.clients.errors import UpstreamError
from mamd.clock import Clock, iso, sleep_or_wake
from mamd.logs import get_logger
from mamd.store import Events, JobRuns, StoreError
from mamd.tasks import TaskOwner

log = get_logger(__name__)

JITTER_FRACTION = 0.05  # up to 5 % of the interval …
JITTER_MAX_S = 300.0  # … and never more than five minutes
FIRST_RUN_DELAY_S = (2.0, 12.0)  # jobs that never ran start this long after the daemon, staggered
RETRY_BASE_S = 300.0  # a failed run is retried after 5 min, 10 min, 20 min … up to the interval
CLOCK_SKEW_S = 60.0
MAX_SLEEP_S = 30.0  # re-check at least this often, so a wall-clock jump is noticed


class JobCannotRun(Exception):
    """A job cannot do its work for a reason the message gives and a person can fix (not a bug)."""


EXPECTED_FAILURES = (UpstreamError, StoreError, JobCannotRun)
MAX_CAUSE_CHARS = 400


def _cause(exc: BaseException) -> str:
    """The failure as one line: its message (an upstream error names its service), cut to a length."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= MAX_CAUSE_CHARS else text[: MAX_CAUSE_CHARS - 1] + "…"


@dataclass(frozen=True)
class LastRun:
    started_at: float
    result: str  # ok | error | interrupted
    failures: int = 0  # consecutive failed runs ending with this one


def _fraction(*parts: object) -> float:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def jitter(job: str, anchor: float, interval: float) -> float:
    """A stable offset for one run: the same inputs give the same offset after a restart."""
    return _fraction(job, f"{anchor:.3f}") * min(interval * JITTER_FRACTION, JITTER_MAX_S)


def first_run_delay(job: str) -> float:
    low, high = FIRST_RUN_DELAY_S
    return low + _fraction(job) * (high - low)


def next_due(job: str, interval: float, last: LastRun | None, started_at: float, now: float) -> float | None:
    """When `job` should next run; None when it is turned off (interval 0). A time in the past means now."""
    if interval <= 0:
        return None
    if last is None or last.result == "interrupted":
        return started_at + first_run_delay(job)
    if last.started_at > now + CLOCK_SKEW_S:
        # the wall clock went back since that run: do not wait for a time that is far away now
        return now + interval
    wait = interval
    if last.result == "error" and last.failures > 0:
        # retried sooner, never later than the interval: a job that keeps failing still runs as often
        wait = Backoff(min(RETRY_BASE_S, interval), interval).delay(last.failures)
    return last.started_at + wait + jitter(job, last.started_at, interval)


class UnknownJob(KeyError):
    pass


class AlreadyRunning(RuntimeError):
    pass


@dataclass
class JobContext:
    """What a running job may use: its identity, the clock, and a way to report progress."""

    job: str
    run_id: int
    trigger: str
    clock: Clock
    state: JobState
    by_hand: bool = False  # asked for by a person (`mamd run-job`, the API), not by mamd itself

    def progress(self, **values: Any) -> None:
        self.state.progress.update(values)


JobFn = Callable[[JobContext], Awaitable[Mapping[str, Any] | None]]


@dataclass
class JobState:
    name: str
    running: bool = False
    again: bool = False  # asked for while it ran: it runs once more when this run ends
    run_id: int | None = None  # the run going on now
    last_run_id: int | None = None  # the newest run, finished or not
    last_started_at: float | None = None
    last_finished_at: float | None = None
    last_result: str | None = None
    last_error: str | None = None
    failures: int = 0
    next_due_at: float | None = None
    progress: dict[str, Any] = field(default_factory=dict)

    def last_run(self) -> LastRun | None:
        if self.last_started_at is None or self.last_result is None:
            return None
        return LastRun(self.last_started_at, self.last_result, self.failures)


class Scheduler:
    def __init__(
        self,
        jobs: Mapping[str, JobFn],
        runs: JobRuns,
        events: Events,
        clock: Clock,
        intervals: Callable[[], Mapping[str, float]],
        tasks: TaskOwner,
        redact: Callable[[str], str] = str,
        may_run: Callable[[], bool] = lambda: True,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.jobs = dict(jobs)
        self.states = {name: JobState(name) for name in jobs}
        self._runs, self._events, self._clock = runs, events, clock
        self._intervals, self._tasks, self._redact = intervals, tasks, redact
        self._may_run, self._on_change = may_run, on_change
        self._wake = asyncio.Event()
        self.started_at = clock.now()
        self.counts: Counter[tuple[str, str]] = Counter()  # (job, result) since start, for /metrics

    async def load(self) -> None:
        """Read each job's last run from the database; runs left unfinished become interrupted."""
        now = self._clock.now()
        interrupted = await self._runs.mark_interrupted(now)
        if interrupted:
            log.warning("job.interrupted_runs_recorded", count=interrupted)
        for name, run in (await self._runs.latest()).items():
            state = self.states.get(name)
            if state is None:
                continue
            state.run_id, state.last_started_at, state.last_finished_at = (
                run.id,
                run.started_at,
                run.finished_at,
            )
            state.last_result, state.last_error = run.result, run.error
        for name, failures in (await self._runs.failure_streaks()).items():
            if name in self.states:
                self.states[name].failures = failures
        self.refresh()

    def refresh(self) -> None:
        """Recompute every job's due time (after a run, a reload, or start-up)."""
        now = self._clock.now()
        intervals = self._intervals()
        for name, state in self.states.items():
            interval = intervals.get(name, 0.0)
            state.next_due_at = next_due(name, interval, state.last_run(), self.started_at, now)

    def wake(self) -> None:
        self.refresh()
        self._wake.set()

    def run_now(self, name: str, *, by_hand: bool = True) -> JobState:
        """Run `name` now; `by_hand=False` when mamd asks for it itself (a sync that found changes)."""
        state = self.states.get(name)
        if state is None:
            raise UnknownJob(name)
        if state.running:
            raise AlreadyRunning(name)
        self._start(name, "manual", by_hand=by_hand)
        return state

    def run_soon(self, name: str) -> None:
        """Run `name` now, or, when it is running, once more as soon as that run ends (its result may
        rest on what has just changed)."""
        state = self.states.get(name)
        if state is None:
            raise UnknownJob(name)
        if state.running:
            state.again = True
        else:
            self._start(name, "manual")

    async def run_forever(self) -> None:
        while True:
            now = self._clock.now()
            allowed = self._may_run()
            waits = [MAX_SLEEP_S]
            for name, state in self.states.items():
                if state.running or state.next_due_at is None:
                    continue
                if state.next_due_at <= now:
                    if allowed:
                        self._start(name, "schedule")
                    else:
                        waits.append(5.0)  # blocked (database unavailable): look again shortly
                else:
                    waits.append(state.next_due_at - now)
            self._wake.clear()
            await sleep_or_wake(self._clock, max(0.01, min(waits)), self._wake)

    def _start(self, name: str, trigger: str, *, by_hand: bool = False) -> None:
        state = self.states[name]
        state.running, state.progress = True, {}
        self._tasks.spawn(self._execute(name, trigger, by_hand), name=f"job:{name}")
        self._on_change()

    async def _execute(self, name: str, trigger: str, by_hand: bool = False) -> None:
        state = self.states[name]
        started = self._clock.now()
        try:
            run_id = await self._runs.start(name, trigger, started)
        except StoreError as exc:
            state.running = False
            state.next_due_at = started + 60.0
            log.error("job.not_started", job=name, reason=str(exc))
            return
        state.run_id, state.last_run_id, state.last_started_at = run_id, run_id, started
        context = JobContext(name, run_id, trigger, self._clock, state, by_hand)
        result, error, summary = "ok", None, {}
        try:
            summary = dict(await self.jobs[name](context) or {})
        except asyncio.CancelledError:
            result, error = "interrupted", "mamd stopped during the run"
            raise
        except EXPECTED_FAILURES as exc:
            # an upstream that is down or refuses, a database that is away, a library not read yet:
            # one short line with the cause; the service state and /status say the rest
            result, error = "error", self._redact(_cause(exc))
            log.warning("job.failed", job=name, run=run_id, error=error)
        except Exception as exc:  # a bug: the traceback is what finds it
            result, error = "error", self._redact(f"{type(exc).__name__}: {exc}")
            log.error("job.failed", job=name, run=run_id, error=error, exc_info=True)
        finally:
            await self._finish(state, run_id, trigger, started, result, error, summary)

    async def _finish(
        self,
        state: JobState,
        run_id: int,
        trigger: str,
        started: float,
        result: str,
        error: str | None,
        summary: dict[str, Any],
    ) -> None:
        finished = self._clock.now()
        try:
            await self._runs.finish(run_id, result, finished, error, summary)
            if result == "error":
                await self._events.add(finished, "job.failed", f"{state.name} failed: {error}", state.name)
        except StoreError as exc:
            log.error("job.result_not_saved", job=state.name, run=run_id, reason=str(exc))
        state.last_finished_at, state.last_result, state.last_error = finished, result, error
        state.failures = state.failures + 1 if result == "error" else 0
        self.counts[(state.name, result)] += 1
        state.running, state.run_id = False, None
        # what the run read (a whole library, hundreds of torrents) goes back to the system, not just
        # to the heap: months of runs must not leave the daemon's memory at its highest mark
        await asyncio.to_thread(memory.release)
        line = {"job": state.name, "run": run_id, "trigger": trigger, "result": result}
        log.info("job.run", **{**summary, **line, "duration_s": round(finished - started, 3)})
        if state.again and result != "interrupted":
            state.again = False
            self._start(state.name, "manual")
        self.wake()
        self._on_change()

    def running(self) -> list[str]:
        return [name for name, state in self.states.items() if state.running]

    def snapshot(self) -> dict[str, dict[str, Any]]:
        intervals = self._intervals()
        out: dict[str, dict[str, Any]] = {}
        for name, state in self.states.items():
            entry: dict[str, Any] = {
                "interval_s": intervals.get(name, 0.0),
                "running": state.running,
                "last_run_id": state.last_run_id,  # changes with every run: how a caller tells runs apart
                "last_started_at": iso(state.last_started_at),
                "last_finished_at": iso(state.last_finished_at),
                "last_result": state.last_result,
                "last_error": state.last_error,
                "next_due_at": iso(state.next_due_at),
            }
            if state.running and state.progress:
                entry["progress"] = dict(state.progress)
            out[name] = entry
        return out
