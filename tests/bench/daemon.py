"""Daemon figures: start-up, idle cost, reload latency, hook acceptance under load, and the status
page with 1,000 wanted books."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from mamd.domain.account import AccountSnapshot, Counter
from mamd.domain.discovery import WantSpec, title_want_key
from mamd.sim.qbittorrent.launcher import QbittorrentNox
from mamd.store import Events, Store
from mamd.store.account import AccountHistory
from mamd.store.wanted import Wanted
from tests.bench.figures import Figure, median, percentile
from tests.support.abs_sim import abs_simulator
from tests.support.configs import API_KEY, free_port, write_config
from tests.support.daemon import DaemonProcess, NotifySocket, wait_for
from tests.support.mam_sim import SIM_COOKIE, mam_simulator
from tests.support.qbittorrent import qbittorrent_settings

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
IDLE_LIBRARY = 2_000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


OFF_BY_DEFAULT = ("series_next", "top")  # jobs whose wanted setting is off by default


def startup_to_ready(runs: int) -> float:
    """Median seconds from exec to READY=1, on a fresh folder each time (database created and migrated)."""
    timings = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            notify = NotifySocket()
            daemon = DaemonProcess(write_config(Path(folder)), notify=notify)
            try:
                started = time.monotonic()
                daemon.start()
                notify.wait_line("READY=1", timeout=20)
                ready_at = next(at for at, m in notify.messages if "READY=1" in m.split("\n"))
                timings.append(ready_at - started)
            finally:
                daemon.stop()
                notify.close()
    return median(timings)


def _idle(
    daemon: DaemonProcess, notify: NotifySocket, seconds: float, settled: Callable[[], bool]
) -> tuple[float, float]:
    """RSS (MiB) after `seconds` of idling once `settled()`, and CPU seconds per minute of that idling."""
    daemon.start()
    notify.wait_line("READY=1", timeout=20)
    wait_for("start-up work to end", settled, timeout=180, interval=0.5)
    time.sleep(2)
    cpu_before, started = cpu_seconds(daemon.pid), time.monotonic()
    time.sleep(seconds)
    spent, elapsed = cpu_seconds(daemon.pid) - cpu_before, time.monotonic() - started
    return rss_mib(daemon.pid), spent * 60 / elapsed


def idle_empty(seconds: float, changes: dict[str, Any] | None = None) -> tuple[float, float]:
    """The daemon with every job off and nothing to talk to: the cost of its loop alone (and of what
    `changes` add to it)."""
    with tempfile.TemporaryDirectory() as folder:
        notify = NotifySocket()
        config = write_config(Path(folder), changes)
        daemon = DaemonProcess(config, notify=notify, env={"WATCHDOG_USEC": "30000000"})
        try:
            return _idle(daemon, notify, seconds, lambda: True)
        finally:
            daemon.stop()
            notify.close()


def idle(seconds: float) -> tuple[float, float]:
    """The daemon as shipped: every job on its default interval, against the Audiobookshelf simulator (a
    2,000-book library), the MAM simulator and a real qbittorrent-nox. Measured once every job has run
    once (the library read, the wanted books worked out and searched, the account read), while nothing
    is due: the next run is minutes away. Series gaps are not wanted here: searching for 150 of them at
    MAM's two-second spacing would take minutes before anything idles."""
    with (
        tempfile.TemporaryDirectory() as temporary,
        abs_simulator(items=IDLE_LIBRARY) as audiobookshelf,
        mam_simulator(count=500) as mam,
    ):
        folder = Path(temporary)
        qbt = QbittorrentNox(folder / "qbt").start()
        notify = NotifySocket()
        config = write_config(
            folder,
            {
                "logging": {"level": "info"},
                "mam": {"base_url": mam.url, "session": SIM_COOKIE},
                "qbittorrent": qbittorrent_settings(qbt),
                "audiobookshelf": {"url": audiobookshelf.url, "api_key": audiobookshelf.api_key},
                "limits": {"min_free_space": "1MiB"},
                "wanted": {"series_gaps": False},
            },
            jobs_off=False,
        )
        daemon = DaemonProcess(config, notify=notify, env={"WATCHDOG_USEC": "30000000"})

        def every_job_ran() -> bool:
            jobs = daemon.status()["jobs"]
            # series_next and top run only when wanted.series_next and wanted.top ask: off by default
            shipped = {name: job for name, job in jobs.items() if name not in OFF_BY_DEFAULT}
            return all(job["last_result"] and not job["running"] for job in shipped.values())

        try:
            return _idle(daemon, notify, seconds, every_job_ran)
        finally:
            daemon.stop()
            notify.close()
            qbt.stop()


def reload_latency(edits: int) -> list[float]:
    """Milliseconds from writing an edit to its generation showing in /status."""
    latencies = []
    with tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder))
        daemon = DaemonProcess(config).start()
        try:
            daemon.wait_healthy()
            for index in range(edits):
                data = yaml.safe_load(config.read_text())
                data["limits"] = {"grabs_per_day": 10 + index + 1}
                before = daemon.status()["config"]["generation"]
                text = yaml.safe_dump(data, sort_keys=False)
                started = time.monotonic()
                config.write_text(text)
                wait_for(
                    "the new generation",
                    lambda before=before: daemon.status()["config"]["generation"] > before,
                    timeout=10,
                    interval=0.002,
                )
                latencies.append((time.monotonic() - started) * 1000)
                time.sleep(0.1)
        finally:
            daemon.stop()
    return latencies


async def _hook_load(base: str, rate: int, seconds: float) -> list[float]:
    count = int(rate * seconds)
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def one(index: int) -> None:
            started = time.perf_counter()
            async with session.post(
                f"{base}/hooks/qbittorrent",
                data={"hash": f"{index:040x}", "name": f"Bench Book {index}"},
                headers={"X-Api-Key": API_KEY},
            ) as response:
                await response.read()
                if response.status != 202:
                    raise RuntimeError(f"hook {index} answered {response.status}")
            latencies.append((time.perf_counter() - started) * 1000)

        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        for index in range(count):
            delay = start + index / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index)))
        await asyncio.gather(*tasks)
    return latencies


def hook_accept(rate: int, seconds: float) -> list[float]:
    """Per-request milliseconds at a steady `rate`; every event must be in the database afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder), {"logging": {"level": "info"}})
        daemon = DaemonProcess(config).start()
        try:
            daemon.wait_healthy()
            latencies = asyncio.run(_hook_load(daemon.base_url, rate, seconds))
            database = yaml.safe_load(config.read_text())["state"]["database"]
            with contextlib.closing(sqlite3.connect(database)) as db:
                stored = db.execute("SELECT count(*) FROM hook_inbox").fetchone()[0]
            if stored != len(latencies):
                raise RuntimeError(f"{len(latencies)} hooks accepted but {stored} stored")
        finally:
            daemon.stop()
    return latencies


PAGE_BOOKS = 1000
PAGE_STATES = ("wanted", "skipped", "blocked", "failed", "imported")


async def _page_state(database: str, now: float) -> None:
    """What a long-running mamd holds: 1,000 wanted books in five states, a reading of the account every
    five minutes for 30 days, and a few hundred events."""
    store = Store(database)
    await store.open()
    try:
        wanted, history, events = Wanted(store), AccountHistory(store), Events(store)
        specs = [
            WantSpec(title_want_key(author, title), "manual", author, title)
            for author, title in ((f"Author {i % 97}", f"Book {i}") for i in range(PAGE_BOOKS))
        ]
        await wanted.apply(specs, {}, [], now)
        for index, book in enumerate(await wanted.all()):
            state = PAGE_STATES[index % len(PAGE_STATES)]
            if state != "wanted":
                await wanted.searched(book.id, state, f"{state}: no release passed the rules", None, now)
        for index in range(30 * 288):
            at = now - 30 * 86400 + index * 300
            snapshot = AccountSnapshot(
                at=at,
                classname="Power User",
                ratio=2.0 + (index % 500) / 1000,
                uploaded=(900 + index // 10) * 1024**3,
                downloaded=400 * 1024**3,
                seedbonus=30_000.0 + index,
                counters={"unsat": Counter(20, 50)},
            )
            await history.add(snapshot)
        for index in range(300):
            await events.add(now - 300 + index, "wanted.added", f"wanted: Book {index}", f"wanted:{index}")
    finally:
        await store.close()


def status_page(requests: int) -> tuple[list[float], int]:
    """Milliseconds per GET / (as a browser asks) against a daemon holding `_page_state`, and the page's
    size in bytes."""
    with tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder), {"logging": {"level": "info"}})
        database = yaml.safe_load(config.read_text())["state"]["database"]
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        asyncio.run(_page_state(database, time.time()))
        daemon = DaemonProcess(config).start()
        try:
            daemon.wait_healthy()
            request = urllib.request.Request(daemon.base_url + "/", headers={"Accept": "text/html"})
            latencies, size = [], 0
            for index in range(requests + 5):
                started = time.perf_counter()
                with urllib.request.urlopen(request, timeout=15) as response:
                    body = response.read()
                elapsed = (time.perf_counter() - started) * 1000
                if response.status != 200 or b"Account guard" not in body:
                    raise RuntimeError(f"the status page answered {response.status}")
                if index >= 5:  # the first renders compile the templates
                    latencies.append(elapsed)
                size = len(body)
        finally:
            daemon.stop()
    return latencies, size


def run(quick: bool) -> list[Figure]:
    figures = [Figure("startup_to_ready_s", startup_to_ready(3 if quick else 7), 1.0)]
    empty_rss, cpu = idle_empty(10 if quick else 60)
    figures += [
        Figure("idle_empty_rss_mib", empty_rss, 60, note="every job off, nothing to talk to"),
        Figure("idle_empty_cpu_s_per_min", cpu, 0.05, note="every job off, nothing to talk to"),
    ]
    rss, cpu = idle(10 if quick else 60)
    note = f"default schedule, after every job ran once ({IDLE_LIBRARY:,}-book library)"
    figures += [
        Figure("idle_rss_mib", rss, 80, note=note),
        Figure("idle_cpu_s_per_min", cpu, 0.05, note=note),
    ]
    # the empty daemon with two notification targets (nothing listens: idle, nothing is sent)
    port = free_port()
    targets = [{"url": f"ntfy://127.0.0.1:{port}/bench"}, {"url": f"json://127.0.0.1:{port}/bench"}]
    notifying, _ = idle_empty(10 if quick else 30, {"notify": targets})
    figures.append(
        Figure(
            "notify_idle_rss_delta_mib",
            notifying - empty_rss,
            note="Apprise, loaded only with notify targets",
        )
    )
    reloads = reload_latency(20)
    figures += [
        Figure("reload_latency_ms_p50", median(reloads)),
        Figure("reload_latency_ms_p99", percentile(reloads, 0.99), 300),
    ]
    hooks = hook_accept(200, 3 if quick else 10)
    figures += [
        Figure("hook_accept_ms_p50", median(hooks)),
        Figure("hook_accept_ms_p99", percentile(hooks, 0.99), 10),
    ]
    pages, size = status_page(50 if quick else 300)
    figures += [
        Figure("status_page_ms_p50", median(pages)),
        Figure("status_page_ms_p99", percentile(pages, 0.99), 20),
        Figure("status_page_kib", size / 1024, 100),
    ]
    return figures
