"""mamd/backoff.py: one retry policy, with explicit failure counts and times."""

from __future__ import annotations

import pytest

from mamd.backoff import Backoff


def test_the_wait_doubles_after_each_failure_up_to_the_longest() -> None:
    policy = Backoff(5, 60)
    assert [policy.delay(n) for n in range(7)] == [0.0, 5, 10, 20, 40, 60, 60]


def test_a_huge_number_of_failures_still_waits_the_longest() -> None:
    assert Backoff(0.5, 8).delay(10_000) == 8


def test_jitter_only_ever_shortens_a_wait_by_its_fraction() -> None:
    policy = Backoff(10, 100, jitter=0.5)
    assert policy.delay(2, spread=1.0) == 20
    assert policy.delay(2, spread=0.0) == 10
    assert policy.delay(2, spread=0.5) == 15
    assert policy.delay(2, spread=7.0) == 20  # out-of-range spreads are clamped


def test_without_a_cap_there_is_always_a_next_try() -> None:
    policy = Backoff(1, 4)
    assert policy.next_try(1_000, now=100.0) == 104.0
    assert not policy.gives_up(1_000)


def test_with_a_cap_the_last_failure_has_no_next_try() -> None:
    policy = Backoff(60, 3600, give_up_after=3)
    assert policy.next_try(1, now=1000.0) == 1060.0
    assert policy.next_try(2, now=1000.0) == 1120.0
    assert policy.next_try(3, now=1000.0) is None
    assert policy.gives_up(3)
    assert policy.gives_up(4)


def test_capped_at_keeps_the_shape_and_shortens_the_waits() -> None:
    policy = Backoff(300, 86_400, give_up_after=None).capped_at(900)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [300, 600, 900, 900]
    assert Backoff(300, 86_400).capped_at(60).delay(1) == 60


@pytest.mark.parametrize(
    "arguments",
    [
        {"first_s": -1, "max_s": 5},
        {"first_s": 10, "max_s": 5},
        {"first_s": 1, "max_s": 5, "give_up_after": 0},
        {"first_s": 1, "max_s": 5, "jitter": 1.5},
    ],
)
def test_a_policy_that_makes_no_sense_is_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"backoff|give_up_after|jitter"):
        Backoff(**arguments)  # type: ignore[arg-type]  # the dict holds each argument's own type
