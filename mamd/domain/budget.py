"""May mamd grab now? The budgets checked before every grab, whatever the rules chose.

`grabs_per_day`, `active_downloads`, free space on the save path, MAM's unsatisfied
budget (`unsat.limit − unsat.count − limits.unsatisfied_reserve`), no
hit-and-run on the account, and, for a torrent that is not freeleech, the ratio it would
leave: `uploaded / (downloaded + size)` against `ratio.floor`. Without an account snapshot
only freeleech may be grabbed; a snapshot without the unsatisfied counters blocks
everything (fail closed).

The snapshot says how the account stood when it was read; grabs made since then (earlier in
the same search, or after the reading) count against it: each is one more unsatisfied
torrent, adds its size to what was downloaded unless it is freeleech, and may have spent a
wedge. So grabs that each pass alone cannot together breach a budget.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mamd.config.model import LimitsConfig, RatioConfig
from mamd.domain.account import AccountSnapshot
from mamd.domain.rules import Decision


@dataclass(frozen=True)
class Since:
    """Grabs made after the account snapshot was read: what MAM counts already and the snapshot not."""

    grabs: int = 0
    downloaded: int = 0  # bytes of those that were not freeleech
    wedges: int = 0


NOTHING_SINCE = Since()


@dataclass(frozen=True)
class BudgetFacts:
    grabs_last_day: int
    active_downloads: int | None  # None when qBittorrent could not be asked
    free_space: int | None  # bytes free on the save path; None when it could not be read
    snapshot: AccountSnapshot | None
    since: Since = NOTHING_SINCE

    def after(self, decision: Decision) -> BudgetFacts:
        """The facts once `decision` is grabbed."""
        size = decision.release.size or 0
        return replace(
            self,
            grabs_last_day=self.grabs_last_day + 1,
            active_downloads=None if self.active_downloads is None else self.active_downloads + 1,
            free_space=None if self.free_space is None else self.free_space - size,
            since=Since(
                self.since.grabs + 1,
                self.since.downloaded + (0 if decision.freeleech else size),
                self.since.wedges + int(decision.use_wedge),
            ),
        )

    @property
    def wedges(self) -> int | None:
        """Wedges the account holds now, as far as is known."""
        if self.snapshot is None or self.snapshot.wedges is None:
            return None
        return max(0, self.snapshot.wedges - self.since.wedges)


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB"


def held(facts: BudgetFacts, limits: LimitsConfig) -> str | None:
    """Why no grab at all may happen now, whatever the release; None when some grab may.

    When this says no, MAM need not be searched: nothing found could be grabbed.
    """
    return _spent(facts, limits, 0)


def blocked(decision: Decision, facts: BudgetFacts, limits: LimitsConfig, ratio: RatioConfig) -> str | None:
    """Why this grab may not happen now, or None when it may."""
    size = decision.release.size or 0
    spent = _spent(facts, limits, size)
    if spent is not None:
        return spent
    snapshot = facts.snapshot
    if snapshot is None:
        if decision.freeleech:
            return None
        return "no account snapshot yet: only freeleech torrents may be grabbed"
    if not decision.freeleech:
        if snapshot.uploaded is None or snapshot.downloaded is None:
            return "the account's upload and download totals are unknown: only freeleech may be grabbed"
        after = snapshot.uploaded / max(1, snapshot.downloaded + facts.since.downloaded + size)
        if after < ratio.floor:
            return f"not freeleech: the ratio would drop to {after:.2f}, below ratio.floor ({ratio.floor:g})"
    return None


def _spent(facts: BudgetFacts, limits: LimitsConfig, size: int) -> str | None:
    """The budgets a grab of `size` bytes would break, whatever it is: the first one, with why."""
    if facts.grabs_last_day >= limits.grabs_per_day:
        return f"{facts.grabs_last_day} grabs in the last 24 hours already (limits.grabs_per_day)"
    if facts.active_downloads is None:
        return "qBittorrent did not answer, so the downloads running cannot be counted"
    if facts.active_downloads >= limits.active_downloads:
        return f"{facts.active_downloads} downloads running already (limits.active_downloads)"
    if facts.free_space is None:
        return "the free space on qbittorrent.save_path could not be read"
    if facts.free_space - size < limits.min_free_space.bytes:
        more = f"; {_gib(size)} more would leave" if size else ", which is"
        return (
            f"only {_gib(facts.free_space)} free on the save path{more} less than "
            f"limits.min_free_space ({limits.min_free_space})"
        )
    snapshot = facts.snapshot
    if snapshot is None:
        return None  # freeleech may still be grabbed: `blocked` says the rest
    unsat = snapshot.unsat
    if unsat is None or unsat.limit is None:
        return "MAM's unsatisfied count and limit are unknown: nothing is grabbed until they are read"
    hit_and_run = snapshot.hit_and_run
    if hit_and_run:
        return f"{hit_and_run} hit-and-run torrents on MAM: nothing is grabbed until they are seeded"
    count = unsat.count + facts.since.grabs
    if unsat.limit - count - limits.unsatisfied_reserve <= 0:
        since = f" ({facts.since.grabs} grabbed since MAM was asked)" if facts.since.grabs else ""
        return (
            f"{count} of {unsat.limit} unsatisfied torrents{since}, keeping {limits.unsatisfied_reserve} "
            "free (limits.unsatisfied_reserve)"
        )
    return None
