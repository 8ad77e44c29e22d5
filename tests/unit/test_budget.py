"""The budgets checked before every grab."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from mamd.config.model import LimitsConfig, RatioConfig
from mamd.domain.account import AccountSnapshot, Counter
from mamd.domain.budget import BudgetFacts, blocked, held
from mamd.domain.release import Release
from mamd.domain.rules import Decision

GIB = 1024**3
LIMITS = LimitsConfig()  # 10 a day, 3 running, 20 GiB free, 5 unsatisfied kept
RATIO = RatioConfig()  # floor 1.5
SNAPSHOT = AccountSnapshot(
    at=0.0,
    classname="User",
    ratio=3.0,
    uploaded=300 * GIB,
    downloaded=100 * GIB,
    counters={"unsat": Counter(count=10, limit=50), "seedHnr": Counter(0), "inactHnr": Counter(0)},
)


def decision(size: int = 2 * GIB, free: bool = False, use_wedge: bool = False) -> Decision:
    release = Release(id=1, title="Book", size=size)
    return Decision(release, True, 10.0, (), free=free, use_wedge=use_wedge)


def facts(**changes: Any) -> BudgetFacts:
    base = BudgetFacts(grabs_last_day=0, active_downloads=0, free_space=500 * GIB, snapshot=SNAPSHOT)
    return replace(base, **changes)


def snapshot(**changes: Any) -> AccountSnapshot:
    return replace(SNAPSHOT, **changes)


def test_within_every_budget_a_grab_may_happen() -> None:
    assert blocked(decision(), facts(), LIMITS, RATIO) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"grabs_last_day": 10}, "limits.grabs_per_day"),
        ({"active_downloads": 3}, "limits.active_downloads"),
        ({"free_space": None}, "could not be read"),
        ({"active_downloads": None}, "qBittorrent did not answer"),
        ({"free_space": 21 * GIB}, "limits.min_free_space"),
    ],
)
def test_local_budgets(changes: dict[str, Any], reason: str) -> None:
    why = blocked(decision(), facts(**changes), LIMITS, RATIO)
    assert why is not None
    assert reason in why


def test_free_space_counts_the_torrent_itself() -> None:
    assert blocked(decision(size=GIB), facts(free_space=21 * GIB + 1), LIMITS, RATIO) is None
    assert blocked(decision(size=2 * GIB), facts(free_space=21 * GIB + 1), LIMITS, RATIO) is not None


def test_a_zero_limit_stops_every_grab() -> None:
    assert blocked(decision(), facts(), replace(LIMITS, grabs_per_day=0), RATIO) is not None


def test_the_unsatisfied_budget_keeps_its_reserve() -> None:
    room_of_one = snapshot(counters={"unsat": Counter(count=44, limit=50)})
    assert blocked(decision(), facts(snapshot=room_of_one), LIMITS, RATIO) is None
    full = snapshot(counters={"unsat": Counter(count=45, limit=50)})
    why = blocked(decision(free=True), facts(snapshot=full), LIMITS, RATIO)
    assert why is not None
    assert "45 of 50 unsatisfied" in why


@pytest.mark.parametrize("counters", [{}, {"unsat": Counter(count=3)}])
def test_an_unknown_unsatisfied_budget_blocks_even_freeleech(counters: dict[str, Counter]) -> None:
    why = blocked(decision(free=True), facts(snapshot=snapshot(counters=counters)), LIMITS, RATIO)
    assert why is not None
    assert "unknown" in why


@pytest.mark.parametrize("key", ["seedHnr", "inactHnr"])
def test_a_hit_and_run_blocks_every_grab(key: str) -> None:
    counters = {**SNAPSHOT.counters, key: Counter(count=1)}
    why = blocked(decision(free=True), facts(snapshot=snapshot(counters=counters)), LIMITS, RATIO)
    assert why is not None
    assert "hit-and-run" in why


def test_without_a_snapshot_only_freeleech_may_be_grabbed() -> None:
    assert blocked(decision(free=True), facts(snapshot=None), LIMITS, RATIO) is None
    assert blocked(decision(use_wedge=True), facts(snapshot=None), LIMITS, RATIO) is None
    why = blocked(decision(), facts(snapshot=None), LIMITS, RATIO)
    assert why is not None
    assert "only freeleech" in why


def test_a_paid_torrent_may_not_take_the_ratio_below_the_floor() -> None:
    # 300 GiB up, 100 GiB down: 100 GiB more leaves exactly 1.5; 101 GiB leaves less.
    assert blocked(decision(size=100 * GIB), facts(free_space=10_000 * GIB), LIMITS, RATIO) is None
    why = blocked(decision(size=101 * GIB), facts(free_space=10_000 * GIB), LIMITS, RATIO)
    assert why is not None
    assert "ratio.floor" in why
    assert "1.49" in why


def test_freeleech_does_not_touch_the_ratio() -> None:
    poor = snapshot(uploaded=GIB, downloaded=100 * GIB, ratio=0.01)
    assert blocked(decision(free=True), facts(snapshot=poor), LIMITS, RATIO) is None
    assert blocked(decision(use_wedge=True), facts(snapshot=poor), LIMITS, RATIO) is None
    assert blocked(decision(), facts(snapshot=poor), LIMITS, RATIO) is not None


def test_unknown_totals_allow_only_freeleech() -> None:
    unknown = snapshot(uploaded=None)
    assert blocked(decision(free=True), facts(snapshot=unknown), LIMITS, RATIO) is None
    why = blocked(decision(), facts(snapshot=unknown), LIMITS, RATIO)
    assert why is not None
    assert "unknown" in why


def test_a_new_account_with_nothing_downloaded() -> None:
    fresh = snapshot(uploaded=0, downloaded=0)
    assert blocked(decision(), facts(snapshot=fresh), LIMITS, RATIO) is not None
    rich = snapshot(uploaded=100 * GIB, downloaded=0)
    assert blocked(decision(), facts(snapshot=rich), LIMITS, RATIO) is None


# -- grabs since the snapshot, and whether anything may be grabbed at all ------------------------


def test_grabs_in_one_run_add_up_against_the_unsatisfied_reserve() -> None:
    room_of_two = facts(snapshot=snapshot(counters={"unsat": Counter(count=43, limit=50)}))
    first = decision(free=True)
    assert blocked(first, room_of_two, LIMITS, RATIO) is None
    after_one = room_of_two.after(first)
    assert blocked(first, after_one, LIMITS, RATIO) is None
    why = blocked(first, after_one.after(first), LIMITS, RATIO)
    assert why is not None
    assert "45 of 50 unsatisfied torrents (2 grabbed since MAM was asked)" in why


def test_paid_grabs_in_one_run_add_up_against_the_ratio_floor() -> None:
    # 300 GiB up, 191 GiB down: one 5 GiB paid torrent leaves 1.53, a second would leave 1.49
    near = facts(snapshot=snapshot(downloaded=191 * GIB))
    paid = decision(size=5 * GIB)
    assert blocked(paid, near, LIMITS, RATIO) is None
    why = blocked(paid, near.after(paid), LIMITS, RATIO)
    assert why is not None
    assert "the ratio would drop to 1.49" in why
    assert blocked(decision(size=5 * GIB, free=True), near.after(paid), LIMITS, RATIO) is None


def test_freeleech_grabs_do_not_count_against_the_ratio() -> None:
    near = facts(snapshot=snapshot(downloaded=190 * GIB))
    free = decision(size=5 * GIB, free=True)
    assert blocked(decision(size=5 * GIB), near.after(free).after(free), LIMITS, RATIO) is None


def test_wedges_spent_in_a_run_are_gone_from_the_account() -> None:
    start = facts(snapshot=snapshot(wedges=6))
    wedged = decision(use_wedge=True)
    assert start.wedges == 6
    assert start.after(wedged).after(wedged).wedges == 4
    assert start.after(decision()).wedges == 6
    assert facts(snapshot=None).wedges is None


def test_the_local_budgets_follow_each_grab() -> None:
    after = facts(active_downloads=1, grabs_last_day=4, free_space=100 * GIB).after(decision(size=3 * GIB))
    assert (after.active_downloads, after.grabs_last_day, after.free_space) == (2, 5, 97 * GIB)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"grabs_last_day": 10}, "limits.grabs_per_day"),
        ({"active_downloads": 3}, "limits.active_downloads"),
        ({"active_downloads": None}, "qBittorrent did not answer"),
        ({"free_space": 19 * GIB}, "limits.min_free_space"),
        ({"snapshot": snapshot(counters={"unsat": Counter(count=45, limit=50)})}, "unsatisfied"),
        (
            {"snapshot": snapshot(counters={"unsat": Counter(count=1, limit=50), "seedHnr": Counter(1)})},
            "hit-and-run",
        ),
        ({"snapshot": snapshot(counters={})}, "unknown"),
    ],
)
def test_nothing_may_be_grabbed_when_a_budget_is_spent_whatever_the_release(
    changes: dict[str, Any], reason: str
) -> None:
    why = held(facts(**changes), LIMITS)
    assert why is not None
    assert reason in why


def test_something_may_be_grabbed_without_a_snapshot_or_near_the_ratio_floor() -> None:
    assert held(facts(snapshot=None), LIMITS) is None  # freeleech may be
    assert held(facts(snapshot=snapshot(downloaded=300 * GIB)), LIMITS) is None  # so may freeleech
    assert held(facts(), LIMITS) is None
