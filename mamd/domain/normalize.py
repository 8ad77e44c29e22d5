"""Comparable forms of titles, names and series, shared by discovery and MAM matching.

Two spellings of one book must give one key: case, accents, `’` versus `'`, `&` versus
`and`, punctuation, a leading article, `(Unabridged)`, `Book III` versus `Book 3`,
`01` versus `1`, `J.R.R.` versus `J. R. R.`, `Tolkien, J.R.R.` versus `J.R.R. Tolkien`.
Keys are for comparing only; nothing shows them to a person.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

ARTICLES = frozenset({"the", "a", "an"})
# notes about the edition rather than the book, dropped from title keys
_EDITION_NOTE = re.compile(
    r"[\(\[]\s*(un)?abridged\s*(edition|version)?\s*[\)\]]"
    r"|[\(\[]\s*(retail|audiobook|audio book|audible( studios)?( edition)?|m4b|mp3|\d+\s*k(bps)?)\s*[\)\]]",
    re.IGNORECASE,
)
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})
# letters that Unicode does not decompose into a base letter and an accent
_LETTERS = str.maketrans(
    {
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "þ": "th",
        "Þ": "Th",
        "ð": "d",
        "Ð": "D",
        "ı": "i",
    }
)
_NON_WORD = re.compile(r"[^0-9a-z]+")
_ROMAN = re.compile(r"^(x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10}
_ZERO_PADDING = re.compile(r"\b0+(?=\d)")
_ROMAN_TOKEN = re.compile(r"\b[ivx]{2,}\b")
# a single-letter numeral (I, V, X) is only a number after one of these words
_LONE_NUMERAL = re.compile(r"\b(book|part|vol|volume|episode|no|number|chapter|season|tome) ([ivx])\b")
_INITIALS = re.compile(r"^[A-Z]{2,3}$")


def roman_to_int(token: str) -> int | None:
    """`iii` → 3; only I…XXXIX, the numerals that number books in a series."""
    match = _ROMAN.match(token)
    if not token or match is None:
        return None
    total, previous = 0, 0
    for letter in reversed(token):
        value = _ROMAN_VALUES[letter]
        total = total - value if value < previous else total + value
        previous = max(previous, value)
    return total


def unaccented(text: str) -> str:
    """`Les Misérables` → `Les Miserables`, `Stanisław` → `Stanislaw`; case and punctuation kept."""
    if text.isascii():
        return text  # most titles: nothing to decompose
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case, no accents or punctuation, `&` as `and`, numbers without padding or Roman letters."""
    text = unaccented(text).translate(_APOSTROPHES).casefold()
    text = " ".join(_NON_WORD.sub(" ", text.replace("'", "").replace("&", " and ")).split())
    # substitutions over the whole string run in C: a large library folds tens of thousands of titles
    text = _ZERO_PADDING.sub("", text)
    text = _ROMAN_TOKEN.sub(_arabic, text)
    return _LONE_NUMERAL.sub(lambda m: f"{m.group(1)} {_arabic(m, 2)}", text)


def _arabic(match: re.Match[str], group: int = 0) -> str:
    token = match.group(group)
    value = roman_to_int(token)
    return token if value is None else str(value)


def _without_article(key: str) -> str:
    first, _, rest = key.partition(" ")
    return rest if first in ARTICLES and rest else key


@lru_cache(maxsize=65536)
def title_key(title: str) -> str:
    """A title for comparing: folded, without a leading article or an edition note."""
    return _without_article(fold(_EDITION_NOTE.sub(" ", title)))


def title_keys(title: str, subtitle: str | None = None) -> frozenset[str]:
    """Every form a title is known by: whole, main part (before `:`), and with its subtitle."""
    keys = {title_key(title)}
    main, sep, rest = title.partition(":")
    if sep:
        keys.add(title_key(main))
        keys.add(title_key(rest))
    if subtitle:
        keys.add(title_key(f"{title} {subtitle}"))
    return frozenset(k for k in keys if k)


_HONORIFICS = frozenset({"sir", "dame", "dr", "doctor", "prof", "professor", "rev", "reverend"})


@lru_cache(maxsize=65536)
def name_key(name: str) -> str:
    """A person for comparing: `Tolkien, J.R.R.`, `J. R. R. Tolkien` and `JRR Tolkien` agree."""
    name = name.strip()
    last, comma, first = name.partition(",")
    if comma and first.strip() and "," not in first and len(last.split()) <= 2:
        name = f"{first.strip()} {last.strip()}"  # "Last, First"
    parts: list[str] = []
    words = name.replace(".", ". ").split()
    while len(words) > 2 and words[0].strip(".").casefold() in _HONORIFICS:
        words = words[1:]  # "Sir Arthur Conan Doyle"
    for index, word in enumerate(words):
        bare = word.strip(".")
        if _INITIALS.match(bare) and index < len(words) - 1:
            parts.extend(bare)  # "JRR" written without dots: three initials
        else:
            parts.append(bare)
    return fold(" ".join(parts))


def series_key(name: str) -> str:
    """A series for comparing; the same rules as a title."""
    return title_key(name)


_SURNAME_PARTICLES = frozenset(
    {"le", "la", "de", "du", "da", "di", "del", "van", "von", "der", "den", "st", "st."}
)
_NAME_SEPARATORS = re.compile(r"\s*(?:;|&|\band\b|,)\s*", re.IGNORECASE)


def split_names(text: str) -> list[str]:
    """`A, B & C` → three names; `Last, First` (one comma, short halves) stays one name."""
    text = text.strip()
    if not text:
        return []
    last, comma, first = text.partition(",")
    one_person = comma and "," not in first and "&" not in text and " and " not in text.lower()
    surname = last.split()
    particle = len(surname) == 2 and surname[0].casefold() in _SURNAME_PARTICLES  # "Le Guin, Ursula K."
    if one_person and (len(surname) == 1 or particle) and len(first.split()) <= 4:
        return [text]
    return [part for part in _NAME_SEPARATORS.split(text) if part]
