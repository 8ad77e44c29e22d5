"""Which matching release to grab, by the `rules:` of the configuration.

Every release gets a decision: accepted with a score, or refused, with the reasons either
way. Freeleech is judged for this user (free for all, bought, or VIP-free for a VIP class);
a wedge is only ever planned for a torrent that is not free already, is large enough to be
worth one, and leaves the reserve untouched (Prowlarr issue #2536: wedges spent on VIP
torrents are wasted).

Acceptable releases are compared one preference at a time, in the order of `rules.prefer`
(the ones it leaves out follow in the default order): freeleech, a preferred narrator, the
format's place in `rules.formats`, seeders counted in doublings (so 9 and 13 seeders rank
alike), bitrate; then a title and author spelled as wanted before one spelled differently.
The score encodes that order, two digits per preference, so sorting by it ranks as the rules do.

Some decisions need the other releases: a dramatised production under `rules.dramatized:
fallback` is taken only when no standard narration passes the rules; a release that does not
name the wanted series position is refused when another release with the same title is numbered
in an unrelated series (two books share the title); one crediting only some of the wanted
authors is refused when another credits them all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from mamd.config.model import DEFAULT_PREFERENCES, AudioFormat, Preference, RulesConfig
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
    # what the matcher said, kept as plain values (a search decides on thousands of releases)
    matched: bool = False
    dramatised: bool = False
    confirmed: bool = False  # it names the wanted series position
    all_authors: bool = True
    other_series: str | None = None
    matched_reasons: int = 0  # how many of `reasons` are the matcher's

    @property
    def freeleech(self) -> bool:
        """Free for this user once grabbed: free already, or made free with a wedge."""
        return self.free or self.use_wedge


@dataclass(frozen=True)
class Choice:
    best: Decision | None
    decisions: tuple[Decision, ...]  # every release, best first


def _said(found: Match) -> dict[str, Any]:
    """The matcher's verdict as the fields of a decision."""
    return {
        "matched": found.ok,
        "dramatised": found.dramatised,
        "confirmed": found.confirmed,
        "all_authors": found.all_authors,
        "other_series": found.other_series,
        "matched_reasons": len(found.reasons),
    }


def _refuse(release: Release, found: Match, *reasons: str) -> Decision:
    return Decision(release, False, 0.0, (*found.reasons, *reasons), found.bundle, **_said(found))


def preference_order(rules: RulesConfig) -> tuple[Preference, ...]:
    """`rules.prefer` as written, then the preferences it leaves out in the default order."""
    return (*rules.prefer, *(p for p in DEFAULT_PREFERENCES if p not in rules.prefer))


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _ranking(
    release: Release, found: Match, rules: RulesConfig, fmt: AudioFormat, free: bool, wedge: bool
) -> tuple[float, list[str]]:
    """The score that orders acceptable releases by the rules' preferences, and each one's reason."""
    levels: dict[Preference, tuple[int, str]] = {}
    if rules.freeleech == "prefer":
        levels["freeleech"] = (
            (2, "freeleech for this account")
            if free
            else (1, "a wedge makes it freeleech")
            if wedge
            else (0, "not freeleech")
        )
    if rules.prefer_narrators:
        preferred = {name_key(n) for n in rules.prefer_narrators}
        hit = next((n for n in release.narrators if name_key(n) in preferred), None)
        levels["narrator"] = (1, f"{hit}, a preferred narrator") if hit else (0, "not a preferred narrator")
    place = rules.formats.index(fmt)
    levels["format"] = (len(rules.formats) - place, f"{fmt}, {_ordinal(place + 1)} of rules.formats")
    levels["seeders"] = (min(15, int(math.log2(1 + release.seeders))), f"{release.seeders}")
    kbps = (release.bitrate or 0) // 1000
    levels["bitrate"] = (min(99, kbps // 8), f"{kbps}k" if kbps else "unknown")
    order = [p for p in preference_order(rules) if p in levels]
    spelled = 0 if "spelled differently" in " ".join(found.reasons) else 1
    score = 0.0
    for preference in order:
        score = score * 100 + levels[preference][0]
    reasons = [f"ranked by rules.prefer: {', then '.join(order)}; then by spelling"]
    reasons += [f"{preference}: {levels[preference][1]}" for preference in order]
    return score * 10 + spelled, reasons


def decide(
    want: Want, release: Release, rules: RulesConfig, languages: Iterable[str], account: AccountView
) -> Decision:
    found = match(want, release)
    if not found.ok:
        return Decision(release, False, 0.0, found.reasons, **_said(found))
    if release.my_snatched:
        return _refuse(release, found, "this account has downloaded it before")
    if found.dramatised and rules.dramatized == "never":
        return _refuse(release, found, "a dramatised production (rules.dramatized is never)")
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
    score, ranked = _ranking(release, found, rules, formats[0], free, wedge)
    reasons = (*found.reasons, *ranked)
    return Decision(release, True, score, reasons, found.bundle, free, bool(wedge), **_said(found))


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
    decisions = _among_others([decide(want, release, rules, codes, account) for release in releases], rules)
    # refused releases of the book (by the rules) before those that are not the book: the closest first
    decisions.sort(
        key=lambda d: (d.accepted, d.score, d.matched, d.release.seeders, -d.release.id), reverse=True
    )
    best = decisions[0] if decisions and decisions[0].accepted else None
    return Choice(best, tuple(decisions))


def _among_others(decisions: list[Decision], rules: RulesConfig) -> list[Decision]:
    """The decisions that depend on the other releases of the search (see the module's docstring)."""
    others = sorted({d.other_series for d in decisions if d.other_series})
    all_credited = any(d.matched and d.all_authors for d in decisions)
    told: list[Decision] = []
    for decision in decisions:
        if decision.accepted and others and not decision.confirmed:
            decision = _overrule(
                decision,
                f"another book by the author has this title ({others[0]}), and this one names "
                "no series position that tells them apart",
            )
        elif decision.accepted and all_credited and not decision.all_authors:
            decision = _overrule(decision, "another release credits every wanted author")
        told.append(decision)
    if rules.dramatized != "fallback":
        return told
    standard = any(d.accepted and not d.dramatised for d in told)
    out = []
    for decision in told:
        if decision.accepted and decision.dramatised:
            if standard:
                decision = _overrule(
                    decision, "a standard narration passes the rules (rules.dramatized is fallback)"
                )
            else:
                fallback = "taken only because no standard narration passes the rules"
                decision = replace(decision, reasons=(*decision.reasons, fallback))
        out.append(decision)
    return out


def _overrule(decision: Decision, reason: str) -> Decision:
    """Refused after all, for what another release shows: the match's reasons and why."""
    kept = decision.reasons[: decision.matched_reasons]
    return replace(decision, accepted=False, score=0.0, reasons=(*kept, reason), free=False, use_wedge=False)


def _size(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB" if size >= 1024**3 else f"{size / 1024**2:.0f} MiB"
