"""Which matching release to grab, by the `rules:` of the configuration.

Every release gets a decision: accepted with a score, or refused, with the reasons either
way. Freeleech is judged for this user (free for all, bought, or VIP-free for a VIP class);
a wedge is only ever planned for a torrent that is not free already, is large enough to be
worth one, and leaves the reserve untouched (Prowlarr issue #2536: wedges spent on VIP
torrents are wasted).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from mamd.config.model import RulesConfig
from mamd.domain.matching import Match, Want, match
from mamd.domain.normalize import name_key
from mamd.domain.release import Release


@dataclass(frozen=True)
class AccountView:
    """What the rules need of the account: its class (VIP or not) and its wedges."""

    classname: str | None = None
    wedges: int | None = None


@dataclass(frozen=True)
class Decision:
    release: Release
    accepted: bool
    score: float
    reasons: tuple[str, ...]
    bundle: bool = False
    free: bool = False  # freeleech for this user before any wedge
    use_wedge: bool = False

    @property
    def freeleech(self) -> bool:
        """Free for this user once grabbed: free already, or made free with a wedge."""
        return self.free or self.use_wedge


@dataclass(frozen=True)
class Choice:
    best: Decision | None
    decisions: tuple[Decision, ...]  # every release, best first


def _refuse(release: Release, found: Match, *reasons: str) -> Decision:
    return Decision(release, False, 0.0, (*found.reasons, *reasons), found.bundle, False, False)


def decide(
    want: Want, release: Release, rules: RulesConfig, languages: Iterable[str], account: AccountView
) -> Decision:
    found = match(want, release)
    if not found.ok:
        return Decision(release, False, 0.0, found.reasons)
    if release.my_snatched:
        return _refuse(release, found, "this account has downloaded it before")
    accepted_languages = {code.upper() for code in languages}
    if release.lang_code and release.lang_code.upper() not in accepted_languages:
        return _refuse(release, found, f"in {release.lang_code}, not {', '.join(sorted(accepted_languages))}")
    if release.abridged and not rules.allow_abridged:
        return _refuse(release, found, "abridged (rules.allow_abridged is false)")
    if found.bundle and not rules.allow_bundles:
        return _refuse(release, found, "a bundle of several books (rules.allow_bundles is false)")
    formats = [f for f in rules.formats if f in release.filetypes]
    if not release.filetypes:
        return _refuse(release, found, "MAM gives no format for it, so rules.formats cannot be checked")
    if not formats:
        shown = " ".join(release.filetypes)
        return _refuse(release, found, f"{shown} is not among rules.formats ({', '.join(rules.formats)})")
    if release.bitrate is not None and release.bitrate < rules.min_bitrate.bps:
        return _refuse(
            release, found, f"{release.bitrate // 1000}k is below rules.min_bitrate ({rules.min_bitrate})"
        )
    if release.size is None:
        return _refuse(release, found, "its size is unknown, so the budget cannot be checked")
    if release.size > rules.max_size.bytes:
        return _refuse(release, found, f"{_size(release.size)} is above rules.max_size ({rules.max_size})")
    if release.seeders < rules.min_seeders:
        return _refuse(release, found, f"{release.seeders} seeders, fewer than rules.min_seeders")
    free = release.free_for(account.classname)
    if release.vip and not free:
        return _refuse(release, found, "VIP-only, and this account is not VIP")
    wedge = _plan_wedge(release, free, rules, account)
    if isinstance(wedge, str):
        return _refuse(release, found, wedge)
    if rules.freeleech == "only" and not (free or wedge):
        return _refuse(release, found, "not freeleech for this account (rules.freeleech is only)")
    reasons = list(found.reasons)
    score = 10.0 * (len(rules.formats) - rules.formats.index(formats[0]))
    reasons.append(f"format {formats[0]}")
    if free:
        reasons.append("freeleech for this account")
    elif wedge:
        reasons.append("a wedge makes it freeleech")
    if rules.freeleech == "prefer" and (free or wedge):
        score += 50 if free else 40
    preferred = {name_key(n) for n in rules.prefer_narrators}
    if preferred & {name_key(n) for n in release.narrators}:
        score += 20
        reasons.append("a preferred narrator")
    score += min(10.0, math.log2(1 + release.seeders))
    if release.bitrate:
        score += min(5.0, release.bitrate / 64_000)
    if "spelled differently" in " ".join(found.reasons):
        score -= 5
    return Decision(release, True, round(score, 2), tuple(reasons), found.bundle, free, bool(wedge))


def _plan_wedge(release: Release, free: bool, rules: RulesConfig, account: AccountView) -> bool | str:
    """True to spend a wedge, False not to, or why the release is refused (a wedge is required)."""
    policy = rules.wedges
    if policy.use == "never" or free:
        return False  # never on a torrent that is free for this account already
    spare = (account.wedges or 0) - policy.keep
    worth = (release.size or 0) >= policy.min_size.bytes
    if spare > 0 and worth:
        return True
    if policy.use == "require":
        if not worth:
            return f"not free, and below rules.wedges.min_size ({policy.min_size}) for a wedge"
        return f"not free, and no wedge to spare (keeping {policy.keep})"
    return False


def choose(
    want: Want,
    releases: Iterable[Release],
    rules: RulesConfig,
    languages: Iterable[str],
    account: AccountView,
) -> Choice:
    codes = tuple(languages)
    decisions = sorted(
        (decide(want, release, rules, codes, account) for release in releases),
        key=lambda d: (d.accepted, d.score, d.release.seeders, -d.release.id),
        reverse=True,
    )
    best = decisions[0] if decisions and decisions[0].accepted else None
    return Choice(best, tuple(decisions))


def _size(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB" if size >= 1024**3 else f"{size / 1024**2:.0f} MiB"
