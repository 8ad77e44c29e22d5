"""What bonus spending shows in `/status`: what it would decide next, and what it spent."""

from __future__ import annotations

from typing import Any

from mamd.clock import iso
from mamd.domain.account import AccountSnapshot
from mamd.runtime import Runtime
from mamd.spending import actions


async def next_decisions(runtime: Runtime, snapshot: AccountSnapshot, now: float) -> list[str]:
    """What spending would decide at the next account reading; a purchase already made for that decision
    is shown with its state instead (the account read since will show it)."""
    decided = await actions.decide(runtime, snapshot, now)
    notes = list(decided.notes)
    taken = await runtime.spends.of_decision(decided.spend.decision) if decided.spend else None
    if decided.spend and taken is not None:
        notes = [n for n in notes if not n.startswith(("buying ", "renewing "))]
        notes.append(f"{decided.spend.label}: {taken.state} ({iso(taken.decided_at)})")
    return notes


async def bonus_section(runtime: Runtime, now: float) -> dict[str, Any]:
    return {
        "enabled": runtime.config.bonus.enabled,
        "spent_last_day": await runtime.spends.spent_since(now - 86400),
        "stopped": (await runtime.spends.halted()).get("reason"),
        "recent": [record.as_dict() for record in await runtime.spends.recent(5)],
    }
