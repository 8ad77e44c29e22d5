"""The demo's daemon: `mamd run` as a real process, and plain HTTP to it."""

from __future__ import annotations

import asyncio
import secrets
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

STEP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class DemoDaemon:
    def __init__(self, folder: Path, session: aiohttp.ClientSession) -> None:
        self.folder = folder
        self.config = folder / "mamd.yaml"
        self.log = folder / "mamd.log"
        self.port = free_port()
        self.api_key = secrets.token_hex(24)
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = session
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> float:
        """Start `mamd run` and wait until it answers; the seconds that took."""
        started = time.monotonic()
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "mamd", "run", "-c", str(self.config)),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )

        async def healthy() -> bool:
            status, _ = await self.get("/healthz")
            return status == 200

        await self.until("the daemon to answer", healthy)
        return time.monotonic() - started

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.session.get(self.base + path, headers={"X-Api-Key": self.api_key}) as response:
            return response.status, await response.json()

    async def post(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {"X-Api-Key": self.api_key}
        async with self.session.post(self.base + path, headers=headers, **kwargs) as response:
            return response.status, await response.json()

    async def status(self) -> dict[str, Any]:
        _, body = await self.get("/status")
        return dict(body)

    async def until(
        self, what: str, check: Callable[[], Awaitable[Any]], limit_s: float = STEP_TIMEOUT_S
    ) -> Any:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            try:
                result = await check()
            except aiohttp.ClientError:
                result = None
            if result:
                return result
            if self.process is not None and self.process.returncode is not None:
                raise RuntimeError(f"the daemon exited ({self.process.returncode}) while waiting for {what}")
            await asyncio.sleep(0.02)
        raise TimeoutError(f"gave up after {limit_s:.0f} s waiting for {what}")

    async def run_job(self, name: str, must_succeed: bool = True) -> dict[str, Any]:
        """Run a job now and wait for it; its entry in /status once it finished.

        A run that began before this call (a reload or another job started it) may have read the world
        as it was: it is waited out, and then a run of this call's own is asked for.
        """

        async def started() -> tuple[int | None] | None:
            job = (await self.status())["jobs"][name]
            if job["running"]:
                return None
            code, body = await self.post(f"/api/v1/jobs/{name}")
            if code == 409:  # started by something else just now: wait for that one and ask again
                return None
            if code != 202:
                raise RuntimeError(f"{name} did not start: {body}")
            return (job["last_run_id"],)  # the run before this call's own

        (before,) = await self.until(f"{name} to start", started)
        return await self.job_finished(name, before, must_succeed)

    async def job_finished(
        self, name: str, run_before: int | None, must_succeed: bool = True
    ) -> dict[str, Any]:
        """Wait for a run of `name` newer than `run_before` to finish; its entry in /status."""

        async def finished() -> dict[str, Any] | None:
            job = (await self.status())["jobs"][name]
            done = job["last_run_id"] != run_before and not job["running"] and job["last_result"]
            return dict(job) if done else None

        job: dict[str, Any] = await self.until(f"the {name} job", finished)
        if must_succeed and job["last_result"] != "ok":
            raise RuntimeError(f"{name} failed: {job['last_error']}")
        return job

    async def stop(self) -> tuple[int, float]:
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), STEP_TIMEOUT_S)
        return code, time.monotonic() - started

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await asyncio.wait_for(self.process.wait(), STEP_TIMEOUT_S)
