"""Spending bonus points (opt-in `bonus.enabled`), one audited purchase at a time.

Each purchase is recorded as an intent before its request, marked sent, then settled by MAM's
answer. A purchase whose answer was lost — a timeout, an unreadable answer, a crash — is
settled at the next account reading by the points and the account (`domain.spending.outcome`); until
every earlier purchase is settled, nothing more is bought, so one decision never buys twice.
A "success" after which the points did not go down stops all spending, with an event, until
the `bonus` settings are edited. In dry run nothing is bought: the decision is an event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from mamd.clients.errors import Throttled, UpstreamError
from mamd.clients.mam import StoreReceipt
from mamd.crashpoint import crashpoint
from mamd.domain.account import AccountSnapshot
from mamd.domain.spending import Plan, Spend, outcome, plan
from mamd.logs import get_logger
from mamd.runtime import Runtime
from mamd.spending.records import SpendRecord

log = get_logger(__name__)

DAY = 86_400.0
RETRY_REFUSED_AFTER_S = 6 * 3600.0  # after MAM refused a purchase, one of its kind waits this long
WOULD_KEY = "bonus.would_spend"


def fingerprint(runtime: Runtime) -> str:
    return hashlib.sha256(repr(runtime.config.bonus).encode()).hexdigest()[:16]


async def run(runtime: Runtime, snapshot: AccountSnapshot, now: float) -> Mapping[str, Any]:
    """Settle what is open, then perhaps buy one thing; returns what happened, for the job summary."""
    halted = not await _may_spend(runtime, now)
    open_ones = await runtime.spends.open()
    unsettled = [record for record in open_ones if not await _settle(runtime, record, snapshot, now)]
    if not runtime.config.bonus.enabled:
        return {}
    if halted:
        return {"spend": "stopped"}
    if unsettled:
        return {"spend": "waiting: an earlier purchase is not settled"}
    decided = await decide(runtime, snapshot, now)
    spend = decided.spend
    if spend is None:
        return {}
    if runtime.config.dry_run:
        await _would_spend(runtime, spend, now)
        return {"spend": f"dry run: would buy {spend.label}"}
    if await runtime.spends.refused_since(spend.kind, now - RETRY_REFUSED_AFTER_S):
        return {"spend": f"MAM refused {spend.label} lately"}
    return {"spend": await _buy(runtime, spend, snapshot, now)}


async def decide(runtime: Runtime, snapshot: AccountSnapshot, now: float) -> Plan:
    return plan(snapshot, runtime.config.bonus, now, await runtime.spends.spent_since(now - DAY))


async def _may_spend(runtime: Runtime, now: float) -> bool:
    halted = await runtime.spends.halted()
    if not halted:
        return True
    if halted.get("bonus") != fingerprint(runtime):  # the user edited `bonus:` since
        await runtime.spends.resume(now)
        let_go = await runtime.spends.let_go(now)
        unclear = f"; {let_go} purchase(s) of unknown outcome count as spent" if let_go else ""
        await runtime.events.add(
            now, "bonus.resumed", f"bonus spending goes on: the bonus settings were edited{unclear}", "bonus"
        )
        return True
    return False


async def _would_spend(runtime: Runtime, spend: Spend, now: float) -> None:
    said = await runtime.store.read_state(WOULD_KEY)
    if said.get("label") == spend.label and 0 <= now - float(said.get("at") or 0) < DAY:
        return  # said once a day
    await runtime.store.write_state(WOULD_KEY, {"label": spend.label, "at": now}, now)
    await runtime.events.add(
        now, "bonus.would_spend", f"dry run: would buy {spend.label} ({spend.reason})", "bonus"
    )


async def _buy(runtime: Runtime, spend: Spend, snapshot: AccountSnapshot, now: float) -> str:
    spend_id = await runtime.spends.intend(spend, snapshot.seedbonus, now)
    if spend_id is None:
        return f"{spend.label}: decided before"
    await runtime.spends.sent(spend_id, now)
    mam = runtime.require_mam()
    try:
        receipt: StoreReceipt = await (
            mam.buy_vip(spend.amount) if spend.kind == "vip" else mam.buy_upload(spend.amount)
        )
        crashpoint("spend.sent")
    except UpstreamError as exc:
        if isinstance(exc, Throttled) or not exc.sent:  # refused unserved, or never sent: nothing bought
            await runtime.spends.settle(
                spend_id, "failed", runtime.clock.now(), detail=exc.message, sent=exc.sent
            )
            return f"{spend.label}: not bought ({exc.message})"
        now = runtime.clock.now()
        await runtime.spends.settle(spend_id, "unknown", None, detail=exc.message)
        await runtime.events.add(
            now,
            "bonus.unknown",
            f"buying {spend.label}: {exc.message}. Whether it went through is checked against the points at "
            "the next account reading; nothing more is bought until then.",
            "bonus",
        )
        return f"{spend.label}: outcome unknown"
    return await _answered(runtime, spend, spend_id, snapshot, receipt)


async def _answered(
    runtime: Runtime, spend: Spend, spend_id: int, snapshot: AccountSnapshot, receipt: StoreReceipt
) -> str:
    now = runtime.clock.now()
    if not receipt.success:
        await runtime.spends.settle(spend_id, "failed", now, detail=receipt.error)
        await runtime.events.add(
            now, "bonus.refused", f"MAM refused {spend.label}: {receipt.error or 'no reason given'}", "bonus"
        )
        return f"{spend.label}: refused"
    before, after = snapshot.seedbonus, receipt.seedbonus
    if before is not None and after is not None and before - after >= 0.5 * spend.cost:
        await runtime.spends.settle(spend_id, "done", now, points_after=after)
        await runtime.events.add(
            now,
            "bonus.spent",
            f"bought {spend.label} ({spend.reason}); {after:,.0f} points left",
            "bonus",
            purchase=spend.kind,
            amount=spend.amount,
            cost=spend.cost,
        )
        log.info("bonus.spent", kind=spend.kind, amount=spend.amount, cost=spend.cost, points=after)
        return f"bought {spend.label}"
    shown = "unknown" if after is None else f"{after:,.0f}"
    why = f"MAM said it sold {spend.label}, but the points did not go down ({before} → {shown})"
    await runtime.spends.settle(spend_id, "unknown", None, points_after=after, detail=why)
    await runtime.spends.halt(why, fingerprint(runtime), now)
    await runtime.events.add(
        now, "bonus.halted", f"{why}: no more points are spent until the bonus settings are edited", "bonus"
    )
    return f"{spend.label}: spending stopped"


async def _settle(runtime: Runtime, record: SpendRecord, snapshot: AccountSnapshot, now: float) -> bool:
    """Settle a purchase left open; False while its outcome stays unclear."""
    if record.state == "intent":  # recorded, never sent (mamd stopped in between)
        await runtime.spends.settle(record.id, "failed", now, detail="never sent", sent=False)
        return True
    found = outcome(record.kind, record.decision, record.cost, record.points_before, snapshot)
    label = f"{record.amount} {'weeks of VIP' if record.kind == 'vip' else 'GiB of upload credit'}"
    if found == "done":
        await runtime.spends.settle(record.id, "done", now, points_after=snapshot.seedbonus)
        await runtime.events.add(
            now, "bonus.spent", f"the purchase of {label} went through (seen in the account)", "bonus"
        )
        return True
    if found == "not_done":
        await runtime.spends.settle(
            record.id,
            "failed",
            now,
            points_after=snapshot.seedbonus,
            detail="the account shows it did not go through",
        )
        await runtime.events.add(
            now, "bonus.not_spent", f"the purchase of {label} did not go through", "bonus"
        )
        return True
    if record.state != "unknown" or not (await runtime.spends.halted()):
        why = f"whether the purchase of {label} went through cannot be told from the account"
        await runtime.spends.settle(record.id, "unknown", None, detail=why)
        await runtime.spends.halt(why, fingerprint(runtime), now)
        await runtime.events.add(
            now,
            "bonus.halted",
            f"{why}: no more points are spent until the bonus settings are edited",
            "bonus",
        )
    return False
