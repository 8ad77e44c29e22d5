"""The `account` job: read the MAM account and keep the snapshot the budgets and the guard use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mamd.runtime import Runtime
from mamd.schedule import JobContext


async def run(runtime: Runtime, context: JobContext) -> Mapping[str, Any]:
    snapshot = await runtime.require_mam().account()
    await runtime.account.add(snapshot)
    unsat = snapshot.unsat
    return {
        "class": snapshot.classname,
        "ratio": None if snapshot.ratio is None else round(snapshot.ratio, 3),
        "unsatisfied": None if unsat is None else unsat.count,
        "unsatisfied_limit": None if unsat is None else unsat.limit,
        "seedbonus": snapshot.seedbonus,
        "wedges": snapshot.wedges,
    }
