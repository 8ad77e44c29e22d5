"""Telling Audiobookshelf about imported books, and confirming it lists them.

Imports that finish close together share one library scan: a request made while a round runs is
answered by one more round afterwards (Audiobookshelf drops a scan request that arrives during a
scan). A round asks for a scan, waits for the library's `lastScan` to move, then looks for each
import by its folder in the items list, newest first, whatever its place there.

Finding a book does not depend on the scan request: a key whose user is not an admin may not start
scans (403), but Audiobookshelf's own folder watcher adds the book about 13 s later, and the rounds
find it then. A book found is imported and owned at once: its book is marked imported in the
transaction that records the confirmation, its metadata is stored with the library and `discover`
runs, so nothing wants it any more. A book not found is looked for again after a growing delay
(`CONFIRM`, the daemon's one backoff policy); after the last round the import is marked as not in the
library, with the reason, in `/status`, and only something new takes it up again: a hook for it, a
reload, or a `mamd run-job library_sync`. While Audiobookshelf is down the rounds wait on a short
backoff (`OUTAGE`) and count for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mamd.backoff import Backoff
from mamd.clients.errors import NotFound, Throttled, Unauthorized, Unavailable
from mamd.clock import sleep_or_wake
from mamd.domain.library import ListedItem
from mamd.logs import get_logger
from mamd.store import StoreError
from mamd.store.torrents import TorrentRecord

if TYPE_CHECKING:
    from mamd.context import Context

log = get_logger(__name__)

CONFIRM_ROUNDS = 8  # after this many rounds that miss a book (about 15 minutes) mamd stops asking
# the first round that misses a book is followed by another 5 s later, the delay doubling up to 5 min
CONFIRM = Backoff(first_s=5.0, max_s=300.0, give_up_after=CONFIRM_ROUNDS)
SCAN_WAIT_S = 120.0  # longest wait for a requested scan to end before looking anyway
POLL_FIRST_S = 0.1  # `lastScan` is polled quickly at first (an incremental scan takes half a second) …
POLL_MAX_S = 2.0  # … then more slowly
OUTAGE_MAX_S = 60.0  # while Audiobookshelf is down, rounds are retried at most this far apart
OUTAGE = Backoff(first_s=1.0, max_s=OUTAGE_MAX_S)
IDLE_S = 3600.0  # nothing waits: look again this often anyway (a wake comes sooner)
PAGE = 200
LOOK_BACK_S = 3600.0  # items added up to this long before an import are still looked through
SCAN_PROBLEM = "audiobookshelf.scan"
FAILED_PROBLEM = "imports.not_in_library"


def poll_delay(elapsed: float) -> float:
    """Seconds between two readings of `lastScan`, `elapsed` seconds after the scan was requested."""
    return min(POLL_MAX_S, POLL_FIRST_S + elapsed / 10)


def _same_path(path: str) -> str:
    return unicodedata.normalize("NFC", path).strip("/")


class LibraryScans:
    def __init__(self, runtime: Context) -> None:
        self._runtime = runtime
        self._wake = asyncio.Event()

    def request(self) -> None:
        self._wake.set()

    async def scan_again(self, hashes: Sequence[str] | None = None) -> None:
        """Take up imports mamd gave up on (these, or all when None) with a fresh set of rounds."""
        count = await self._runtime.torrents.scan_again(hashes)
        if count:
            log.info("scan.taken_up_again", imports=count)
            await self._report_failures()
        self.request()

    async def confirm_listed(self, items: Sequence[ListedItem]) -> int:
        """Confirm the imports (waiting, or given up on) at the folders of these listed items: a full
        `library_sync` sees every folder at no extra cost. Returns how many."""
        runtime = self._runtime
        records = [*await runtime.torrents.awaiting_scan(), *await runtime.torrents.not_in_library()]
        if not records:
            return 0
        by_path = {_same_path(item.rel_path): item for item in items if item.usable}
        found = [t for t in records if _same_path(t.import_path or "") in by_path]
        if found:
            await self._confirmed(found, [by_path[_same_path(t.import_path or "")] for t in found])
        return len(found)

    async def run_forever(self) -> None:
        clock = self._runtime.clock
        wait, outages, said = 0.0, 0, ""
        with contextlib.suppress(StoreError):  # the database watch says so
            await self._report_failures()  # imports given up on before a restart
        while True:
            await sleep_or_wake(clock, wait, self._wake)
            self._wake.clear()
            try:
                wait = await self.round()
                outages, said = 0, ""
                continue
            except (Unavailable, Throttled) as exc:
                outages += 1
                wait, reason = OUTAGE.delay(outages), exc.message
            except (Unauthorized, NotFound) as exc:
                # the service state or the library problem says so; a reload or a probe wakes this
                wait, reason = OUTAGE_MAX_S, exc.message
            except StoreError as exc:
                wait, reason = 5.0, str(exc)
            if reason != said:  # once per cause: the service state in /status tells the rest
                log.info("scan.waiting", reason=reason, retry_in_s=wait)
                said = reason

    async def round(self) -> float:
        """One round for every import that is due: a scan, then a look for each; seconds to the next."""
        runtime = self._runtime
        waiting = await runtime.torrents.awaiting_scan()
        now = runtime.clock.now()
        due = [t for t in waiting if (t.scan_next_at or 0) <= now]
        if not due:
            later = [t.scan_next_at for t in waiting if t.scan_next_at is not None]
            return max(0.0, min(later) - now) if later else IDLE_S
        client = runtime.require_audiobookshelf()
        library = await runtime.abs_library()
        allowed = await client.scan(library.id)
        if allowed:
            runtime.health.clear(SCAN_PROBLEM)
            log.info("scan.requested", library=library.name, books=len(due))
            await self._until_scanned(library.id, library.last_scan)
        else:
            runtime.health.report(
                SCAN_PROBLEM,
                "warning",
                "Audiobookshelf answers 403 to a library scan: the API key's user is not an admin. Imports "
                "show once Audiobookshelf's own folder watcher sees them (about 15 s; never when the "
                "library's watcher is off); with an admin's key (Settings → API Keys) they show at once",
            )
        listed = await self._listed(library.id, due)
        found = [t for t in due if _same_path(t.import_path or "") in listed]
        if found:
            await self._confirmed(found, [listed[_same_path(t.import_path or "")] for t in found])
        for record in due:
            if record not in found:
                await self._missed(record, allowed, library.name)
        rest = await runtime.torrents.awaiting_scan()
        upcoming = [t.scan_next_at for t in rest if t.scan_next_at is not None]
        if len(upcoming) < len(rest):
            return 0.0
        return max(0.0, min(upcoming) - runtime.clock.now()) if upcoming else IDLE_S

    async def _until_scanned(self, library_id: str, before: int | None) -> None:
        client = self._runtime.require_audiobookshelf()
        loop = asyncio.get_running_loop()
        started = loop.time()
        while (elapsed := loop.time() - started) < SCAN_WAIT_S:
            current = (await client.library(library_id)).last_scan
            if current is not None and current != before:
                return
            await asyncio.sleep(poll_delay(elapsed))
        log.info("scan.slow", library=library_id, waited_s=SCAN_WAIT_S)

    async def _listed(self, library_id: str, waiting: Sequence[TorrentRecord]) -> dict[str, ListedItem]:
        """The usable items at these imports' folders, paging newest first until each is found or the
        items are older than the oldest import."""
        client = self._runtime.require_audiobookshelf()
        paths = {_same_path(t.import_path or "") for t in waiting}
        oldest = min(t.imported_at or 0.0 for t in waiting) - LOOK_BACK_S
        found: dict[str, ListedItem] = {}
        page, oldest_ms = 0, 0.0
        while True:
            answer = await client.items_page(library_id, page, PAGE, newest_first=True)
            if page == 0 and answer.server_time is not None:
                # `addedAt` is Audiobookshelf's clock, which may differ from this machine's
                oldest_ms = (oldest + answer.server_time - self._runtime.clock.now()) * 1000
            for item in answer.items:
                path = _same_path(item.rel_path)
                if path in paths and item.usable:
                    found[path] = item
            last = answer.items[-1] if answer.items else None
            if (
                len(found) == len(paths)
                or last is None
                or (page + 1) * PAGE >= answer.total
                or 0 < last.added_at < oldest_ms
            ):
                return found
            page += 1

    async def _confirmed(self, records: Sequence[TorrentRecord], items: Sequence[ListedItem]) -> None:
        """In the library: its book imported (with the confirmation, in one transaction), owned at once
        (stored with the library, `discover` runs), and said so."""
        runtime = self._runtime
        books = await runtime.require_audiobookshelf().books([item.id for item in items])
        now = runtime.clock.now()
        await runtime.torrents.confirmed([t.hash for t in records], now)
        await runtime.library.upsert(books, now)
        runtime.request_job("discover")
        for record in records:
            label = record.meta.label if record.meta else record.name
            await runtime.events.add(
                now,
                "import.done",
                f"{label} is in Audiobookshelf now ({record.import_path})",
                f"torrent:{record.hash}",
                folder=record.import_path,
                **_named(record),
            )
            log.info("import.in_library", hash=record.hash, folder=record.import_path)
        await self._report_failures()

    async def _missed(self, record: TorrentRecord, scanned: bool, library: str) -> None:
        runtime = self._runtime
        now = runtime.clock.now()
        rounds = record.scan_attempts + 1
        next_at = CONFIRM.next_try(rounds, now)
        if next_at is not None:
            await runtime.torrents.scan_missed(record.hash, next_at)
            return
        why = (
            f"Audiobookshelf did not list {record.import_path} after {rounds} scans of the library "
            f"{library!r}: check that audiobookshelf.path is that library's folder as Audiobookshelf sees it"
            if scanned
            else f"Audiobookshelf did not list {record.import_path} after {rounds} looks, and its API key "
            "may not start scans: give mamd an admin's key, or turn the library's folder watcher on"
        )
        await runtime.torrents.scan_gave_up(record.hash, why, now)
        label = record.meta.label if record.meta else record.name
        await runtime.events.add(
            now,
            "import.not_in_library",
            f"{label}: {why}; `mamd run-job library_sync` or a new hook for it looks again",
            f"torrent:{record.hash}",
            folder=record.import_path,
            **_named(record),
        )
        log.warning("import.not_in_library", hash=record.hash, folder=record.import_path, why=why)
        await self._report_failures()

    async def _report_failures(self) -> None:
        failed = await self._runtime.torrents.not_in_library()
        if not failed:
            self._runtime.health.clear(FAILED_PROBLEM)
            return
        shown = ", ".join(t.import_path or t.hash for t in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        self._runtime.health.report(
            FAILED_PROBLEM,
            "warning",
            f"{len(failed)} import(s) Audiobookshelf never listed: {shown}{more}",
        )


def _named(record: TorrentRecord) -> dict[str, Any]:
    """How an event names the book of an import: its details when mamd knows them, else the torrent."""
    return {"book": record.meta.card()} if record.meta else {"name": record.name}
