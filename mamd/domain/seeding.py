"""Seeding protection: which torrents mamd may ever stop, when each is satisfied, and which are at risk.

MAM wants every downloaded torrent seeded for 72 hours (`seeding.min_seed_time`) within 30 days;
until then it is "unsatisfied", and one that stops seeding becomes a hit-and-run. So the only
torrent mamd ever stops is one that has never had all its data: a download in progress, paused
in an emergency so it stops adding to the downloaded total. Anything complete, seeding, or
with any seeding time is never stopped, whatever the reason. mamd removes and moves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

# qBittorrent's states (4.x and 5.x names)
DOWNLOADING = frozenset({"downloading", "stalledDL", "queuedDL", "forcedDL", "metaDL"})
STOPPED = frozenset({"pausedDL", "pausedUP", "stoppedDL", "stoppedUP"})
TROUBLED = frozenset({"error", "missingFiles", "unknown"})
STALLED_AFTER_S = 3600.0  # a download stalled this long after it was added is at risk
STALLED = "its download is stalled: no peer has sent data"


@dataclass(frozen=True)
class SeedView:
    """What seeding protection needs of one torrent, as qBittorrent and reconcile see it."""

    hash: str
    name: str
    state: str
    progress: float
    seeding_time_s: int
    added_on: float
    tracker_ok: bool | None = None  # None: not checked (or fine)

    @property
    def holds_all_data(self) -> bool:
        return self.progress >= 1.0


def may_stop(torrent: SeedView) -> bool:
    """True only for a download that has never held all its data and never seeded."""
    return torrent.state in DOWNLOADING and not torrent.holds_all_data and torrent.seeding_time_s <= 0


def satisfied(torrent: SeedView, min_seed_time_s: float) -> bool:
    return torrent.seeding_time_s >= min_seed_time_s


def satisfied_at(torrent: SeedView, now: float, min_seed_time_s: float) -> float | None:
    """When it will have seeded long enough if it keeps seeding; None while it is not seeding."""
    if satisfied(torrent, min_seed_time_s):
        return now
    if not torrent.holds_all_data or torrent.state in STOPPED | TROUBLED:
        return None
    return now + (min_seed_time_s - torrent.seeding_time_s)


def risk(torrent: SeedView, now: float, min_seed_time_s: float, paused_by_guard: bool = False) -> str | None:
    """Why this unsatisfied torrent may become a hit-and-run, or None (satisfied ones are never at risk)."""
    if satisfied(torrent, min_seed_time_s):
        return None
    if torrent.state in TROUBLED:
        return f"qBittorrent reports {torrent.state}"
    if torrent.state in STOPPED and torrent.holds_all_data:
        return "stopped before it is satisfied: it is not seeding"
    if torrent.state in STOPPED:
        if paused_by_guard:
            return "stopped by the account guard for the emergency (MAM may count it as not seeding)"
        return "its download is stopped"
    if torrent.tracker_ok is False:
        return "its tracker does not work, so MAM does not see it seeding"
    if torrent.state == "stalledDL" and now - torrent.added_on > STALLED_AFTER_S:
        return STALLED
    return None
