"""Does this MAM release hold the wanted book? Precision first: when unsure, no, and why.

A match needs the author and either the title or the series position. Titles match by
normalised key (`mamd.domain.normalize`), in any of the forms a title is written (with its
series as a prefix, with an edition note, with a subtitle), or by a typo-level difference
with the same numbers; `Dune` is not `Dune Messiah` and `Book 1` is not `Book 11`. A range
of positions (`01-03`) holds the book among others: a bundle, which the rules may refuse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from difflib import SequenceMatcher
from functools import lru_cache

from mamd.domain.normalize import ARTICLES, name_key, series_key, split_names, title_key
from mamd.domain.release import Release, SeriesTag
from mamd.domain.sequence import format_position, parse_sequence

CLOSE_TITLE = 0.92
_BRACKETS = re.compile(r"[\(\[][^\(\)\[\]]*[\)\]]")
_DIGITS = re.compile(r"\d+")
# several books, wherever the title says it …
_BUNDLE_WORDS = re.compile(
    r"\b(omnibus|box(ed)? set|complete (series|collection|trilogy)"
    r"|(books?|vols?\.?|volumes?) \d+\s*(-|–|to|&|and)\s*\d+)\b",
    re.IGNORECASE,
)
# … or in the main title only: `Assassin's Apprentice (The Farseer Trilogy, Book 1)` is one book
_BUNDLE_NOUNS = re.compile(r"\b(collection|trilogy|duology|quartet|anthology)\b", re.IGNORECASE)
_TITLE_SERIES = re.compile(
    r"[\(\[]\s*([^\(\)\[\],]+?),?\s+(?:book|bk\.?|vol\.?|volume|#)\s*(\d+(?:\.\d+)?)\s*[\)\]]", re.IGNORECASE
)
_NOVEL_SUFFIX = re.compile(r"[:,-]\s*(a|an)\s+[\w' ]*novel\s*$", re.IGNORECASE)
_NUMBERED_HEAD = re.compile(r"\s(?:book |bk |vol |volume |#)?\d+(?:\.\d+)?$")
_VOLUME = re.compile(r"\b(?:book|bk|vol\.?|volume|part|#)\s*\d+", re.IGNORECASE)
_SUBTITLE = re.compile(r"\s*:\s*|\s+[-–—]\s+")
_LABEL_SUBTITLE = re.compile(
    r"^\s*(?:(?:a|an)\s+[\w' ]{0,40}?"
    r"(?:novel|novella|thriller|mystery|memoir|story|romance|adventure|tale|saga|fantasy)"
    r"|(?:book|bk|volume|vol\.?|part|#)\s*[\w.]+(?:\s+(?:of|in)\s+.*)?"
    r"|(?:un)?abridged)\s*$",
    re.IGNORECASE,
)


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


def strip_series_prefix(title: str, series: Iterable[str]) -> str:
    """`Mistborn 3: The Hero of Ages`, `Mistborn, Book 3 - The Hero of Ages` → `The Hero of Ages`."""
    for name in series:
        prefix = re.compile(
            rf"^\s*{re.escape(name)}\s*[,:]?\s*(?:(?:book|bk|vol\.?|volume|#)\s*)?[\d.]*\s*[:\-–—]\s*",
            re.IGNORECASE,
        )
        stripped = prefix.sub("", title)
        if stripped != title and stripped.strip():
            return stripped
    return title


def _split_subtitle(title: str) -> tuple[str, str, str]:
    found = _SUBTITLE.search(title)
    if found is None:
        return title, "", ""
    return title[: found.start()], found.group(), title[found.end() :]


def _subtitle_is_a_label(subtitle: str, series_keys: frozenset[str]) -> bool:
    """`A Novel`, `Book Two of the Stormlight Archive`, `The Stormlight Archive, Book 1`: not a title."""
    if _LABEL_SUBTITLE.match(subtitle):
        return True
    key = title_key(subtitle)
    return any(name and name in key for name in series_keys)


@dataclass(frozen=True)
class TitleForms:
    """The forms a title is written in (see `title_forms`)."""

    whole: frozenset[str]
    main: frozenset[str]  # the main part of a title with a real subtitle
    named: frozenset[str]  # a main part that is the series' name: `Dungeon Crawler Carl: Book 1`


@lru_cache(maxsize=65536)
def title_forms(title: str, series: tuple[str, ...]) -> TitleForms:
    """Whole forms are the title itself, without bracketed notes or a `A … Novel` label, without
    a series prefix, and without a subtitle that only labels it (`: Book 2 of the Saga` keeps
    its number: `Mistborn: Book 1` is not `Mistborn: Book 2`).

    A title with a real subtitle (`Sapiens: A Brief History of Humankind`) also has its main
    part, which may only meet a whole form: two different subtitles under one main part
    (`Mistborn: The Final Empire`, `Mistborn: The Well of Ascension`) are two books, and a
    subtitle with a number of its own (`Sapiens: A Graphic History, Volume 1`) is another book.
    A main part that is the series' name says which book only with the series position.
    """
    series_keys = frozenset(series_key(name) for name in series)
    bare = _NOVEL_SUFFIX.sub("", _BRACKETS.sub(" ", title)).strip() or title
    variants = {title, bare, strip_series_prefix(bare, series)}
    whole: set[str] = set()
    main: set[str] = set()
    named: set[str] = set()
    for variant in variants:
        whole.add(title_key(variant))
        head, separator, subtitle = _split_subtitle(variant)
        if not separator:
            continue
        head_key = title_key(head)
        if _NUMBERED_HEAD.search(head_key):
            main.add(title_key(subtitle))  # `Mistborn 3 - The Hero of Ages`: a series and its place
        if not head_key:
            continue
        if head_key in series_keys:
            named.add(head_key)
            continue
        if _subtitle_is_a_label(subtitle, series_keys):
            numbers = _DIGITS.findall(title_key(subtitle))
            whole.add(f"{head_key} #{'.'.join(numbers)}" if numbers else head_key)
            if numbers:
                main.add(head_key)
        elif not _VOLUME.search(subtitle):
            main.add(head_key)
    whole.discard("")
    return TitleForms(frozenset(whole), frozenset(main - whole), frozenset(named - whole))


def release_title_keys(title: str, series: tuple[str, ...]) -> frozenset[str]:
    """Every form a release title may give the book's title in."""
    forms = title_forms(title, series)
    return forms.whole | forms.main | forms.named


def _no_articles(key: str) -> str:
    return " ".join(word for word in key.split() if word not in ARTICLES)


def _title(want: Want, release: Release, series: tuple[SeriesTag, ...], same_position: bool) -> str | None:
    """ "exact", "close", or None."""
    names = (*(s.name for s in series), *((want.series,) if want.series else ()))
    wanted = title_forms(want.title or "", names)
    found = title_forms(release.title, names)
    if wanted.whole & (found.whole | found.main) or wanted.main & found.whole:
        return "exact"
    if same_position and (wanted.whole | wanted.named) & (found.whole | found.named):
        return "exact"
    for main in wanted.whole:
        if len(main) < 8:
            continue
        for key in found.whole:
            if _no_articles(key) == _no_articles(main):
                return "close"  # `The Sign of Four`, `The Sign of the Four`
            same_numbers = _DIGITS.findall(main) == _DIGITS.findall(key)
            if (
                same_numbers
                and abs(len(key) - len(main)) <= 3
                and SequenceMatcher(None, main, key).ratio() >= CLOSE_TITLE
            ):
                return "close"
    return None


def series_tags(release: Release) -> tuple[SeriesTag, ...]:
    """The release's series; without `series_info`, a `(Series, Book 2)` label in its title."""
    if release.series:
        return release.series
    return tuple(SeriesTag(name.strip(), number) for name, number in _TITLE_SERIES.findall(release.title))


def _without_initials(key: str) -> str:
    tokens = key.split()
    return (
        " ".join([tokens[0], *(t for t in tokens[1:-1] if len(t) > 1), tokens[-1]])
        if len(tokens) > 2
        else key
    )


def _same_person(one: str, other: str) -> bool:
    """`J R R Tolkien` and `John Ronald Reuel Tolkien`; `Ursula K Le Guin` and `Ursula K LeGuin`;
    `Liu Cixin` and `Cixin Liu`."""
    if one == other or _without_initials(one) == _without_initials(other):
        return True
    a, b = one.split(), other.split()
    if len(a) < 2 or len(b) < 2:
        return False
    if one.replace(" ", "") == other.replace(" ", "") or sorted(a) == sorted(b):
        return True
    if a[-1] != b[-1]:
        return False
    return all(
        x[0] == y[0] and (len(x) == 1 or len(y) == 1 or x == y) for x, y in zip(a[:-1], b[:-1], strict=False)
    )


def _transliterated(one: str, other: str) -> bool:
    """`Fyodor Dostoevsky` and `Fyodor Dostoyevsky`: the same first names, a surname spelled close."""
    a, b = one.split(), other.split()
    if len(a) < 2 or a[:-1] != b[:-1] or min(len(a[-1]), len(b[-1])) < 6:
        return False
    return SequenceMatcher(None, a[-1], b[-1]).ratio() >= 0.85


@lru_cache(maxsize=4096)
def _wanted_names(authors: tuple[str, ...]) -> frozenset[str]:
    return frozenset(name_key(part) for name in authors for part in split_names(name)) - {""}


def _author(want: tuple[str, ...], release: Release) -> str | None:
    """ "exact", "close", "transliterated" (believed only with the exact title), or None."""
    wanted = _wanted_names(want)
    found = {name_key(name) for name in release.authors} - {""}
    if wanted & found:
        return "exact"
    # every spelling told apart below shares a word with the other (a surname, a first name)
    pairs = [(w, f) for w in wanted for f in found if not set(w.split()).isdisjoint(f.split())]
    pairs += [(w, f) for w in wanted for f in found if w.replace(" ", "") == f.replace(" ", "")]
    if any(_same_person(w, f) for w, f in pairs):
        return "close"
    if any(_transliterated(w, f) for w, f in pairs):
        return "transliterated"
    return None


def _says_bundle(title: str) -> bool:
    """`Omnibus`, `Books 1-3` anywhere; `Trilogy`, `Collection` in the main title."""
    head = _split_subtitle(_BRACKETS.sub(" ", title))[0]
    return bool(_BUNDLE_WORDS.search(title) or _BUNDLE_NOUNS.search(head))


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
    reasons = ["same author" if author == "exact" else "author spelled differently"]
    asin = bool(want.asin and release.asin and want.asin.upper() == release.asin.upper())
    if asin:
        reasons.append("same ASIN")

    wanted_position = parse_sequence(want.position) if want.series else None
    single = wanted_position.single if wanted_position else None
    series_state: str | None = None  # "same", "bundle", or a contradiction's description
    if want.series and single is not None:
        for tag in series_tags(release):
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
    title = _title(want, release, series_tags(release), series_state == "same") if want.title else None
    bundle_words = _says_bundle(release.title) and not (want.title and _says_bundle(want.title))
    if author == "transliterated" and title != "exact":
        return _no(*reasons, "the author's name is only close, and the title is not the same")

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
    bundle = series_state == "bundle" or bundle_words
    if bundle:
        reasons.append("holds several books")
    return Match(True, bundle, tuple(reasons))
