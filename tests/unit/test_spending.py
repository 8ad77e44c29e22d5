"""What bonus points buy: VIP before it runs out, upload credit when the ratio is low, never too much."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from mamd.config.model import BonusConfig, UploadCreditConfig, VipConfig
from mamd.config.units import Duration
from mamd.domain.account import AccountSnapshot
from mamd.domain.spending import outcome, plan

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400.0
ON = BonusConfig(enabled=True)  # keep 10,000, VIP below 7 days, upload credit below ratio 2.0, 50 GiB


def when(days: float) -> str:
    return datetime.fromtimestamp(NOW + days * DAY, UTC).strftime("%Y-%m-%d %H:%M:%S")


ACCOUNT = AccountSnapshot(
    at=NOW, classname="VIP", ratio=3.0, uploaded=300 * 1024**3, downloaded=100 * 1024**3, seedbonus=60_000
)


def account(**changes: Any) -> AccountSnapshot:
    return replace(ACCOUNT, **changes)


def bonus(**changes: Any) -> BonusConfig:
    return replace(ON, **changes)


def test_nothing_is_spent_unless_enabled() -> None:
    decided = plan(account(vip_until=when(1), ratio=1.0), BonusConfig(), NOW, 0)
    assert decided.spend is None
    assert "bonus.enabled" in decided.notes[0]


def test_vip_is_renewed_when_less_than_renew_below_remains() -> None:
    decided = plan(account(vip_until=when(3)), ON, NOW, 0)
    assert decided.spend is not None
    assert (decided.spend.kind, decided.spend.amount, decided.spend.cost) == ("vip", 12, 15_000)
    assert decided.spend.decision == f"vip:{when(3)}"


def test_vip_with_time_left_is_not_renewed_and_the_date_is_said() -> None:
    decided = plan(account(vip_until=when(30)), ON, NOW, 0)
    assert decided.spend is None
    assert "renewed from 2026-12-15" in decided.notes[0]


@pytest.mark.parametrize(
    ("points", "spent_today", "weeks"),
    [
        (60_000, 0, 12),
        (22_000, 0, 8),
        (16_000, 0, 4),
        (14_000, 0, None),
        (60_000, 42_000, 4),
        (60_000, 50_000, None),
    ],
)
def test_the_longest_vip_the_points_and_the_daily_cap_allow(
    points: float, spent_today: float, weeks: int | None
) -> None:
    decided = plan(account(vip_until=when(2), seedbonus=points), ON, NOW, spent_today)
    assert (decided.spend.amount if decided.spend else None) == weeks


def test_vip_never_goes_past_the_90_day_cap() -> None:
    short = bonus(vip=VipConfig(renew_below=Duration.parse("60d")))
    decided = plan(account(vip_until=when(40)), short, NOW, 0)
    assert decided.spend is not None
    assert decided.spend.amount == 4  # 40 days + 12 or 8 weeks would pass 90 days
    assert (
        plan(
            account(vip_until=when(70)), bonus(vip=VipConfig(renew_below=Duration.parse("80d"))), NOW, 0
        ).spend
        is None
    )


def test_a_vip_that_lapsed_long_ago_or_never_was_is_not_bought() -> None:
    assert plan(account(vip_until=when(-30)), ON, NOW, 0).spend is None
    assert plan(account(vip_until=None, classname="User"), ON, NOW, 0).spend is None
    assert plan(account(vip_until="not a date"), ON, NOW, 0).spend is None


def test_upload_credit_when_the_ratio_is_low() -> None:
    decided = plan(account(ratio=1.8), ON, NOW, 0)
    assert decided.spend is not None
    assert (decided.spend.kind, decided.spend.amount, decided.spend.cost) == ("upload", 50, 25_000)
    assert decided.spend.decision == f"upload:{ACCOUNT.uploaded}"


def test_upload_credit_in_larger_steps_when_asked() -> None:
    decided = plan(account(ratio=1.8), bonus(upload_credit=UploadCreditConfig(gib_per_buy=100)), NOW, 0)
    assert decided.spend is not None
    assert decided.spend.cost == 50_000


def test_upload_credit_is_not_bought_into_the_reserve() -> None:
    assert plan(account(ratio=1.8, seedbonus=34_999), ON, NOW, 0).spend is None
    assert plan(account(ratio=1.8, seedbonus=35_000), ON, NOW, 0).spend is not None


def test_vip_comes_before_upload_credit() -> None:
    decided = plan(account(ratio=1.8, vip_until=when(2)), ON, NOW, 0)
    assert decided.spend is not None
    assert decided.spend.kind == "vip"


def test_unknown_points_buy_nothing() -> None:
    assert plan(account(ratio=1.0, seedbonus=None), ON, NOW, 0).spend is None


@pytest.mark.parametrize(
    ("after", "vip_until", "found"),
    [
        (35_000.0, None, "done"),  # down by the price
        (35_400.0, None, "done"),  # down by the price, less an hour of points earned
        (60_000.0, None, "not_done"),
        (60_500.0, None, "not_done"),  # points only grew
        (48_000.0, None, "unclear"),  # down, but not by the price
        (None, None, "unclear"),
    ],
)
def test_a_lost_answer_is_settled_by_the_points(
    after: float | None, vip_until: str | None, found: str
) -> None:
    later = account(seedbonus=after, vip_until=vip_until)
    assert outcome("upload", "upload:1", 25_000, 60_000, later) == found


def test_a_new_vip_end_date_says_the_renewal_went_through() -> None:
    decision = f"vip:{when(2)}"
    assert outcome("vip", decision, 15_000, 60_000, account(seedbonus=None, vip_until=when(86))) == "done"
    assert (
        outcome("vip", decision, 15_000, 60_000, account(seedbonus=60_000, vip_until=when(2))) == "not_done"
    )
