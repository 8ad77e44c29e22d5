"""Does a release hold the wanted book? The forms titles, authors and positions are written in."""

from __future__ import annotations

import pytest

from mamd.domain.credits import people
from mamd.domain.matching import Want, match, release_titles, strip_series_prefix, title_forms
from mamd.domain.parts import part_of
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


def test_an_ebook_is_not_the_audiobook_and_a_dramatisation_is_said_to_be_one() -> None:
    want = Want("Dune", ("Frank Herbert",))
    assert not holds(want, release("Dune", "Frank Herbert", main_cat=14))
    production = match(want, release("Dune (BBC Radio Full-Cast Dramatisation)", "Frank Herbert"))
    assert production.ok  # the book; whether a production may stand in for a reading is for the rules
    assert production.dramatised
    assert "dramatised" in " ".join(production.reasons)
    reading = match(want, release("Dune", "Frank Herbert"))
    assert reading.ok
    assert not reading.dramatised


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


# -- split editions ---------------------------------------------------------------------------

PART_SPELLINGS = [
    ("{t}: Part One", 1, None),
    ("{t}: Part 1", 1, None),
    ("{t}, Part I", 1, None),
    ("{t} Part II", 2, None),
    ("{t} - Part Two", 2, None),
    ("{t} Pt. 2", 2, None),
    ("{t} Pt 1", 1, None),
    ("{t} (1 of 3)", 1, 3),
    ("{t} [2 of 2]", 2, 2),
    ("{t} (Part 1 of 5)", 1, 5),
    ("{t} - Part 1/2", 1, 2),
    ("{t} (1/2)", 1, 2),
    ("{t}: Book One of Two", 1, 2),
    ("{t} (Book Two of Two)", 2, 2),
    ("{t}, Volume 1 of 2", 1, 2),
    ("{t}, Vol. 2 of 3", 2, 3),
    ("{t} - Disc 3 of 12", 3, 12),
    ("{t}: Part 1 Steel and Snow", 1, None),
    ("{t}: Part Two: The Return", 2, None),
    ("{t} (1 of 3) [Dramatized Adaptation]", 1, 3),
]


@pytest.mark.parametrize(("spelling", "number", "total"), PART_SPELLINGS)
def test_every_part_spelling_is_read(spelling: str, number: int, total: int | None) -> None:
    found = part_of(spelling.format(t="The Stand"))
    assert found is not None
    assert (found.number, found.total, found.base) == (number, total, "The Stand")


@pytest.mark.parametrize(("spelling", "number", "total"), PART_SPELLINGS)
def test_a_wanted_whole_book_is_never_one_of_its_parts(spelling: str, number: int, total: int | None) -> None:
    title = spelling.format(t="The Stand")
    series = (SeriesTag("The Stand", "1"),)
    for want in (
        Want("The Stand", ("Stephen King",)),
        Want("The Stand", ("Stephen King",), "The Stand", "1"),
    ):
        found = match(want, release(title, "Stephen King", series=series))
        assert not found.ok, title
        assert "part" in found.reasons[-1], found.reasons
    gap = Want(None, ("Stephen King",), "The Stand", "1")
    assert not holds(gap, release(title, "Stephen King", series=series)), title


@pytest.mark.parametrize(("spelling", "number", "total"), PART_SPELLINGS)
def test_a_wanted_part_is_only_that_part(spelling: str, number: int, total: int | None) -> None:
    want = Want(spelling.format(t="The Stand"), ("Stephen King",))
    assert holds(want, release(spelling.format(t="The Stand"), "Stephen King"))
    assert not holds(want, release("The Stand", "Stephen King"))  # the whole book is not a part
    assert not holds(want, release(f"The Stand (Part {number + 1})", "Stephen King"))
    assert not holds(want, release(spelling.format(t="It"), "Stephen King"))


def test_a_part_is_the_same_part_however_it_is_spelled() -> None:
    want = Want("Shantaram: Book Two of Two", ("Gregory David Roberts",))
    assert holds(want, release("Shantaram (2 of 2)", "Gregory David Roberts"))
    assert not holds(want, release("Shantaram (2 of 3)", "Gregory David Roberts"))  # another split


@pytest.mark.parametrize(
    "title",
    [
        "Part of Your World",
        "The Way of Kings: Book One of the Stormlight Archive",
        "The Fellowship of the Ring (The Lord of the Rings, Book 1 of 3)",
        "The Wandering Inn: Volume 11",
        "The Two Towers: Being the Second Part of The Lord of the Rings",
        "Mistborn: Book 1",
    ],
)
def test_titles_that_only_look_like_parts(title: str) -> None:
    assert part_of(title) is None


def test_a_part_named_as_a_book_of_its_own_is_that_book() -> None:
    want = Want("The Fellowship of the Ring", ("J.R.R. Tolkien",), "The Lord of the Rings", "1")
    series = (SeriesTag("The Lord of the Rings", "1"),)
    named = "The Lord of the Rings, Part One: The Fellowship of the Ring"
    assert holds(want, release(named, "J. R. R. Tolkien", series=series))


def test_a_single_file_that_calls_itself_a_part_is_one() -> None:
    want = Want("Middlemarch", ("George Eliot",))
    half = Release(
        1, "Middlemarch", ("George Eliot",), main_cat=13, files=1, file_title="Middlemarch (1 of 2)"
    )
    assert not holds(want, half)
    # the files of a many-file release are numbered whatever the book: `Part 01` is its first file
    files = Release(2, "Emma", ("Jane Austen",), main_cat=13, files=30, file_title="Emma - Part 01")
    assert holds(Want("Emma", ("Jane Austen",)), files)


@pytest.mark.parametrize("title", ["The Silent Patient (Excerpt)", "The Silent Patient [Sample]"])
def test_an_excerpt_is_not_the_book(title: str) -> None:
    found = match(Want("The Silent Patient", ("Alex Michaelides",)), release(title, "Alex Michaelides"))
    assert not found.ok
    assert "not all of it" in found.reasons[-1]


# -- titles as uploaders write them -----------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "written", "authors"),
    [
        ("Elantris", "Brandon Sanderson - Elantris", ("Brandon Sanderson",)),
        ("Op-Center", "Tom Clancy's Op-Center", ("Tom Clancy", "Steve Pieczenik")),
        ("The Bourne Legacy", "Robert Ludlum's The Bourne Legacy", ("Robert Ludlum", "Eric Van Lustbader")),
        ("The Hobbit", "The Hobbit, Narrated by Andy Serkis", ("J.R.R. Tolkien",)),
        ("The Metamorphosis", "The Metamorphosis, translated by Susan Bernofsky", ("Franz Kafka",)),
        ("White Night", "White Night + Bonus Short Story", ("Jim Butcher",)),
        ("Slaughterhouse Five", "Slaughterhouse-Five, or The Children's Crusade", ("Kurt Vonnegut",)),
        ("Heir to the Empire", "Star Wars: Heir to the Empire", ("Timothy Zahn",)),
    ],
)
def test_what_uploaders_put_around_a_title(wanted: str, written: str, authors: tuple[str, ...]) -> None:
    assert holds(Want(wanted, (authors[-1],)), release(written, *authors))


def test_the_authors_name_is_stripped_only_when_it_is_the_releases_author() -> None:
    assert release_titles("Brandon Sanderson - Elantris", ("Brandon Sanderson",))[-1] == "Elantris"
    assert release_titles("Brandon Sanderson - Elantris", ("Someone Else",)) == (
        "Brandon Sanderson - Elantris",
    )
    assert not holds(
        Want("Elantris", ("Brandon Sanderson",)),
        release("Brandon Sanderson - Warbreaker", "Brandon Sanderson"),
    )


def test_a_one_word_franchise_tail_needs_the_series_position() -> None:
    series = (SeriesTag("Star Wars: Thrawn", "1"),)
    assert holds(
        Want("Thrawn", ("Timothy Zahn",), "Star Wars: Thrawn", "1"),
        release("Star Wars: Thrawn", "Timothy Zahn", series=series),
    )
    assert not holds(Want("Thrawn", ("Timothy Zahn",)), release("Star Wars: Thrawn", "Timothy Zahn"))


# -- series, authors ----------------------------------------------------------------------------


def test_a_release_numbered_only_in_another_series_is_another_book() -> None:
    want = Want("Ember", ("Mara Kestrel",), "The Ashfall Saga", "2")
    other = match(want, release("Ember", "Mara Kestrel", series=(SeriesTag("Hollow Crown", "1"),)))
    assert not other.ok
    assert other.other_series == "Hollow Crown #1"
    assert holds(want, release("Ember", "Mara Kestrel", series=(SeriesTag("Ashfall Saga", "2"),)))


def test_a_sub_series_or_a_longer_name_is_the_same_series() -> None:
    want = Want("Equal Rites", ("Terry Pratchett",), "Discworld", "3")
    witches = match(
        want, release("Equal Rites", "Terry Pratchett", series=(SeriesTag("Discworld - Witches", "1"),))
    )
    assert witches.ok  # the sub-series numbers its books its own way
    assert not witches.confirmed
    saga = match(
        Want("Legacy", ("Corin Vale",), "Starbound", "3"),
        release("Legacy", "Corin Vale", series=(SeriesTag("Starbound Saga", "3"),)),
    )
    assert saga.ok
    assert saga.confirmed


@pytest.mark.parametrize(
    ("wanted", "credited"),
    [
        ("Preston, Douglas; Child, Lincoln", ("Douglas Preston", "Lincoln Child")),
        ("Clive Cussler with Justin Scott", ("Clive Cussler", "Justin Scott")),
        ("Lincoln Child & Douglas Preston", ("Douglas Preston", "Lincoln Child")),
        ("Terry Pratchett", ("Neil Gaiman & Terry Pratchett",)),
    ],
)
def test_co_authors_in_any_order_and_form(wanted: str, credited: tuple[str, ...]) -> None:
    found = match(Want("A Title", (wanted,)), release("A Title", *credited))
    assert found.ok
    assert found.all_authors


def test_a_release_crediting_some_of_the_authors_says_so() -> None:
    found = match(Want("Fever", ("Mira Holt & Dean Ashby",)), release("Fever", "Dean Ashby"))
    assert found.ok
    assert not found.all_authors


@pytest.mark.parametrize(
    ("credit", "named"),
    [
        ("Preston, Douglas; Child, Lincoln", ["Preston, Douglas", "Child, Lincoln"]),
        ("Douglas Preston, Lincoln Child", ["Douglas Preston", "Lincoln Child"]),
        ("Clive Cussler with Justin Scott", ["Clive Cussler", "Justin Scott"]),
        ("Tolkien, J.R.R.", ["Tolkien, J.R.R."]),
        ("Brandon Sanderson", ["Brandon Sanderson"]),
    ],
)
def test_the_people_one_credit_names(credit: str, named: list[str]) -> None:
    assert people(credit) == named
