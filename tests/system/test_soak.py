"""The soak benchmark in miniature: two days of the daemon as shipped, on the leaping clock.

What `python -m tests.bench --only soak` does for 90 days, here for two, so the test suite proves the
harness (the daemon on a clock that leaps when it only waits, the simulators on the same clock) and
that mamd does its work through it: books grabbed, imported and confirmed, MAM spaced and asked only
when a grab is possible, and a clean exit.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.bench import soak

pytestmark = pytest.mark.system


@pytest.mark.timeout(300)
def test_two_days_of_mamd_on_the_leaping_clock(tmp_path: Path) -> None:
    outcome = asyncio.run(soak._soak(tmp_path, days=2))
    figures = {figure.name: figure for figure in soak.figures(outcome)}
    assert outcome.exit_code == 0
    assert [m["day"] for m in outcome.memory] == [1, 2]
    assert outcome.grabs >= 10  # the first day's limits.grabs_per_day, at least
    assert outcome.imports >= outcome.grabs - 3  # limits.active_downloads may still be downloading
    assert outcome.confirmed >= outcome.imports - 3  # and the last imports await their scan
    assert len(outcome.requests) > 96  # the account is read every 15 minutes, and books searched
    assert figures["soak_mam_spacing_breaches"].value == 0
    assert figures["soak_mam_searches_while_nothing_grabbable"].value == 0
    assert figures["soak_unbounded"].value == 0
    assert outcome.status_ms
    assert all(
        figure.verdict in ("", "yes") for name, figure in figures.items() if name != "soak_rss_growth_mib"
    )
