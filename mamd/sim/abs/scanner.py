"""Library scans: what a scan changes in the library, and the asynchronous scan ABS runs.

A library scan answers at once and runs in the background after `delay` seconds; a scan requested while
one runs is dropped silently, like the real server's "Already scanning". Every request is recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mamd.sim.abs.files import summarize
from mamd.sim.abs.folder import FolderBook, read_book, read_library
from mamd.sim.abs.model import AUDIO_EXTENSIONS, Item, Library, SeriesLink
from mamd.tasks import TaskOwner


def build_item(library: Library, book: FolderBook, now_ms: int, previous: Item | None = None) -> Item:
    """The item for a book read from disk; an existing item keeps its id, `addedAt` and file dates."""
    meta = book.metadata
    old_dates = {entry.rel_path: entry.added_at for entry in previous.files or ()} if previous else {}
    files = tuple(replace(entry, added_at=old_dates.get(entry.rel_path, now_ms)) for entry in book.files)
    audio_ext = next((entry.ext for entry in files if entry.ext in AUDIO_EXTENSIONS), ".m4b")
    item = Item(
        id=previous.id if previous else library.ids.make("item", book.rel_path),
        ino=book.ino,
        rel_path=book.rel_path,
        is_file=book.is_file,
        title=meta.title,
        subtitle=meta.subtitle,
        authors=tuple(library.author(name, now_ms) for name in dict.fromkeys(meta.authors)),
        narrators=tuple(dict.fromkeys(meta.narrators)),
        series=tuple(SeriesLink(library.series_named(name, now_ms), seq) for name, seq in meta.series),
        genres=tuple(meta.genres),
        tags=tuple(meta.tags),
        published_year=meta.published_year,
        publisher=meta.publisher,
        description=meta.description,
        isbn=meta.isbn,
        asin=meta.asin,
        language=meta.language,
        explicit=meta.explicit,
        abridged=meta.abridged,
        added_at=previous.added_at if previous else now_ms,
        updated_at=now_ms,
        last_scan=now_ms,
        mtime_ms=book.mtime_ms,
        ctime_ms=book.ctime_ms,
        birthtime_ms=book.birthtime_ms,
        files=files,
        audio_ext=audio_ext,
    )
    return summarize(item)


def _fingerprint(item: Item) -> tuple[Any, ...]:
    return (
        item.ino,
        item.rel_path,
        item.title,
        item.subtitle,
        tuple(author.id for author in item.authors),
        item.narrators,
        tuple((link.series.id, link.sequence) for link in item.series),
        item.genres,
        item.tags,
        item.published_year,
        item.publisher,
        item.description,
        item.isbn,
        item.asin,
        item.language,
        item.explicit,
        item.abridged,
        tuple((entry.rel_path, entry.ino, entry.size, entry.mtime_ms) for entry in item.files or ()),
    )


@dataclass
class ScanOutcome:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def apply_books(library: Library, books: list[FolderBook], now_ms: int) -> ScanOutcome:
    """Bring the library in line with the books on disk: new folders become items (`addedAt` = now),
    changed ones are updated, and items whose folder is gone stay listed with `isMissing: true`."""
    outcome = ScanOutcome()
    on_disk = [item for item in library.items.values() if item.files is not None]
    by_path = {item.rel_path: item for item in on_disk}
    by_ino = {item.ino: item for item in on_disk}
    present = {book.rel_path for book in books}
    seen: set[str] = set()
    for book in books:
        previous = by_path.get(book.rel_path)
        if previous is None:
            # ABS follows inodes: a folder renamed in place keeps its item
            moved = by_ino.get(book.ino)
            previous = moved if moved is not None and moved.rel_path not in present else None
        if previous is not None and previous.id in seen:
            previous = None
        item = build_item(library, book, now_ms, previous)
        seen.add(item.id)
        if previous is None:
            library.put(item)
            outcome.added.append(item.id)
        elif previous.is_missing or _fingerprint(previous) != _fingerprint(item):
            library.put(item)
            outcome.updated.append(item.id)
        else:
            previous.last_scan = now_ms
    for item in on_disk:
        if item.id not in seen and not item.is_missing:
            item.is_missing = True
            item.updated_at = now_ms
            outcome.missing.append(item.id)
    if outcome.added or outcome.updated or outcome.missing:
        library.prune()
        library.changed(now_ms)
    return outcome


def apply_item_rescan(library: Library, item: Item, book: FolderBook | None, now_ms: int) -> str:
    """`POST /api/items/:id/scan`: UPTODATE, UPDATED, or REMOVED when the folder is gone."""
    if item.files is None:
        return "REMOVED" if item.is_missing else "UPTODATE"
    if book is None:
        if not item.is_missing:
            item.is_missing = True
            item.updated_at = now_ms
            library.changed(now_ms)
        return "REMOVED"
    rebuilt = build_item(library, book, now_ms, item)
    if not item.is_missing and _fingerprint(item) == _fingerprint(rebuilt):
        item.last_scan = now_ms
        return "UPTODATE"
    library.put(rebuilt)
    library.prune()
    library.changed(now_ms)
    return "UPDATED"


def read_item_folder(root: Path, item: Item, library: Library) -> FolderBook | None:
    """Read one item's folder again (in a thread: it touches the disk)."""
    if item.is_file:
        found = [book for book in read_library(root) if book.rel_path == item.rel_path]
        return found[0] if found else None
    return read_book(root, item.rel_path, library.metadata_precedence)


@dataclass(frozen=True)
class ScanRequest:
    """One `POST /api/libraries/:id/scan`; `accepted` is False when a scan was already running."""

    requested_at: int
    library_id: str
    force: bool
    accepted: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "requestedAt": self.requested_at,
            "libraryId": self.library_id,
            "force": self.force,
            "accepted": self.accepted,
        }


@dataclass(frozen=True)
class RunningScan:
    id: str
    started_at: int


class Scanner:
    """The library's scanner: background scans, the watcher queue, and the record of requests."""

    def __init__(
        self,
        library: Library,
        *,
        folder: Path | None,
        delay: float,
        watcher_delay: float,
        now_ms: Callable[[], int],
    ) -> None:
        self.library = library
        self.folder = folder
        self.delay = delay
        self.watcher_delay = watcher_delay
        self.requests: list[ScanRequest] = []
        self.watcher_events: list[dict[str, Any]] = []
        self.completed = 0
        self.running: RunningScan | None = None
        self._now = now_ms
        self._tasks = TaskOwner()
        self._idle = asyncio.Event()
        self._idle.set()

    def request(self, *, force: bool = False) -> ScanRequest:
        """Record a scan request and start the scan unless one is running (ABS then drops it)."""
        now = self._now()
        scan = ScanRequest(now, self.library.id, force, accepted=self.running is None)
        self.requests.append(scan)
        if scan.accepted:
            self.running = RunningScan(self.library.ids.make("task", f"scan:{len(self.requests)}"), now)
            self._idle.clear()
            self._tasks.spawn(self._scan(), name="sim.abs.library_scan")
        return scan

    async def _scan(self) -> None:
        try:
            await asyncio.sleep(self.delay)
            await self.refresh()
            end = self._now()
            self.library.last_scan = end
            self.library.changed(end)
            self.completed += 1
        finally:
            self.running = None
            self._idle.set()

    async def refresh(self) -> ScanOutcome:
        """Re-read the folder (when the library has one) and apply what changed."""
        if self.folder is None:
            return ScanOutcome()
        books = await asyncio.to_thread(read_library, self.folder, self.library.metadata_precedence)
        return apply_books(self.library, books, self._now())

    def watcher_update(self, path: str, kind: str) -> bool:
        """`POST /api/watcher/update`: queued like the watcher's own events, or ignored (still 200) when the
        library's watcher is disabled. Returns whether the event was queued."""
        queued = not self.library.disable_watcher
        self.watcher_events.append({"at": self._now(), "path": path, "type": kind, "queued": queued})
        if queued:
            self._tasks.spawn(self._watched(), name="sim.abs.watcher")
        return queued

    async def _watched(self) -> None:
        await asyncio.sleep(self.watcher_delay)
        await self._idle.wait()
        await self.refresh()

    async def wait_idle(self, max_wait: float) -> None:
        """Wait until no scan runs; TimeoutError after `max_wait` seconds."""
        await asyncio.wait_for(self._idle.wait(), max_wait)

    def tasks_json(self) -> list[dict[str, Any]]:
        """`GET /api/tasks`: a `library-scan` task while a scan runs; finished tasks are gone."""
        if self.running is None:
            return []
        name = self.library.name
        return [
            {
                "id": self.running.id,
                "action": "library-scan",
                "data": {"libraryId": self.library.id, "libraryName": name, "libraryMediaType": "book"},
                "title": f'Scanning "{name}"',
                "titleKey": "MessageTaskScanningLibrary",
                "titleSubs": [name],
                "description": None,
                "error": None,
                "showSuccess": True,
                "isFailed": False,
                "isFinished": False,
                "startedAt": self.running.started_at,
                "finishedAt": None,
            }
        ]

    async def close(self) -> None:
        """Cancel a running scan and queued watcher work, and wait for them to end."""
        await self._tasks.drain(0.0)
