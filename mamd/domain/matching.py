"""Does this MAM release hold the wanted book? Precision first: when unsure, no, and why.

A match needs the author and either the title or the series position. Titles match by
normalised key (`mamd.domain.normalize`), in any of the forms a title is written (with its
series as a prefix, with an edition note, with a subtitle), or by a typo-level difference
with the same numbers; `Dune` is not `Dune Messiah` and `Book 1` is not `Book 11`. A range
of positions (`01-03`) holds the book among others: a bundle, which the rules may refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from difflib import SequenceMatcher
from functools import lru_cache

from mamd.domain.normalize import name_key, series_key, split_names, title_key, title_keys
from mamd.domain.release import Release
from mamd.domain.sequence import format_position, parse_sequence

CLOSE_TITLE = 0.92
_BRACKETS = re.compile(r"[\(\[][^\(\)\[\]]*[\)\]]")
_DIGITS = re.compile(r"\d+")
_BUNDLE_WORDS = re.compile(
    r"\b(omnibus|box(ed)? set|collection|complete series|trilogy|duology"
    r"|books? \d+\s*(-|–|to|&|and)\s*\d+)\b",
    re.IGNORECASE,
)
_NOVEL_SUFFIX = re.compile(r"[:,-]\s*(a|an)\s+[\w' ]*novel\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Want:
    title: str | None
    authors: tuple[str, ...]
    series: str | None = None
    position: str | None = None
    asin: str | None = None

    @property
    def label(self) -> str:
        what = self.title or f"{self.series} #{self.position}"
        return f"{what} by {', '.join(self.authors) or 'an unknown author'}"


@dataclass(frozen=True)
class Match:
    ok: bool
    bundle: bool
    reasons: tuple[str, ...]


def _no(*reasons: str) -> Match:
    return Match(False, False, reasons)


@lru_cache(maxsize=65536)
def release_title_keys(title: str, series: tuple[str, ...]) -> frozenset[str]:
    """The forms a release title may give the book's title in."""
    keys = set(title_keys(title))
    bare = _NOVEL_SUFFIX.sub("", _BRACKETS.sub(" ", title)).strip()
    keys |= title_keys(bare)
    for name in series:  # "Mistborn 3: The Hero of Ages", "Mistborn, Book 3 - The Hero of Ages"
        prefix = re.compile(
            rf"^\s*{re.escape(name)}\s*[,:]?\s*(?:(?:book|bk|vol\.?|volume|#)\s*)?[\d.]*\s*[:\-–—]\s*",
            re.IGNORECASE,
        )
        stripped = prefix.sub("", bare)
        if stripped != bare:
            keys |= title_keys(stripped)
    return frozenset(k for k in keys if k)


def _title(want: str, release: Release) -> str | None:
    """ "exact", "close", or None."""
    wanted = title_keys(want)
    found = release_title_keys(release.title, tuple(s.name for s in release.series))
    if wanted & found:
        return "exact"
    main = title_key(want)
    if len(main) < 8:
        return None
    for key in found:
        same_numbers = _DIGITS.findall(main) == _DIGITS.findall(key)
        if (
            same_numbers
            and abs(len(key) - len(main)) <= 3
            and SequenceMatcher(None, main, key).ratio() >= CLOSE_TITLE
        ):
            return "close"
    return None


def _without_initials(key: str) -> str:
    tokens = key.split()
    return (
        " ".join([tokens[0], *(t for t in tokens[1:-1] if len(t) > 1), tokens[-1]])
        if len(tokens) > 2
        else key
    )


def _same_person(one: str, other: str) -> bool:
    """`J R R Tolkien` and `John Ronald Reuel Tolkien`; `Ursula K Le Guin` and `Ursula Le Guin`."""
    if one == other or _without_initials(one) == _without_initials(other):
        return True
    a, b = one.split(), other.split()
    if len(a) < 2 or len(b) < 2 or a[-1] != b[-1]:
        return False
    return all(
        x[0] == y[0] and (len(x) == 1 or len(y) == 1 or x == y) for x, y in zip(a[:-1], b[:-1], strict=False)
    )


def _author(want: tuple[str, ...], release: Release) -> str | None:
    wanted = {name_key(part) for name in want for part in split_names(name)} - {""}
    found = {name_key(name) for name in release.authors} - {""}
    if wanted & found:
        return "exact"
    if any(_same_person(w, f) for w in wanted for f in found):
        return "close"
    return None


def match(want: Want, release: Release) -> Match:
    """Whether `release` holds `want`, with the reasons either way."""
    if not release.audiobook:
        return _no("an e-book or other media, not an audiobook")
    if not release.authors:
        return _no("the release names no author, so it cannot be told apart from another book")
    author = _author(want.authors, release)
    if author is None:
        return _no(f"by {', '.join(release.authors)}, not {', '.join(want.authors)}")
    if release.dramatized and not (want.title and "dramati" in want.title.casefold()):
        return _no("a dramatised or full-cast production, not the audiobook")
    reasons = ["author spelled differently" if author == "close" else "same author"]
    asin = bool(want.asin and release.asin and want.asin.upper() == release.asin.upper())
    if asin:
        reasons.append("same ASIN")

    wanted_position = parse_sequence(want.position) if want.series else None
    single = wanted_position.single if wanted_position else None
    series_state: str | None = None  # "same", "bundle", or a contradiction's description
    if want.series and single is not None:
        for tag in release.series:
            if series_key(tag.name) != series_key(want.series):
                continue
            position = parse_sequence(tag.number)
            if position is None:
                continue
            if position.single == single:
                series_state = "same"
                break
            if single in position.values:
                series_state = "bundle"
            elif series_state is None:
                series_state = f"it is {tag.name} #{tag.number or '?'}, not #{format_position(single)}"
    title = _title(want.title, release) if want.title else None
    bundle_words = bool(_BUNDLE_WORDS.search(release.title))

    if series_state not in (None, "same", "bundle"):
        return _no(*reasons, str(series_state))
    if want.title:
        if title is None and not asin and series_state != "bundle":
            return _no(*reasons, f"the title {release.title!r} is not {want.title!r}")
        if title is not None:
            reasons.append("title spelled differently" if title == "close" else "same title")
    else:
        if series_state is None:
            return _no(*reasons, f"it lists no {want.series} #{want.position}: the book cannot be told")
    if series_state == "same":
        reasons.append(f"{want.series} #{format_position(single or Decimal(0))}")
    bundle = series_state == "bundle" or (bundle_words and series_state != "same" and title != "exact")
    if bundle:
        reasons.append("holds several books")
    return Match(True, bundle, tuple(reasons))
