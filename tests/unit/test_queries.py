"""What mamd types into MAM's search for a wanted book, in which order, and how many."""

from __future__ import annotations

import pytest

from mamd.domain.queries import (
    AUTHOR_PAGES,
    TITLE_PAGES,
    Query,
    author_queries,
    spellings,
    title_queries,
    words,
)


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("Mistborn: The Hero of Ages", "Mistborn The Hero of Ages"),
        ('"Salem\'s Lot"', "Salem's Lot"),
        ("11/22/63", "11/22/63"),
        ("Pride & Prejudice", "Pride & Prejudice"),
        ("Are You There, God? It's Me, Margaret.", "Are You There God It's Me Margaret"),
        ("  Les   Misérables ", "Les Misérables"),
        ("J.R.R. Tolkien", "J.R.R Tolkien"),
    ],
)
def test_words_lose_only_the_punctuation_around_them(written: str, sent: str) -> None:
    assert words(written) == sent


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dune Frank Herbert", ["Dune Frank Herbert"]),
        ("Les Misérables Victor Hugo", ["Les Misérables Victor Hugo", "Les Miserables Victor Hugo"]),
        (
            "Pride and Prejudice Jane Austen",
            ["Pride and Prejudice Jane Austen", "Pride & Prejudice Jane Austen"],
        ),
        (
            "Pride & Prejudice Jane Austen",
            ["Pride & Prejudice Jane Austen", "Pride and Prejudice Jane Austen"],
        ),
        ("11/22/63 Stephen King", ["11/22/63 Stephen King", "11 22 63 Stephen King", "112263 Stephen King"]),
        (
            "Ender's Game Orson Scott Card",
            [
                "Ender's Game Orson Scott Card",
                "Ender’s Game Orson Scott Card",
                "Ender s Game Orson Scott Card",
                "Enders Game Orson Scott Card",
            ],
        ),
    ],
)
def test_each_other_spelling_once(text: str, expected: list[str]) -> None:
    assert spellings(text) == expected


def test_accents_combine_with_the_other_spellings() -> None:
    found = spellings("Crónica's End & Beginning Orson Scott Card")
    assert found[0] == "Crónica's End & Beginning Orson Scott Card"
    assert "Cronica's End and Beginning Orson Scott Card" in found
    assert "Cronicas End & Beginning Orson Scott Card" in found
    assert len(found) == len(set(found)) == 10


def test_the_cascade_for_a_titled_book_in_a_series() -> None:
    planned = title_queries("Pride and Prejudice", "Jane Austen", "Bennet Family", "1")
    assert planned == [
        Query("Pride and Prejudice Jane Austen", ("title", "author"), TITLE_PAGES),
        Query("Pride and Prejudice", ("title",), TITLE_PAGES),
        Query("Bennet Family Jane Austen", ("series", "author"), TITLE_PAGES, kind="series"),
        Query("Pride & Prejudice Jane Austen", ("title", "author"), TITLE_PAGES, kind="spelling"),
    ]


def test_a_book_wanted_only_by_its_place_in_a_series() -> None:
    assert title_queries(None, "Brandon Sanderson", "Mistborn", "3") == [
        Query("Mistborn Brandon Sanderson", ("series", "author"), TITLE_PAGES, kind="series")
    ]


def test_the_authors_books_newest_first_then_the_surname() -> None:
    assert author_queries("Ursula K. Le Guin") == [
        Query("Ursula K Le Guin", ("author",), AUTHOR_PAGES, "dateDesc", "author"),
        Query("Guin", ("author",), AUTHOR_PAGES, "dateDesc", "author"),
    ]
    assert [q.text for q in author_queries("Tolkien, J.R.R.")] == ["Tolkien J.R.R", "Tolkien"]
    assert [q.text for q in author_queries("Plato")] == ["Plato"]
    assert author_queries("") == []
