"""The `search` job: look for each wanted book on MAM, decide, and grab the best release.

Per book, a short cascade of searches (`mamd.domain.queries`: title and author, title alone,
series and author, other spellings, then the author's newest audiobooks) stops at the first
that yields a release it is sure of, within a bound on requests. Every release seen gets a
recorded decision. The best one is grabbed only if the budgets allow it, counting the grabs
made since the account was read: its .torrent bytes go to qBittorrent as a file, with mamd's
category, tags and save path, and the grab is recorded with the book it is for, which the
importer uses later. Each grab is journalled (decided, fetched with its bytes, done), so one
cut short is finished at the next run, never fetched or added twice. When nothing may be
grabbed at all, MAM is not searched. A miss is searched again later, less and less often; a
grab refused again and again ends `failed` until a person asks again. Followed authors,
series and narrators are searched newest first and their unowned books become wanted.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Mapping
from typing import Any

from mamd.clients.errors import Throttled, Unauthorized, UpstreamError
from mamd.domain.account import AccountSnapshot
from mamd.domain.budget import BudgetFacts, blocked
from mamd.domain.credits import people
from mamd.domain.discovery import OwnedIndex, ignored_by
from mamd.domain.matching import Want
from mamd.domain.rules import AccountView, Choice
from mamd.guarding import actions as guard
from mamd.logs import get_logger
from mamd.runtime import Runtime
from mamd.schedule import JobContext
from mamd.searching.cascade import find
from mamd.searching.follows import FOLLOW_EVERY_S, follow
from mamd.searching.grab import FAILED_RETRY_S, book_meta, finish_grabs, grab
from mamd.searching.hold import hold, holding_back, said_held
from mamd.searching.run import Run
from mamd.store.wanted import WantedBook

log = get_logger(__name__)

BOOKS_PER_RUN = 50
MISS_BACKOFF_S = (6 * 3600, 86400, 2 * 86400, 4 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)
BLOCKED_RETRY_S = 3600.0


def want_of(book: WantedBook) -> Want:
    authors = tuple(people(book.author)) or (book.author,)
    return Want(book.title, authors, book.series, book.position, book.asin)


def _miss_delay(attempts: int) -> float:
    return float(MISS_BACKOFF_S[min(attempts, len(MISS_BACKOFF_S) - 1)])


async def run(runtime: Runtime, context: JobContext) -> Mapping[str, Any]:
    # a grab by hand is refused while this runs; one under way is waited for: the budgets, `decided` grabs
    # left over and books left `searching` below are then this run's alone
    async with runtime.grabbing:
        return await _run(runtime, context)


async def _run(runtime: Runtime, context: JobContext) -> Mapping[str, Any]:
    mam = runtime.require_mam()
    now = context.clock.now()
    summary: dict[str, Any] = {}
    if context.by_hand:  # asked for by a person: books whose grab failed for good are tried again
        summary["failed_retried"] = await runtime.wanted.retry_failed(now)
    summary["grabs_finished"] = await finish_grabs(runtime, mam, context)
    await runtime.wanted.release_searches(now)  # only one search runs at a time: these are left over
    books = await runtime.wanted.due_for_search(now, BOOKS_PER_RUN)
    follows_due = await runtime.wanted.follows_due(now - FOLLOW_EVERY_S)
    if not books and not follows_due:
        return {"searched": 0, **summary}
    snapshot = await runtime.account.latest()
    facts = await budget_facts(runtime, snapshot)
    holding = await holding_back(runtime, facts, now)
    if holding is not None:  # nothing found could be grabbed: MAM is not asked at all
        await hold(runtime, books, holding, now)
        return {"searched": 0, "held": holding, **summary}
    library = await runtime.library.books()
    search = Run(
        runtime,
        context,
        mam,
        snapshot,
        facts,
        await asyncio.to_thread(OwnedIndex, library),  # built once a run, off the event loop
        await runtime.library.version(),
    )
    try:
        for number, book in enumerate(books, 1):
            context.progress(phase="searching", book=number, of=len(books))
            search.held = await holding_back(runtime, search.facts, context.clock.now())
            if search.held is not None:  # the budget was spent by this run's grabs: the rest wait
                await hold(runtime, books[number - 1 :], search.held, context.clock.now())
                break
            await _search_book(search, book)
        else:
            await said_held(runtime, None, context.clock.now())
            context.progress(phase="following")
            await follow(search)
    except (Unauthorized, Throttled) as exc:
        log.warning("search.stopped", reason=exc.message)
        raise
    return {
        "searched": search.searched,
        "grabbed": search.grabbed,
        "would_grab": search.would_grab,
        "skipped": search.skipped,
        "blocked": search.blocked,
        "follows_added": search.follows_added,
        "requests": search.requests,
        "most_requests_per_book": search.most_requests,
        **({"held": search.held} if search.held else {}),
        **summary,
    }


async def budget_facts(runtime: Runtime, snapshot: AccountSnapshot | None) -> BudgetFacts:
    settings = runtime.config.qbittorrent
    since = runtime.clock.now() - 86400
    pending = await runtime.grabs.pending()  # fetched, not yet in qBittorrent: each will download
    active: int | None
    try:
        torrents = await runtime.require_qbittorrent().torrents(category=settings.category)
        active = pending + sum(1 for t in torrents if t.downloading)
    except UpstreamError:
        active = None  # qBittorrent cannot take a grab now anyway; the budget says so
    try:
        free = (await asyncio.to_thread(shutil.disk_usage, settings.save_path)).free
    except OSError:
        free = None
    grabs = await runtime.torrents.grabs_since(since) + pending
    if snapshot is None:
        return BudgetFacts(grabs, active, free, snapshot)
    return BudgetFacts(grabs, active, free, snapshot, await runtime.grabs.since(snapshot.at))


async def _search_book(search: Run, book: WantedBook) -> None:
    runtime, now = search.runtime, search.context.clock.now()
    want = want_of(book)
    ignored = ignored_by(book.spec, runtime.config.wanted.ignore)
    if ignored is not None:  # the user ignored it since the last discovery: never grabbed, dropped now
        await runtime.wanted.apply([], {}, [book.id], now)
        message = f"no longer wanted: {want.label}: wanted.ignore lists {ignored!r}"
        await runtime.events.add(now, "wanted.dropped", message, f"wanted:{book.id}")
        return
    if not await runtime.wanted.advance(book.id, book.state, "searching", None, now):
        return  # changed since this run listed it: ignored, dropped or grabbed by hand meanwhile
    try:
        snapshot = search.snapshot
        # the wedges spent by this run's grabs are gone: the reserve (rules.wedges.keep) counts without them
        account = AccountView(snapshot.classname, search.facts.wedges) if snapshot else AccountView()
        found = await find(search.mam, runtime.config, account, want, book)
    except UpstreamError as exc:
        await runtime.wanted.searched(
            book.id, book.state, f"search interrupted: {exc.message}", now + FAILED_RETRY_S, now
        )
        raise
    search.searched += 1
    search.requests += found.requests
    search.most_requests = max(search.most_requests, found.requests)
    now = search.context.clock.now()
    choice = found.choice
    await runtime.candidates.record(book.id, choice, now)
    best = choice.best
    # one line per book: what the cascade cost and what it found
    shown = {"chosen": best.release.id} if best else {"why": _why_none(choice)}
    log.info("search.book", wanted=book.id, book=want.label, requests=found.requests, **shown)
    if best is None:
        why = _why_none(choice)
        await runtime.wanted.searched(book.id, "skipped", why, now + _miss_delay(book.attempts), now)
        search.skipped += 1
        return
    if await _owned_now(search, book):
        await runtime.wanted.apply([], {}, [book.id], now)
        await runtime.events.add(
            now,
            "wanted.dropped",
            f"no longer wanted: {want.label}: it is in the library now",
            f"wanted:{book.id}",
        )
        return
    verdict = await guard.verdict(runtime, now)  # read again: the account job may have changed it
    reason = verdict.refuses(best.freeleech) or blocked(
        best, search.facts, runtime.config.limits, runtime.config.ratio
    )
    dry = "dry run: " if runtime.config.dry_run else ""
    if reason is not None:
        search.blocked += 1
        await runtime.wanted.searched(book.id, "blocked", f"{dry}{reason}", now + BLOCKED_RETRY_S, now)
        await runtime.events.add(
            now,
            "grab.blocked",
            f"{dry}not grabbing {best.release.label}: {reason}",
            f"wanted:{book.id}",
            torrent_id=best.release.id,
        )
        return
    if runtime.config.dry_run:
        search.would_grab += 1
        message = f"dry run: would grab {best.release.label} for {want.label}"
        await runtime.wanted.searched(book.id, "wanted", message, now + 86400, now)
        await runtime.events.add(
            now,
            "grab.would_grab",
            message,
            f"wanted:{book.id}",
            torrent_id=best.release.id,
            book=book_meta(book, want, best.release).card(),
        )
        return
    await grab(search, book, want, best)


def _why_none(choice: Choice) -> str:
    if not choice.decisions:
        return "MAM has no release of it"
    top = choice.decisions[0]
    closest = f"{top.release.title!r}: {top.reasons[-1]}"
    return f"no acceptable release among {len(choice.decisions)}; the closest, {closest}"


async def _owned_now(search: Run, book: WantedBook) -> bool:
    """Whether the library holds the book; it may have gained it while the search ran (a sync), and only
    then is the index built again."""
    version = await search.runtime.library.version()
    if version != search.library_version:
        library = await search.runtime.library.books()
        search.owned = await asyncio.to_thread(OwnedIndex, library)
        search.library_version = version
    return search.owned.owns(book.spec)
