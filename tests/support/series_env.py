"""A runtime on a real database wired to the MAM simulator (no qBittorrent), for the series continuation and
weekly-best jobs; and catalogues of owned series with their next books on MAM.

The runtime runs on an `InstantClock`: MAM's request spacing is waited out in the clock's time at once, and
the simulator stamps each request with that same clock, so the spacing it sees is the spacing mamd kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from mamd.config import load_config
from mamd.domain.library import Book, SeriesEntry
from mamd.jobs import series_next, top, wanted_parts
from mamd.logs import Redactor
from mamd.runtime import Runtime
from mamd.schedule import JobContext, JobState
from mamd.sim.mam.app import MamSimulator
from mamd.sim.mam.rows import Credit, Row, SeriesLink
from tests.support.clock import InstantClock
from tests.support.configs import MAM_SESSION, merge, write_config
from tests.support.mam_client import serving

SEARCH = "/tor/js/loadSearchJSONbasic.php"
START = 1_800_000_000.0  # 2027-01-15


def row(
    tid: int,
    title: str,
    author: tuple[int, str],
    series: tuple[int, str, str] | None = None,
    **fields: Any,
) -> Row:
    """A catalogue row: `series` is (MAM's series id, its name, the number as MAM writes it)."""
    links = (SeriesLink(*series),) if series else ()
    values: dict[str, Any] = {"seeders": 5, "size_bytes": 300 * 1024**2, "added": "2027-01-10 12:00:00"}
    return Row(tid, title, (Credit(*author),), series=links, **(values | fields))


def owned(series: str, author: str, positions: Iterable[int | str], prefix: str = "b") -> list[Book]:
    return [
        Book(f"{prefix}-{series}-{p}", f"{series} Book {p}", (author,), series=(SeriesEntry(series, str(p)),))
        for p in positions
    ]


def many_series(count: int) -> tuple[list[Book], list[Row]]:
    """`count` owned series (1–3 owned), each with books 4 and 5 on MAM, and as many same-named series by
    other authors whose 4 and 5 are not the user's."""
    books: list[Book] = []
    rows: list[Row] = []
    tid = 700_000
    for n in range(count):
        name, author, other = f"Saga{n:04d}", f"Writer{n:04d} Pen", f"Other{n:04d} Hand"
        books += owned(name, author, (1, 2, 3), prefix=f"s{n}")
        for position in (1, 2, 3, 4, 5):
            tid += 1
            rows.append(
                row(tid, f"{name} Book {position}", (10_000 + n, author), (50_000 + n, name, str(position)))
            )
        for position in (4, 5):
            tid += 1
            rows.append(
                row(
                    tid,
                    f"{name} Imitation {position}",
                    (20_000 + n, other),
                    (60_000 + n, name, str(position)),
                )
            )
    return books, rows


@dataclass
class SeriesEnv:
    runtime: Runtime
    sim: MamSimulator
    clock: InstantClock

    def parts(self) -> series_next.Parts:
        return wanted_parts(self.runtime)

    def context(self, job: str) -> JobContext:
        return JobContext(job, 0, "schedule", self.clock, JobState(job))

    async def sweep(self) -> dict[str, Any]:
        return dict(await series_next.run(self.parts(), self.context("series_next")))

    async def top(self) -> dict[str, Any]:
        return dict(await top.run(self.parts(), self.context("top")))

    async def wanted(self, reason: str | None = None) -> list[Any]:
        return [b for b in await self.runtime.wanted.all() if reason is None or b.reason == reason]


@contextlib.asynccontextmanager
async def series_env(
    folder: Path, books: list[Book], rows: Iterable[Row], changes: dict[str, Any] | None = None
) -> AsyncIterator[SeriesEnv]:
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    clock = InstantClock(START)
    sim = MamSimulator(rows, cookie=MAM_SESSION, clock=clock.now, monotonic=clock.now)
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(serving(sim.app, cancel_handlers=False))
        settings = merge({"mam": {"base_url": url}, "wanted": {"series_next": True}}, changes or {})
        path = write_config(folder, settings)
        runtime = Runtime(load_config(path), path, clock=clock, redactor=Redactor())
        await runtime.store.open()
        stack.push_async_callback(runtime.store.close)
        stack.push_async_callback(runtime.tasks.drain, 1.0)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        runtime.connect(session)
        await runtime.library.upsert(books, clock.now())
        yield SeriesEnv(runtime, sim, clock)
