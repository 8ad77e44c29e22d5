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
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mamd.backoff import Backoff
from mamd.clients.errors import NotFound, Rejected, Throttled, Unauthorized, UpstreamError
from mamd.clients.mam import MamClient
from mamd.config import Config
from mamd.crashpoint import crashpoint
from mamd.domain.account import AccountSnapshot
from mamd.domain.book import BookMeta
from mamd.domain.budget import BudgetFacts, blocked, held
from mamd.domain.discovery import OwnedIndex, WantSpec, ignored_by, series_want_key, title_want_key
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
from mamd.store.grabs import GrabRecord
from mamd.store.wanted import WantedBook

log = get_logger(__name__)

BOOKS_PER_RUN = 50
MISS_BACKOFF_S = (6 * 3600, 86400, 2 * 86400, 4 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)
BLOCKED_RETRY_S = 3600.0
FAILED_RETRY_S = 3600.0
# a grab MAM or qBittorrent refused is tried again after 1, 2, 4, 8 hours; the fifth refusal is final
GRAB_RETRY = Backoff(first_s=3600.0, max_s=86_400.0, give_up_after=5)
FOLLOW_EVERY_S = 86400.0
FOLLOW_NEW_PER_RUN = 10
HELD_KEY = "search.held"


@dataclass
class Run:
    runtime: Runtime
    context: JobContext
    mam: MamClient
    snapshot: AccountSnapshot | None
    facts: BudgetFacts
    owned: OwnedIndex
    library_version: tuple[int, float]
    searched: int = 0
    grabbed: int = 0
    would_grab: int = 0
    skipped: int = 0
    blocked: int = 0
    follows_added: int = 0
    requests: int = 0  # MAM searches sent for the wanted books
    most_requests: int = 0  # the most sent for one book
    held: str | None = None


def _want(book: WantedBook) -> Want:
    authors = tuple(people(book.author)) or (book.author,)
    return Want(book.title, authors, book.series, book.position, book.asin)


def _miss_delay(attempts: int) -> float:
    return float(MISS_BACKOFF_S[min(attempts, len(MISS_BACKOFF_S) - 1)])


async def run(runtime: Runtime, context: JobContext) -> Mapping[str, Any]:
    mam = runtime.require_mam()
    now = context.clock.now()
    summary: dict[str, Any] = {}
    if context.by_hand:  # asked for by a person: books whose grab failed for good are tried again
        summary["failed_retried"] = await runtime.wanted.retry_failed(now)
    summary["grabs_finished"] = await _finish_grabs(runtime, mam, context)
    await runtime.wanted.release_searches(now)  # only one search runs at a time: these are left over
    books = await runtime.wanted.due_for_search(now, BOOKS_PER_RUN)
    follows_due = await runtime.wanted.follows_due(now - FOLLOW_EVERY_S)
    if not books and not follows_due:
        return {"searched": 0, **summary}
    snapshot = await runtime.account.latest()
    facts = await _facts(runtime, snapshot)
    holding = await _holding_back(runtime, facts, now)
    if holding is not None:  # nothing found could be grabbed: MAM is not asked at all
        await _hold(runtime, books, holding, now)
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
            search.held = await _holding_back(runtime, search.facts, context.clock.now())
            if search.held is not None:  # the budget was spent by this run's grabs: the rest wait
                await _hold(runtime, books[number - 1 :], search.held, context.clock.now())
                break
            await _search_book(search, book)
        else:
            await _said_held(runtime, None, context.clock.now())
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
        **({"held": search.held} if search.held else {}),
        **summary,
    }


async def _facts(runtime: Runtime, snapshot: AccountSnapshot | None) -> BudgetFacts:
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


async def _holding_back(runtime: Runtime, facts: BudgetFacts, now: float) -> str | None:
    """Why nothing may be grabbed now, whatever MAM has: the guard's verdict, or a spent budget."""
    verdict = await guard.verdict(runtime, now)
    return verdict.refuses(freeleech=True) or held(facts, runtime.config.limits)


async def _hold(runtime: Runtime, books: Sequence[WantedBook], reason: str, now: float) -> None:
    """Due books wait, `blocked` with the reason, without a search; they stay due for the next run."""
    dry = "dry run: " if runtime.config.dry_run else ""
    await runtime.wanted.hold([book.id for book in books], f"{dry}not searched: {reason}", now)
    await _said_held(runtime, reason, now)


async def _said_held(runtime: Runtime, reason: str | None, now: float) -> None:
    """An event when searching stops for want of any possible grab, and one when it goes on again."""
    before = (await runtime.store.read_state(HELD_KEY)).get("reason")
    if (before is None) == (reason is None):
        return
    await runtime.store.write_state(HELD_KEY, {"reason": reason, "since": now}, now)
    if reason is not None:
        message = f"MAM is not searched while nothing may be grabbed: {reason}"
        await runtime.events.add(now, "search.held", message, "search", reason=reason)
        log.info("search.held", reason=reason)
    else:
        await runtime.events.add(now, "search.resumed", f"grabs may happen again (was: {before})", "search")
        log.info("search.resumed", was=before)


async def _search_book(search: Run, book: WantedBook) -> None:
    runtime, now = search.runtime, search.context.clock.now()
    want = _want(book)
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
    await _grab(search, book, want, best)


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
    """Decided, written down; the `.torrent` fetched and kept; added to qBittorrent; recorded."""
    runtime, clock = search.runtime, search.context.clock
    release = best.release
    grab = await runtime.grabs.decide(book.id, best, book_meta(book, want, release), clock.now())
    crashpoint("grab.decided")
    try:
        data, meta = await search.mam.download(release.id, wedge=best.use_wedge)
    except (NotFound, Rejected) as exc:
        await runtime.grabs.failed(grab.id, exc.message, clock.now())
        await _grab_failed(runtime, book.id, grab, f"grab failed: {exc.message}", book.failures + 1)
        return
    except UpstreamError as exc:  # MAM failed mid-grab: nothing was fetched, the book keeps its place
        now = clock.now()
        await runtime.grabs.failed(grab.id, exc.message, now)
        await runtime.wanted.searched(
            book.id, book.state, f"grab interrupted: {exc.message}", now + FAILED_RETRY_S, now
        )
        raise
    await runtime.grabs.fetched(grab.id, data, meta.info_hash, meta.name, clock.now())
    crashpoint("grab.fetched")
    search.facts = search.facts.after(best)  # fetched is snatched: it counts, in qBittorrent or not
    fetched = replace(grab, state="fetched", torrent=data, hash=meta.info_hash, name=meta.name)
    if await _add(runtime, fetched):
        search.grabbed += 1


async def _add(runtime: Runtime, grab: GrabRecord) -> bool:
    """Hand a fetched `.torrent` to qBittorrent and record the grab; False when qBittorrent did not take it.

    qBittorrent refusing it counts towards `GRAB_RETRY`; qBittorrent away does not, however long: MAM
    counts the torrent as snatched from the moment it was fetched, and a snatch never downloaded and
    seeded becomes a hit-and-run, so mamd never gives up adding one.
    """
    settings = runtime.config.qbittorrent
    if grab.torrent is None or grab.hash is None:
        raise ValueError(f"grab {grab.id} has no .torrent to add")
    try:
        added = await runtime.require_qbittorrent().add(
            grab.torrent,
            grab.hash,
            save_path=settings.save_path,
            category=settings.category,
            tags=settings.tags,
        )
    except UpstreamError as exc:
        await _not_taken(runtime, grab, exc)
        return False
    crashpoint("grab.added")
    now = runtime.clock.now()
    note = " (qBittorrent had it already)" if added == "present" else ""
    free = "with a wedge" if grab.wedge else "freeleech" if grab.freeleech else "not freeleech"
    await runtime.grabs.record(
        grab,
        f"{grab.label}, {free}{note}",
        now,
        (
            "grab.added",
            f"grabbed {grab.label} for {grab.meta.label} ({free}){note}",
            {
                "torrent_id": grab.mam_id,
                "hash": grab.hash,
                "size": grab.size,
                "freeleech": grab.freeleech,
                "wedge": grab.wedge,
                "book": grab.meta.card(),
            },
        ),
    )
    log.info(
        "grab.added", wanted=grab.wanted_id, torrent_id=grab.mam_id, hash=grab.hash, freeleech=grab.freeleech
    )
    crashpoint("grab.recorded")
    runtime.importer.wake()
    return True


async def _not_taken(runtime: Runtime, grab: GrabRecord, exc: UpstreamError) -> None:
    now = runtime.clock.now()
    failures = grab.failures + 1
    if isinstance(exc, Rejected) and GRAB_RETRY.gives_up(failures):
        await runtime.grabs.failed(grab.id, exc.message, now)
        why = f"qBittorrent refused {grab.label} {failures} times, lastly: {exc.message}"
        if grab.wanted_id is not None:
            await runtime.wanted.failed(grab.wanted_id, why, None, now)
        await runtime.events.add(now, "grab.failed", why, _subject(grab), book=grab.meta.card(), final=True)
        return
    await runtime.grabs.refused(grab.id, exc.message, now)
    why = f"qBittorrent did not take {grab.label}: {exc.message}; it is added from the fetched .torrent later"
    if grab.wanted_id is not None:
        await runtime.wanted.failed(grab.wanted_id, why, None, now)
    if grab.last_error != exc.message:  # said once per distinct problem
        await runtime.events.add(now, "grab.failed", why, _subject(grab), book=grab.meta.card(), final=False)


def _subject(grab: GrabRecord) -> str:
    return f"wanted:{grab.wanted_id}" if grab.wanted_id is not None else f"torrent:{grab.hash}"


async def _grab_failed(runtime: Runtime, wanted_id: int, grab: GrabRecord, why: str, failures: int) -> None:
    """MAM refused the `.torrent`: searched again later and later, and after `GRAB_RETRY` no more (`final`
    in the event: a notification says it louder)."""
    now = runtime.clock.now()
    again = GRAB_RETRY.next_try(failures, now)
    shown = why if again is not None else f"{why} ({failures} times in a row: not searched again until asked)"
    await runtime.wanted.failed(wanted_id, shown, again, now)
    await runtime.events.add(
        now,
        "grab.failed",
        f"could not grab {grab.label}: {shown}",
        f"wanted:{wanted_id}",
        book=grab.meta.card(),
        final=again is None,
    )


async def _finish_grabs(runtime: Runtime, mam: MamClient, context: JobContext) -> int:
    """Finish what a crash or qBittorrent left: a fetched grab is added from its kept `.torrent`; a grab
    decided and perhaps fetched when mamd stopped is fetched again only if MAM says it was (the account
    snatched it), else it did nothing and is dropped. Returns how many were finished."""
    finished = 0
    for grab in await runtime.grabs.unfinished():
        if grab.state == "decided":
            grab = await _refetch(runtime, mam, grab) or grab
            if grab.state == "decided":
                continue
        finished += await _add(runtime, grab)
    return finished


async def _refetch(runtime: Runtime, mam: MamClient, grab: GrabRecord) -> GrabRecord | None:
    now = runtime.clock.now()
    release = await mam.release(grab.mam_id)
    if release is None or not release.my_snatched:
        await runtime.grabs.failed(grab.id, "mamd stopped before the .torrent was fetched", now)
        return None
    # the first fetch went through: a wedge it asked for is spent already, so none is asked again
    data, meta = await mam.download(grab.mam_id)
    await runtime.grabs.fetched(grab.id, data, meta.info_hash, meta.name, runtime.clock.now())
    return replace(grab, state="fetched", torrent=data, hash=meta.info_hash, name=meta.name)


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
