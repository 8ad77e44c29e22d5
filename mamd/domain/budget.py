"""May mamd grab now? The budgets checked before every grab, whatever the rules chose.

`grabs_per_day`, `active_downloads`, free space on the save path, MAM's unsatisfied
budget (`unsat.limit − unsat.count − limits.unsatisfied_reserve`), no
hit-and-run on the account, and, for a torrent that is not freeleech, the ratio it would
leave: `uploaded / (downloaded + size)` against `ratio.floor`. Without an account snapshot
only freeleech may be grabbed; a snapshot without the unsatisfied counters blocks
everything (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass

from mamd.config.model import LimitsConfig, RatioConfig
from mamd.domain.account import AccountSnapshot
from mamd.domain.rules import Decision


@dataclass(frozen=True)
class BudgetFacts:
    grabs_last_day: int
    active_downloads: int | None  # None when qBittorrent could not be asked
    free_space: int | None  # bytes free on the save path; None when it could not be read
    snapshot: AccountSnapshot | None


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB"


def blocked(decision: Decision, facts: BudgetFacts, limits: LimitsConfig, ratio: RatioConfig) -> str | None:
    """Why this grab may not happen now, or None when it may."""
    size = decision.release.size or 0
    if facts.grabs_last_day >= limits.grabs_per_day:
        return f"{facts.grabs_last_day} grabs in the last 24 hours already (limits.grabs_per_day)"
    if facts.active_downloads is None:
        return "qBittorrent did not answer, so the downloads running cannot be counted"
    if facts.active_downloads >= limits.active_downloads:
        return f"{facts.active_downloads} downloads running already (limits.active_downloads)"
    if facts.free_space is None:
        return "the free space on qbittorrent.save_path could not be read"
    if facts.free_space - size < limits.min_free_space.bytes:
        return (
            f"only {_gib(facts.free_space)} free on the save path; {_gib(size)} more would leave less than "
            f"limits.min_free_space ({limits.min_free_space})"
        )
    snapshot = facts.snapshot
    if snapshot is None:
        if decision.freeleech:
            return None
        return "no account snapshot yet: only freeleech torrents may be grabbed"
    unsat = snapshot.unsat
    if unsat is None or unsat.limit is None:
        return "MAM's unsatisfied count and limit are unknown: nothing is grabbed until they are read"
    hit_and_run = snapshot.hit_and_run
    if hit_and_run:
        return f"{hit_and_run} hit-and-run torrents on MAM: nothing is grabbed until they are seeded"
    room = unsat.limit - unsat.count - limits.unsatisfied_reserve
    if room <= 0:
        return (
            f"{unsat.count} of {unsat.limit} unsatisfied torrents, keeping {limits.unsatisfied_reserve} free "
            "(limits.unsatisfied_reserve)"
        )
    if not decision.freeleech:
        if snapshot.uploaded is None or snapshot.downloaded is None:
            return "the account's upload and download totals are unknown: only freeleech may be grabbed"
        after = snapshot.uploaded / max(1, snapshot.downloaded + size)
        if after < ratio.floor:
            return f"not freeleech: the ratio would drop to {after:.2f}, below ratio.floor ({ratio.floor:g})"
    return None
