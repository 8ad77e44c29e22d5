"""The account guard's levels, what each allows, and its hysteresis."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from mamd.config.model import LimitsConfig, RatioConfig
from mamd.domain.account import AccountSnapshot, Counter
from mamd.domain.guard import Level, Verdict, assess

NOW = 1_800_000_000.0
HOUR = 3600.0
RATIO = RatioConfig()  # floor 1.5, emergency below 1.2, recover above 1.4
LIMITS = LimitsConfig()  # 5 unsatisfied kept free
HEALTHY = AccountSnapshot(
    at=NOW - 60,
    classname="Power User",
    ratio=3.0,
    uploaded=300,
    downloaded=100,
    counters={
        "unsat": Counter(10, 50),
        "seedHnr": Counter(0),
        "inactHnr": Counter(0),
        "inactUnsat": Counter(0),
    },
)


def judge(previous: Level = "ok", now: float = NOW, **changes: Any) -> Verdict:
    snapshot = replace(HEALTHY, **changes) if changes else HEALTHY
    return assess(snapshot, previous, now, RATIO, LIMITS, max_age_s=HOUR)


def counters(**changes: Counter) -> dict[str, Counter]:
    return {**HEALTHY.counters, **changes}


def test_a_healthy_account_is_ok_and_allows_everything() -> None:
    verdict = judge()
    assert (verdict.level, verdict.grabs, verdict.pause_downloads) == ("ok", "all", False)
    assert verdict.refuses(freeleech=False) is None


def test_below_the_floor_only_freeleech_is_grabbed() -> None:
    verdict = judge(ratio=1.3)
    assert (verdict.level, verdict.grabs, verdict.pause_downloads) == ("caution", "freeleech", False)
    assert verdict.refuses(freeleech=True) is None
    refused = verdict.refuses(freeleech=False)
    assert refused is not None
    assert "ratio 1.30 is below ratio.floor (1.5)" in refused


def test_below_emergency_nothing_is_grabbed_and_downloads_pause() -> None:
    verdict = judge(ratio=1.1)
    assert (verdict.level, verdict.grabs, verdict.pause_downloads) == ("emergency", "none", True)
    assert verdict.refuses(freeleech=True) is not None


@pytest.mark.parametrize(
    ("ratio", "level"),
    [(1.1, "emergency"), (1.25, "emergency"), (1.4, "emergency"), (1.41, "caution"), (1.6, "ok")],
)
def test_an_emergency_ends_only_above_recover_above(ratio: float, level: str) -> None:
    assert judge(previous="emergency", ratio=ratio).level == level


def test_without_hysteresis_the_same_ratio_is_only_caution() -> None:
    assert judge(previous="caution", ratio=1.25).level == "caution"
    assert judge(previous="ok", ratio=1.25).level == "caution"


def test_a_ratio_hovering_at_the_threshold_does_not_flap() -> None:
    levels: list[Level] = []
    level: Level = "ok"
    for ratio in (1.21, 1.19, 1.21, 1.19, 1.22, 1.3, 1.39, 1.41, 1.39):
        level = judge(previous=level, ratio=ratio).level
        levels.append(level)
    assert levels == [
        "caution",
        "emergency",
        "emergency",
        "emergency",
        "emergency",
        "emergency",
        "emergency",
        "caution",
        "caution",
    ]


def test_no_snapshot_means_freeleech_only() -> None:
    verdict = assess(None, "ok", NOW, RATIO, LIMITS, max_age_s=HOUR)
    assert (verdict.level, verdict.grabs) == ("caution", "freeleech")
    assert "no account snapshot" in verdict.reasons[0]


def test_a_stale_snapshot_is_unknown_and_allows_only_freeleech() -> None:
    verdict = judge(at=NOW - 2 * HOUR)
    assert (verdict.level, verdict.grabs, verdict.pause_downloads) == ("caution", "freeleech", False)
    assert "120 min old" in verdict.reasons[0]


def test_a_stale_snapshot_never_ends_an_emergency() -> None:
    verdict = judge(previous="emergency", at=NOW - 2 * HOUR, ratio=5.0)
    assert (verdict.level, verdict.pause_downloads) == ("emergency", True)


def test_a_clock_that_moved_back_makes_the_snapshot_untrusted() -> None:
    verdict = judge(at=NOW + 2 * HOUR)
    assert (verdict.level, verdict.grabs) == ("caution", "freeleech")
    assert "the clock moved back" in verdict.reasons[0]
    assert judge(at=NOW + 60).level == "ok"  # a little skew is fine


def test_a_clock_that_jumped_forward_makes_the_snapshot_stale() -> None:
    assert judge(now=NOW + 30 * 86400).grabs == "freeleech"


def test_a_spent_unsatisfied_budget_stops_grabs() -> None:
    verdict = judge(counters=counters(unsat=Counter(45, 50)))
    assert (verdict.level, verdict.grabs) == ("caution", "none")
    assert "45 of 50 unsatisfied" in verdict.reasons[0]


@pytest.mark.parametrize("missing", [{}, {"unsat": Counter(3)}])
def test_unknown_unsatisfied_counters_stop_grabs(missing: dict[str, Counter]) -> None:
    verdict = judge(counters=missing)
    assert verdict.grabs == "none"


@pytest.mark.parametrize("key", ["seedHnr", "inactHnr"])
def test_hit_and_runs_stop_grabs(key: str) -> None:
    verdict = judge(counters=counters(**{key: Counter(2)}))
    assert (verdict.level, verdict.grabs) == ("caution", "none")
    assert "2 hit-and-run" in verdict.reasons[0]


def test_potential_hit_and_runs_are_a_caution_that_still_grabs() -> None:
    verdict = judge(counters=counters(inactUnsat=Counter(1)))
    assert (verdict.level, verdict.grabs) == ("caution", "all")


def test_the_worst_reason_decides_the_grabs_and_every_reason_is_said() -> None:
    verdict = judge(ratio=1.3, counters=counters(inactHnr=Counter(1)))
    assert verdict.grabs == "none"
    assert len(verdict.reasons) == 2


@pytest.mark.parametrize("ratio", [None, float("inf")])
def test_odd_ratios(ratio: float | None) -> None:
    verdict = judge(ratio=ratio)
    assert verdict.level == ("caution" if ratio is None else "ok")
