"""The `reconcile` job: compare qBittorrent with what mamd knows, and catch what hooks missed.

qBittorrent's completion program is fire-and-forget: when mamd was down or the program
failed, the completion is simply lost, and a restart of qBittorrent does not run it again.
This job lists mamd's torrents, queues every complete one that
was not imported, records each torrent's seeding time (for the account guard), and
reports torrents that vanished or whose tracker fails — each once, when it changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mamd.clients.errors import UpstreamError
from mamd.clients.qbittorrent import Torrent
from mamd.domain.seeding import STALLED, risk
from mamd.logs import get_logger
from mamd.runtime import Runtime
from mamd.schedule import JobContext
from mamd.seeding import mamds_torrents, seed_view
from mamd.store.torrents import Sighting, TorrentRecord

log = get_logger(__name__)

TRACKER_GRACE_S = 600  # a torrent this young may not have announced yet


async def run(runtime: Runtime, context: JobContext) -> Mapping[str, Any]:
    if not runtime.config.dry_run:  # dry run changes nothing in qBittorrent
        await runtime.importer.ensure_prepared()
    mine = await mamds_torrents(runtime)
    now = context.clock.now()
    # asked for by hand: imports that failed for good are tried again (a folder moved aside, say)
    retry_failed = context.by_hand
    known = {record.hash: record for record in await runtime.torrents.all()}
    await runtime.torrents.sightings(
        [
            Sighting(
                t.hash, t.name, t.state, t.seeding_time, float(t.completion_on) if t.completion_on else None
            )
            for t in mine.values()
        ],
        now,
    )
    queued = 0
    for torrent in mine.values():
        record = known.get(torrent.hash)
        if record is not None and record.wanted_id is not None and torrent.downloading:
            await runtime.wanted.advance(
                record.wanted_id, "grabbed", "downloading", f"{torrent.progress:.0%} in qBittorrent", now
            )
        importable = ("seen", "grabbed", "failed") if retry_failed else ("seen", "grabbed")
        if torrent.complete and (record is None or record.state in importable) and not _imported(record):
            accepted = await runtime.inbox.add(torrent.hash, {"name": torrent.name}, "reconcile", now)
            queued += 0 if accepted.duplicate else 1
    if queued:
        runtime.importer.wake()
    vanished = [
        record
        for record in known.values()
        if record.hash not in mine and record.vanished_at is None and record.state not in ("ignored",)
    ]
    if vanished:
        await runtime.torrents.vanished([r.hash for r in vanished], now)
        for record in vanished:
            await runtime.events.add(
                now,
                "torrent.vanished",
                f"{record.name or record.hash} is no longer in qBittorrent",
                f"torrent:{record.hash}",
                imported=record.imported_at is not None,
                name=record.name or record.hash,
            )
    tracker_problems, trackers = await _check_trackers(runtime, mine, known, now)
    at_risk = await _risks(runtime, mine, known, trackers, now)
    return {
        "torrents": len(mine),
        "queued_for_import": queued,
        "vanished": len(vanished),
        "tracker_problems": tracker_problems,
        "at_risk": at_risk,
    }


async def _risks(
    runtime: Runtime,
    mine: Mapping[str, Torrent],
    known: Mapping[str, TorrentRecord],
    trackers: Mapping[str, bool],
    now: float,
) -> int:
    """Which unsatisfied torrents may become hit-and-runs; an event when that changes for one.

    `known` is what mamd held at the start of this run (read once: a few hundred rows every five
    minutes add up on a NAS); `trackers` the tracker states this run has just found."""
    stopped_by_guard = {entry.hash for entry in await runtime.guard.stopped()}
    min_seed = runtime.config.seeding.min_seed_time.seconds
    count = 0
    for torrent in mine.values():
        record = known.get(torrent.hash)
        view = seed_view(torrent, trackers.get(torrent.hash, record.tracker_ok if record else None))
        found = risk(view, now, min_seed, torrent.hash in stopped_by_guard)
        before = record.risk if record else None
        if found is None and before == STALLED and torrent.downloading:
            found = before  # a stalled download that gets a little data now and then is still at risk
        count += found is not None
        if found == before:
            continue
        await runtime.torrents.set_risk(torrent.hash, found)
        if found is not None:
            await runtime.events.add(
                now,
                "torrent.at_risk",
                f"{torrent.name} may become a hit-and-run: {found} "
                f"({torrent.seeding_time / 3600:.0f} of {min_seed / 3600:.0f} hours seeded)",
                f"torrent:{torrent.hash}",
                risk=found,
                name=torrent.name,
            )
        else:
            await runtime.events.add(
                now,
                "torrent.risk_cleared",
                f"{torrent.name} is no longer at risk",
                f"torrent:{torrent.hash}",
                name=torrent.name,
            )
    return count


def _imported(record: TorrentRecord | None) -> bool:
    return record is not None and record.imported_at is not None


async def _check_trackers(
    runtime: Runtime, mine: Mapping[str, Torrent], known: Mapping[str, TorrentRecord], now: float
) -> tuple[int, dict[str, bool]]:
    """Ask for tracker details only where qBittorrent shows no working tracker; report changes once.
    Returns the number of failing trackers, and the tracker states that changed, by hash."""
    client = runtime.require_qbittorrent()
    problems = 0
    changed: dict[str, bool] = {}
    for torrent in mine.values():
        record = known.get(torrent.hash)
        if torrent.tracker or now - torrent.added_on < TRACKER_GRACE_S:
            if record is not None and record.tracker_ok is False:
                changed[torrent.hash] = True
                await runtime.torrents.tracker(torrent.hash, True, None)
                await runtime.events.add(
                    now,
                    "torrent.tracker_ok",
                    f"{torrent.name}: the tracker works again",
                    f"torrent:{torrent.hash}",
                )
            continue
        try:
            trackers = await client.trackers(torrent.hash)
        except UpstreamError as exc:
            log.warning("reconcile.trackers_unread", hash=torrent.hash, reason=exc.message)
            continue
        if any(t.working for t in trackers):
            continue
        problems += 1
        # a tracker URL holds the account's passkey (MAM's /tracker.php/<passkey>/announce): never kept
        message = runtime.redactor.text(
            "; ".join(f"{t.url}: {t.message or 'not working'}" for t in trackers) or "no tracker"
        )
        if record is None or record.tracker_ok is not False or record.tracker_message != message:
            changed[torrent.hash] = False
            await runtime.torrents.tracker(torrent.hash, False, message)
            await runtime.events.add(
                now,
                "torrent.tracker_error",
                f"{torrent.name}: the tracker does not work ({message})",
                f"torrent:{torrent.hash}",
            )
    return problems, changed
