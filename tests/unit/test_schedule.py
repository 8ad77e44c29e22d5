"""`next_due`, `jitter` and `first_run_delay`: when a job runs next, as a pure function of explicit times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mamd.schedule import (
    CLOCK_SKEW_S,
    FIRST_RUN_DELAY_S,
    JITTER_FRACTION,
    JITTER_MAX_S,
    RETRY_BASE_S,
    LastRun,
    first_run_delay,
    jitter,
    next_due,
)

JOBS = ("library_sync", "discover", "search", "account", "reconcile", "retention")
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


def at(text: str) -> float:
    """An ISO 8601 UTC time as epoch seconds, so every test reads as explicit wall-clock times."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


STARTED = at("2027-03-01T08:00:00")  # the daemon started
NOW = at("2027-03-01T09:00:00")


def max_jitter(interval: float) -> float:
    return min(interval * JITTER_FRACTION, JITTER_MAX_S)


# -- turned off ------------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_an_interval_of_zero_or_less_turns_the_job_off(interval: float) -> None:
    ran = LastRun(at("2027-03-01T08:30:00"), "ok")
    assert next_due("search", interval, None, STARTED, NOW) is None
    assert next_due("search", interval, ran, STARTED, NOW) is None


# -- first run -------------------------------------------------------------------------------------


@pytest.mark.parametrize("job", JOBS)
def test_a_job_that_never_ran_is_due_a_few_seconds_after_the_daemon_started(job: str) -> None:
    due = next_due(job, HOUR, None, STARTED, NOW)
    low, high = FIRST_RUN_DELAY_S
    assert due is not None
    assert STARTED + low <= due < STARTED + high
    assert due == STARTED + first_run_delay(job)


def test_the_first_run_delay_is_stable_for_a_job_and_staggered_between_jobs() -> None:
    delays = {job: first_run_delay(job) for job in JOBS}
    assert delays == {job: first_run_delay(job) for job in JOBS}
    assert len(set(delays.values())) == len(JOBS)


def test_a_job_that_never_ran_is_due_after_start_even_when_now_is_much_later() -> None:
    """Never run means due at start-up (a time in the past is "now"), not an interval after now."""
    due = next_due("discover", DAY, None, STARTED, STARTED + 3 * DAY)
    assert due == STARTED + first_run_delay("discover")


def test_an_interrupted_last_run_counts_as_never_run() -> None:
    interrupted = LastRun(at("2027-03-01T07:59:00"), "interrupted")
    assert next_due("reconcile", 5 * MINUTE, interrupted, STARTED, NOW) == next_due(
        "reconcile", 5 * MINUTE, None, STARTED, NOW
    )


# -- after a successful run ------------------------------------------------------------------------


@pytest.mark.parametrize("interval", [MINUTE, 15 * MINUTE, HOUR, 6 * HOUR, DAY, 7 * DAY])
def test_after_a_good_run_the_job_is_due_one_interval_plus_jitter_after_it_started(interval: float) -> None:
    started = at("2027-03-01T08:30:00")
    due = next_due("account", interval, LastRun(started, "ok"), STARTED, NOW)
    assert due == started + interval + jitter("account", started, interval)
    assert started + interval <= due < started + interval + max_jitter(interval)


@given(
    job=st.sampled_from(JOBS),
    anchor=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    interval=st.floats(min_value=1, max_value=30 * DAY, allow_nan=False),
)
def test_jitter_is_at_least_zero_and_below_five_percent_of_the_interval_and_five_minutes(
    job: str, anchor: float, interval: float
) -> None:
    offset = jitter(job, anchor, interval)
    assert 0 <= offset < max_jitter(interval)
    assert offset <= JITTER_MAX_S


def test_jitter_is_identical_for_identical_inputs_so_a_restart_computes_the_same_due_time() -> None:
    anchor = at("2027-03-01T08:30:00.250")
    assert jitter("search", anchor, HOUR) == jitter("search", anchor, HOUR)
    last = LastRun(anchor, "ok")
    assert next_due("search", HOUR, last, STARTED, NOW) == next_due(
        "search", HOUR, last, STARTED + 30, NOW + 30
    )


def test_jitter_varies_with_the_job_and_the_run() -> None:
    anchor = at("2027-03-01T08:30:00")
    by_job = {jitter(job, anchor, DAY) for job in JOBS}
    by_run = {jitter("search", anchor + n * HOUR, DAY) for n in range(24)}
    assert len(by_job) == len(JOBS)
    assert len(by_run) == 24


def test_jitter_is_capped_at_five_minutes_for_long_intervals() -> None:
    offsets = [jitter("retention", at("2027-03-01T00:00:00") + n * DAY, 7 * DAY) for n in range(200)]
    assert max(offsets) < JITTER_MAX_S
    assert max(offsets) > JITTER_MAX_S * 0.8  # the whole range is used, not only its start


def test_an_overdue_job_is_due_once_in_the_past_with_no_catch_up_burst() -> None:
    """Ten missed intervals give one time in the past (run now), not ten runs."""
    started = NOW - 10 * HOUR
    due = next_due("search", HOUR, LastRun(started, "ok"), STARTED, NOW)
    assert due is not None
    assert due < NOW
    assert due == started + HOUR + jitter("search", started, HOUR)


# -- after failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "wait"),
    [(1, 5 * MINUTE), (2, 10 * MINUTE), (3, 20 * MINUTE), (4, 40 * MINUTE), (5, 80 * MINUTE)],
)
def test_failed_runs_are_retried_after_5_10_20_minutes_and_so_on(failures: int, wait: float) -> None:
    started = at("2027-03-01T08:55:00")
    due = next_due("discover", DAY, LastRun(started, "error", failures), STARTED, NOW)
    assert due == started + wait + jitter("discover", started, DAY)


@pytest.mark.parametrize("failures", [5, 6, 10, 16])
def test_the_retry_backoff_is_capped_at_the_interval(failures: int) -> None:
    started = at("2027-03-01T08:55:00")
    due = next_due("search", HOUR, LastRun(started, "error", failures), STARTED, NOW)
    assert due == started + HOUR + jitter("search", started, HOUR)


def test_the_first_retry_waits_no_longer_than_a_short_interval() -> None:
    started = at("2027-03-01T08:59:00")
    due = next_due("reconcile", 2 * MINUTE, LastRun(started, "error", 1), STARTED, NOW)
    assert due == started + 2 * MINUTE + jitter("reconcile", started, 2 * MINUTE)
    assert RETRY_BASE_S > 2 * MINUTE


@pytest.mark.parametrize("failures", [1024, 1025, 2000, 100_000])
def test_a_very_long_failure_streak_stays_capped_at_the_interval(failures: int) -> None:
    """A daemon up for days with an upstream down keeps counting failures in memory.

    Reconcile every 5 min fails 1025 times in under four days; the retry must still be one interval.
    """
    started = at("2027-03-01T08:55:00")
    due = next_due("reconcile", 5 * MINUTE, LastRun(started, "error", failures), STARTED, NOW)
    assert due == started + 5 * MINUTE + jitter("reconcile", started, 5 * MINUTE)


# -- the wall clock ------------------------------------------------------------------------------


def test_a_last_run_far_in_the_future_means_the_clock_went_back_and_waits_one_interval_from_now() -> None:
    future = NOW + CLOCK_SKEW_S + 1
    assert next_due("account", 15 * MINUTE, LastRun(future, "ok"), STARTED, NOW) == NOW + 15 * MINUTE
    assert next_due("account", 15 * MINUTE, LastRun(NOW + DAY, "error", 3), STARTED, NOW) == NOW + 15 * MINUTE


def test_a_last_run_slightly_in_the_future_is_within_clock_skew_and_scheduled_from_the_run() -> None:
    slightly = NOW + CLOCK_SKEW_S
    due = next_due("account", 15 * MINUTE, LastRun(slightly, "ok"), STARTED, NOW)
    assert due == slightly + 15 * MINUTE + jitter("account", slightly, 15 * MINUTE)
