"""Does this MAM release hold the wanted book? Precision first: when unsure, no, and why.

A match needs the author and either the title or the series position. Titles match by
normalised key (`mamd.domain.normalize`), in any of the forms a title is written (with its
series as a prefix, with an edition note, with a subtitle, after the author's name or brand),
or by a typo-level difference with the same numbers; `Dune` is not `Dune Messiah` and `Book 1`
is not `Book 11`. A range of positions (`01-03`) holds the book among others: a bundle, which
the rules may refuse. One part of a split edition (`mamd.domain.parts`) is never the whole book,
and a release numbered in a series the want is not in is another book. Whether a dramatised
production may stand in for a reading is the rules' business: the match only says it is one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from difflib import SequenceMatcher
from functools import lru_cache

from mamd.domain.credits import author_kinship
from mamd.domain.normalize import ARTICLES, series_key, title_key
from mamd.domain.parts import Part, part_of
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
# notes uploaders append to a title: who reads it, who translated it, what else is in the torrent
_TITLE_NOTES = re.compile(
    r"\s*(?:[,:;]|\s[-–—])\s*(?:(?:narrated|read|performed)\s+by|translated\s+by|trans\.|translation\s+by)\s.*$"
    r"|\s*(?:\+|\bwith\b|&)\s*(?:an?\s+)?(?:bonus|exclusive)\b.*$",
    re.IGNORECASE,
)
_ALTERNATIVE = re.compile(r"\s*[,;]\s*or\b,?\s+", re.IGNORECASE)  # `Frankenstein; or, The Modern Prometheus`
_BYLINE = re.compile(r"\s*[-–—:]\s+|['’]s\s+")  # what follows an author's name before the title


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
    dramatised: bool = False  # a full-cast or dramatised production of the book
    confirmed: bool = False  # the release names the wanted series position
    all_authors: bool = True  # it credits every wanted author
    other_series: str | None = None  # the same title numbered in another series: `Hollow Crown #1`


def _no(*reasons: str, other_series: str | None = None) -> Match:
    return Match(False, False, reasons, other_series=other_series)


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
    tails: frozenset[str]  # what follows a franchise or series name: `Star Wars: Thrawn`


@lru_cache(maxsize=65536)
def title_forms(title: str, series: tuple[str, ...]) -> TitleForms:
    """Whole forms are the title itself, without bracketed notes or a `A … Novel` label, without
    a series prefix, and without a subtitle that only labels it (`: Book 2 of the Saga` keeps
    its number: `Mistborn: Book 1` is not `Mistborn: Book 2`).

    A title with a real subtitle (`Sapiens: A Brief History of Humankind`) also has its main
    part, which may only meet a whole form: two different subtitles under one main part
    (`Mistborn: The Final Empire`, `Mistborn: The Well of Ascension`) are two books, and a
    subtitle with a number of its own (`Sapiens: A Graphic History, Volume 1`) is another book.
    A main part that is the series' name says which book only with the series position. What
    follows a main part (`Star Wars: Thrawn`) is a tail: the book itself when the main part
    names a franchise, which only the series position or a title of several words can tell.
    A title that gives an alternative (`Slaughterhouse-Five, or The Children's Crusade`) is
    whole in its first half too.
    """
    series_keys = frozenset(series_key(name) for name in series)
    bare = _NOVEL_SUFFIX.sub("", _BRACKETS.sub(" ", title)).strip() or title
    variants = {title, bare, strip_series_prefix(bare, series)}
    variants.update(_ALTERNATIVE.split(bare, maxsplit=1)[:1])
    whole: set[str] = set()
    main: set[str] = set()
    named: set[str] = set()
    tails: set[str] = set()
    for variant in variants:
        whole.add(title_key(variant))
        head, separator, subtitle = _split_subtitle(variant)
        if not separator:
            continue
        head_key = title_key(head)
        if head_key and not _subtitle_is_a_label(subtitle, series_keys):
            tails.add(title_key(subtitle))
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
    return TitleForms(
        frozenset(whole), frozenset(main - whole), frozenset(named - whole), frozenset(tails - whole - {""})
    )


def release_title_keys(title: str, series: tuple[str, ...]) -> frozenset[str]:
    """Every form a release title may give the book's title in."""
    forms = title_forms(title, series)
    return forms.whole | forms.main | forms.named


def _no_articles(key: str) -> str:
    return " ".join(word for word in key.split() if word not in ARTICLES)


@lru_cache(maxsize=65536)
def release_titles(title: str, authors: tuple[str, ...]) -> tuple[str, ...]:
    """A release's title as written, and without what uploaders put around it: the author's name
    (`Brandon Sanderson - Elantris`), the brand a book is sold under (`Tom Clancy's Op-Center`),
    who reads or translated it, bonus material."""
    bare = _TITLE_NOTES.sub("", title).strip()
    folded = bare.casefold()
    for name in authors:
        if not folded.startswith(name.casefold()):
            continue
        rest = bare[len(name) :]
        byline = _BYLINE.match(rest)
        if byline and rest[byline.end() :].strip():
            bare = rest[byline.end() :].strip()
            break
    return (title, bare) if bare and bare != title else (title,)


def _title(
    wanted_title: str, found_titles: tuple[str, ...], names: tuple[str, ...], same_position: bool
) -> str | None:
    """ "exact", "close", or None."""
    wanted = title_forms(wanted_title, names)
    found = [title_forms(title, names) for title in found_titles]
    whole = frozenset().union(*(f.whole for f in found))
    main = frozenset().union(*(f.main for f in found))
    named = frozenset().union(*(f.named for f in found))
    tails = frozenset().union(*(f.tails for f in found))
    if wanted.whole & (whole | main) or wanted.main & whole:
        return "exact"
    if same_position and (wanted.whole | wanted.named) & (whole | named | tails):
        return "exact"
    if any(len(key.split()) > 1 for key in wanted.whole & tails):
        return "exact"  # `Star Wars: Heir to the Empire`
    for key_wanted in wanted.whole:
        if len(key_wanted) < 8:
            continue
        for key in whole:
            if _no_articles(key) == _no_articles(key_wanted):
                return "close"  # `The Sign of Four`, `The Sign of the Four`
            same_numbers = _DIGITS.findall(key_wanted) == _DIGITS.findall(key)
            if (
                same_numbers
                and abs(len(key) - len(key_wanted)) <= 3
                and SequenceMatcher(None, key_wanted, key).ratio() >= CLOSE_TITLE
            ):
                return "close"
    return None


def series_tags(release: Release) -> tuple[SeriesTag, ...]:
    """The release's series; without `series_info`, a `(Series, Book 2)` label in its title."""
    if release.series:
        return release.series
    return tuple(SeriesTag(name.strip(), number) for name, number in _TITLE_SERIES.findall(release.title))


def _says_bundle(title: str) -> bool:
    """`Omnibus`, `Books 1-3` anywhere; `Trilogy`, `Collection` in the main title."""
    head = _split_subtitle(_BRACKETS.sub(" ", title))[0]
    return bool(_BUNDLE_WORDS.search(title) or _BUNDLE_NOUNS.search(head))


def _related(one: str, other: str) -> bool:
    """`Discworld` and `Discworld - Witches`, `Starbound` and `Starbound Saga`: one series inside the other's
    name, as sub-series and longer names are written."""
    short, long = sorted((one, other), key=len)
    return bool(short) and f" {short} " in f" {long} "


def _release_part(release: Release) -> Part | None:
    """The part a release names in its title, or, for a single file, in that file's own title tag
    (the files of a many-file release are numbered `Part 01`, `Part 02`, … whatever the book)."""
    found = part_of(release.title)
    if found is None and release.files == 1 and release.file_title:
        found = part_of(release.file_title)
    return found


def _compare_parts(
    want: Want, release: Release, names: tuple[str, ...], found_titles: tuple[str, ...]
) -> tuple[str | None, tuple[str, ...]]:
    """Why a split edition rules the release out, or the titles to compare instead of its own.

    A wanted part takes only that part of the same book. A part whose own name is the wanted
    title (`The Lord of the Rings, Part One: The Fellowship of the Ring`) is that book; any other
    part is not the whole book, and the whole book is not a part."""
    wanted = part_of(want.title) if want.title else None
    found = _release_part(release)
    if found is not None and found.number is None:
        article = "an" if found.label[0] in "aeiou" else "a"
        return f"{article} {found.label} of the book, not all of it", found_titles
    if wanted is not None:
        if found is None:
            return f"a whole book, and only {wanted.shown} is wanted", found_titles
        if not wanted.same_part(found):
            return f"it is {found.shown}, not {wanted.shown}", found_titles
        base = wanted.base or wanted.name
        if _title(base, (found.base or found.name,), names, False) is None:
            return f"{found.shown} of {found.base!r}, not of {base!r}", found_titles
        return None, (want.title or "",)
    if found is None:
        return None, found_titles
    named_part = want.title and found.name and _title(want.title, (found.base,), names, False) is None
    if named_part and _title(want.title or "", (found.name,), names, False) is not None:
        return None, (found.name,)
    return f"holds only {found.shown} of {found.base or 'the book'!r}", found_titles


def _series_state(want: Want, release: Release, single: Decimal) -> tuple[str | None, str | None]:
    """How the release's series tags stand to the wanted position: "same", "bundle", a contradiction's
    description, or None when they say nothing; and the other series' tag when the release is
    numbered only in series unrelated to the wanted one."""
    wanted = series_key(want.series or "")
    state: str | None = None
    unrelated: list[SeriesTag] = []
    tags = series_tags(release)
    for tag in tags:
        key = series_key(tag.name)
        if key != wanted and not _related(key, wanted):
            unrelated.append(tag)
            continue
        position = parse_sequence(tag.number)
        if position is None:
            continue
        if position.single == single:
            return "same", None
        if key != wanted:
            continue  # a sub-series (`Discworld - Witches` #1 is Discworld #3) numbers its own way
        if single in position.values:
            state = "bundle"
        elif state is None:
            state = f"it is {tag.name} #{tag.number or '?'}, not #{format_position(single)}"
    if state is None and unrelated and len(unrelated) == len(tags):
        numbered = [t for t in unrelated if getattr(parse_sequence(t.number), "single", None) is not None]
        if numbered:
            other = f"{numbered[0].name} #{numbered[0].number}"
            return f"it is {other}, not {want.series} #{format_position(single)}", other
    return state, None


def match(want: Want, release: Release) -> Match:
    """Whether `release` holds `want`, with the reasons either way."""
    if not release.audiobook:
        return _no("an e-book or other media, not an audiobook")
    if not release.authors:
        return _no("the release names no author, so it cannot be told apart from another book")
    author, all_authors = author_kinship(want.authors, release.authors)
    if author is None:
        return _no(f"by {', '.join(release.authors)}, not {', '.join(want.authors)}")
    reasons = ["same author" if author == "exact" else "author spelled differently"]
    dramatised = release.dramatized and not (want.title and "dramati" in want.title.casefold())
    if dramatised:
        reasons.append("a dramatised or full-cast production")
    names = (*(s.name for s in series_tags(release)), *((want.series,) if want.series else ()))
    titles = release_titles(release.title, release.authors)
    split, titles = _compare_parts(want, release, names, titles)
    if split is not None:
        return _no(*reasons, split)
    asin = bool(want.asin and release.asin and want.asin.upper() == release.asin.upper())
    if asin:
        reasons.append("same ASIN")

    wanted_position = parse_sequence(want.position) if want.series else None
    single = wanted_position.single if wanted_position else None
    series_state, other_series = _series_state(want, release, single) if single is not None else (None, None)
    title = _title(want.title, titles, names, series_state == "same") if want.title else None
    bundle_words = _says_bundle(release.title) and not (want.title and _says_bundle(want.title))
    if author == "transliterated" and title != "exact":
        return _no(*reasons, "the author's name is only close, and the title is not the same")

    if series_state not in (None, "same", "bundle"):
        return _no(*reasons, str(series_state), other_series=other_series if title else None)
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
    if not all_authors:
        reasons.append("credits only some of the wanted authors")
    return Match(True, bundle, tuple(reasons), dramatised, series_state == "same", all_authors)
