"""Series positions as people and servers write them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mamd.domain.sequence import format_position, parse_sequence


@pytest.mark.parametrize(
    ("text", "values", "several"),
    [
        ("1", ["1"], False),
        ("01", ["1"], False),
        ("Book 3", ["3"], False),
        ("book3", ["3"], False),
        ("#3", ["3"], False),
        ("# 4", ["4"], False),
        ("Vol. 7", ["7"], False),
        ("Volume 12", ["12"], False),
        ("Part II", ["2"], False),
        ("III", ["3"], False),
        ("IV", ["4"], False),
        ("0", ["0"], False),
        ("2.5", ["2.5"], False),
        ("10.5", ["10.5"], False),
        ("Book Three", ["3"], False),
        ("1-3", ["1", "2", "3"], True),
        ("1 – 3", ["1", "2", "3"], True),
        ("1 to 3", ["1", "2", "3"], True),
        ("2.5-4", ["2.5", "3", "4"], True),
        ("1, 2", ["1", "2"], True),
        ("1 & 2", ["1", "2"], True),
        ("IV-VI", ["4", "5", "6"], True),
        ("01-16, 13.5", [*map(str, range(1, 17)), "13.5"], True),
    ],
)
def test_a_readable_position_gives_its_numbers(text: str, values: list[str], several: bool) -> None:
    position = parse_sequence(text)
    assert position is not None
    assert sorted(position.values) == sorted(Decimal(v) for v in values)
    assert position.several is several
    assert (position.single is None) is several


@pytest.mark.parametrize(
    "text", [None, "", "   ", "Book", "#", "3a", "abc", "1-1000", "3-1", "1-", "½", "-2"]
)
def test_an_unreadable_or_empty_position_is_unknown(text: str | None) -> None:
    assert parse_sequence(text) is None


@pytest.mark.parametrize(
    ("value", "text"), [("3", "3"), ("2.50", "2.5"), ("10", "10"), ("1E+1", "10"), ("0.0", "0")]
)
def test_positions_print_without_trailing_zeros(value: str, text: str) -> None:
    assert format_position(Decimal(value)) == text
