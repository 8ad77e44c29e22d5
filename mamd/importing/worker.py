"""The inbox worker: every completion hook (or reconcile finding) becomes an import, exactly once.

The hook's payload is never trusted: the torrent is read again from qBittorrent. Torrents
outside mamd's category and tags are recorded as ignored; incomplete ones are tried again
with backoff; an import that cannot be done now (qBittorrent or the library unavailable)
waits in the durable inbox, across restarts, until it can. One that keeps failing is tried
for about four hours, then ends `failed` with its reason, its book too, until something
changes: a new hook, a reload, `mamd run-job reconcile`.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mamd.backoff import Backoff
from mamd.clients.errors import UpstreamError
from mamd.clients.qbittorrent import Torrent, TorrentFile
from mamd.clock import sleep_or_wake
from mamd.crashpoint import crashpoint
from mamd.domain.book import BookMeta, abs_metadata, merge
from mamd.domain.discovery import ManualEntry, manual_wants
from mamd.domain.torrent_name import identify, meta_from_name
from mamd.importing.linker import ImportRefused, link_book
from mamd.importing.plan import plan_import
from mamd.importing.tags import meta_from_tags
from mamd.logs import get_logger
from mamd.store import InboxEntry, StoreError
from mamd.store.inbox import close_entry
from mamd.store.torrents import TorrentRecord, record_import
from mamd.store.wanted import OPEN_STATES, set_state

if TYPE_CHECKING:
    from mamd.context import ImportContext

log = get_logger(__name__)

BATCH = 50
CONCURRENT_IMPORTS = 4
# an import that keeps failing is tried for about four hours, then `failed` with its reason until
# something changes (a new hook, a reload, `mamd run-job reconcile`)
RETRY = Backoff(first_s=5.0, max_s=600.0, give_up_after=30)
OUTAGE = Backoff(first_s=5.0, max_s=600.0)  # qBittorrent away: every entry waits for it together
PREPARE = Backoff(first_s=5.0, max_s=600.0, give_up_after=10)  # then the reconcile job sees to it
INCOMPLETE_TRIES = 12  # then the reconcile job takes over once the torrent completes
IDLE_WAKE_S = 60.0


class Importer:
    def __init__(self, runtime: ImportContext) -> None:
        self._runtime = runtime
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(CONCURRENT_IMPORTS)
        # when qBittorrent is down, every entry waits together: one try per backoff step, not one per entry
        self._paused_until = 0.0
        self._outages = 0
        self._lookup = asyncio.Lock()  # qBittorrent answers one call at a time anyway
        self._prepared: tuple[str, str, str, tuple[str, ...]] | None = None  # settings made sure of

    def wake(self) -> None:
        self._wake.set()

    def service_back(self) -> None:
        """qBittorrent answers again: the waiting completions are tried now, not at the next backoff."""
        self._paused_until, self._outages = 0.0, 0
        self._wake.set()

    async def prepare(self) -> None:
        """Make sure qBittorrent has mamd's category and tags, trying for a while (`PREPARE`); the
        reconcile job makes sure of them until it succeeds. In dry run nothing is created."""
        runtime = self._runtime
        settings = runtime.config.qbittorrent
        if runtime.config.dry_run:
            log.info("qbittorrent.not_prepared", reason="dry run: nothing is changed in qBittorrent")
            return
        failures = 0
        while True:
            try:
                created = await self.ensure_prepared()
            except UpstreamError as exc:
                failures += 1
                wait = PREPARE.next_try(failures, 0.0)
                log.info("qbittorrent.not_prepared", reason=exc.message, retry_in_s=wait)
                if wait is None:
                    return  # the reconcile job asks again when it runs
                await runtime.clock.sleep(wait)
                continue
            log.info(
                "qbittorrent.prepared", category=settings.category, created=created, tags=list(settings.tags)
            )
            return

    async def ensure_prepared(self) -> bool:
        """Create mamd's category and tags in qBittorrent unless that was done for these settings already
        (qBittorrent keeps them: asking again at every reconcile would be two requests for nothing);
        True when the category was created."""
        settings = self._runtime.config.qbittorrent
        key = (settings.url, settings.category, settings.save_path, settings.tags)
        if self._prepared == key:
            return False
        client = self._runtime.require_qbittorrent()
        created = await client.ensure_category(settings.category, settings.save_path)
        await client.ensure_tags(settings.tags)
        self._prepared = key
        return created

    async def run_forever(self) -> None:
        clock = self._runtime.clock
        while True:
            self._wake.clear()
            wait = await self.process_due()
            await sleep_or_wake(clock, min(IDLE_WAKE_S, wait), self._wake)

    async def process_due(self) -> float:
        """Import every entry that is due; the seconds until the next one is."""
        runtime = self._runtime
        if runtime.store.problem is not None or runtime.stopping:
            return 5.0
        now = runtime.clock.now()
        if now < self._paused_until:
            return self._paused_until - now
        try:
            entries = await runtime.inbox.due(now, BATCH)
        except StoreError:
            return 5.0
        if entries:
            await asyncio.gather(*(self._guarded(entry) for entry in entries))
            if len(entries) == BATCH:
                return 0.0
        try:
            next_due = await runtime.inbox.next_due()
        except StoreError:
            return 5.0
        now = runtime.clock.now()
        wait = IDLE_WAKE_S if next_due is None else max(0.0, next_due - now)
        return max(wait, self._paused_until - now)

    async def _guarded(self, entry: InboxEntry) -> None:
        async with self._slots:
            try:
                try:
                    await self._process(entry)
                except StoreError:
                    raise
                except Exception as exc:  # one odd torrent must not stop the others
                    log.exception("import.crashed", hash=entry.hash)
                    await self._retry(entry, f"unexpected {type(exc).__name__}: {exc}")
            except StoreError as exc:  # the database failed, perhaps while saying the above
                log.error("import.not_recorded", hash=entry.hash, reason=str(exc))

    async def _retry(self, entry: InboxEntry, why: str, *, blame_torrent: bool = True) -> None:
        """Try the entry again later (`RETRY`), or, after its last try, fail it with `why`.

        `blame_torrent=False` when qBittorrent could not be asked: the entry ends, but the torrent
        does not, so the reconcile job queues it again once qBittorrent answers."""
        now = self._runtime.clock.now()
        failures = entry.attempts + 1
        at = RETRY.next_try(failures, now)
        if at is None:
            await self._fail(entry, f"{why} (tried {failures} times)", blame_torrent=blame_torrent)
            return
        await self._runtime.inbox.retry(entry.id, at, why)
        log.info("import.later", hash=entry.hash, why=why, attempts=failures, retry_in_s=round(at - now))

    async def _fail(
        self, entry: InboxEntry, why: str, *, blame_torrent: bool = True, book: BookMeta | None = None
    ) -> None:
        """The entry ends `failed`; unless the fault lies elsewhere, so do the torrent and its book."""
        runtime = self._runtime
        now = runtime.clock.now()
        await runtime.inbox.finish(entry.id, "failed", now, why)
        log.warning("import.failed", hash=entry.hash, reason=why)
        if not blame_torrent:
            return
        await runtime.torrents.failed(entry.hash, why)
        record = await runtime.torrents.get(entry.hash)
        if book is None and record is not None:
            book = record.meta
        if record is not None and record.wanted_id is not None:
            await runtime.wanted.set_state(record.wanted_id, "failed", f"import failed: {why}", now)
        # the book's card names it in a notification; without one, the torrent's name does
        named = {"book": book.card()} if book is not None else {"name": record.name if record else entry.hash}
        label = book.label if book is not None else entry.hash
        await runtime.events.add(
            now, "import.failed", f"cannot import {label}: {why}", f"torrent:{entry.hash}", **named
        )

    async def _process(self, entry: InboxEntry) -> None:
        runtime = self._runtime
        started = time.monotonic()
        client = runtime.require_qbittorrent()
        async with self._lookup:
            if runtime.clock.now() < self._paused_until:
                return  # another entry just found qBittorrent unavailable; this one stays due
            try:
                torrent = await client.torrent(entry.hash)
            except UpstreamError as exc:
                self._outages += 1
                self._paused_until = runtime.clock.now() + OUTAGE.delay(self._outages)
                await self._retry(entry, exc.message, blame_torrent=False)
                return
            self._outages = 0
        crashpoint("import.torrent_read")
        now = runtime.clock.now()
        if torrent is None:
            await runtime.inbox.finish(entry.id, "ignored", now, "qBittorrent does not know this torrent")
            await runtime.events.add(
                now,
                "import.unknown_torrent",
                f"a completion for {entry.hash} arrived, but qBittorrent does not know that torrent",
                f"torrent:{entry.hash}",
                source=entry.source,
            )
            return
        settings = runtime.config.qbittorrent
        if not torrent.belongs_to(settings.category, settings.tags):
            await runtime.torrents.seen(entry.hash, torrent.name, now, state="ignored")
            why = f"not in category {settings.category!r} and without the tags {list(settings.tags)}"
            await runtime.inbox.finish(entry.id, "ignored", now, why)
            log.info("import.ignored", hash=entry.hash, name=torrent.name, why=why)
            return
        record = await runtime.torrents.get(entry.hash)
        if record is not None and record.imported_at is not None:
            await runtime.inbox.finish(entry.id, "done", now, None)
            log.info("import.already_done", hash=entry.hash, folder=record.import_path)
            if record.scan_failed_at is not None:  # a new hook: look for it in Audiobookshelf again
                await runtime.scans.scan_again([entry.hash])
            return
        await runtime.torrents.seen(entry.hash, torrent.name, now)
        if not torrent.complete:
            await self._incomplete(entry, torrent)
            return
        try:
            files = await client.files(entry.hash)
        except UpstreamError as exc:
            await self._retry(entry, exc.message, blame_torrent=False)
            return
        await self._import(entry, torrent, files, record, started)

    async def _incomplete(self, entry: InboxEntry, torrent: Torrent) -> None:
        why = f"not complete yet ({torrent.progress:.0%}, {torrent.state})"
        if entry.attempts + 1 >= INCOMPLETE_TRIES:
            why += "; the reconcile job imports it once it completes"
            await self._runtime.inbox.finish(entry.id, "failed", self._runtime.clock.now(), why)
            log.info("import.waiting_for_completion", hash=entry.hash, why=why)
        else:
            await self._retry(entry, why)

    async def _import(
        self,
        entry: InboxEntry,
        torrent: Torrent,
        files: list[TorrentFile],
        record: TorrentRecord | None,
        started: float,
    ) -> None:
        runtime = self._runtime
        config = runtime.config
        book = await self._book(record, torrent, files)
        if book is None:
            await self._unsure(entry, torrent)
            return
        plan = plan_import(config.import_.layout, book, [f.name for f in files])
        if config.dry_run:
            now = runtime.clock.now()
            await runtime.inbox.finish(entry.id, "done", now, "dry run: nothing linked")
            await runtime.events.add(
                now,
                "import.would_link",
                f"dry run: would import {book.label} into {plan.folder}",
                f"torrent:{entry.hash}",
                book=book.card(),
            )
            return
        try:
            result = await asyncio.to_thread(
                link_book,
                plan,
                save_path=Path(torrent.save_path),
                library=Path(config.audiobookshelf.path),
                method=config.import_.method,
                metadata=abs_metadata(book) if config.import_.write_metadata else None,
                marker=entry.hash,
            )
        except ImportRefused as exc:
            await self._refused(entry, book, exc)
            return
        now = runtime.clock.now()
        verb = "found already in place" if result.outcome == "already" else f"{config.import_.method}ed"
        async with runtime.store.transaction() as db:  # the import, its entry, its book and its event at once
            await record_import(db, entry.hash, book, str(plan.folder), now)
            await close_entry(db, entry.id, "done", now)
            if record is not None and record.wanted_id is not None:
                await set_state(db, record.wanted_id, "importing", f"linked into {plan.folder}", now)
            await runtime.events.insert(
                db,
                now,
                "import.linked",
                f"imported {book.label} into {plan.folder} ({result.files} files {verb})",
                f"torrent:{entry.hash}",
                folder=str(plan.folder),
                metadata_from=book.source,
                book=book.card(),
            )
        elapsed_ms = round((time.monotonic() - started) * 1000, 1)
        log.info(
            "import.linked",
            hash=entry.hash,
            folder=str(plan.folder),
            files=result.files,
            outcome=result.outcome,
            metadata_from=book.source,
            ms=elapsed_ms,
        )
        runtime.scans.request()

    async def _refused(self, entry: InboxEntry, book: BookMeta, refusal: ImportRefused) -> None:
        runtime = self._runtime
        now = runtime.clock.now()
        message = f"cannot import {book.label}: {refusal}"
        if refusal.retry:
            if entry.attempts == 0:  # said once; the retries are in the log
                await runtime.events.add(now, "import.blocked", message, f"torrent:{entry.hash}")
            await self._retry(entry, str(refusal))
            return
        await self._fail(entry, str(refusal), book=book)

    async def _book(
        self, record: TorrentRecord | None, torrent: Torrent, files: list[TorrentFile]
    ) -> BookMeta | None:
        """What mamd grabbed it as; otherwise the files' tags, completed from the torrent's name. An
        author read only from the name must be confirmed (`identify`); None when it is not."""
        if record is not None and record.meta is not None and record.meta.source == "grab":
            return record.meta
        base = Path(torrent.save_path)
        paths = [base / f.name for f in files]
        tagged = await asyncio.to_thread(meta_from_tags, paths)
        if tagged is not None and tagged.authors:
            return merge(tagged, meta_from_name(torrent.name))
        runtime = self._runtime
        wants = [book.spec for book in await runtime.wanted.all() if book.state in OPEN_STATES]
        # `wanted.manual` as written now, before discover has run on it: the way to vouch for a name
        manual = runtime.config.wanted.manual
        wants += manual_wants(ManualEntry(m.title, m.author, m.series, m.position) for m in manual)
        known = [*await runtime.library.authors(), *(want.author for want in wants)]
        named = identify(torrent.name, wants, known)
        if named is None:
            return None
        return merge(tagged, named) if tagged is not None else named

    async def _unsure(self, entry: InboxEntry, torrent: Torrent) -> None:
        """Only the torrent's name could say who wrote it, and nothing confirms that reading: no book
        goes under an author made up from a name (`Temeraire 2 - Throne of Jade` is no author)."""
        runtime = self._runtime
        now = runtime.clock.now()
        why = (
            f"cannot tell who wrote {torrent.name!r}: its audio files name no artist, and neither the wanted "
            "list nor the library confirms a reading of its name"
        )
        await runtime.inbox.finish(entry.id, "failed", now, why)
        await runtime.torrents.failed(entry.hash, why)
        await runtime.events.add(
            now,
            "import.unsure",
            f"{why}; add the book to wanted.manual (title and author) and run `mamd hook {entry.hash}`",
            f"torrent:{entry.hash}",
            name=torrent.name,
        )
        log.warning("import.unsure", hash=entry.hash, name=torrent.name)
