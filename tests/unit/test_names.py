"""Strings of people's names split and written as Audiobookshelf writes them (its `parseNameString`)."""

from __future__ import annotations

import pytest

from mamd.domain.names import parse_names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Michael Kramer, Kate Reading", ("Michael Kramer", "Kate Reading")),
        ("Sanderson, Brandon", ("Brandon Sanderson",)),
        ("Friedman, Milton & Friedman, Rose", ("Milton Friedman", "Rose Friedman")),
        ("Terry Pratchett & Neil Gaiman", ("Terry Pratchett", "Neil Gaiman")),
        ("Terry Pratchett and Neil Gaiman", ("Terry Pratchett", "Neil Gaiman")),
        ("Smith; James Jones", ("Smith", "James Jones")),
        ("Ursula K. Le Guin", ("Ursula K. Le Guin",)),
        ("Le Guin, Ursula K.", ("Ursula K. Le Guin",)),
        ("James S. A. Corey", ("James S. A. Corey",)),
        ("brandon sanderson", ("Brandon Sanderson",)),  # one case throughout: capitalised
        ("Dr. John Smith Jr.", ("John Smith",)),  # titles and suffixes dropped
        ("Stanisław Lem", ("Stanisław Lem",)),
        ("R. C. Bray", ("R. C. Bray",)),
        ("Kate Reading, Kate Reading", ("Kate Reading",)),  # no repeats
        ("刘慈欣, 刘宇昆", ("刘慈欣", "刘宇昆")),  # CJK names as they are
        ("", ()),
        ("   ", ()),
    ],
)
def test_names_are_split_and_written_as_audiobookshelf_does(text: str, names: tuple[str, ...]) -> None:
    assert parse_names(text) == names
