"""The account guard: how safe the MAM account is, what may be grabbed, and whether downloads pause.

Three levels:

- `ok`: every grab the rules and budgets allow.
- `caution`: the ratio is below `ratio.floor`, the account snapshot is missing, old or from a
  clock that moved, the unsatisfied budget is spent, or MAM counts hit-and-runs or torrents not
  seeding before they are satisfied. Grabs narrow to freeleech only, or stop, by the worst reason.
- `emergency`: the ratio fell below `ratio.emergency_below`. Nothing is grabbed and mamd's
  downloading torrents are stopped. The emergency ends only when a fresh snapshot shows the
  ratio above `ratio.recover_above` (hysteresis: a ratio hovering at the threshold does not
  pause and resume downloads over and over), never because the snapshot went missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mamd.config.model import LimitsConfig, RatioConfig
from mamd.domain.account import AccountSnapshot

Level = Literal["ok", "caution", "emergency"]
Grabs = Literal["all", "freeleech", "none"]
LEVELS: tuple[Level, ...] = ("ok", "caution", "emergency")
CLOCK_SKEW_S = 300.0  # a snapshot further in the future than this means the clock moved back
_NARROWER: dict[Grabs, int] = {"all": 0, "freeleech": 1, "none": 2}


@dataclass(frozen=True)
class Verdict:
    level: Level
    grabs: Grabs
    pause_downloads: bool
    reasons: tuple[str, ...]

    def refuses(self, freeleech: bool) -> str | None:
        """Why a grab is refused now (None when the guard allows it)."""
        if self.grabs == "all" or (self.grabs == "freeleech" and freeleech):
            return None
        what = "nothing is grabbed" if self.grabs == "none" else "only freeleech is grabbed"
        return f"account guard {self.level}: {what} ({'; '.join(self.reasons)})"


def assess(
    snapshot: AccountSnapshot | None,
    previous: Level,
    now: float,
    ratio: RatioConfig,
    limits: LimitsConfig,
    max_age_s: float,
) -> Verdict:
    """The guard's verdict on this snapshot, given the level it was at (for hysteresis)."""
    unusable = _unusable(snapshot, now, max_age_s)
    if unusable is not None or snapshot is None:
        reason = unusable or "no account snapshot yet"
        if previous == "emergency":
            held = "the emergency holds until the ratio recovers"
            return Verdict("emergency", "none", True, (reason, held))
        return Verdict("caution", "freeleech", False, (reason,))
    value = snapshot.ratio
    if value is not None and value < ratio.emergency_below:
        why = f"ratio {value:.2f} is below ratio.emergency_below ({ratio.emergency_below:g})"
        return Verdict("emergency", "none", True, (why,))
    if previous == "emergency" and (value is None or value <= ratio.recover_above):
        shown = "unknown" if value is None else f"{value:.2f}"
        why = f"ratio {shown} has not risen above ratio.recover_above ({ratio.recover_above:g}) yet"
        return Verdict("emergency", "none", True, (why,))
    cautions = _cautions(snapshot, ratio, limits)
    if not cautions:
        return Verdict("ok", "all", False, ())
    grabs = max((grabs for grabs, _ in cautions), key=_NARROWER.__getitem__)
    return Verdict("caution", grabs, False, tuple(reason for _, reason in cautions))


def _unusable(snapshot: AccountSnapshot | None, now: float, max_age_s: float) -> str | None:
    if snapshot is None:
        return None
    age = now - snapshot.at
    if age < -CLOCK_SKEW_S:
        return f"the account snapshot is {-age / 60:.0f} min in the future: the clock moved back"
    if age > max_age_s:
        return f"the account snapshot is {age / 60:.0f} min old (the guard trusts {max_age_s / 60:.0f} min)"
    return None


def _cautions(snapshot: AccountSnapshot, ratio: RatioConfig, limits: LimitsConfig) -> list[tuple[Grabs, str]]:
    found: list[tuple[Grabs, str]] = []
    value = snapshot.ratio
    if value is None:
        found.append(("freeleech", "MAM did not give the ratio"))
    elif value < ratio.floor:
        found.append(("freeleech", f"ratio {value:.2f} is below ratio.floor ({ratio.floor:g})"))
    unsat = snapshot.unsat
    if unsat is None or unsat.limit is None:
        found.append(("none", "MAM's unsatisfied count and limit are unknown"))
    elif unsat.limit - unsat.count - limits.unsatisfied_reserve <= 0:
        found.append(
            (
                "none",
                f"{unsat.count} of {unsat.limit} unsatisfied torrents, keeping {limits.unsatisfied_reserve} "
                "free (limits.unsatisfied_reserve)",
            )
        )
    hit_and_run = snapshot.hit_and_run
    if hit_and_run:
        found.append(("none", f"MAM counts {hit_and_run} hit-and-run torrent(s)"))
    not_seeding = snapshot.count("inactUnsat")
    if not_seeding:
        found.append(
            ("all", f"{not_seeding} torrent(s) not seeding before they are satisfied (potential hit-and-run)")
        )
    return found
