"""The retention job on a real database: what grows with time is pruned, what is still needed is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mamd.domain.account import AccountSnapshot, Counter
from mamd.jobs import retention
from mamd.runtime import Runtime
from mamd.schedule import JobContext, JobState
from tests.support.clock import FakeClock

DAY = 86400.0


def snapshot(at: float, ratio: float = 2.0) -> AccountSnapshot:
    return AccountSnapshot(at=at, classname="User", ratio=ratio, counters={"unsat": Counter(3, 50)})


async def retain(runtime: Runtime, clock: FakeClock) -> dict[str, Any]:
    return dict(
        await retention.run(runtime, JobContext("retention", 1, "schedule", clock, JobState("retention")))
    )


def permissions(path: str) -> int:
    return Path(path).stat().st_mode & 0o777


async def test_account_snapshots_older_than_thirty_days_are_pruned(
    runtime: Runtime, clock: FakeClock
) -> None:
    start = clock.now()
    for quarter in range(40 * 4):  # forty days of readings, four a day
        await runtime.account.add(snapshot(start + quarter * DAY / 4))
    clock.advance(40 * DAY)
    result = await retention.run(
        runtime, JobContext("retention", 1, "schedule", clock, JobState("retention"))
    )
    assert result["pruned_account_snapshots"] == 10 * 4
    rows = await runtime.store.fetchall("SELECT min(at), count(*) FROM account_snapshots")
    assert rows[0][0] >= clock.now() - 30 * DAY
    assert rows[0][1] == 30 * 4


async def test_the_newest_snapshot_is_kept_however_old(runtime: Runtime, clock: FakeClock) -> None:
    await runtime.account.add(snapshot(clock.now(), ratio=1.1))
    clock.advance(400 * DAY)  # MAM refused the session for a year: nothing newer was read
    await retain(runtime, clock)
    latest = await runtime.account.latest()
    assert latest is not None
    assert latest.ratio == 1.1


async def test_the_daily_backup_is_private(runtime: Runtime, clock: FakeClock) -> None:
    result = await retention.run(
        runtime, JobContext("retention", 1, "schedule", clock, JobState("retention"))
    )
    assert result["backup"] is not None
    assert permissions(result["backup"]) == 0o600
