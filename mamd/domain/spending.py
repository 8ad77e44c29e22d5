"""What to buy with bonus points, if anything: VIP before it runs out, upload credit when the ratio is low.

Only with `bonus.enabled`. A purchase must leave `bonus.keep_points` and stay within
`bonus.max_spend_per_day`. VIP is bought in MAM's durations (4, 8 or 12 weeks, 1,250 points a
week), the longest that fits under MAM's cap of 90 days of VIP and the budgets; upload credit in
`bonus.upload_credit.gib_per_buy` steps (at least 50: MAM refuses less from scripts), 500 points
per GiB. One purchase per decision: each has a key that names the state it answers (the VIP end
date, the upload total), so the same state never buys twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from mamd.config.model import BonusConfig
from mamd.domain.account import AccountSnapshot

DAY = 86_400.0
VIP_POINTS_PER_WEEK = 1250
VIP_WEEKS = (12, 8, 4)
VIP_CAP_S = 90 * DAY
UPLOAD_POINTS_PER_GIB = 500
LAPSED_VIP_S = 7 * DAY  # a VIP that ended longer ago than this is not renewed on its own


@dataclass(frozen=True)
class Spend:
    kind: Literal["vip", "upload"]
    amount: int  # weeks of VIP, or GiB of upload credit
    cost: float  # points
    decision: str  # the state it answers; one purchase per decision
    reason: str

    @property
    def label(self) -> str:
        what = f"{self.amount} weeks of VIP" if self.kind == "vip" else f"{self.amount} GiB of upload credit"
        return f"{what} for {self.cost:,.0f} points"


@dataclass(frozen=True)
class Plan:
    spend: Spend | None
    notes: tuple[str, ...]  # the next decisions, in words, for /status


def vip_end(snapshot: AccountSnapshot) -> float | None:
    """`vip_until` (`YYYY-MM-DD HH:MM:SS`, UTC) as epoch seconds; None when absent or unreadable."""
    if not snapshot.vip_until:
        return None
    try:
        return (
            datetime.strptime(snapshot.vip_until.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
        )
    except ValueError:
        return None


def plan(snapshot: AccountSnapshot, bonus: BonusConfig, now: float, spent_last_day: float) -> Plan:
    notes: list[str] = []
    if not bonus.enabled:
        return Plan(None, ("bonus points are not spent (bonus.enabled is false)",))
    points = snapshot.seedbonus
    if points is None:
        return Plan(None, ("MAM did not give the bonus points: nothing is bought",))
    budget = min(points - bonus.keep_points, bonus.max_spend_per_day - spent_last_day)
    vip, vip_note = _vip(snapshot, bonus, now, budget)
    notes.append(vip_note)
    upload, upload_note = _upload(snapshot, bonus, budget)
    notes.append(upload_note)
    return Plan(vip or upload, tuple(notes))


def _vip(
    snapshot: AccountSnapshot, bonus: BonusConfig, now: float, budget: float
) -> tuple[Spend | None, str]:
    end = vip_end(snapshot)
    if end is None:
        return None, "not VIP: no VIP to renew"
    shown = datetime.fromtimestamp(end, UTC).strftime("%Y-%m-%d")
    left = end - now
    threshold = bonus.vip.renew_below.seconds
    if left < -LAPSED_VIP_S:
        return None, f"VIP ended on {shown}: it is not renewed on its own"
    if left >= threshold:
        due = datetime.fromtimestamp(end - threshold, UTC).strftime("%Y-%m-%d")
        return None, f"VIP until {shown}; renewed from {due} (bonus.vip.renew_below), if the points allow"
    room = VIP_CAP_S - max(0.0, left)
    for weeks in VIP_WEEKS:
        cost = weeks * VIP_POINTS_PER_WEEK
        if weeks * 7 * DAY <= room and cost <= budget:
            reason = f"VIP ends {shown}, within bonus.vip.renew_below ({bonus.vip.renew_below})"
            return Spend("vip", weeks, cost, f"vip:{snapshot.vip_until}", reason), f"renewing VIP ({reason})"
    return None, (
        f"VIP ends {shown}, but {VIP_WEEKS[-1] * VIP_POINTS_PER_WEEK:,} points for 4 weeks are not free "
        "to spend (bonus.keep_points, bonus.max_spend_per_day)"
    )


def _upload(snapshot: AccountSnapshot, bonus: BonusConfig, budget: float) -> tuple[Spend | None, str]:
    credit = bonus.upload_credit
    cost = credit.gib_per_buy * UPLOAD_POINTS_PER_GIB
    what = f"{credit.gib_per_buy} GiB of upload credit for {cost:,} points"
    ratio = snapshot.ratio
    if ratio is None or snapshot.uploaded is None:
        return None, f"{what} when the ratio is known"
    if ratio >= credit.when_ratio_below:
        return None, f"{what} when the ratio is below {credit.when_ratio_below:g} (now {ratio:.2f})"
    if cost > budget:
        return None, f"{what} wanted (ratio {ratio:.2f}), but the points are not free to spend"
    reason = f"ratio {ratio:.2f} is below bonus.upload_credit.when_ratio_below ({credit.when_ratio_below:g})"
    spend = Spend("upload", credit.gib_per_buy, cost, f"upload:{snapshot.uploaded}", reason)
    return spend, f"buying {what} ({reason})"


Outcome = Literal["done", "not_done", "unclear"]


def outcome(
    kind: str, decision: str, cost: float, points_before: float | None, snapshot: AccountSnapshot
) -> Outcome:
    """Whether a purchase whose answer was lost (a timeout, a crash) went through, by a later snapshot.

    The points tell first: down by about the price, it went through; unchanged (or up: they grow
    every hour), it did not. A new VIP end date says so too. Anything else is unclear, and nothing
    more is bought until someone looks.
    """
    renewed = kind == "vip" and bool(snapshot.vip_until) and decision != f"vip:{snapshot.vip_until}"
    if points_before is None or snapshot.seedbonus is None:
        return "done" if renewed else "unclear"
    dropped = points_before - snapshot.seedbonus
    if dropped >= 0.9 * cost or renewed:
        return "done"
    if dropped <= 0.1 * cost:
        return "not_done"
    return "unclear"
