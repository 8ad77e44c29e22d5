"""The `account` job: read the MAM account, and act on it.

Each run keeps the seedbox IP current when asked to (first, since an IP-locked session is refused
from a new address until then), stores a snapshot (what the budgets and the guard read), says when
MAM counts more torrents not seeding before they are satisfied or more hit-and-runs, lets the
guard judge the account and stop or resume downloads, and settles and perhaps makes one bonus
purchase.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mamd import seedbox
from mamd.domain.account import AccountSnapshot
from mamd.guarding import actions as guard
from mamd.runtime import Runtime
from mamd.schedule import JobContext
from mamd.spending import actions as spending

# counters MAM keeps that must not grow: their key, and what a rise means
WATCHED = {
    "inactUnsat": "torrent(s) not seeding before they are satisfied (potential hit-and-run)",
    "inactHnr": "hit-and-run torrent(s) not seeding",
    "seedHnr": "hit-and-run torrent(s) still to be satisfied",
    "ite": "important tracker error(s)",
}


async def run(runtime: Runtime, context: JobContext) -> Mapping[str, Any]:
    # first: an IP-locked session whose address changed is refused everywhere until this update
    seedbox_done = await seedbox.run(runtime, context.clock.now())
    snapshot = await runtime.require_mam().account()
    previous = await runtime.account.latest()
    await runtime.account.add(snapshot)
    now = context.clock.now()
    await _rises(runtime, previous, snapshot, now)
    summary: dict[str, Any] = {
        "class": snapshot.classname,
        "ratio": None if snapshot.ratio is None else round(snapshot.ratio, 3),
        "unsatisfied": None if snapshot.unsat is None else snapshot.unsat.count,
        "unsatisfied_limit": None if snapshot.unsat is None else snapshot.unsat.limit,
        "seedbonus": snapshot.seedbonus,
        "wedges": snapshot.wedges,
    }
    summary.update(await guard.apply(runtime, await guard.verdict(runtime, now), now))
    summary.update(await spending.run(runtime, snapshot, now))
    summary.update(seedbox_done)
    return summary


async def _rises(
    runtime: Runtime, previous: AccountSnapshot | None, snapshot: AccountSnapshot, now: float
) -> None:
    """An event for each watched counter that went up since the last snapshot."""
    for key, meaning in WATCHED.items():
        before = previous.count(key) if previous is not None else 0
        after = snapshot.count(key)
        if after is not None and after > (before or 0):
            await runtime.events.add(
                now,
                "account.counter_rose",
                f"MAM counts {after} {meaning} (was {before or 0})",
                "account",
                counter=key,
                before=before or 0,
                count=after,
            )
