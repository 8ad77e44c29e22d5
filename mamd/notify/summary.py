"""The daily summary's facts, and when the last one was sent."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mamd.notify.messages import DayFacts
from mamd.store import Store

if TYPE_CHECKING:
    from mamd.context import Context

_SUMMARY_KEY = "notify.daily_summary"


async def last_sent(store: Store) -> float | None:
    """When the last daily summary was queued (or counting began); None before the first."""
    last = (await store.read_state(_SUMMARY_KEY)).get("last_at")
    return float(last) if last is not None else None


async def write_sent(store: Store, now: float) -> None:
    await store.write_state(_SUMMARY_KEY, {"last_at": now}, now)


async def day_facts(runtime: Context, since: float, now: float) -> DayFacts:
    """What the daily summary tells of the day since `since`: grabs, imports, guard, account, failures."""
    rows = await runtime.store.fetchall(
        "SELECT kind, count(*) FROM events WHERE at >= ? GROUP BY kind", (since,)
    )
    counts = {str(row[0]): int(row[1]) for row in rows}
    snapshot = await runtime.account.latest()
    earlier = await runtime.account.since(since)
    before = earlier[0] if earlier and snapshot is not None and earlier[0].at < snapshot.at else None
    guard = await runtime.guard.state()
    failing = [p.summary for p in runtime.health.problems()]
    failing += [
        f"job {name} failed: {state.last_error}"
        for name, state in sorted(runtime.scheduler.states.items())
        if state.last_result == "error"
    ]
    return DayFacts(
        since=since,
        grabbed=counts.get("grab.added", 0) + counts.get("grab.would_grab", 0),
        imported=counts.get("import.done", 0) + counts.get("import.would_link", 0),
        import_failures=counts.get("import.failed", 0) + counts.get("import.not_in_library", 0),
        guard=guard.level,
        guard_reasons=list(guard.reasons),
        ratio=snapshot.ratio if snapshot else None,
        ratio_before=before.ratio if before else None,
        bonus=snapshot.seedbonus if snapshot else None,
        bonus_before=before.seedbonus if before else None,
        failing=[runtime.redactor.text(text) for text in failing],
        wanted=await runtime.wanted.counts(),
    )
