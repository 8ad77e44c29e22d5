"""The scheduler with a hand-moved clock over a real database: runs, single flight, failures, restarts.

Nothing here waits for real time: the clock moves by `clock.advance()`, and the test waits on
asyncio events (a job's start) or on the scheduler going back to sleep, each within a small bound.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest

from mamd.clock import iso
from mamd.config.units import Duration
from mamd.logs import Redactor
from mamd.runtime import Runtime
from mamd.schedule import (
    FIRST_RUN_DELAY_S,
    RETRY_BASE_S,
    AlreadyRunning,
    JobContext,
    JobFn,
    UnknownJob,
    first_run_delay,
    jitter,
)
from tests.support.clock import FakeClock
from tests.support.configs import MAM_SESSION

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
FIRST_RUN = FIRST_RUN_DELAY_S[1]  # by then every job that never ran has started
BOUND_S = 2.0  # the longest any single wait in these tests may take, in real time
SNAPSHOT_KEYS = {
    "interval_s",
    "running",
    "last_run_id",
    "last_started_at",
    "last_finished_at",
    "last_result",
    "last_error",
    "next_due_at",
}


class Job:
    """A job function that counts its runs, signals every start, and fails or blocks when told to."""

    def __init__(
        self,
        summary: Mapping[str, Any] | None = None,
        error: Exception | None = None,
        block: bool = False,
        progress: Mapping[str, Any] | None = None,
    ) -> None:
        self.summary, self.error, self.block, self.progress = summary, error, block, progress
        self.contexts: list[JobContext] = []
        self.active = self.peak = 0  # runs in progress now, and the most ever at once
        self.release = asyncio.Event()
        self._started = asyncio.Event()

    @property
    def calls(self) -> int:
        return len(self.contexts)

    async def __call__(self, context: JobContext) -> Mapping[str, Any] | None:
        self.contexts.append(context)
        self.active += 1
        self.peak = max(self.peak, self.active)
        self._started.set()
        try:
            if self.progress:
                context.progress(**self.progress)
            if self.block:
                await self.release.wait()
            if self.error is not None:
                raise self.error
            return self.summary
        finally:
            self.active -= 1

    async def started(self) -> JobContext:
        """Wait (briefly) for the next start of this job."""
        try:
            await asyncio.wait_for(self._started.wait(), BOUND_S)
        except TimeoutError:
            raise AssertionError(
                f"the job did not start within {BOUND_S} s (ran {self.calls} times)"
            ) from None
        self._started.clear()
        return self.contexts[-1]


def use(runtime: Runtime, jobs: Mapping[str, JobFn], **intervals: float) -> None:
    """Register `jobs` and swap the configuration whole with these intervals, as a reload does."""
    changed = {name: Duration(seconds) for name, seconds in intervals.items()}
    schedule = dataclasses.replace(runtime.config.schedule, **changed)
    runtime.config = dataclasses.replace(runtime.config, schedule=schedule)
    runtime.use_jobs(jobs)


async def finished(runtime: Runtime) -> None:
    """Wait (briefly) until every job run started so far has finished and recorded its result."""
    await runtime.tasks.drain(BOUND_S)
    assert len(runtime.tasks) == 0


async def asleep(clock: FakeClock) -> None:
    """Wait until the scheduler has looked at every job and gone back to sleep on the clock."""
    for _ in range(10):  # let a loop that was just woken run its pass first
        await asyncio.sleep(0)
    for _ in range(int(BOUND_S / 0.001)):  # 1 ms or more a turn: gives up after BOUND_S
        if clock.sleepers:
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the scheduler did not go back to sleep")


async def latest(runtime: Runtime, job: str) -> Any:
    return (await runtime.job_runs.latest())[job]


async def run_count(runtime: Runtime) -> int:
    row = await runtime.store.fetchone("SELECT count(*) FROM job_runs")
    assert row is not None
    return int(row[0])


@pytest.fixture
async def restart(runtime: Runtime, clock: FakeClock) -> AsyncIterator[Callable[..., Awaitable[Runtime]]]:
    """Stop `runtime` and start a new one over the same configuration and database file."""
    made: list[Runtime] = []

    async def make(jobs: Mapping[str, JobFn]) -> Runtime:
        await runtime.tasks.drain(BOUND_S)
        await runtime.store.close()
        live = Runtime(runtime.config, runtime.config_state.path, clock=clock, redactor=Redactor())
        await live.store.open()
        live.use_jobs(jobs)
        await live.scheduler.load()
        made.append(live)
        return live

    yield make
    for live in made:
        await live.tasks.drain(BOUND_S)
        await live.store.close()


@pytest.fixture
async def loops(runtime: Runtime, restart: Any) -> AsyncIterator[Callable[[Runtime], asyncio.Task[None]]]:
    """Start `scheduler.run_forever()` of a runtime as a task; every one is cancelled after the test."""
    tasks: list[asyncio.Task[None]] = []

    def start(live: Runtime) -> asyncio.Task[None]:
        task = asyncio.create_task(live.scheduler.run_forever(), name="scheduler")
        tasks.append(task)
        return task

    yield start
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        assert isinstance(result, asyncio.CancelledError), f"the scheduler loop died: {result!r}"


# -- running when due ------------------------------------------------------------------------------


async def test_a_due_job_runs_once_and_records_an_ok_run_with_its_summary(
    runtime: Runtime, clock: FakeClock, loops: Any
) -> None:
    job = Job(summary={"compared": 3, "missing": 0})
    use(runtime, {"reconcile": job}, reconcile=5 * MINUTE)
    await runtime.scheduler.load()
    state = runtime.scheduler.states["reconcile"]
    start = runtime.scheduler.started_at
    assert state.next_due_at == start + first_run_delay("reconcile")

    loops(runtime)
    await asleep(clock)
    assert job.calls == 0

    clock.advance(FIRST_RUN)
    context = await job.started()
    await finished(runtime)
    run = await latest(runtime, "reconcile")
    assert (run.id, run.trigger, run.result, run.error) == (context.run_id, "schedule", "ok", None)
    assert run.summary == {"compared": 3, "missing": 0}
    assert run.started_at == run.finished_at == start + FIRST_RUN
    assert (context.job, context.trigger) == ("reconcile", "schedule")
    assert state.last_result == "ok"
    assert state.running is False
    assert state.next_due_at == run.started_at + 5 * MINUTE + jitter("reconcile", run.started_at, 5 * MINUTE)
    assert runtime.scheduler.counts[("reconcile", "ok")] == 1

    clock.advance(4 * MINUTE)  # still inside the interval
    await asleep(clock)
    assert runtime.scheduler.running() == []
    assert job.calls == 1
    assert await run_count(runtime) == 1


async def test_a_job_with_interval_zero_never_runs(runtime: Runtime, clock: FakeClock, loops: Any) -> None:
    job = Job()
    use(runtime, {"search": job}, search=0)
    await runtime.scheduler.load()
    assert runtime.scheduler.states["search"].next_due_at is None
    loops(runtime)
    await asleep(clock)
    clock.advance(DAY)
    await asleep(clock)
    assert runtime.scheduler.running() == []
    assert job.calls == 0
    assert runtime.scheduler.snapshot()["search"]["next_due_at"] is None


async def test_a_due_job_waits_while_the_database_is_unavailable_and_runs_when_it_is_back(
    runtime: Runtime, clock: FakeClock, loops: Any
) -> None:
    job = Job()
    use(runtime, {"reconcile": job}, reconcile=5 * MINUTE)
    await runtime.scheduler.load()
    runtime.store.fail("the disk went away")
    loops(runtime)
    await asleep(clock)
    clock.advance(FIRST_RUN)
    await asleep(clock)
    assert runtime.scheduler.running() == []
    assert job.calls == 0

    assert await runtime.store.probe() is True
    clock.advance(5.0)
    await job.started()
    await finished(runtime)
    assert (await latest(runtime, "reconcile")).result == "ok"


# -- single flight ---------------------------------------------------------------------------------


async def test_a_job_still_running_is_not_started_again_when_it_falls_due(
    runtime: Runtime, clock: FakeClock, loops: Any
) -> None:
    job = Job(block=True)
    use(runtime, {"reconcile": job}, reconcile=MINUTE)
    await runtime.scheduler.load()
    loops(runtime)
    await asleep(clock)
    clock.advance(FIRST_RUN)
    await job.started()

    clock.advance(5 * MINUTE)  # five intervals pass while the first run is still going
    await asleep(clock)
    assert len(runtime.tasks) == 1  # no second run was spawned
    assert job.calls == 1
    assert runtime.scheduler.states["reconcile"].running is True
    assert runtime.scheduler.running() == ["reconcile"]
    with pytest.raises(AlreadyRunning):
        runtime.scheduler.run_now("reconcile")
    assert await run_count(runtime) == 1

    job.release.set()
    await job.started()  # overdue when it finished: it runs once more at once …
    await finished(runtime)
    await asleep(clock)
    assert runtime.scheduler.running() == []
    assert job.calls == 2  # … and only once, with no catch-up burst for the missed intervals
    assert job.peak == 1  # never two at once
    assert await runtime.job_runs.counts() == {("reconcile", "ok"): 2}


async def test_run_now_on_an_unknown_job_raises_unknown_job(runtime: Runtime) -> None:
    use(runtime, {"reconcile": Job()}, reconcile=5 * MINUTE)
    with pytest.raises(UnknownJob):
        runtime.scheduler.run_now("no_such_job")
    assert await run_count(runtime) == 0


async def test_run_now_runs_a_job_that_is_not_due_and_counts_as_its_last_run(
    runtime: Runtime, clock: FakeClock, loops: Any
) -> None:
    job = Job()
    use(runtime, {"discover": job}, discover=HOUR)
    await runtime.scheduler.load()
    loops(runtime)
    await asleep(clock)

    state = runtime.scheduler.run_now("discover")
    assert state.running is True
    context = await job.started()
    assert context.trigger == "manual"
    await finished(runtime)
    run = await latest(runtime, "discover")
    assert (run.trigger, run.result) == ("manual", "ok")

    clock.advance(FIRST_RUN)  # the first scheduled run is no longer needed
    await asleep(clock)
    assert runtime.scheduler.running() == []
    assert job.calls == 1
    assert state.next_due_at == run.started_at + HOUR + jitter("discover", run.started_at, HOUR)


async def test_a_run_asked_for_by_hand_knows_it_and_one_mamd_asks_for_itself_does_not(
    runtime: Runtime, clock: FakeClock, loops: Any
) -> None:
    job = Job()
    use(runtime, {"search": job}, search=HOUR)
    await runtime.scheduler.load()
    loops(runtime)
    await asleep(clock)
    runtime.scheduler.run_now("search")  # what `mamd run-job search` and the API do
    assert (await job.started()).by_hand is True
    await finished(runtime)
    assert runtime.request_job("search")  # what a library sync that found changes does
    assert (await job.started()).by_hand is False
    await finished(runtime)


async def test_a_run_asked_for_while_the_job_runs_follows_it_once(
    runtime: Runtime, clock: FakeClock, loops: Any
) -> None:
    job = Job(block=True)
    use(runtime, {"discover": job}, discover=HOUR)
    await runtime.scheduler.load()
    loops(runtime)
    await asleep(clock)
    runtime.scheduler.run_soon("discover")
    await job.started()
    runtime.scheduler.run_soon("discover")  # an edit arrives while it runs on the old one
    runtime.scheduler.run_soon("discover")
    job.release.set()
    follow_up = await job.started()
    assert follow_up.trigger == "manual"
    await finished(runtime)
    assert job.calls == 2


# -- failures --------------------------------------------------------------------------------------


async def test_a_failing_job_records_the_error_and_an_event_and_is_retried_after_the_backoff(
    runtime: Runtime, clock: FakeClock, loops: Any
) -> None:
    job = Job(error=RuntimeError("upstream said no"))
    use(runtime, {"discover": job}, discover=HOUR)
    await runtime.scheduler.load()
    state = runtime.scheduler.states["discover"]
    loops(runtime)
    await asleep(clock)

    clock.advance(FIRST_RUN)
    await job.started()
    await finished(runtime)
    first = await latest(runtime, "discover")
    assert (first.result, first.error) == ("error", "RuntimeError: upstream said no")
    events = await runtime.events.read()
    assert [(e.kind, e.subject) for e in events] == [("job.failed", "discover")]
    assert "upstream said no" in events[0].message
    assert (state.last_result, state.failures) == ("error", 1)
    assert state.next_due_at == first.started_at + RETRY_BASE_S + jitter("discover", first.started_at, HOUR)

    assert state.next_due_at is not None
    clock.advance(state.next_due_at - clock.now() - 1)
    await asleep(clock)
    assert runtime.scheduler.running() == []  # not before the backoff
    assert job.calls == 1

    clock.advance(2)
    await job.started()
    await finished(runtime)
    second = await latest(runtime, "discover")
    assert second.id != first.id
    assert second.result == "error"
    assert state.failures == 2
    assert state.next_due_at == second.started_at + 2 * RETRY_BASE_S + jitter(
        "discover", second.started_at, HOUR
    )
    assert runtime.scheduler.counts[("discover", "error")] == 2
    assert len(await runtime.events.read()) == 2


async def test_a_good_run_after_failures_returns_to_the_plain_interval(
    runtime: Runtime, clock: FakeClock
) -> None:
    job = Job(error=RuntimeError("flaky"))
    use(runtime, {"discover": job}, discover=HOUR)
    await runtime.scheduler.load()
    state = runtime.scheduler.states["discover"]
    runtime.scheduler.run_now("discover")
    await job.started()
    await finished(runtime)
    assert state.failures == 1

    job.error = None
    clock.advance(RETRY_BASE_S)
    runtime.scheduler.run_now("discover")
    await job.started()
    await finished(runtime)
    run = await latest(runtime, "discover")
    assert (run.result, state.failures) == ("ok", 0)
    assert state.next_due_at == run.started_at + HOUR + jitter("discover", run.started_at, HOUR)


async def test_a_failure_stores_no_secret_in_the_run_or_the_event(runtime: Runtime) -> None:
    job = Job(error=RuntimeError(f"login refused for mam_id {MAM_SESSION}"))
    use(runtime, {"account": job}, account=15 * MINUTE)
    await runtime.scheduler.load()
    runtime.scheduler.run_now("account")
    await job.started()
    await finished(runtime)
    run = await latest(runtime, "account")
    (event,) = await runtime.events.read()
    for text in (run.error, event.message, runtime.scheduler.states["account"].last_error):
        assert text is not None
        assert "login refused" in text
        assert MAM_SESSION not in text


# -- restarts --------------------------------------------------------------------------------------


async def test_after_a_restart_a_job_that_just_ran_is_not_run_again_but_when_due(
    runtime: Runtime, clock: FakeClock, restart: Any, loops: Any
) -> None:
    before = Job()
    use(runtime, {"reconcile": before}, reconcile=5 * MINUTE)
    await runtime.scheduler.load()
    runtime.scheduler.run_now("reconcile")
    await before.started()
    await finished(runtime)
    ran = await latest(runtime, "reconcile")

    clock.advance(MINUTE)
    after = Job()
    again = await restart({"reconcile": after})
    state = again.scheduler.states["reconcile"]
    assert (state.last_result, state.last_started_at) == ("ok", ran.started_at)
    due = ran.started_at + 5 * MINUTE + jitter("reconcile", ran.started_at, 5 * MINUTE)
    assert state.next_due_at == due
    assert due > clock.now()

    loops(again)
    await asleep(clock)
    clock.advance(FIRST_RUN)  # past the first-run delay of a fresh start: no re-fire
    await asleep(clock)
    assert again.scheduler.running() == []
    assert after.calls == 0

    clock.advance(due - clock.now() + 1)
    await after.started()
    await finished(again)
    assert after.calls == 1
    assert await again.job_runs.counts() == {("reconcile", "ok"): 2}


async def test_after_a_restart_an_overdue_job_runs_at_once_and_only_once(
    runtime: Runtime, clock: FakeClock, restart: Any, loops: Any
) -> None:
    before = Job()
    use(runtime, {"reconcile": before}, reconcile=5 * MINUTE)
    await runtime.scheduler.load()
    runtime.scheduler.run_now("reconcile")
    await before.started()
    await finished(runtime)

    clock.advance(3 * HOUR)  # the daemon was down for many intervals
    after = Job()
    again = await restart({"reconcile": after})
    state = again.scheduler.states["reconcile"]
    assert state.next_due_at is not None
    assert state.next_due_at <= clock.now()

    loops(again)
    await after.started()  # without moving the clock
    await finished(again)
    await asleep(clock)
    assert again.scheduler.running() == []
    assert after.calls == 1
    assert state.next_due_at > clock.now()


async def test_after_a_restart_the_failure_backoff_continues(
    runtime: Runtime, clock: FakeClock, restart: Any
) -> None:
    before = Job(error=RuntimeError("down"))
    use(runtime, {"discover": before}, discover=DAY)
    await runtime.scheduler.load()
    for _ in range(3):
        runtime.scheduler.run_now("discover")
        await before.started()
        await finished(runtime)
        clock.advance(MINUTE)
    failed = await latest(runtime, "discover")

    again = await restart({"discover": Job()})
    state = again.scheduler.states["discover"]
    assert (state.last_result, state.failures) == ("error", 3)
    assert state.next_due_at == failed.started_at + 4 * RETRY_BASE_S + jitter(
        "discover", failed.started_at, DAY
    )


async def test_a_run_left_unfinished_is_marked_interrupted_on_load_and_the_job_is_due_soon_after_start(
    runtime: Runtime, clock: FakeClock, restart: Any, loops: Any
) -> None:
    use(runtime, {"reconcile": Job()}, reconcile=5 * MINUTE)
    await runtime.scheduler.load()
    run_id = await runtime.job_runs.start("reconcile", "schedule", clock.now())  # and then mamd died

    clock.advance(2 * MINUTE)
    after = Job()
    again = await restart({"reconcile": after})
    run = await latest(again, "reconcile")
    assert run.id == run_id
    assert run.result == "interrupted"
    assert run.error == "mamd stopped before the run finished"
    assert run.finished_at == clock.now()
    state = again.scheduler.states["reconcile"]
    assert state.last_result == "interrupted"
    assert state.next_due_at == again.scheduler.started_at + first_run_delay("reconcile")

    loops(again)
    await asleep(clock)
    clock.advance(FIRST_RUN)
    await after.started()
    await finished(again)
    assert (await latest(again, "reconcile")).result == "ok"


# -- reloads ---------------------------------------------------------------------------------------


async def test_wake_after_a_longer_or_zero_interval_recomputes_the_due_time(
    runtime: Runtime, clock: FakeClock, loops: Any
) -> None:
    job = Job()
    use(runtime, {"reconcile": job}, reconcile=5 * MINUTE)
    await runtime.scheduler.load()
    runtime.scheduler.run_now("reconcile")
    await job.started()
    await finished(runtime)
    started = (await latest(runtime, "reconcile")).started_at
    state = runtime.scheduler.states["reconcile"]
    assert state.next_due_at == started + 5 * MINUTE + jitter("reconcile", started, 5 * MINUTE)
    loops(runtime)
    await asleep(clock)

    use(runtime, {}, reconcile=HOUR)
    runtime.scheduler.wake()
    assert state.next_due_at == started + HOUR + jitter("reconcile", started, HOUR)
    await asleep(clock)
    clock.advance(10 * MINUTE)  # past the old due time
    await asleep(clock)
    assert runtime.scheduler.running() == []
    assert job.calls == 1

    use(runtime, {}, reconcile=0)
    runtime.scheduler.wake()
    assert state.next_due_at is None
    assert runtime.scheduler.snapshot()["reconcile"]["interval_s"] == 0.0
    clock.advance(2 * HOUR)
    await asleep(clock)
    assert runtime.scheduler.running() == []
    assert job.calls == 1


async def test_wake_after_a_shorter_interval_runs_a_job_that_is_now_overdue(
    runtime: Runtime, clock: FakeClock, loops: Any
) -> None:
    job = Job()
    use(runtime, {"search": job}, search=6 * HOUR)
    await runtime.scheduler.load()
    runtime.scheduler.run_now("search")
    await job.started()
    await finished(runtime)
    loops(runtime)
    await asleep(clock)
    clock.advance(HOUR)
    await asleep(clock)
    assert runtime.scheduler.running() == []
    assert job.calls == 1

    use(runtime, {}, search=30 * MINUTE)
    runtime.scheduler.wake()
    await job.started()
    await finished(runtime)
    assert job.calls == 2


# -- status ----------------------------------------------------------------------------------------


async def test_snapshot_shows_the_status_keys_of_every_job(runtime: Runtime, clock: FakeClock) -> None:
    job = Job(summary={"pruned_events": 0})
    use(runtime, {"retention": job, "account": Job()}, retention=DAY, account=0)
    await runtime.scheduler.load()
    start = runtime.scheduler.started_at
    snapshot = runtime.scheduler.snapshot()
    assert set(snapshot) == {"retention", "account"}
    assert snapshot["retention"] == {
        "interval_s": DAY,
        "running": False,
        "last_run_id": None,
        "last_started_at": None,
        "last_finished_at": None,
        "last_result": None,
        "last_error": None,
        "next_due_at": iso(start + first_run_delay("retention")),
    }
    assert set(snapshot["account"]) == SNAPSHOT_KEYS
    assert snapshot["account"]["next_due_at"] is None

    runtime.scheduler.run_now("retention")
    await job.started()
    await finished(runtime)
    entry = runtime.scheduler.snapshot()["retention"]
    assert set(entry) == SNAPSHOT_KEYS
    assert entry["running"] is False
    assert isinstance(entry["last_run_id"], int)
    assert entry["last_started_at"] == entry["last_finished_at"] == iso(clock.now())
    assert entry["last_started_at"].endswith("Z")
    assert entry["last_result"] == "ok"
    assert entry["last_error"] is None
    assert entry["next_due_at"] == iso(clock.now() + DAY + jitter("retention", clock.now(), DAY))


async def test_snapshot_of_a_running_job_shows_running_and_its_progress(runtime: Runtime) -> None:
    job = Job(block=True, progress={"searched": 2, "of": 9})
    use(runtime, {"search": job}, search=HOUR)
    await runtime.scheduler.load()
    runtime.scheduler.run_now("search")
    await job.started()
    entry = runtime.scheduler.snapshot()["search"]
    assert entry["running"] is True
    assert entry["progress"] == {"searched": 2, "of": 9}
    assert set(entry) == {*SNAPSHOT_KEYS, "progress"}

    job.release.set()
    await finished(runtime)
    assert "progress" not in runtime.scheduler.snapshot()["search"]


# -- shutdown --------------------------------------------------------------------------------------


async def test_a_run_cancelled_by_the_shutdown_drain_is_recorded_as_interrupted(runtime: Runtime) -> None:
    job = Job(block=True)
    use(runtime, {"library_sync": job}, library_sync=6 * HOUR)
    await runtime.scheduler.load()
    runtime.scheduler.run_now("library_sync")
    await job.started()

    await runtime.tasks.drain(0.05)  # the job does not finish within the grace time: it is cancelled
    assert len(runtime.tasks) == 0
    run = await latest(runtime, "library_sync")
    assert run.result == "interrupted"
    assert run.error == "mamd stopped during the run"
    assert run.finished_at is not None
    state = runtime.scheduler.states["library_sync"]
    assert (state.running, state.last_result) == (False, "interrupted")
    assert runtime.scheduler.counts[("library_sync", "interrupted")] == 1


async def test_each_run_has_its_own_id_even_within_one_second(runtime: Runtime) -> None:
    job = Job()
    use(runtime, {"account": job}, account=0)
    await runtime.scheduler.load()
    ids = []
    for _ in range(3):
        runtime.scheduler.run_now("account")
        await finished(runtime)
        ids.append(runtime.scheduler.snapshot()["account"]["last_run_id"])
    assert len(set(ids)) == 3
    await runtime.scheduler.load()  # as after a restart
    assert runtime.scheduler.snapshot()["account"]["last_run_id"] == ids[-1]
