"""Book metadata guessed from torrent names, for completions mamd did not grab itself."""

from __future__ import annotations

import pytest

from mamd.domain.torrent_name import meta_from_name


@pytest.mark.parametrize(
    ("name", "title", "authors", "series", "position"),
    [
        ("Brandon Sanderson - The Hero of Ages", "The Hero of Ages", ("Brandon Sanderson",), None, None),
        (
            "Brandon Sanderson - Mistborn 03 - The Hero of Ages (2008) [m4b]",
            "The Hero of Ages",
            ("Brandon Sanderson",),
            "Mistborn",
            "3",
        ),
        (
            "Brandon Sanderson - [Mistborn #3] - The Hero of Ages {Michael Kramer}",
            "The Hero of Ages",
            ("Brandon Sanderson",),
            "Mistborn",
            "3",
        ),
        (
            "Brandon Sanderson - The Hero of Ages (Mistborn Book 3)",
            "The Hero of Ages",
            ("Brandon Sanderson",),
            "Mistborn",
            "3",
        ),
        (
            "Terry Pratchett - Discworld, Book 4 - Mort (Unabridged)",
            "Mort",
            ("Terry Pratchett",),
            "Discworld",
            "4",
        ),
        ("The Hero of Ages by Brandon Sanderson", "The Hero of Ages", ("Brandon Sanderson",), None, None),
        ("Author_Name_-_Title_Here", "Title Here", ("Author Name",), None, None),
        ("Just A Title", "Just A Title", (), None, None),
        ("Some Author - Series Name Vol. 2.5 - Novella", "Novella", ("Some Author",), "Series Name", "2.5"),
    ],
)
def test_common_torrent_names_are_read(
    name: str, title: str, authors: tuple[str, ...], series: str | None, position: str | None
) -> None:
    book = meta_from_name(name)
    assert (book.title, book.authors, book.series, book.position) == (title, authors, series, position)
    assert book.source == "torrent_name"


def test_year_and_narrator_are_taken_from_their_brackets() -> None:
    book = meta_from_name("Brandon Sanderson - Elantris (2005) {Jack Garrett}")
    assert (book.title, book.year, book.narrators) == ("Elantris", "2005", ("Jack Garrett",))


@pytest.mark.parametrize("name", ["", "   ", "[m4b]", "-", "((("])
def test_a_name_with_nothing_to_read_still_gives_a_title(name: str) -> None:
    assert meta_from_name(name).title
