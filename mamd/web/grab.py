"""`POST /api/v1/wanted/{id}/grab` `{mam_id, override_rules?}`: take this release for this book.

The release must be one the book's last search recorded, and MAM must show it as this book still (it is
read again, through the same chokepoint as every MAM request: one search). The rules may be overridden only
with `"override_rules": true`; the account guard and the budgets never are. In dry run the grab is only
recorded as what would have happened. The grab itself is the search job's: decided, fetched and kept, added
to qBittorrent, recorded.
"""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from mamd.clients.errors import NotFound, Rejected, UpstreamError
from mamd.domain.book import BookMeta
from mamd.domain.budget import blocked
from mamd.domain.rules import AccountView, Decision, decide
from mamd.guarding import actions as guard
from mamd.jobs.search import budget_facts, want_of
from mamd.searching.grab import add_to_qbittorrent, book_meta
from mamd.store.wanted import OPEN_STATES, WantedBook
from mamd.web.actions import book_of, read_body, refuse_state
from mamd.web.errors import fail
from mamd.web.keys import runtime_of

OVERRIDDEN = "the rules were overridden by hand"


async def grab(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    book = await book_of(request)
    body = await read_body(request)
    unknown = sorted(set(body) - {"mam_id", "override_rules"})
    if unknown:
        fail(400, f"unknown field(s) {', '.join(unknown)}; known: mam_id, override_rules")
    mam_id = body.get("mam_id")
    if isinstance(mam_id, str) and mam_id.isascii() and mam_id.isdigit():
        mam_id = int(mam_id)
    if not isinstance(mam_id, int) or isinstance(mam_id, bool) or mam_id <= 0:
        fail(400, "`mam_id` must be a MAM torrent id (a positive whole number)")
    override = body.get("override_rules", False)
    if not isinstance(override, bool):
        fail(400, "`override_rules` must be true or false")
    if book.state not in OPEN_STATES:
        refuse_state(book, "grab a release for", OPEN_STATES)
    recorded = {candidate.mam_id for candidate in await runtime.candidates.of(book.id)}
    if mam_id not in recorded:
        shown = ", ".join(str(i) for i in sorted(recorded)) or "none: search it first"
        fail(409, f"MAM {mam_id} was never a candidate for {book.spec.label}; its candidates: {shown}")
    if runtime.grabbing.locked():
        fail(409, "a search run or another grab is under way; ask again once it has ended (see /status)")
    async with runtime.grabbing:  # the budgets below hold only while no other grab can spend them
        return await _judge(request, book, mam_id, override)


async def _judge(request: web.Request, book: WantedBook, mam_id: int, override: bool) -> web.Response:
    runtime = runtime_of(request)
    snapshot = await runtime.account.latest()
    facts = await budget_facts(runtime, snapshot)
    # the wedges this account has left, as the search job counts them (rules.wedges.keep)
    account = AccountView(snapshot.classname, facts.wedges) if snapshot else AccountView()
    try:
        mam = runtime.require_mam()
        release = await mam.release(mam_id)
    except UpstreamError as exc:
        fail(503, f"MAM cannot be asked now: {exc.message}")
    if release is None:
        fail(409, f"MAM no longer lists {mam_id}")
    want = want_of(book)
    decision = decide(want, release, runtime.config.rules, runtime.config.mam.languages, account)
    if not decision.matched:
        fail(409, f"{release.label} is not {book.spec.label}: {'; '.join(decision.reasons)}")
    if not decision.accepted:
        if not override:
            why = decision.reasons[-1]
            fail(409, f"the rules refuse {release.label}: {why}; send override_rules: true to take it anyway")
        if release.size is None:
            fail(
                409,
                f"not grabbing {release.label}: MAM gives no size, so the budgets cannot be checked "
                "(the account guard and the budgets are never overridden)",
            )
        free = release.free_for(account.classname)
        decision = replace(
            decision, accepted=True, free=free, use_wedge=False, reasons=(*decision.reasons, OVERRIDDEN)
        )
    now = runtime.clock.now()
    verdict = await guard.verdict(runtime, now)
    refused = verdict.refuses(decision.freeleech) or blocked(
        decision, facts, runtime.config.limits, runtime.config.ratio
    )
    if refused is not None:
        await runtime.events.add(
            now,
            "grab.blocked",
            f"not grabbing {release.label} by hand: {refused}",
            f"wanted:{book.id}",
            torrent_id=mam_id,
            by_hand=True,
        )
        fail(
            409,
            f"not grabbing {release.label}: {refused} "
            "(the account guard and the budgets are never overridden)",
        )
    meta = book_meta(book, want, release)
    if runtime.config.dry_run:
        message = f"dry run: would grab {release.label} for {want.label} (asked by hand)"
        await runtime.events.add(
            now,
            "grab.would_grab",
            message,
            f"wanted:{book.id}",
            torrent_id=mam_id,
            book=meta.card(),
            by_hand=True,
            override_rules=override,
        )
        return web.json_response({"id": book.id, "mam_id": mam_id, "dry_run": True, "message": message})
    if not await runtime.wanted.advance(book.id, book.state, "searching", "a grab asked for by hand", now):
        fail(409, f"{book.spec.label} changed meanwhile, or a grab of it is under way; look again")
    return await _take(request, book.id, book.state, decision, meta, override)


async def _take(
    request: web.Request, book_id: int, was: str, decision: Decision, meta: BookMeta, override: bool
) -> web.Response:
    runtime = runtime_of(request)
    release = decision.release
    record = await runtime.grabs.decide(book_id, decision, meta, runtime.clock.now())
    try:
        data, torrent = await runtime.require_mam().download(release.id, wedge=decision.use_wedge)
    except (NotFound, Rejected, UpstreamError) as exc:
        now = runtime.clock.now()
        await runtime.grabs.failed(record.id, exc.message, now)
        await runtime.wanted.set_state(book_id, was, f"a grab by hand failed: {exc.message}", now)
        await runtime.events.add(
            now,
            "grab.failed",
            f"could not grab {release.label} by hand: {exc.message}",
            f"wanted:{book_id}",
            torrent_id=release.id,
        )
        fail(
            503 if not isinstance(exc, NotFound | Rejected) else 409,
            f"MAM did not hand over {release.label}: {exc.message}",
        )
    await runtime.grabs.fetched(record.id, data, torrent.info_hash, torrent.name, runtime.clock.now())
    fetched = replace(record, state="fetched", torrent=data, hash=torrent.info_hash, name=torrent.name)
    added = await add_to_qbittorrent(runtime, fetched)
    await runtime.events.add(
        runtime.clock.now(),
        "grab.by_hand",
        f"grab asked for by hand: {release.label}",
        f"wanted:{book_id}",
        torrent_id=release.id,
        override_rules=override,
    )
    body = {"id": book_id, "mam_id": release.id, "hash": torrent.info_hash, "added": added, "dry_run": False}
    return web.json_response(body, status=201 if added else 202)
