"""Does a release hold the wanted book? The forms titles, authors and positions are written in."""

from __future__ import annotations

import pytest

from mamd.domain.matching import Want, match, strip_series_prefix, title_forms
from mamd.domain.release import Release, SeriesTag


def release(title: str, *authors: str, series: tuple[SeriesTag, ...] = (), main_cat: int = 13) -> Release:
    return Release(id=1, title=title, authors=authors, series=series, main_cat=main_cat)


def holds(want: Want, found: Release) -> bool:
    return match(want, found).ok


@pytest.mark.parametrize(
    ("wanted", "written"),
    [
        ("The Tombs of Atuan", "Tombs of Atuan"),
        ("Ender's Game", "Ender’s Game"),
        ("Pride & Prejudice", "Pride and Prejudice"),
        ("Les Misérables", "Les Miserables"),
        ("The Hero of Ages", "The Hero of Ages (Unabridged)"),
        ("The Hero of Ages", "Mistborn 3 - The Hero of Ages"),
        ("Dune Book II", "Dune Book 2"),
        ("Artemis", "Artemis: A Novel"),
        ("Sapiens", "Sapiens: A Brief History of Humankind"),
        ("Words of Radiance", "Words of Radiance: Book Two of the Stormlight Archive"),
        ("Catch-22", "Catch 22"),
    ],
)
def test_a_title_in_another_form_is_the_same_title(wanted: str, written: str) -> None:
    assert holds(Want(wanted, ("Some Author",)), release(written, "Some Author"))


@pytest.mark.parametrize(
    ("wanted", "written"),
    [
        ("Dune", "Dune Messiah"),
        ("Artemis: A Novel", "The Martian: A Novel"),
        ("Mistborn: Book 1", "Mistborn: Book 2"),
        ("Mistborn: Book 1", "Skyward: Book 1"),
        ("Mistborn: The Final Empire", "Mistborn: The Well of Ascension"),
        ("The Expanse Book 1", "The Expanse Book 11"),
        ("Leviathan Wakes", "Leviathan Falls"),
    ],
)
def test_a_different_book_by_the_same_author_is_not_the_book(wanted: str, written: str) -> None:
    assert not holds(Want(wanted, ("Some Author",)), release(written, "Some Author"))


@pytest.mark.parametrize(
    ("wanted", "written"),
    [
        ("J.J. Abrams", "JJ Abrams"),
        ("J. J. Abrams", "J.J. Abrams"),
        ("Sanderson, Brandon", "Brandon Sanderson"),
        ("J. R. R. Tolkien", "John Ronald Reuel Tolkien"),
        ("Ursula K. Le Guin", "Ursula Le Guin"),
        ("Stanisław Lem", "Stanislaw Lem"),
    ],
)
def test_the_same_author_written_differently(wanted: str, written: str) -> None:
    assert holds(Want("A Title", (wanted,)), release("A Title", written))


def test_one_of_several_authors_is_enough() -> None:
    want = Want("Good Omens", ("Neil Gaiman",))
    assert holds(want, release("Good Omens", "Terry Pratchett", "Neil Gaiman"))
    assert holds(Want("Good Omens", ("Terry Pratchett & Neil Gaiman",)), release("Good Omens", "Neil Gaiman"))


def test_the_same_title_by_another_author_is_another_book() -> None:
    found = match(Want("Legacy", ("James Ponti",)), release("Legacy", "Cayla Kluver"))
    assert not found.ok
    assert "not James Ponti" in found.reasons[-1]


def test_a_release_without_an_author_is_never_a_match() -> None:
    assert not holds(Want("Legacy", ("James Ponti",)), release("Legacy"))


@pytest.mark.parametrize("number", ["3", "03", "#3", "Book 3", "3.0", "III"])
def test_a_series_position_in_any_form(number: str) -> None:
    want = Want(None, ("Brandon Sanderson",), "Mistborn", "3")
    found = match(
        want, release("The Hero of Ages", "Brandon Sanderson", series=(SeriesTag("Mistborn", number),))
    )
    assert found.ok
    assert not found.bundle


def test_book_1_is_not_book_11() -> None:
    want = Want(None, ("James S. A. Corey",), "The Expanse", "1")
    found = match(
        want, release("Tiamat's Wrath", "James S. A. Corey", series=(SeriesTag("The Expanse", "11"),))
    )
    assert not found.ok
    assert "not #1" in found.reasons[-1]


def test_a_range_of_positions_is_a_bundle() -> None:
    want = Want(None, ("Kerrelyn Sparks",), "Love at Stake", "13.5")
    found = match(
        want,
        release(
            "Love at Stake Collection", "Kerrelyn Sparks", series=(SeriesTag("Love at Stake", "01-16, 13.5"),)
        ),
    )
    assert found.ok
    assert found.bundle


def test_an_omnibus_by_title_is_a_bundle() -> None:
    want = Want("The Final Empire", ("Brandon Sanderson",))
    found = match(want, release("The Final Empire - Mistborn Trilogy Omnibus", "Brandon Sanderson"))
    assert found.ok
    assert found.bundle


def test_the_same_series_name_by_another_author_is_not_the_series() -> None:
    want = Want(None, ("Mark Lawrence",), "The Broken Empire", "1")
    found = release("Prince of Thorns", "Someone Else", series=(SeriesTag("The Broken Empire", "1"),))
    assert not holds(want, found)


def test_a_position_only_want_needs_the_series_on_the_release() -> None:
    want = Want(None, ("Brandon Sanderson",), "Mistborn", "3")
    found = match(want, release("The Hero of Ages", "Brandon Sanderson"))
    assert not found.ok
    assert "cannot be told" in found.reasons[-1]


def test_ebooks_and_dramatisations_are_not_the_audiobook() -> None:
    want = Want("Dune", ("Frank Herbert",))
    assert not holds(want, release("Dune", "Frank Herbert", main_cat=14))
    assert not holds(want, release("Dune (BBC Radio Full-Cast Dramatisation)", "Frank Herbert"))
    assert holds(want, release("Dune", "Frank Herbert"))


def test_the_series_prefix_is_stripped_only_when_something_is_left() -> None:
    assert strip_series_prefix("Mistborn, Book 3 - The Hero of Ages", ["Mistborn"]) == "The Hero of Ages"
    assert strip_series_prefix("Mistborn 3: The Hero of Ages", ["Mistborn"]) == "The Hero of Ages"
    assert strip_series_prefix("Mistborn", ["Mistborn"]) == "Mistborn"


def test_a_series_name_before_the_colon_is_not_a_title() -> None:
    forms = title_forms("Mistborn: Book 1", ("Mistborn",))
    assert "mistborn" not in forms.whole | forms.main
    assert "mistborn" in forms.named  # it says which book only with the series position


def test_a_surname_with_a_particle_written_last_name_first() -> None:
    assert holds(
        Want("A Wizard of Earthsea", ("Le Guin, Ursula K.",)),
        release("A Wizard of Earthsea", "Ursula K. Le Guin"),
    )


@pytest.mark.parametrize(
    ("wanted", "written"),
    [
        ("Sir Arthur Conan Doyle", "Arthur Conan Doyle"),
        ("Ursula K. LeGuin", "Ursula K. Le Guin"),
        ("Liu Cixin", "Cixin Liu"),
    ],
)
def test_honorifics_joined_surnames_and_name_order(wanted: str, written: str) -> None:
    assert holds(Want("A Title", (wanted,)), release("A Title", written))


def test_a_transliterated_surname_needs_the_exact_title() -> None:
    want = Want("Crime and Punishment", ("Fyodor Dostoevsky",))
    assert holds(want, release("Crime and Punishment", "Fyodor Dostoyevsky"))
    assert not holds(want, release("Crime & Punishmnt", "Fyodor Dostoyevsky"))
    assert not holds(want, release("Crime and Punishment", "Fyodor Dostoyevskaya Smith"))


@pytest.mark.parametrize(
    "title",
    [
        "The Da Vinci Code [Abridged]",
        "The Da Vinci Code: Abridged",
        "The Da Vinci Code - Abridged",
        "The Da Vinci Code (Abridged Edition)",
    ],
)
def test_abridged_anywhere_in_the_title(title: str) -> None:
    assert Release(id=1, title=title).abridged
    assert not Release(id=1, title="The Da Vinci Code (Unabridged)").abridged


@pytest.mark.parametrize(
    ("title", "dramatised"),
    [
        ("Pride and Prejudice (Radio Drama)", True),
        ("Dracula: An Audible Original Drama", True),
        ("The Hobbit - BBC Radio Full-Cast Dramatisation", True),
        ("Radio Silence", False),
        ("The Drama of the Gifted Child", False),
    ],
)
def test_productions_are_told_by_their_labels(title: str, dramatised: bool) -> None:
    assert Release(id=1, title=title).dramatized is dramatised


def test_a_series_label_in_the_title_stands_in_for_missing_series_info() -> None:
    want = Want(None, ("Pierce Brown",), "Red Rising Saga", "2")
    assert holds(want, release("Golden Son (Red Rising Saga, Book 2)", "Pierce Brown"))
    assert not holds(want, release("Morning Star (Red Rising Saga, Book 3)", "Pierce Brown"))


def test_trilogy_in_a_series_label_is_not_a_bundle() -> None:
    want = Want("Assassin's Apprentice", ("Robin Hobb",))
    found = match(want, release("Assassin's Apprentice (The Farseer Trilogy, Book 1)", "Robin Hobb"))
    assert found.ok
    assert not found.bundle
    trilogy = match(want, release("The Farseer Trilogy: Assassin's Apprentice", "Robin Hobb"))
    assert not trilogy.ok or trilogy.bundle


def test_a_numbered_subtitle_is_another_book() -> None:
    want = Want("Sapiens", ("Yuval Noah Harari",))
    assert not holds(want, release("Sapiens: A Graphic History, Volume 1 - The Birth", "Yuval Noah Harari"))
    assert holds(want, release("Sapiens: A Brief History of Humankind", "Yuval Noah Harari"))


def test_a_book_titled_like_its_series_needs_the_position() -> None:
    want = Want("Dungeon Crawler Carl", ("Matt Dinniman",), "Dungeon Crawler Carl", "1")
    series = (SeriesTag("Dungeon Crawler Carl", "1"),)
    assert holds(
        want, release("Dungeon Crawler Carl: Dungeon Crawler Carl, Book 1", "Matt Dinniman", series=series)
    )
    other = (SeriesTag("Dungeon Crawler Carl", "2"),)
    assert not holds(
        want, release("Dungeon Crawler Carl: Carl's Doomsday Scenario", "Matt Dinniman", series=other)
    )
