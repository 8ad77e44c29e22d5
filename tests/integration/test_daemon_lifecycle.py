"""The daemon in-process: shutdown drains running jobs, then cancels them, within 5 s."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mamd.daemon import Daemon
from mamd.runtime import Runtime
from mamd.schedule import JobContext, JobFn
from mamd.systemd import Notifier


async def until(condition: Callable[[], bool], limit_s: float = 5.0) -> None:
    """Wait, at most `limit_s`, for a condition another task makes true (polled: it has no event)."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_shutdown_cancels_a_job_that_outlives_the_drain_and_records_it_interrupted(
    config_file: Callable[..., Path],
) -> None:
    started = asyncio.Event()
    seen: dict[str, Runtime] = {}

    def jobs(runtime: Runtime) -> dict[str, JobFn]:
        seen["runtime"] = runtime

        async def forever(context: JobContext) -> dict[str, Any]:
            started.set()
            await asyncio.Event().wait()
            return {}

        return {"forever": forever}

    daemon = Daemon(config_file(), notifier=Notifier(enabled=False), stream=io.StringIO(), jobs=jobs)
    serving = asyncio.create_task(daemon.serve())
    try:
        await until(lambda: "runtime" in seen and seen["runtime"].store.is_open)
        runtime = seen["runtime"]
        runtime.scheduler.run_now("forever")
        await asyncio.wait_for(started.wait(), 5)
        stop_requested = time.monotonic()
        daemon.request_exit()
        assert await asyncio.wait_for(serving, 5) == 0
        assert time.monotonic() - stop_requested < 5
    finally:
        serving.cancel()
    # the database is closed with the daemon; read the run back from a fresh connection
    with sqlite3.connect(runtime.store.path) as db:
        rows = db.execute("SELECT job, result FROM job_runs").fetchall()
    assert rows == [("forever", "interrupted")]


async def test_shutdown_lets_a_short_job_finish(config_file: Callable[..., Path]) -> None:
    release = asyncio.Event()
    seen: dict[str, Runtime] = {}

    def jobs(runtime: Runtime) -> dict[str, JobFn]:
        seen["runtime"] = runtime

        async def short(context: JobContext) -> dict[str, Any]:
            await release.wait()
            return {"done": True}

        return {"short": short}

    daemon = Daemon(config_file(), notifier=Notifier(enabled=False), stream=io.StringIO(), jobs=jobs)
    serving = asyncio.create_task(daemon.serve())
    try:
        await until(lambda: "runtime" in seen and seen["runtime"].store.is_open)
        seen["runtime"].scheduler.run_now("short")
        await asyncio.sleep(0.05)
        daemon.request_exit()
        await asyncio.sleep(0.1)
        release.set()
        assert await asyncio.wait_for(serving, 5) == 0
    finally:
        serving.cancel()
    with sqlite3.connect(seen["runtime"].store.path) as db:
        rows = db.execute("SELECT job, result, summary FROM job_runs").fetchall()
    assert rows == [("short", "ok", '{"done": true}')]
