"""The `retention` job: forget old records and keep a few daily copies of the database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mamd.runtime import Runtime
from mamd.schedule import JobContext

DAY = 86400.0
EVENTS_KEPT_S = 180 * DAY
INBOX_KEPT_S = 30 * DAY  # finished inbox entries only; pending ones are never pruned
JOB_RUNS_KEPT_S = 90 * DAY
JOB_RUNS_ALWAYS_KEPT = 50
ACCOUNT_KEPT_S = 30 * DAY  # a reading every 15 minutes; the newest is always kept
GRABS_KEPT_S = 90 * DAY  # finished grabs; unfinished ones are kept whatever their age


async def run(runtime: Runtime, context: JobContext) -> Mapping[str, Any]:
    now = context.clock.now()
    events = await runtime.events.prune(now - EVENTS_KEPT_S)
    inbox = await runtime.inbox.prune(now - INBOX_KEPT_S)
    runs = await runtime.job_runs.prune(now - JOB_RUNS_KEPT_S, JOB_RUNS_ALWAYS_KEPT)
    snapshots = await runtime.account.prune(now - ACCOUNT_KEPT_S)
    grabs = await runtime.grabs.prune(now - GRABS_KEPT_S)
    context.progress(pruned_events=events, pruned_inbox=inbox, pruned_job_runs=runs)
    database = runtime.store.path
    backup = await runtime.store.backup(database.parent / "backups", runtime.config.state.backups, now)
    return {
        "pruned_events": events,
        "pruned_inbox": inbox,
        "pruned_job_runs": runs,
        "pruned_account_snapshots": snapshots,
        "pruned_grabs": grabs,
        "backup": str(backup) if backup else None,
    }
