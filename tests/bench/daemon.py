"""Daemon figures: start-up, idle cost, reload latency, and hook acceptance under load."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import yaml

from mamd.sim.qbittorrent import QbittorrentNox
from tests.bench.figures import Figure, median, percentile
from tests.support.abs_sim import abs_simulator
from tests.support.configs import API_KEY, write_config
from tests.support.daemon import DaemonProcess, NotifySocket, wait_for
from tests.support.mam_sim import SIM_COOKIE, mam_simulator

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


def idle_empty(seconds: float) -> tuple[float, float]:
    """The daemon with every job off and nothing to talk to: the cost of its loop alone."""
    with tempfile.TemporaryDirectory() as folder:
        notify = NotifySocket()
        daemon = DaemonProcess(write_config(Path(folder)), notify=notify, env={"WATCHDOG_USEC": "30000000"})
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
                "qbittorrent": {
                    "url": qbt.url,
                    "username": qbt.username,
                    "password": qbt.password,
                    "save_path": str(qbt.save_path),
                },
                "audiobookshelf": {"url": audiobookshelf.url, "api_key": audiobookshelf.api_key},
                "limits": {"min_free_space": "1MiB"},
                "wanted": {"series_gaps": False},
            },
            jobs_off=False,
        )
        daemon = DaemonProcess(config, notify=notify, env={"WATCHDOG_USEC": "30000000"})

        def every_job_ran() -> bool:
            jobs = daemon.status()["jobs"]
            return all(job["last_result"] and not job["running"] for job in jobs.values())

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


def run(quick: bool) -> list[Figure]:
    figures = [Figure("startup_to_ready_s", startup_to_ready(3 if quick else 7), 1.0)]
    rss, cpu = idle_empty(10 if quick else 60)
    figures += [
        Figure("idle_empty_rss_mib", rss, 60, note="every job off, nothing to talk to"),
        Figure("idle_empty_cpu_s_per_min", cpu, 0.05, note="every job off, nothing to talk to"),
    ]
    rss, cpu = idle(10 if quick else 60)
    note = f"default schedule, after every job ran once ({IDLE_LIBRARY:,}-book library)"
    figures += [
        Figure("idle_rss_mib", rss, 80, note=note),
        Figure("idle_cpu_s_per_min", cpu, 0.05, note=note),
    ]
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
    return figures
