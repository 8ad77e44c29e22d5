"""A string of people's names as Audiobookshelf reads it from tags, folder names and `reader.txt`.

Audiobookshelf splits `artist`, `composer`, an author folder or `reader.txt` into people and writes each
back as `First Middle Last`: `Sanderson, Brandon` is one person, `Michael Kramer, Kate Reading` two,
`Friedman, Milton & Friedman, Rose` two; titles (`Dr.`), suffixes (`Jr.`) and nicknames in quotes or
brackets are dropped, and a name written all in one case is capitalised. mamd reads the tags of a
finished download the same way, so the authors it files a book under are the ones Audiobookshelf shows.
"""

from __future__ import annotations

import re
from functools import lru_cache

_SUFFIXES = frozenset(
    {"esq", "esquire", "jr", "jnr", "sr", "snr", "2", "ii", "iii", "iv", "md", "phd"}
    | {"j.d.", "ll.m.", "m.d.", "d.o.", "d.c.", "p.c.", "ph.d."}
)
_TITLES = frozenset(
    {"dr", "miss", "mr", "mrs", "ms", "prof", "sir", "frau", "herr", "hr", "monsieur", "captain"}
    | {"doctor", "judge", "officer", "professor", "ind", "misc", "mx"}
)
_PARTICLES = frozenset(
    {
        "ab",
        "bar",
        "bin",
        "da",
        "dal",
        "de",
        "de la",
        "del",
        "della",
        "der",
        "di",
        "du",
        "ibn",
        "l'",
        "la",
        "le",
    }
    | {"san", "st", "st.", "ste", "ter", "van", "van de", "van der", "van den", "vel", "ver", "vere", "von"}
)
_CONJUNCTIONS = frozenset({"&", "and", "et", "e", "of", "the", "und", "y"})
_KEEP_CASE = {
    word.lower(): word
    for word in (
        *(
            "e",
            "y",
            "av",
            "af",
            "da",
            "dal",
            "de",
            "del",
            "der",
            "di",
            "la",
            "le",
            "van",
            "den",
            "vel",
            "von",
        ),
        *("II", "III", "IV", "J.D.", "LL.M.", "M.D.", "D.O.", "D.C.", "Ph.D."),
    )
}
_NICKNAME = re.compile(r"\s(?:[‘’']([^‘’']+)[‘’']|[“”\"]([^“”\"]+)[“”\"]|\[([^\]]+)\]|\(([^)]+)\)),?\s")
_CJK = re.compile(r"[\u4e00-\u9fff\u3040-\u30ff\u31f0-\u31ff]")


def _bare(word: str) -> str:
    return (word[:-1] if word.endswith(".") else word).lower()


def _fix_case(text: str) -> str:
    words = []
    for word in text.split(" "):
        kept = _KEEP_CASE.get(word.lower())
        if kept is not None:
            words.append(kept)
        elif len(word) == 1:
            words.append(word.upper())
        else:
            words.append(word[:1].upper() + word[1:].lower())
    return " ".join(words)


def _person(text: str) -> tuple[str, str]:
    """(first and middle names, last name) of one person; either may be empty."""
    text = text.strip()
    if not text:
        return "", ""
    fix = text in (text.upper(), text.lower())
    padded = f" {text} "
    nicknames = _NICKNAME.findall(padded)
    for match in _NICKNAME.finditer(padded):
        text = padded.replace(match.group(0), " ").strip()
        padded = f" {text} "
    if nicknames and not text.strip():
        return "", ""
    parts, commas = [], [False]
    for word in text.split(" "):
        comma = word.endswith(",")
        parts.append(word[:-1] if comma else word)
        commas.append(comma)
    for index in range(len(parts) - 1, 0, -1):  # suffixes, never the first word
        if _bare(parts[index]) in _SUFFIXES or _bare(parts[index]) + "." in _SUFFIXES:
            del parts[index]
            del commas[index + 1 if commas[index] else index]
    for index in range(len(parts) - 1, -1, -1):  # titles
        if _bare(parts[index]) in _TITLES:
            del parts[index]
            del commas[index + 1 if commas[index] else index]
    if not parts:
        return "", ""
    for index in range(len(parts) - 2, -1, -1):  # "Le Guin", "van der Berg"
        if parts[index].lower() in _PARTICLES:
            parts[index : index + 2] = [f"{parts[index]} {parts[index + 1]}"]
            del commas[index + 1]
    index = len(parts) - 3
    while index >= 0:  # "Mary and Tom" stays one name part
        if parts[index + 1].lower() in _CONJUNCTIONS:
            parts[index : index + 3] = [" ".join(parts[index : index + 3])]
            del commas[index + 1 : index + 3]
            index -= 1
        index -= 1
    commas.pop()
    first_comma = commas.index(True) if True in commas else -1
    remaining = sum(commas)
    if first_comma > 1 or remaining > 1:  # words after a later comma are suffixes
        for index in range(len(parts) - 1, 1, -1):
            if not commas[index]:
                break
            del parts[index]
            del commas[index]
            remaining -= 1
    if remaining > 0:
        cut = commas.index(True)
        last = " ".join(parts[:cut]) if cut else ""
        parts = parts[cut:]
    else:
        last = parts.pop()
    first = " ".join(parts)
    if fix:
        first, last = _fix_case(first), _fix_case(last)
    return first, last


def _is_last_name(text: str) -> bool:
    """`Sanderson` (one word) or `von Mises` (no first name): the start of `Last, First`."""
    if " " not in text:
        return True
    return not _person(text)[0]


@lru_cache(maxsize=4096)
def parse_names(text: str | None) -> tuple[str, ...]:
    """The people named in `text`, each as `First Middle Last`, without repeats."""
    if not text or not text.strip():
        return ()
    commas = "," in text
    if "&" in text:
        pieces = [p for chunk in text.split("&") for p in chunk.split(",")]
    elif " and " in text:
        pieces = [p for chunk in text.split(" and ") for p in chunk.split(",")]
    elif ";" in text:
        pieces = [p for chunk in text.split(";") for p in chunk.split(",")]
    else:
        pieces = text.split(",")
    pieces = [p.strip() for p in pieces]
    if _CJK.search(pieces[0]):
        return tuple(dict.fromkeys(p for p in pieces if p))
    people: list[tuple[str, str]] = []
    if len(pieces) == 1:
        people.append(_person(text))
    else:
        last_first = commas and _is_last_name(pieces[0])
        if last_first:
            if len(pieces) % 2:
                pieces = pieces[:-1]
            people.extend((pieces[i + 1], pieces[i]) for i in range(0, len(pieces), 2))
        else:
            people.extend(_person(piece) for piece in pieces)
    names = [f"{first} {last}" if first else last for first, last in people if first or last]
    return tuple(dict.fromkeys(names))
