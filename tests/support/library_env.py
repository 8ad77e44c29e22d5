"""mamd's runtime pointed at one Audiobookshelf (real or simulated), to run `library_sync` and `discover`.

`library_runtime(tmp, url, key, …)` opens a runtime over a real SQLite file with an `InstantClock`,
connected through its own aiohttp session; the jobs run as the scheduler would run them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from mamd.config import load_config
from mamd.domain.library import Book
from mamd.jobs import discover, library_sync
from mamd.runtime import Runtime
from mamd.schedule import JobContext, JobState
from tests.support.clock import InstantClock
from tests.support.configs import write_config


@dataclass
class LibraryRuntime:
    runtime: Runtime
    clock: InstantClock

    def context(self, job: str) -> JobContext:
        return JobContext(job, 0, "manual", self.clock, JobState(job), by_hand=True)

    async def sync(self) -> dict[str, Any]:
        return dict(await library_sync.run(self.runtime, self.context("library_sync")))

    async def discover(self) -> dict[str, Any]:
        return dict(await discover.run(self.runtime, self.context("discover")))

    async def books(self) -> dict[str, dict[str, Any]]:
        """Every stored book by its folder (relative to the library), as `abs_real.book_facts` shows it."""
        return {book.rel_path: facts(book) for book in await self.runtime.library.books()}

    async def wanted(self) -> list[tuple[str | None, str | None, str | None, str, str]]:
        """(series, position, title, author, reason) of every wanted book, sorted."""
        rows = [(w.series, w.position, w.title, w.author, w.reason) for w in await self.runtime.wanted.all()]
        return sorted(rows, key=lambda row: tuple(part or "" for part in row))


def facts(book: Book) -> dict[str, Any]:
    return {
        "title": book.title,
        "authors": list(book.authors),
        "narrators": list(book.narrators),
        "series": [(entry.name, entry.sequence) for entry in book.series],
        "asin": book.asin,
        "isbn": book.isbn,
    }


@contextlib.asynccontextmanager
async def library_runtime(
    folder: Path, url: str, api_key: str, library_path: Path, changes: dict[str, Any] | None = None
) -> AsyncIterator[LibraryRuntime]:
    """A runtime whose `audiobookshelf` section points at `url`; `changes` are more configuration."""
    settings: dict[str, Any] = {
        "audiobookshelf": {"url": url, "api_key": api_key, "path": str(library_path)},
    }
    for section, values in (changes or {}).items():
        settings.setdefault(section, {}).update(values)
    path = write_config(folder, settings)  # folder: a test's tmp_path or a folder under it
    clock = InstantClock()
    runtime = Runtime(load_config(path), path, clock=clock)
    await runtime.store.open()
    session = aiohttp.ClientSession()
    runtime.connect(session)
    try:
        yield LibraryRuntime(runtime, clock)
    finally:
        await session.close()
        await runtime.store.close()
