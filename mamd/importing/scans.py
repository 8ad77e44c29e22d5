"""Telling Audiobookshelf about imported books, and confirming it lists them.

Imports that finish close together share one library scan: a request made while a scan
runs is remembered and answered by one more scan afterwards (ABS drops a scan request
that arrives during a scan). A scan ends when the library's `lastScan`
moves; then each imported book must appear in the items list, by its path relative to
the library. If Audiobookshelf is down, the imports stay done and the scan is retried.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from mamd.clients.errors import UpstreamError
from mamd.clock import sleep_or_wake
from mamd.logs import get_logger
from mamd.store import StoreError
from mamd.store.torrents import TorrentRecord

if TYPE_CHECKING:
    from mamd.runtime import Runtime

log = get_logger(__name__)

SCAN_LIMIT_S = 120.0  # longest wait for a scan to end before looking anyway
POLL_S = 0.05
RETRY_BASE_S = 5.0
RETRY_MAX_S = 300.0
MISSES_BEFORE_WARNING = 3


class LibraryScans:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._wake = asyncio.Event()

    def request(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        self._wake.set()  # imports from before a restart may still wait for their scan
        failures = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                complete = await self.scan_and_confirm()
            except (UpstreamError, StoreError) as exc:
                failures += 1
                log.warning("scan.failed", reason=str(exc), retry_in_s=self._backoff(failures))
                await self._runtime.clock.sleep(self._backoff(failures))
                self._wake.set()
                continue
            failures = 0
            if not complete:
                await sleep_or_wake(self._runtime.clock, RETRY_BASE_S, self._wake)
                self._wake.set()

    @staticmethod
    def _backoff(failures: int) -> float:
        return float(min(RETRY_MAX_S, RETRY_BASE_S * 2 ** min(failures - 1, 16)))

    async def scan_and_confirm(self) -> bool:
        """One scan for every import that waits for one; True when all of them are listed now."""
        runtime = self._runtime
        waiting = await runtime.torrents.awaiting_scan()
        if not waiting:
            return True
        client = runtime.require_audiobookshelf()
        library = await client.find_library(runtime.config.audiobookshelf.library)
        await client.scan(library.id)
        log.info("scan.requested", library=library.name, books=len(waiting))
        await self._until_scanned(library.id, library.last_scan)
        listed = await self._listed_paths(library.id, len(waiting))
        found = [t for t in waiting if t.import_path in listed]
        missing = [t for t in waiting if t.import_path not in listed]
        now = runtime.clock.now()
        await runtime.torrents.confirmed([t.hash for t in found], now)
        for record in found:
            await self._confirmed(record, now)
        if missing:
            await runtime.torrents.scan_missed([t.hash for t in missing])
            for record in missing:
                if record.scan_attempts + 1 == MISSES_BEFORE_WARNING:
                    await runtime.events.add(
                        now,
                        "import.not_in_library",
                        f"Audiobookshelf did not list {record.import_path} after {MISSES_BEFORE_WARNING} "
                        "scans; check that audiobookshelf.path is the folder of the library it scans",
                        f"torrent:{record.hash}",
                    )
        return not missing

    async def _until_scanned(self, library_id: str, before: int | None) -> None:
        client = self._runtime.require_audiobookshelf()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SCAN_LIMIT_S
        while loop.time() < deadline:
            current = (await client.library(library_id)).last_scan
            if current is not None and current != before:
                return
            await asyncio.sleep(POLL_S)
        log.warning("scan.slow", library=library_id, waited_s=SCAN_LIMIT_S)

    async def _listed_paths(self, library_id: str, expected: int) -> set[str]:
        """Paths (relative to the library) of the newest items: the ones a scan has just added."""
        client = self._runtime.require_audiobookshelf()
        page = await client.items_page(library_id, 0, min(1000, expected + 50), newest_first=True)
        return {item.rel_path for item in page.items if item.usable}

    async def _confirmed(self, record: TorrentRecord, now: float) -> None:
        runtime = self._runtime
        label = record.meta.label if record.meta else record.name
        if record.wanted_id is not None:
            await runtime.wanted.set_state(
                record.wanted_id, "imported", f"in the library at {record.import_path}", now
            )
        await runtime.events.add(
            now,
            "import.done",
            f"{label} is in Audiobookshelf now ({record.import_path})",
            f"torrent:{record.hash}",
            folder=record.import_path,
        )
        log.info("import.in_library", hash=record.hash, folder=record.import_path)
