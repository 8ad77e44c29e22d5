"""Book metadata guessed from torrent names, for completions mamd did not grab itself."""

from __future__ import annotations

import pytest

from mamd.domain.discovery import WantSpec, series_want_key
from mamd.domain.torrent_name import identify, meta_from_name


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


TEMERAIRE_2 = WantSpec(series_want_key("Temeraire", "2"), "series_gap", "Naomi Novik", None, "Temeraire", "2")
THE_STAND_2 = WantSpec("k", "manual", "Stephen King", "The Stand: Part Two")


@pytest.mark.parametrize(
    ("name", "title", "authors", "series", "position"),
    [
        ("Temeraire 2 - Throne of Jade", "Throne of Jade", ("Naomi Novik",), "Temeraire", "2"),
        ("Temeraire #02 - Throne of Jade (2006)", "Throne of Jade", ("Naomi Novik",), "Temeraire", "2"),
        ("Naomi Novik - Temeraire 2 - Throne of Jade", "Throne of Jade", ("Naomi Novik",), "Temeraire", "2"),
        ("Stephen King - The Stand Part Two", "The Stand: Part Two", ("Stephen King",), None, None),
        ("Brandon Sanderson - Elantris", "Elantris", ("Brandon Sanderson",), None, None),  # a known author
    ],
)
def test_a_name_is_read_when_a_wanted_book_or_a_known_author_confirms_it(
    name: str, title: str, authors: tuple[str, ...], series: str | None, position: str | None
) -> None:
    book = identify(name, [TEMERAIRE_2, THE_STAND_2], ["Brandon Sanderson"])
    assert book is not None
    assert (book.title, book.authors, book.series, book.position) == (title, authors, series, position)


@pytest.mark.parametrize(
    "name",
    [
        "Temeraire 3 - Black Powder War",  # another position than the one wanted
        "Temeraire 20 - Something",
        "Throne of Jade",  # names neither the series nor a wanted title
        "Some Writer - Some Book",  # an author nothing knows
        "Bogus Saga 4 - The Nameless",
    ],
)
def test_a_name_nothing_confirms_is_unsure(name: str) -> None:
    assert identify(name, [TEMERAIRE_2, THE_STAND_2], ["Brandon Sanderson"]) is None
