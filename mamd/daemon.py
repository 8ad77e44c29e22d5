"""The daemon's life in three steps: `startup()` → `main_loop()` → `shutdown()`.

Signal handlers only set flags. `READY=1` follows the bind of the HTTP port; `SIGTERM`
drains running jobs for a moment, then cancels them, and the process is gone within 5 s.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from mamd import __version__
from mamd.clock import Clock, SystemClock
from mamd.config import Config, ConfigError
from mamd.jobs import build_jobs
from mamd.logs import Redactor, configure_logging, get_logger
from mamd.reload import Reloader, load_detached
from mamd.runtime import Runtime
from mamd.schedule import JobFn
from mamd.store import StoreError
from mamd.store.lock import AlreadyRunning, InstanceLock
from mamd.systemd import Notifier
from mamd.web import create_app
from mamd.web.server import HttpServer

log = get_logger(__name__)

DRAIN_S = 2.5  # running jobs may finish for this long after SIGTERM …
HTTP_SHUTDOWN_S = 1.0  # … then open HTTP requests get this long
DB_PROBE_S = 10.0  # how often the database is checked while healthy …
DB_RETRY_S = 2.0  # … and while it is unavailable


class StartupError(Exception):
    """mamd cannot start; the message says why and what to change."""


class Daemon:
    def __init__(
        self,
        config_path: Path,
        *,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        stream: TextIO | None = None,
        jobs: Callable[[Runtime], Mapping[str, JobFn]] = build_jobs,
    ) -> None:
        self.config_path = config_path
        self.jobs = jobs
        self.clock = clock or SystemClock()
        self.notifier = notifier or Notifier()
        self.stream = stream
        self.should_exit = asyncio.Event()
        self.reloader: Reloader | None = None
        self.lock: InstanceLock | None = None
        self.runtime: Runtime | None = None  # while it serves

    async def serve(self) -> int:
        """Run until asked to stop; the exit status: 0 clean, 1 runtime failure, 2 bad configuration."""
        started = time.monotonic()
        try:
            config = await load_detached(self.config_path)
        except ConfigError as error:
            print(f"mamd: {self.config_path} cannot be used:", file=sys.stderr)
            for problem in error.problems:
                print(f"  {problem}", file=sys.stderr)
            return 2
        redactor = Redactor()
        configure_logging(config.logging.level, config.logging.format, redactor, self.stream)
        runtime = self.runtime = Runtime(
            config, self.config_path, clock=self.clock, redactor=redactor, notifier=self.notifier
        )
        async with AsyncExitStack() as stack:
            stack.callback(self.notifier.close)
            try:
                await self.startup(runtime, stack)
            except StartupError as exc:
                log.error("daemon.start_failed", reason=str(exc))
                print(f"mamd: {exc}", file=sys.stderr)
                return 1
            log.info(
                "daemon.ready",
                version=__version__,
                address=f"http://{config.http.host}:{config.http.port}",
                startup_s=round(time.monotonic() - started, 3),
            )
            try:
                await self.main_loop(runtime)
            finally:
                await self.shutdown(runtime)
        log.info("daemon.stopped")
        return 0

    # -- 1. start-up ----------------------------------------------------------------------

    async def startup(self, runtime: Runtime, stack: AsyncExitStack) -> None:
        loop = asyncio.get_running_loop()
        self.reloader = Reloader(runtime, functools.partial(self._apply, runtime))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_exit, sig)
        loop.add_signal_handler(signal.SIGHUP, self.reloader.request, "signal")
        stack.callback(_remove_signal_handlers, loop)

        session = await stack.enter_async_context(
            aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(),  # each client sends its own credential: nothing shared
                headers={"User-Agent": f"mamd/{__version__}"},
            )
        )
        runtime.connect(session)
        runtime.use_jobs(self.jobs(runtime))
        self.lock = InstanceLock(Path(runtime.config.state.database))
        stack.callback(self.lock.release)
        try:
            await asyncio.to_thread(
                self.lock.acquire
            )  # a folder on a slow or hung volume must not stall the loop
        except AlreadyRunning as exc:
            raise StartupError(str(exc)) from exc
        except OSError:
            pass  # the database's folder is not there yet (an unmounted volume?): `_open_store` says so
        stack.push_async_callback(runtime.store.close)
        await self._open_store(runtime)
        await runtime.import_probe.at_start()  # so /readyz says from its first answer if imports cannot work

        http = runtime.config.http
        server = HttpServer(create_app(runtime), http.host, http.port, shutdown_timeout_s=HTTP_SHUTDOWN_S)
        try:
            await server.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"port {http.port} on {http.host} is already in use (is another mamd running?); "
                    "stop the other program or change http.port"
                ) from exc
            raise StartupError(f"cannot listen on {http.host}:{http.port}: {exc.strerror or exc}") from exc
        stack.push_async_callback(server.stop)
        self.notifier.ready(runtime.status_line())

    async def _open_store(self, runtime: Runtime) -> bool:
        assert self.lock is not None
        unlocked = None
        try:
            await asyncio.to_thread(self.lock.acquire)  # before anything is written: one daemon per database
        except AlreadyRunning as exc:
            runtime.store.fail(str(exc))
            return False
        except OSError as exc:  # the database's own error, if any, says more; else this one is said
            unlocked = f"cannot lock the database ({self.lock.path}): {exc.strerror or exc}"
        try:
            await runtime.store.open()
            if unlocked is not None:
                raise StoreError(unlocked)
            await runtime.scheduler.load()
        except StoreError as exc:
            await runtime.store.close()
            runtime.store.fail(str(exc))  # logged once per distinct problem; retried every DB_RETRY_S
            return False
        runtime.scheduler.wake()
        # a read-only file opens fine; only a write shows it
        return await runtime.store.probe()

    # -- 2. running -----------------------------------------------------------------------

    async def main_loop(self, runtime: Runtime) -> None:
        assert self.reloader is not None
        reloader = self.reloader
        running: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
            "scheduler": runtime.scheduler.run_forever,
            "reloader": reloader.run,
            "config-watch": reloader.watch,
            "database-watch": functools.partial(self._watch_database, runtime),
            "importer": runtime.importer.run_forever,
            "qbittorrent-prepare": runtime.importer.prepare,
            "import-probe": runtime.import_probe.run_forever,
            "library-scans": runtime.scans.run_forever,
            "service-probes": runtime.probes.run_forever,
            "notifications": runtime.notifications.run_forever,
        }
        if self.notifier.watchdog_interval:
            running["watchdog"] = functools.partial(self._watchdog, self.notifier.watchdog_interval)
        async with asyncio.TaskGroup() as group:
            # each loop is restarted when it fails: one unexpected error must not end the daemon
            loops = [
                group.create_task(runtime.loops.run(name, loop), name=name) for name, loop in running.items()
            ]
            await self.should_exit.wait()
            self.reloader.stop_event.set()
            for task in loops:
                task.cancel()

    def request_exit(self, sig: signal.Signals | None = None) -> None:
        if self.should_exit.is_set():
            log.info("daemon.already_stopping", signal=sig.name if sig else None)
            return
        log.info("daemon.stop_requested", signal=sig.name if sig else None)
        self.should_exit.set()

    async def _watchdog(self, interval: float) -> None:
        # real time on purpose: the watchdog proves the event loop itself is turning
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval)

    async def _watch_database(self, runtime: Runtime) -> None:
        while True:
            if runtime.store.is_open:
                healthy = await runtime.store.probe()
            else:
                healthy = await self._open_store(runtime)
            runtime.publish_status()
            await asyncio.sleep(DB_PROBE_S if healthy else DB_RETRY_S)

    def _apply(self, runtime: Runtime, old: Config, new: Config) -> None:
        """Put a reloaded configuration to work: a service whose settings changed is asked at once."""
        if old.logging != new.logging:
            configure_logging(new.logging.level, new.logging.format, runtime.redactor, self.stream)
        if old.audiobookshelf != new.audiobookshelf:
            runtime.probes.probe_now("audiobookshelf")
            before, after = old.audiobookshelf, new.audiobookshelf
            if (before.url, before.library, before.api_key) != (after.url, after.library, after.api_key):
                runtime.request_job("library_sync")  # another library, or the first chance to read it
        if old.wanted != new.wanted and "discover" in runtime.scheduler.states:
            # what is wanted follows the file within a second, too; a discovery running now read the
            # old file, so another follows it
            runtime.scheduler.run_soon("discover")
        if old.qbittorrent != new.qbittorrent:
            runtime.probes.probe_now("qbittorrent")
            runtime.importer.service_back()
        if old.notify != new.notify:
            runtime.notifications.configure(new)  # Apprise loads in its loop, on the first target
        runtime.scheduler.wake()
        if runtime.store.problem is None:  # what failed for good is taken up again under the new settings
            runtime.tasks.spawn(runtime.config_changed(old, new), name="config-changed")

    # -- 3. shutdown ----------------------------------------------------------------------

    async def shutdown(self, runtime: Runtime) -> None:
        runtime.stopping = True
        self.notifier.stopping()
        log.info("daemon.stopping", running_jobs=runtime.scheduler.running(), drain_s=DRAIN_S)
        # what is gathering (a minute's imports) is sent now rather than at the next start
        await asyncio.gather(runtime.tasks.drain(DRAIN_S), runtime.notifications.flush())


def _remove_signal_handlers(loop: asyncio.AbstractEventLoop) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.remove_signal_handler(sig)


async def run(config_path: Path, stream: TextIO | None = None) -> int:
    return await Daemon(config_path, stream=stream).serve()
