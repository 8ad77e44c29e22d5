"""A book's position in its series, read from what people and servers write there.

`"1"`, `"01"`, `"Book 3"`, `"#3"`, `"III"`, `"2.5"`, `"0"` are one position each;
`"1-3"` and `"1, 2"` are several (a bundle); `""` and anything unreadable are unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from mamd.domain.normalize import roman_to_int

MAX_RANGE = 100  # "1-1000" is not a bundle anyone owns; treat it as unreadable

_PREFIX = re.compile(
    r"^\s*(?:(?:book|bk|vol(?:ume)?|part|pt|no|number|episode|ep|tome|novella)\.?\s*|#\s*)", re.IGNORECASE
)
_RANGE = re.compile(r"^(.+?)\s*(?:-|–|—|\bto\b|\bthru\b|\bthrough\b)\s*(.+)$", re.IGNORECASE)
_LIST = re.compile(r"\s*(?:,|&|\band\b|;|\+)\s*", re.IGNORECASE)
_WORDS = {
    word: index
    for index, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}


@dataclass(frozen=True)
class Position:
    values: tuple[Decimal, ...]  # ascending, without repeats
    several: bool  # a range or a list: the item holds more than one book

    @property
    def single(self) -> Decimal | None:
        return self.values[0] if len(self.values) == 1 and not self.several else None

    def __str__(self) -> str:
        return ", ".join(format_position(v) for v in self.values)


def format_position(value: Decimal) -> str:
    """`Decimal("3")` → `"3"`, `Decimal("2.50")` → `"2.5"`."""
    text = format(value.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".")


def _number(token: str) -> Decimal | None:
    token = _PREFIX.sub("", token.strip()).strip().rstrip(".")
    if not token:
        return None
    lowered = token.lower()
    if lowered in _WORDS:
        return Decimal(_WORDS[lowered])
    roman = roman_to_int(lowered)
    if roman is not None and roman > 0:
        return Decimal(roman)
    if not re.fullmatch(r"\d+(?:\.\d+)?", token):
        return None
    try:
        return Decimal(token)
    except InvalidOperation:
        return None


@lru_cache(maxsize=4096)
def parse_sequence(text: str | None) -> Position | None:
    """Read a series position; None when there is none or it cannot be read with confidence."""
    if text is None:
        return None
    text = _PREFIX.sub("", text.strip())
    if not text:
        return None
    values: set[Decimal] = set()
    parts = [p for p in _LIST.split(text) if p.strip()]
    several = len(parts) > 1
    for part in parts:
        span = _RANGE.match(part.strip())
        if span:
            low, high = _number(span.group(1)), _number(span.group(2))
            if low is None or high is None or high <= low or high - low > MAX_RANGE:
                return None
            values.update({low, high})
            values.update(Decimal(n) for n in range(int(low) + 1, int(high) + (0 if high % 1 == 0 else 1)))
            several = True
            continue
        value = _number(part)
        if value is None:
            return None
        values.add(value)
    return Position(tuple(sorted(values)), several or len(values) > 1)
