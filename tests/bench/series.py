"""Series continuation figures: sweeps over 500 owned series against the MAM simulator.

Each owned series (books 1–3) has 4 and 5 on MAM and a same-named series by another author. The sweeps run
in this process against the simulator on 127.0.0.1 with a real SQLite file, on a clock whose waits pass at
once (the simulator stamps requests with the same clock), so MAM's spacing (`mam.search_interval`, 2 s) is
kept in that clock's time and the whole run takes seconds. It sweeps until every series was looked up.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
import time
from pathlib import Path

from mamd.jobs.series_next import SERIES_PER_RUN
from mamd.logs import Redactor, configure_logging
from tests.bench.figures import Figure
from tests.support.series_env import SEARCH, many_series, series_env

SERIES = 500
SPACING_S = 2.0


async def _sweep_all(folder: Path, count: int) -> dict[str, float]:
    books, rows = many_series(count)
    async with series_env(folder, books, rows, {"mam": {"search_interval": f"{SPACING_S:g}s"}}) as env:
        started = time.monotonic()
        per_run: list[int] = []
        while True:
            summary = await env.sweep()
            if not summary["requests"]:
                break
            per_run.append(int(summary["requests"]))
        wall = time.monotonic() - started
        searches = env.sim.requests.matching(SEARCH)
        gaps = [b.monotonic - a.monotonic for a, b in itertools.pairwise(searches)]
        wanted = await env.wanted("series_next")
        return {
            "requests": len(searches),
            "runs": len(per_run),
            "max_per_run": max(per_run),
            "min_gap": min(gaps),
            "wanted": len(wanted),
            "wall": wall,
        }


def run(quick: bool = False) -> list[Figure]:
    configure_logging("warning", "json", Redactor(), stream=sys.stderr)
    count = 100 if quick else SERIES
    with tempfile.TemporaryDirectory(prefix="mamd-bench-series-") as folder:
        found = asyncio.run(_sweep_all(Path(folder), count))
    return [
        Figure(
            f"series_sweep_{count}_requests",
            found["requests"],
            count,
            "MAM searches for every series: one each",
        ),
        Figure(f"series_sweep_{count}_runs", found["runs"]),
        Figure("series_sweep_requests_per_run_max", found["max_per_run"], SERIES_PER_RUN, "SERIES_PER_RUN"),
        Figure(
            "series_sweep_spacing_min_s",
            found["min_gap"],
            note=f"between MAM searches; mam.search_interval is {SPACING_S:g} s",
        ),
        Figure(f"series_sweep_{count}_wanted", found["wanted"], note="4 and 5 of each, no imitation"),
        Figure(f"series_sweep_{count}_wall_s", found["wall"]),
    ]
