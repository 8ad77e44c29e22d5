"""The account guard at work: its verdict now, its level over time, and the downloads it stops.

In an emergency, mamd's torrents that are still downloading — never one that holds all its data
or has seeded (`seeding.may_stop`) — are stopped, and remembered before qBittorrent is asked, so a
crash cannot lose them. When the emergency ends, exactly those are started again; a torrent the
user stopped is left alone. qBittorrent refusing either is retried at the next account reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mamd.clients.errors import UpstreamError
from mamd.clients.qbittorrent import Torrent
from mamd.config import Config
from mamd.crashpoint import crashpoint
from mamd.domain.guard import Verdict, assess
from mamd.domain.seeding import may_stop
from mamd.logs import get_logger
from mamd.runtime import Runtime
from mamd.seeding import mamds_torrents, seed_view

log = get_logger(__name__)

MIN_TRUSTED_AGE_S = 3600.0
UNREACHABLE_KEY = "guard.qbittorrent"  # the error last said, so it is said once


def max_age_s(config: Config) -> float:
    """How old an account snapshot the guard still trusts: three account readings, at least an hour."""
    return max(3 * config.schedule.account.seconds, MIN_TRUSTED_AGE_S)


async def verdict(runtime: Runtime, now: float) -> Verdict:
    """The guard's verdict on the latest snapshot, now."""
    state = await runtime.guard.state()
    snapshot = await runtime.account.latest()
    config = runtime.config
    return assess(snapshot, state.level, now, config.ratio, config.limits, max_age_s(config))


async def apply(runtime: Runtime, found: Verdict, now: float) -> Mapping[str, Any]:
    """Record the level (an event when it changes), then stop or resume downloads to match it."""
    state = await runtime.guard.state()
    if found.level != state.level:
        await runtime.guard.set_state(found.level, found.reasons, now, now)
        why = "; ".join(found.reasons) or "every check passes"
        await runtime.events.add(
            now,
            "guard.changed",
            f"account guard {state.level} → {found.level}: {why}",
            "guard",
            previous=state.level,
            level=found.level,
            grabs=found.grabs,
            reasons=list(found.reasons),
        )
        log.warning("guard.changed", previous=state.level, level=found.level, reasons=list(found.reasons))
    elif found.reasons != state.reasons:
        await runtime.guard.set_state(found.level, found.reasons, state.since or now, now)
    verb = "stop" if found.pause_downloads else "start"
    done: dict[str, Any]
    try:
        if runtime.config.dry_run:  # nothing changes in qBittorrent: what would have is said once
            done = {"guard": found.level}
            if found.pause_downloads and found.level != state.level:
                done["would_stop"] = await _would_stop(runtime, now)
        elif found.pause_downloads:
            done = {"guard": found.level, "stopped": await _stop_downloads(runtime, now)}
        else:
            done = {"guard": found.level, "resumed": await _resume(runtime, now)}
    except UpstreamError as exc:  # qBittorrent did not even list the torrents
        log.warning("guard.qbittorrent_unreachable", reason=exc.message)
        if (await runtime.store.read_state(UNREACHABLE_KEY)).get("error") != exc.message:
            await runtime.store.write_state(UNREACHABLE_KEY, {"error": exc.message}, now)
            await runtime.events.add(
                now,
                f"guard.{verb}_failed",
                f"the account guard could not {verb} downloads: {exc.message}; tried again at the next "
                "account reading",
                "guard",
            )
        return {"guard": found.level, "qbittorrent": exc.message}
    if (await runtime.store.read_state(UNREACHABLE_KEY)).get("error"):
        await runtime.store.write_state(UNREACHABLE_KEY, {}, now)
    return done


async def _stop_downloads(runtime: Runtime, now: float) -> int:
    torrents = await mamds_torrents(runtime)
    remembered = {entry.hash: entry.last_error for entry in await runtime.guard.stopped()}
    await _release_finished(runtime, await _by_hash(runtime, remembered), remembered, now)
    chosen = [t for t in torrents.values() if may_stop(seed_view(t))]
    new = [t for t in chosen if t.hash not in remembered]
    if not chosen:
        return 0
    await runtime.guard.add_stopped([(t.hash, t.name) for t in new], now)  # remembered before the request
    crashpoint("guard.stop_recorded")
    hashes = [t.hash for t in chosen]
    try:
        await runtime.require_qbittorrent().stop(hashes)
    except UpstreamError as exc:
        await _refused(runtime, "stop", hashes, remembered, exc, now)
        return 0
    crashpoint("guard.stopped")
    await runtime.guard.stopped_error(hashes, None)
    # one may have finished between the listing and the stop: it must seed, so it goes again at once
    await _release_finished(runtime, await _by_hash(runtime, hashes), dict.fromkeys(hashes), now)
    if new:
        names = ", ".join(t.name for t in new)
        await runtime.events.add(
            now,
            "guard.stopped",
            f"stopped {len(new)} download(s) for the account emergency: {names}",
            "guard",
            hashes=[t.hash for t in new],
        )
    return len(new)


async def _would_stop(runtime: Runtime, now: float) -> int:
    chosen = [t for t in (await mamds_torrents(runtime)).values() if may_stop(seed_view(t))]
    if chosen:
        names = ", ".join(t.name for t in chosen)
        await runtime.events.add(
            now,
            "guard.would_stop",
            f"dry run: would stop {len(chosen)} download(s) for the account emergency: {names}",
            "guard",
        )
    return len(chosen)


async def _release_finished(
    runtime: Runtime, torrents: Mapping[str, Torrent], stopped: Mapping[str, str | None], now: float
) -> None:
    """Start again any torrent the guard stopped that holds all its data or has seeded."""
    finished = [
        torrents[h]
        for h in stopped
        if h in torrents and (torrents[h].progress >= 1.0 or torrents[h].seeding_time > 0)
    ]
    if not finished:
        return
    hashes = [t.hash for t in finished]
    try:
        await runtime.require_qbittorrent().start(hashes)
    except UpstreamError as exc:
        await _refused(runtime, "start", hashes, stopped, exc, now)
        return
    await runtime.guard.forget_stopped(hashes)
    await runtime.events.add(
        now,
        "guard.released",
        f"{', '.join(t.name for t in finished)} finished as it was stopped: started again, so it seeds",
        "guard",
    )


async def _resume(runtime: Runtime, now: float) -> int:
    remembered = await runtime.guard.stopped()
    if not remembered:
        return 0
    # found by hash, wherever they are now: one the user moved to another category is still stopped
    torrents = await _by_hash(runtime, [r.hash for r in remembered])
    gone = [r.hash for r in remembered if r.hash not in torrents]
    present = [r for r in remembered if r.hash in torrents]
    if gone:
        await runtime.guard.forget_stopped(gone)
    if not present:
        return 0
    hashes = [r.hash for r in present]
    try:
        await runtime.require_qbittorrent().start(hashes)
    except UpstreamError as exc:
        await _refused(runtime, "start", hashes, {r.hash: r.last_error for r in present}, exc, now)
        return 0
    crashpoint("guard.resumed")
    await runtime.guard.forget_stopped(hashes)
    names = ", ".join(r.name for r in present)
    await runtime.events.add(
        now, "guard.resumed", f"resumed {len(present)} download(s) stopped in the emergency: {names}", "guard"
    )
    return len(present)


async def _by_hash(runtime: Runtime, hashes: Iterable[str]) -> dict[str, Torrent]:
    """These torrents as qBittorrent holds them now, in whatever category and with whatever tags."""
    return {t.hash: t for t in await runtime.require_qbittorrent().torrents(hashes=hashes)}


async def _refused(
    runtime: Runtime,
    verb: str,
    hashes: list[str],
    errors_before: Mapping[str, str | None],
    exc: UpstreamError,
    now: float,
) -> None:
    """qBittorrent did not stop or start them: kept for the next account reading, said once per error."""
    await runtime.guard.stopped_error(hashes, exc.message)
    if all(errors_before.get(h) == exc.message for h in hashes):
        return
    await runtime.events.add(
        now,
        f"guard.{verb}_failed",
        f"qBittorrent did not {verb} {len(hashes)} download(s) for the account guard: {exc.message}; "
        "tried again at the next account reading",
        "guard",
    )
