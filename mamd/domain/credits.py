"""Who a credit names, and how sure it is that a wanted author is a credited one.

`J R R Tolkien` is `John Ronald Reuel Tolkien`, `Ursula K Le Guin` is `Ursula K LeGuin`, `Liu Cixin` is
`Cixin Liu` ("close"); `Fyodor Dostoevsky` is `Fyodor Dostoyevsky` ("transliterated", which the match
believes only with the exact title).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache

from mamd.domain.normalize import name_key, split_names

_NAME_SEPARATORS = re.compile(r"\s*;\s*|\s+with\s+", re.IGNORECASE)
_SEVERAL = re.compile(r"[,;&]|\s(?:and|with)\s", re.IGNORECASE)  # a credit that may name several people


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


def people(text: str) -> list[str]:
    """The people one credit names: `Preston, Douglas; Child, Lincoln`, `Clive Cussler with Justin Scott`,
    `Neil Gaiman & Terry Pratchett`."""
    if not _SEVERAL.search(text):
        return [text]  # most credits: one name, nothing to split
    return [name for part in _NAME_SEPARATORS.split(text) for name in split_names(part)]


@lru_cache(maxsize=4096)
def _names(credits: tuple[str, ...]) -> frozenset[str]:
    return frozenset(name_key(person) for credit in credits for person in people(credit)) - {""}


@lru_cache(maxsize=4096)
def _words_of(names: frozenset[str]) -> frozenset[str]:
    """Every word of these names, and each name without its spaces (`leguin`)."""
    return frozenset(word for name in names for word in (*name.split(), name.replace(" ", "")))


def _kinship(wanted: str, found: str) -> str | None:
    """How a wanted name and a credited one are the same person: "exact", "close", "transliterated"."""
    if wanted == found:
        return "exact"
    # every spelling told apart below shares a word with the other (a surname, a first name), or is
    # the other with its spaces moved (`LeGuin`, `Le Guin`)
    found_words = found.split()
    if not any(word in found_words for word in wanted.split()) and (
        wanted.replace(" ", "") != found.replace(" ", "")
    ):
        return None
    if _same_person(wanted, found):
        return "close"
    return "transliterated" if _transliterated(wanted, found) else None


_KINSHIP = ("exact", "close", "transliterated")  # surest first


def author_kinship(want: tuple[str, ...], credits: tuple[str, ...]) -> tuple[str | None, bool]:
    """ "exact", "close", "transliterated" (believed only with the exact title), or None; and whether
    every wanted author is credited."""
    wanted = _names(want)
    found = _names(credits)
    exact = wanted & found
    if exact == wanted:
        return "exact", True
    if not exact and _words_of(wanted).isdisjoint(
        word for name in found for word in (*name.split(), name.replace(" ", ""))
    ):
        return None, False  # most releases of a search: nobody in common
    best = 0 if exact else len(_KINSHIP)
    credited = len(exact)
    for person in wanted - exact:
        ranks = [_KINSHIP.index(kind) for name in found if (kind := _kinship(person, name)) is not None]
        if ranks:
            credited += 1
            best = min(best, *ranks)
    return (_KINSHIP[best] if best < len(_KINSHIP) else None), credited == len(wanted)
