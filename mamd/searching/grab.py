"""Grabbing a release: decided and written down, the `.torrent` fetched and kept, added to qBittorrent,
recorded. Each step is journalled, so a grab cut short is finished at the next run, never fetched or added
twice; a grab refused again and again ends `failed` until a person asks again.
"""

from __future__ import annotations

import re
from dataclasses import replace

from mamd.backoff import Backoff
from mamd.clients.errors import NotFound, Rejected, UpstreamError
from mamd.clients.mam import MamClient
from mamd.crashpoint import crashpoint
from mamd.domain.book import BookMeta
from mamd.domain.matching import Want, strip_series_prefix
from mamd.domain.normalize import series_key
from mamd.domain.release import Release
from mamd.domain.rules import Decision
from mamd.logs import get_logger
from mamd.runtime import Runtime
from mamd.schedule import JobContext
from mamd.searching.run import Run
from mamd.store.grabs import GrabRecord
from mamd.store.wanted import WantedBook

log = get_logger(__name__)

FAILED_RETRY_S = 3600.0
# a grab MAM or qBittorrent refused is tried again after 1, 2, 4, 8 hours; the fifth refusal is final
GRAB_RETRY = Backoff(first_s=3600.0, max_s=86_400.0, give_up_after=5)


def book_meta(book: WantedBook, want: Want, release: Release) -> BookMeta:
    """What the grabbed torrent holds, for the importer: the wanted book, completed from the release."""
    title = book.title or clean_title(release)
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


def clean_title(release: Release) -> str:
    """A release title without its series prefix or edition notes, for a book wanted by position."""
    title = re.sub(r"[\(\[][^\(\)\[\]]*[\)\]]", " ", release.title).strip()
    title = strip_series_prefix(title, (tag.name for tag in release.series))
    return re.sub(r"\s+", " ", title).strip() or release.title


async def grab(search: Run, book: WantedBook, want: Want, best: Decision) -> None:
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
    if await add_to_qbittorrent(runtime, fetched):
        search.grabbed += 1


async def add_to_qbittorrent(runtime: Runtime, grab: GrabRecord) -> bool:
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


async def finish_grabs(runtime: Runtime, mam: MamClient, context: JobContext) -> int:
    """Finish what a crash or qBittorrent left: a fetched grab is added from its kept `.torrent`; a grab
    decided and perhaps fetched when mamd stopped is fetched again only if MAM says it was (the account
    snatched it), else it did nothing and is dropped. Returns how many were finished."""
    finished = 0
    for grab in await runtime.grabs.unfinished():
        if grab.state == "decided":
            grab = await _refetch(runtime, mam, grab) or grab
            if grab.state == "decided":
                continue
        finished += await add_to_qbittorrent(runtime, grab)
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
