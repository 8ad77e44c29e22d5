"""One part of a book sold in parts: a split edition is never the whole book, nor the whole book a part.

Publishers and uploaders split long books: `A Storm of Swords: Part 1 Steel and Snow`,
`The Stand (1 of 2)`, `Shantaram: Book One of Two`, `Anna Karenina Pt. 2`, `War and Peace,
Volume 1 of 2`, `Disc 3 of 12`. A label says which part and, sometimes, of how many; the text
before it names the book the part belongs to (the base), and text after it may name the part
itself (`Steel and Snow`; in `The Lord of the Rings, Part One: The Fellowship of the Ring` the
part is a book of its own). An excerpt or a sample holds part of a book without a number.

A number needs `of N` after `Book`, `Volume` or `Disc` (`Book Two of the Stormlight Archive`
labels a series), and `Part`, `Pt` take no `of` unless a number follows (`Part 2 of The Lord of
the Rings` names the series). `Part of Your World` has no number, so it is a title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
_NUMBER = r"(\d{1,3}|[ivx]{1,5}|" + "|".join(_WORDS) + r")"
_OF = rf"\s*(?:of|/)\s*{_NUMBER}\b"
_LABELS = (
    # `Part 1`, `Part One`, `Pt. 2`, `Part II`, `Part 1 of 3`, `Part 1/2`; never `Part 2 of the Saga`
    re.compile(rf"\b(?:part|pt\.?)\s*{_NUMBER}\b(?:{_OF}|(?!\s+of\b))", re.IGNORECASE),
    # `(1 of 3)`, `[2 of 2]`, `(1/2)`
    re.compile(rf"[\(\[]\s*{_NUMBER}{_OF}\s*[\)\]]", re.IGNORECASE),
    # `Book One of Two`, `Volume 1 of 2`, `Disc 3 of 12`
    re.compile(rf"\b(?:book|bk\.?|volume|vol\.?|dis[ck]|cd)\s*{_NUMBER}{_OF}", re.IGNORECASE),
)
_EXCERPT = re.compile(
    r"[\(\[]\s*(?:an?\s+)?(excerpt|sample|sampler|preview)\s*[\)\]]|[:\-–—]\s*(excerpt|sample|preview)\s*$",
    re.IGNORECASE,
)
_EDGES = " \t,:;-–—(["
_NOTES = re.compile(r"[\(\[][^\(\)\[\]]*[\)\]]")


@dataclass(frozen=True)
class Part:
    """Which part a title names: `number` of `total` (when said); None for an excerpt or a sample."""

    number: int | None
    total: int | None
    base: str  # the book it is a part of: the title before the label
    name: str  # the part's own name after the label, or ""
    label: str  # as written, for reasons

    def same_part(self, other: Part) -> bool:
        if self.number is None or other.number is None or self.number != other.number:
            return False
        return self.total is None or other.total is None or self.total == other.total

    @property
    def shown(self) -> str:
        if self.number is None:
            return self.label
        return f"part {self.number}" + (f" of {self.total}" if self.total else "")


def _value(token: str) -> int:
    token = token.lower().rstrip(".")
    if token.isdigit():
        return int(token)
    if token in _WORDS:
        return _WORDS.index(token) + 1
    total, previous = 0, 0
    for letter in reversed(token):
        value = {"i": 1, "v": 5, "x": 10}[letter]
        total = total - value if value < previous else total + value
        previous = max(previous, value)
    return total


def _in_series_label(title: str, start: int) -> bool:
    """`(The Lord of the Rings, Book 1 of 3)`: a series and its books in brackets, not a part."""
    opened = max(title.rfind("(", 0, start), title.rfind("[", 0, start))
    if opened < 0 or max(title.rfind(")", 0, start), title.rfind("]", 0, start)) > opened:
        return False
    return any(c.isalpha() for c in title[opened + 1 : start])


@lru_cache(maxsize=65536)
def part_of(title: str) -> Part | None:
    """The part of a book a title names, or None when it names a whole book."""
    excerpt = _EXCERPT.search(title)
    if excerpt:
        base = title[: excerpt.start()].strip(_EDGES)
        return Part(None, None, base, "", (excerpt.group(1) or excerpt.group(2)).lower())
    for pattern in _LABELS:
        found = pattern.search(title)
        if found is None:
            continue
        number = _value(found.group(1))
        total = _value(found.group(2)) if found.group(2) else None
        if number < 1 or (total is not None and not (1 < total < 100 and number <= total)):
            continue
        if _in_series_label(title, found.start()):
            continue
        base = title[: found.start()].strip(_EDGES)
        name = _NOTES.sub(" ", title[found.end() :]).strip(_EDGES + ")]").strip()
        return Part(number, total, base, name, found.group(0).strip("()[] "))
    return None
