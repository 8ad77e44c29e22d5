"""The `search` job: look for each wanted book on MAM, decide, and grab the best release.

Per book, a short cascade of searches (`mamd.domain.queries`: title and author, title alone,
series and author, other spellings, then the author's newest audiobooks) stops at the first
that yields a release it is sure of, within a bound on requests. Every release seen gets a
recorded decision. The best one is grabbed only if the budgets allow it: its .torrent bytes go to
qBittorrent as a file, with mamd's category, tags and save path, and the grab is recorded
with the book it is for, which the importer uses later. A miss is searched again later,
less and less often. Followed authors, series and narrators are searched newest first
and their unowned books become wanted.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from mamd.clients.errors import NotFound, Rejected, Throttled, Unauthorized, UpstreamError
from mamd.clients.mam import MamClient
from mamd.config import Config
from mamd.domain.account import AccountSnapshot
from mamd.domain.book import BookMeta
from mamd.domain.budget import BudgetFacts, blocked
from mamd.domain.discovery import OwnedIndex, WantSpec, series_want_key, title_want_key
from mamd.domain.matching import Want, people, strip_series_prefix
from mamd.domain.normalize import name_key, series_key
from mamd.domain.queries import words
from mamd.domain.release import Release
from mamd.domain.rules import AccountView, Choice, Decision
from mamd.domain.sequence import format_position, parse_sequence
from mamd.jobs import guard
from mamd.jobs.cascade import find
from mamd.logs import get_logger
from mamd.runtime import Runtime
from mamd.schedule import JobContext
from mamd.store.wanted import WantedBook

log = get_logger(__name__)

BOOKS_PER_RUN = 50
MISS_BACKOFF_S = (6 * 3600, 86400, 2 * 86400, 4 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)
BLOCKED_RETRY_S = 3600.0
FAILED_RETRY_S = 3600.0
FOLLOW_EVERY_S = 86400.0
FOLLOW_NEW_PER_RUN = 10


@dataclass
class Run:
    runtime: Runtime
    context: JobContext
    mam: MamClient
    snapshot: AccountSnapshot | None
    facts: BudgetFacts
    owned: OwnedIndex
    searched: int = 0
    grabbed: int = 0
    would_grab: int = 0
    skipped: int = 0
    blocked: int = 0
    follows_added: int = 0
    requests: int = 0  # MAM searches sent for the wanted books
    most_requests: int = 0  # the most sent for one book


def _want(book: WantedBook) -> Want:
    authors = tuple(people(book.author)) or (book.author,)
    return Want(book.title, authors, book.series, book.position, book.asin)


def _miss_delay(attempts: int) -> float:
    return float(MISS_BACKOFF_S[min(attempts, len(MISS_BACKOFF_S) - 1)])


async def run(runtime: Runtime, context: JobContext) -> Mapping[str, Any]:
    mam = runtime.require_mam()
    now = context.clock.now()
    await runtime.wanted.release_searches(now)  # only one search runs at a time: these are left over
    books = await runtime.wanted.due_for_search(now, BOOKS_PER_RUN)
    follows_due = await runtime.wanted.follows_due(now - FOLLOW_EVERY_S)
    if not books and not follows_due:
        return {"searched": 0}
    snapshot = await runtime.account.latest()
    search = Run(
        runtime,
        context,
        mam,
        snapshot,
        await _facts(runtime, snapshot),
        OwnedIndex(await runtime.library.books()),
    )
    try:
        for number, book in enumerate(books, 1):
            context.progress(phase="searching", book=number, of=len(books))
            await _search_book(search, book)
        context.progress(phase="following")
        await _follow(search)
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
    }


async def _facts(runtime: Runtime, snapshot: AccountSnapshot | None) -> BudgetFacts:
    settings = runtime.config.qbittorrent
    since = runtime.clock.now() - 86400
    active: int | None
    try:
        torrents = await runtime.require_qbittorrent().torrents(category=settings.category)
        active = sum(1 for t in torrents if t.downloading)
    except UpstreamError:
        active = None  # qBittorrent cannot take a grab now anyway; the budget says so
    try:
        free = (await asyncio.to_thread(shutil.disk_usage, settings.save_path)).free
    except OSError:
        free = None
    return BudgetFacts(await runtime.torrents.grabs_since(since), active, free, snapshot)


async def _search_book(search: Run, book: WantedBook) -> None:
    runtime, now = search.runtime, search.context.clock.now()
    want = _want(book)
    await runtime.wanted.set_state(book.id, "searching", None, now)
    try:
        snapshot = search.snapshot
        account = AccountView(snapshot.classname, snapshot.wedges) if snapshot else AccountView()
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
    if search.owned.owns(book.spec) or await _owned_now(runtime, book):
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
    try:
        await _grab(search, book, want, best)
    except UpstreamError as exc:  # MAM failed mid-grab: the book keeps its place for the next run
        now = search.context.clock.now()
        await runtime.wanted.searched(
            book.id, book.state, f"grab interrupted: {exc.message}", now + FAILED_RETRY_S, now
        )
        raise


def _why_none(choice: Choice) -> str:
    if not choice.decisions:
        return "MAM has no release of it"
    top = choice.decisions[0]
    closest = f"{top.release.title!r}: {top.reasons[-1]}"
    return f"no acceptable release among {len(choice.decisions)}; the closest, {closest}"


async def _owned_now(runtime: Runtime, book: WantedBook) -> bool:
    """The library may have gained the book while it was searched for (a sync ran meanwhile)."""
    return OwnedIndex(await runtime.library.books()).owns(book.spec)


def book_meta(book: WantedBook, want: Want, release: Release) -> BookMeta:
    """What the grabbed torrent holds, for the importer: the wanted book, completed from the release."""
    title = book.title or _clean_title(release)
    series_tag = next(
        (s for s in release.series if book.series and series_key(s.name) == series_key(book.series)), None
    )
    return BookMeta(
        title=title,
        authors=release.authors or want.authors,
        narrators=release.narrators,
        series=book.series or (release.series[0].name if release.series else None),
        position=book.position or (series_tag.number if series_tag else None),
        asin=release.asin or book.asin,
        isbn=release.isbn,
        source="grab",
    )


def _clean_title(release: Release) -> str:
    """A release title without its series prefix or edition notes, for a book wanted by position."""
    title = re.sub(r"[\(\[][^\(\)\[\]]*[\)\]]", " ", release.title).strip()
    title = strip_series_prefix(title, (tag.name for tag in release.series))
    return re.sub(r"\s+", " ", title).strip() or release.title


async def _grab(search: Run, book: WantedBook, want: Want, best: Decision) -> None:
    runtime, context = search.runtime, search.context
    settings = runtime.config.qbittorrent
    release = best.release
    known = await runtime.torrents.by_mam_id(release.id)
    try:
        data, meta = await search.mam.download(release.id, wedge=best.use_wedge)
        added = await runtime.require_qbittorrent().add(
            data, meta.info_hash, save_path=settings.save_path, category=settings.category, tags=settings.tags
        )
    except (NotFound, Rejected) as exc:
        now = context.clock.now()
        await runtime.wanted.searched(
            book.id, "failed", f"grab failed: {exc.message}", now + FAILED_RETRY_S, now
        )
        await runtime.events.add(
            now, "grab.failed", f"could not grab {release.label}: {exc.message}", f"wanted:{book.id}"
        )
        return
    except UpstreamError as exc:
        if exc.service == "mam":
            raise
        now = context.clock.now()
        await runtime.wanted.searched(
            book.id, "failed", f"qBittorrent: {exc.message}", now + FAILED_RETRY_S, now
        )
        await runtime.events.add(
            now,
            "grab.failed",
            f"qBittorrent did not take {release.label}: {exc.message}",
            f"wanted:{book.id}",
        )
        return
    now = context.clock.now()
    await runtime.torrents.grabbed(
        meta.info_hash, meta.name, book.id, release.id, book_meta(book, want, release), now
    )
    note = " (qBittorrent had it already)" if added == "present" or known else ""
    free = "freeleech" if best.free else "with a wedge" if best.use_wedge else "not freeleech"
    await runtime.wanted.searched(book.id, "grabbed", f"{release.label}, {free}{note}", None, now)
    await runtime.events.add(
        now,
        "grab.added",
        f"grabbed {release.label} for {want.label} ({free}){note}",
        f"wanted:{book.id}",
        torrent_id=release.id,
        hash=meta.info_hash,
        size=release.size,
        freeleech=best.free,
        wedge=best.use_wedge,
        book=book_meta(book, want, release).card(),
    )
    log.info("grab.added", wanted=book.id, torrent_id=release.id, hash=meta.info_hash, freeleech=best.free)
    search.grabbed += 1
    search.facts = replace(
        search.facts,
        grabs_last_day=search.facts.grabs_last_day + 1,
        active_downloads=None if search.facts.active_downloads is None else search.facts.active_downloads + 1,
        free_space=None if search.facts.free_space is None else search.facts.free_space - (release.size or 0),
    )
    runtime.importer.wake()


# -- followed names ---------------------------------------------------------------------------

FIELDS = {"author": ("author",), "series": ("series",), "narrator": ("narrator",)}


async def _follow(search: Run) -> None:
    runtime = search.runtime
    settings = runtime.config
    now = search.context.clock.now()
    follows = await runtime.wanted.follows_due(now - FOLLOW_EVERY_S)
    if not follows:
        return
    existing = {book.key for book in await runtime.wanted.all()}
    for kind, name in follows:
        releases = await search.mam.search_all(
            words(name),
            fields=FIELDS[kind],
            languages=settings.mam.languages,
            sort="dateDesc",
            pages=1,
            perpage=50,
        )
        added: list[WantSpec] = []
        for release in releases:
            spec = _followed_book(kind, name, release, settings)
            if spec is None or spec.key in existing or search.owned.owns(spec):
                continue
            if settings.rules.allow_abridged is False and release.abridged:
                continue
            existing.add(spec.key)
            added.append(spec)
            if len(added) >= FOLLOW_NEW_PER_RUN:
                break
        await runtime.wanted.apply(added, {}, [], now)
        await runtime.wanted.follow_searched(kind, name, now)
        for spec in added:
            await runtime.events.add(
                now, "wanted.added", f"wanted: {spec.label} (follows {kind} {name})", None
            )
        search.follows_added += len(added)


def _followed_book(kind: str, name: str, release: Release, settings: Config) -> WantSpec | None:
    """The book a release of a followed name is, when it can be told exactly and is in an allowed
    language and format; None otherwise."""
    if not release.audiobook or not release.authors or release.dramatized:
        return None
    if release.lang_code and release.lang_code.upper() not in {c.upper() for c in settings.mam.languages}:
        return None
    if not set(release.filetypes) & set(settings.rules.formats):
        return None
    novellas = settings.wanted.include_novellas
    if kind == "author" and name_key(name) not in {name_key(a) for a in release.authors}:
        return None
    if kind == "narrator" and name_key(name) not in {name_key(n) for n in release.narrators}:
        return None
    tag = next(
        (s for s in release.series if kind != "series" or series_key(s.name) == series_key(name)), None
    )
    if kind == "series" and tag is None:
        return None
    position = parse_sequence(tag.number) if tag else None
    if tag is not None and (position is None or position.single is None):
        return None  # a bundle or an unreadable position: not one book
    if position is not None and position.single is not None and position.single % 1 and not novellas:
        return None
    author = release.authors[0]
    title = _clean_title(release)
    if tag is not None and position is not None and position.single is not None:
        shown = format_position(position.single)
        return WantSpec(
            series_want_key(tag.name, shown), "follow", author, title, tag.name, shown, release.asin
        )
    return WantSpec(title_want_key(author, title), "follow", author, title, None, None, release.asin)
