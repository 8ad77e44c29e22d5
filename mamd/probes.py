"""Probing Audiobookshelf and qBittorrent while they are unavailable, so `/status` is right within seconds.

A service's state changes with every request mamd makes to it, but nothing may need it for hours: after
a restart of Audiobookshelf, `/status` would say `down` until the next scheduled job. So a service that
is down (or, for Audiobookshelf, refuses the key or lacks the configured library) is asked again with a
cheap request on a short backoff (`PROBE`, the daemon's one backoff policy: seconds, growing to a
minute), and a reload that changes a service's settings asks at once. When it answers, the work that
waited on it goes on: the inbox and the library scans are woken, and a failed `library_sync` runs again.

MAM is never probed: its client has its own spacing and pauses, and a refused session must not be
asked again until it changes. Nor is a qBittorrent that refuses the password: it bans an address
after a few failed logins.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from mamd.backoff import Backoff
from mamd.clients.errors import UpstreamError
from mamd.clock import sleep_or_wake
from mamd.logs import get_logger
from mamd.store import StoreError

if TYPE_CHECKING:
    from mamd.context import ProbeContext

log = get_logger(__name__)

PROBE = Backoff(first_s=2.0, max_s=60.0)  # probes of a service still unavailable, never given up
IDLE_S = 3600.0
# the states in which each service is asked again by itself
PROBED = {
    "audiobookshelf": frozenset({"down", "unauthorized", "throttled"}),
    "qbittorrent": frozenset({"down"}),
}


class ServiceProbes:
    def __init__(self, runtime: ProbeContext) -> None:
        self._runtime = runtime
        self._due: dict[str, float] = {}  # service → when to probe it next
        self._attempts: dict[str, int] = {}
        self._wake = asyncio.Event()

    def changed(self, service: str, state: str) -> None:
        """A service changed state (a `Health` listener): start or stop probing it."""
        if service not in PROBED:
            return
        if state in PROBED[service]:
            if service not in self._due:
                self._attempts[service] = 0
                self._due[service] = self._runtime.clock.now() + PROBE.delay(1)
                self._wake.set()
        elif not self._needs_probe(service):
            self._due.pop(service, None)
            self._attempts.pop(service, None)

    def library_missing(self) -> None:
        """The configured library is not there: look for it again on the same backoff."""
        if "audiobookshelf" not in self._due:
            self._attempts["audiobookshelf"] = 0
            self._due["audiobookshelf"] = self._runtime.clock.now() + PROBE.delay(1)
            self._wake.set()

    def scheduled(self) -> dict[str, float]:
        """When each service that is probed will be asked next."""
        return dict(self._due)

    def probe_now(self, service: str) -> None:
        """Ask this service at once (its settings changed)."""
        self._due[service] = 0.0
        self._attempts[service] = 0
        self._wake.set()

    def _needs_probe(self, service: str) -> bool:
        runtime = self._runtime
        current = runtime.health.services.get(service)
        if current is not None and current.state in PROBED.get(service, ()):
            return True
        # a library that is not there is found again by the same probe
        return service == "audiobookshelf" and runtime.health.has("audiobookshelf.library")

    async def run_forever(self) -> None:
        clock = self._runtime.clock
        while True:
            now = clock.now()
            due = [name for name, at in self._due.items() if at <= now]
            for name in due:
                try:
                    await self.probe(name)
                except Exception:  # a bug: said with its traceback, and probing goes on
                    log.exception("probe.crashed", service=name)
                    self._again(name, "the probe crashed")
            later = [at for at in self._due.values() if at > clock.now()]
            wait = min(later) - clock.now() if later else IDLE_S
            self._wake.clear()
            if any(at <= clock.now() for at in self._due.values()):
                continue
            await sleep_or_wake(clock, max(0.0, wait), self._wake)

    async def probe(self, service: str) -> bool:
        """One cheap request to `service`; True when it answered normally."""
        runtime = self._runtime
        was = runtime.health.services.get(service)
        try:
            if service == "audiobookshelf":
                await runtime.abs_library()
            else:
                await runtime.require_qbittorrent().version()
        except UpstreamError as exc:
            return self._again(service, exc.message)
        except StoreError:
            return self._again(service, "the database is unavailable")
        if self._needs_probe(service):
            return self._again(service, "still unavailable")
        self._due.pop(service, None)
        self._attempts.pop(service, None)
        if service == "audiobookshelf" or (was is not None and was.state != "ok"):
            await self._resume(service)
        return True

    def _again(self, service: str, why: str) -> bool:
        attempt = self._attempts.get(service, 0) + 1
        self._attempts[service] = attempt
        delay = PROBE.delay(attempt)
        self._due[service] = self._runtime.clock.now() + delay
        log.debug("probe.unavailable", service=service, why=why, retry_in_s=delay)
        return False

    async def _resume(self, service: str) -> None:
        """The service answers again: the work that waited on it goes on now."""
        runtime = self._runtime
        if service == "qbittorrent":
            runtime.importer.service_back()
            return
        runtime.scans.request()
        sync = runtime.scheduler.states.get("library_sync")
        if sync is not None and sync.last_result == "error" and not sync.running:
            runtime.request_job("library_sync")
