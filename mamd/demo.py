"""`mamd demo`: the daemon at work on this machine, in a temporary folder, narrated step by step.

It writes a demo configuration, starts `mamd run` as a real process, and drives it the way
qBittorrent, an editor and a user with curl would. Nothing outside the folder is touched.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

STEP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def demo_config(folder: Path, port: int, api_key: str) -> str:
    return f"""\
# written by `mamd demo`
http: {{host: 127.0.0.1, port: {port}, api_key: {api_key}}}
state: {{database: {folder / "state" / "mamd.db"}, backups: 2}}
logging: {{level: info, format: json}}
mam: {{session: demo-{secrets.token_hex(16)}}}
qbittorrent: {{save_path: {folder / "torrents"}}}
audiobookshelf: {{api_key: demo-{secrets.token_hex(16)}, path: {folder / "library"}}}
schedule: {{retention: 1d}}
"""


class Demo:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = folder / "mamd.yaml"
        self.port = free_port()
        self.api_key = secrets.token_hex(24)
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: asyncio.subprocess.Process | None = None
        self.session: aiohttp.ClientSession | None = None

    def say(self, text: str) -> None:
        print(text, flush=True)

    async def get(self, path: str) -> tuple[int, Any]:
        assert self.session is not None
        async with self.session.get(self.base + path, headers={"X-Api-Key": self.api_key}) as response:
            return response.status, await response.json()

    async def post(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        assert self.session is not None
        headers = {"X-Api-Key": self.api_key}
        async with self.session.post(self.base + path, headers=headers, **kwargs) as response:
            return response.status, await response.json()

    async def until(self, what: str, check: Callable[[], Awaitable[Any]]) -> Any:
        deadline = time.monotonic() + STEP_TIMEOUT_S
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
        raise TimeoutError(f"gave up after {STEP_TIMEOUT_S:.0f} s waiting for {what}")

    async def status(self) -> dict[str, Any]:
        _, body = await self.get("/status")
        return dict(body)

    # -- the story ------------------------------------------------------------------------

    async def start_daemon(self) -> None:
        self.config.write_text(demo_config(self.folder, self.port, self.api_key))
        self.say(f"1. A demo configuration is written to {self.config}.")
        started = time.monotonic()
        with (self.folder / "mamd.log").open("wb") as log:
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
        self.say(
            f"2. `mamd run` started (pid {self.process.pid}) and answered after "
            f"{time.monotonic() - started:.2f} s. Its status: {self.base}/status"
        )

    async def completion_hook(self) -> None:
        torrent_hash = secrets.token_hex(20)
        code, body = await self.post(
            "/hooks/qbittorrent", data={"hash": torrent_hash, "name": "Demo Author - Demo Book (2026)"}
        )
        status = await self.status()
        self.say(
            f"3. qBittorrent reports a finished torrent: POST /hooks/qbittorrent → {code} "
            f"{body}; stored durably, {status['inbox']['pending']} completion(s) waiting in the inbox."
        )

    async def hot_reload(self) -> None:
        before = (await self.status())["config"]["generation"]
        started = time.monotonic()
        self.config.write_text(self.config.read_text().replace("retention: 1d", "retention: 2d"))

        async def moved() -> bool:
            return bool((await self.status())["config"]["generation"] > before)

        await self.until("the edit to apply", moved)
        self.say(
            f"4. The YAML is edited (schedule.retention 1d → 2d): applied in "
            f"{(time.monotonic() - started) * 1000:.0f} ms, generation {before} → {before + 1}."
        )
        good = self.config.read_text()
        self.config.write_text(good + "rules: {freeleech: sometimes}\n")

        async def rejected() -> str | None:
            error = (await self.status())["config"]["last_error"]
            return str(error) if error else None

        error = await self.until("the broken edit to be rejected", rejected)
        self.say(f"5. A broken edit is refused and the running configuration kept:\n     {error}")
        self.config.write_text(good)

        async def cleared() -> bool:
            return (await self.status())["config"]["last_error"] is None

        await self.until("the fixed file to load", cleared)
        self.say("   The file is fixed again; the error clears.")

    async def run_job(self) -> None:
        code, _ = await self.post("/api/v1/jobs/retention")

        async def finished() -> dict[str, Any] | None:
            job = (await self.status())["jobs"]["retention"]
            return dict(job) if not job["running"] and job["last_result"] else None

        job = await self.until("the retention job", finished)
        backups = sorted((self.folder / "state" / "backups").glob("*.db"))
        self.say(
            f"6. POST /api/v1/jobs/retention → {code}; the job finished: {job['last_result']}, "
            f"database backup {backups[-1].name if backups else 'none'}."
        )

    async def stop(self) -> int:
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), STEP_TIMEOUT_S)
        self.say(
            f"7. SIGTERM: the daemon stopped in {time.monotonic() - started:.2f} s with exit status {code}."
        )
        return code

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await asyncio.wait_for(self.process.wait(), STEP_TIMEOUT_S)


async def _demo(folder: Path, serve: bool) -> int:
    demo = Demo(folder)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            demo.session = session
            await demo.start_daemon()
            await demo.completion_hook()
            await demo.hot_reload()
            await demo.run_job()
            if serve:
                demo.say(f"\nServing until Ctrl-C. Try: curl -s {demo.base}/status | python3 -m json.tool")
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                loop.add_signal_handler(signal.SIGINT, stop.set)
                loop.add_signal_handler(signal.SIGTERM, stop.set)
                await stop.wait()
            code = await demo.stop()
        demo.say(
            "\nSummary: the daemon started, stored a completion hook, applied an edit, refused a broken "
            "one, ran a job and stopped cleanly."
        )
        return 0 if code == 0 else 1
    except (TimeoutError, RuntimeError, aiohttp.ClientError) as exc:
        print(f"mamd demo failed: {exc}", file=sys.stderr)
        log = folder / "mamd.log"
        if log.exists():
            print("last lines of the daemon log:", file=sys.stderr)
            for line in log.read_text(errors="replace").splitlines()[-15:]:
                print(f"  {line}", file=sys.stderr)
        return 1
    finally:
        await demo.kill()


def run_demo(serve: bool = False, keep: bool = False) -> int:
    folder = Path(tempfile.mkdtemp(prefix="mamd-demo-"))
    print(f"mamd demo — everything happens in {folder}\n")
    try:
        return asyncio.run(_demo(folder, serve))
    finally:
        if keep:
            print(f"\nThe demo folder is kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
