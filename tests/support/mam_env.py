"""mamd's runtime wired to the MAM simulator and a real qbittorrent-nox, for tests of the jobs that use both.

The runtime runs on an `InstantClock` (MAM's request spacing passes at once) over a real SQLite
file; the simulator and qBittorrent listen on 127.0.0.1. `make_env` is a pytest fixture.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mamd.config import load_config
from mamd.domain.discovery import WantSpec
from mamd.jobs import account as account_job
from mamd.jobs import reconcile as reconcile_job
from mamd.jobs import search as search_job
from mamd.logs import Redactor
from mamd.runtime import Runtime
from mamd.schedule import JobContext, JobState
from mamd.sim.mam.app import MamSimulator
from mamd.sim.qbittorrent.launcher import QbittorrentNox
from mamd.store.wanted import WantedBook
from tests.support.clock import InstantClock
from tests.support.configs import write_config
from tests.support.mam_client import serving
from tests.support.qbittorrent import QbittorrentFactory, api_client

COOKIE = "test-mam-session-cookie-value"


@dataclass
class Env:
    runtime: Runtime
    sim: MamSimulator
    qbt: QbittorrentNox
    clock: InstantClock

    def context(self, job: str, trigger: str = "schedule") -> JobContext:
        """As the job's timer starts it; `trigger="manual"` as `mamd run-job` does."""
        return JobContext(job, 0, trigger, self.clock, JobState(job), by_hand=trigger == "manual")

    async def want(self, *specs: WantSpec) -> list[WantedBook]:
        await self.runtime.wanted.apply(specs, {}, [], self.clock.now())
        books = {book.key: book for book in await self.runtime.wanted.all()}
        return [books[spec.key] for spec in specs]

    async def account(self) -> dict[str, Any]:
        return dict(await account_job.run(self.runtime, self.context("account")))

    async def search(self) -> dict[str, Any]:
        return dict(await search_job.run(self.runtime, self.context("search")))

    async def reconcile(self) -> dict[str, Any]:
        return dict(await reconcile_job.run(self.runtime, self.context("reconcile")))

    async def book(self, wanted: WantedBook) -> WantedBook:
        found = await self.runtime.wanted.get(wanted.id)
        assert found is not None
        return found

    async def events(self, kind: str) -> list[Any]:
        return [e for e in await self.runtime.events.recent(500) if e.kind == kind]

    def in_qbittorrent(self) -> list[Any]:
        with api_client(self.qbt) as client:
            return list(client.torrents_info())


@pytest.fixture
async def make_env(tmp_path: Path, qbittorrent_nox: QbittorrentFactory) -> AsyncIterator[Callable[..., Any]]:
    """`await make_env(changes, mam_timeout_s=…, **simulator_options)`: a fresh runtime and simulator on one
    qbittorrent-nox. The simulator runs its handlers to the end even when the client gave up, as a real
    server does (a purchase whose answer times out still goes through)."""
    qbt = qbittorrent_nox()
    async with contextlib.AsyncExitStack() as stack:

        async def make(
            changes: dict[str, Any] | None = None, mam_timeout_s: float | None = None, **sim_options: Any
        ) -> Env:
            clock = InstantClock(time.time())  # qBittorrent stamps its torrents with the real time
            sim = MamSimulator.handwritten(cookie=COOKIE, clock=clock.now, monotonic=clock.now, **sim_options)
            url = await stack.enter_async_context(serving(sim.app, cancel_handlers=False))
            settings: dict[str, Any] = {
                "mam": {"base_url": url, "session": COOKIE},
                "qbittorrent": {
                    "url": qbt.url,
                    "username": qbt.username,
                    "password": qbt.password,
                    "save_path": str(qbt.save_path),
                },
                "limits": {"min_free_space": "1MiB"},
            }
            for section, values in (changes or {}).items():
                if isinstance(values, dict):
                    settings.setdefault(section, {}).update(values)
                else:
                    settings[section] = values
            path = write_config(tmp_path, settings)
            runtime = Runtime(load_config(path), path, clock=clock, redactor=Redactor())
            await runtime.store.open()
            stack.push_async_callback(runtime.store.close)
            stack.push_async_callback(runtime.tasks.drain, 1.0)
            session = await stack.enter_async_context(aiohttp.ClientSession())
            runtime.connect(session)
            if mam_timeout_s is not None:
                runtime.mam = runtime.mam_client(session, timeout_s=mam_timeout_s)
            return Env(runtime, sim, qbt, clock)

        yield make
