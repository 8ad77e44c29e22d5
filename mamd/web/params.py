"""Whole numbers in requests: one parser for ids, limits, cursors and hook fields.

`str.isdigit()` accepts "¹" and "٣", which `int()` then refuses or reads as another digit, and
`int()` accepts any length, while SQLite stores at most a signed 64-bit integer (a larger one
raises `OverflowError` at the query). Only ASCII digits within SQLite's range pass here.
"""

from __future__ import annotations

import re

from mamd.web.errors import fail

SQLITE_MAX = 2**63 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")  # `[0-9]`, not `\d`: `\d` matches every Unicode digit


def parse_whole(text: str, low: int = 0, high: int = SQLITE_MAX) -> int | None:
    """`text` as a whole number from `low` to `high`, or None."""
    stripped = text.strip(" \t")
    if not _ASCII_DIGITS.fullmatch(stripped):
        return None
    number = int(stripped)
    return number if low <= number <= high else None


def whole_number(text: str, name: str, low: int = 0, high: int = SQLITE_MAX) -> int:
    """`text` as a whole number from `low` to `high`; a 400 naming `name` otherwise."""
    number = parse_whole(text, low, high)
    if number is None:
        fail(400, f"{name} must be a whole number from {low} to {high}")
    return number
