"""What is wanted, decided from a library: series gaps, manual wants, ignores — never a book owned."""

from __future__ import annotations

import pytest

from mamd.domain.discovery import ManualEntry, OwnedIndex, WantSpec, discover, series_want_key
from mamd.domain.library import Book, SeriesEntry

_ids = iter(range(1, 10_000))


def book(
    title: str,
    *authors: str,
    series: str | None = None,
    seq: str | None = None,
    asin: str | None = None,
    more_series: tuple[tuple[str, str | None], ...] = (),
) -> Book:
    entries = ((SeriesEntry(series, seq),) if series else ()) + tuple(
        SeriesEntry(n, s) for n, s in more_series
    )
    return Book(id=f"item-{next(_ids)}", title=title, authors=authors, series=entries, asin=asin)


def wanted(books: list[Book], **kwargs: object) -> list[tuple[str | None, str | None, str | None, str]]:
    options = {"series_gaps_wanted": True, "include_novellas": False, **kwargs}
    found = discover(books, **options)  # type: ignore[arg-type]
    return sorted((w.series, w.position, w.title, w.reason) for w in found.wants.values())


SANDERSON = [
    book("The Final Empire", "Brandon Sanderson", series="Mistborn", seq="1", asin="B002UZMLXM"),
    book("The Well of Ascension", "Brandon Sanderson", series="Mistborn", seq="2"),
    book("The Alloy of Law", "Brandon Sanderson", series="Mistborn", seq="4"),
    book("The Way of Kings", "Brandon Sanderson", series="The Stormlight Archive", seq="1"),
    book("Words of Radiance", "Brandon Sanderson", series="The Stormlight Archive", seq="2"),
    book("Elantris", "Brandon Sanderson"),
]
PRATCHETT = [
    book("The Colour of Magic", "Terry Pratchett", series="Discworld", seq="1"),
    book("The Light Fantastic", "Terry Pratchett", series="Discworld", seq="2"),
    book("Mort", "Terry Pratchett", series="Discworld", seq="4"),
    book("Pyramids", "Terry Pratchett", series="Discworld", seq="7"),
    book("Good Omens", "Terry Pratchett", "Neil Gaiman"),
]
EXPANSE = [
    book("Leviathan Wakes", "James S. A. Corey", series="The Expanse", seq="1"),
    book("Caliban's War", "James S. A. Corey", series="The Expanse", seq="2"),
    book("The Churn", "James S. A. Corey", series="The Expanse", seq="2.5"),
    book("Nemesis Games", "James S. A. Corey", series="The Expanse", seq="5"),
]


@pytest.mark.parametrize(
    ("library", "expected"),
    [
        pytest.param(SANDERSON, [("Mistborn", "3", None, "series_gap")], id="one gap"),
        pytest.param(
            PRATCHETT,
            [("Discworld", n, None, "series_gap") for n in ("3", "5", "6")],
            id="several gaps, a standalone co-authored book",
        ),
        pytest.param(
            EXPANSE,
            [("The Expanse", n, None, "series_gap") for n in ("3", "4")],
            id="a novella owned is no reason to want another",
        ),
        pytest.param(
            [book("Mort", "Terry Pratchett", series="Discworld", seq="4")],
            [("Discworld", n, None, "series_gap") for n in ("1", "2", "3")],
            id="only the fourth book owned",
        ),
        pytest.param(
            [
                book("A", "X Author", series="S", seq="Book 1"),
                book("B", "X Author", series="S", seq="#3"),
                book("C", "X Author", series="S", seq="05"),
            ],
            [("S", n, None, "series_gap") for n in ("2", "4")],
            id="positions written as Book 1, #3 and 05",
        ),
        pytest.param(
            [book("Omnibus", "X Author", series="S", seq="1-3"), book("D", "X Author", series="S", seq="5")],
            [("S", "4", None, "series_gap")],
            id="a bundle 1-3 owns its three positions",
        ),
        pytest.param(
            [book("A", "X Author", series="S", seq="1, 2"), book("D", "X Author", series="S", seq="IV")],
            [("S", "3", None, "series_gap")],
            id="a list 1, 2 and a Roman IV",
        ),
        pytest.param(
            [book("Prequel", "X Author", series="S", seq="0"), book("B", "X Author", series="S", seq="2")],
            [("S", "1", None, "series_gap")],
            id="a prequel 0 is owned but never wanted",
        ),
        pytest.param(
            [book("A", "X Author", series="S", seq=""), book("B", "X Author", series="S", seq="III?")],
            [],
            id="unreadable positions give no gaps",
        ),
        pytest.param(
            [
                book("The Final Empire", "Brandon Sanderson", series="Mistborn", seq="1"),
                book("The Final Empire", "Brandon Sanderson", series="Mistborn", seq="1"),
                book("The Hero of Ages", "Brandon Sanderson", series="mistborn", seq="3"),
            ],
            [("Mistborn", "2", None, "series_gap")],
            id="the same book twice, the series in another case",
        ),
        pytest.param(
            [
                book(
                    "Small Gods",
                    "Terry Pratchett",
                    series="Discworld",
                    seq="13",
                    more_series=(("Gods", "1"),),
                )
            ]
            + [book(f"D{n}", "Terry Pratchett", series="Discworld", seq=str(n)) for n in range(1, 13)],
            [],
            id="a book in two series counts in both",
        ),
        pytest.param(
            [
                book("A", "X Author", series="Year Series", seq="1999"),
                book("B", "X Author", series="Year Series", seq="1"),
            ],
            [],
            id="year-like positions are not gaps",
        ),
        pytest.param(
            [
                book("A", "X Author", series="Sparse", seq="1"),
                book("B", "X Author", series="Sparse", seq="40"),
            ],
            [],
            id="38 gaps for two owned books are not guessed",
        ),
        pytest.param(
            [book("A", series="Anonymous", seq="1"), book("B", series="Anonymous", seq="3")],
            [],
            id="a series whose books name no author",
        ),
        pytest.param(
            [book("", "X Author", series="S", seq="2")], [("S", "1", None, "series_gap")], id="no title"
        ),
    ],
)
def test_series_gaps_are_exactly_the_missing_whole_positions(
    library: list[Book], expected: list[tuple[str | None, str | None, str | None, str]]
) -> None:
    assert wanted(library) == expected


def test_series_gaps_can_be_turned_off() -> None:
    assert wanted(SANDERSON, series_gaps_wanted=False) == []


def test_with_novellas_an_owned_novella_extends_the_series_reach() -> None:
    library = [
        book("One", "X Author", series="S", seq="1"),
        book("Novella", "X Author", series="S", seq="2.5"),
    ]
    assert wanted(library) == []
    assert wanted(library, include_novellas=True) == [("S", "2", None, "series_gap")]


def test_a_gap_takes_the_series_most_common_author_and_spelling() -> None:
    library = [
        book("A", "Terry Pratchett", series="Discworld", seq="1"),
        book("B", "Terry Pratchett", series="Discworld", seq="2"),
        book("D", "Stephen Baxter", "Terry Pratchett", series="discworld", seq="4"),
    ]
    [gap] = discover(library, series_gaps_wanted=True, include_novellas=False).wants.values()
    assert (gap.series, gap.position, gap.author, gap.label) == (
        "Discworld",
        "3",
        "Terry Pratchett",
        "Discworld #3 by Terry Pratchett",
    )


def test_a_manual_want_with_series_and_position_replaces_the_same_gap() -> None:
    found = discover(
        SANDERSON,
        series_gaps_wanted=True,
        include_novellas=False,
        manual=[ManualEntry("The Hero of Ages", "Brandon Sanderson", "Mistborn", "Book 3")],
    )
    assert list(found.wants.values()) == [
        WantSpec(
            series_want_key("Mistborn", "3"),
            "manual",
            "Brandon Sanderson",
            "The Hero of Ages",
            "Mistborn",
            "3",
        )
    ]


def test_manual_wants_that_are_owned_are_left_out_and_reported() -> None:
    found = discover(
        SANDERSON + PRATCHETT,
        series_gaps_wanted=False,
        include_novellas=False,
        manual=[
            ManualEntry("the way of kings", "Sanderson, Brandon"),  # title and author spelled otherwise
            ManualEntry("Good Omens", "Neil Gaiman"),  # a co-author is enough
            ManualEntry("The Final Empire", "B. Sanderson", "Mistborn", "1"),  # the owned series position
            ManualEntry("Dune", "Frank Herbert"),
        ],
    )
    assert [w.title for w in found.wants.values()] == ["Dune"]
    assert sorted(w.title or "" for w in found.owned) == [
        "Good Omens",
        "The Final Empire",
        "the way of kings",
    ]


def test_an_owned_asin_is_never_wanted() -> None:
    index = OwnedIndex(SANDERSON)
    assert index.owns(WantSpec("k", "manual", "Someone Else", "Another Title", asin="b002uzmlxm"))


def test_the_same_title_by_another_author_is_still_wanted() -> None:
    found = discover(
        SANDERSON,
        series_gaps_wanted=False,
        include_novellas=False,
        manual=[ManualEntry("Elantris", "Somebody Else")],
    )
    assert [w.author for w in found.wants.values()] == ["Somebody Else"]


@pytest.mark.parametrize("entry", ["Discworld", "terry pratchett", "PRATCHETT, TERRY"])
def test_ignore_can_name_a_series_or_an_author(entry: str) -> None:
    found = discover(PRATCHETT, series_gaps_wanted=True, include_novellas=False, ignore=[entry])
    assert found.wants == {}
    assert {(w.series, w.position) for w, why in found.ignored} == {("Discworld", n) for n in ("3", "5", "6")}
    assert {why for _, why in found.ignored} == {entry}


def test_ignore_can_name_a_title() -> None:
    found = discover(
        PRATCHETT,
        series_gaps_wanted=False,
        include_novellas=False,
        manual=[ManualEntry("Mort Returns", "Terry Pratchett"), ManualEntry("Strata", "Terry Pratchett")],
        ignore=["mort returns"],
    )
    assert [w.title for w in found.wants.values()] == ["Strata"]
    assert [(w.title, why) for w, why in found.ignored] == [("Mort Returns", "mort returns")]


def test_no_wanted_book_is_ever_owned() -> None:
    """A property over every library in this file: whatever is wanted, the library does not hold it."""
    for library in (SANDERSON, PRATCHETT, EXPANSE, SANDERSON + PRATCHETT + EXPANSE):
        found = discover(library, series_gaps_wanted=True, include_novellas=True)
        index = OwnedIndex(library)
        assert found.wants
        assert not [w for w in found.wants.values() if index.owns(w)]


def test_unicode_and_case_variants_of_an_author_are_one_author() -> None:
    library = [book("Solaris", "Stanisław Lem"), book("The Cyberiad", "STANISLAW LEM")]
    found = discover(
        library,
        series_gaps_wanted=False,
        include_novellas=False,
        manual=[ManualEntry("solaris", "Stanislaw Lem"), ManualEntry("Solaris", "lem, stanisław")],
    )
    assert found.wants == {}
    assert len(found.owned) == 2


OWNED_ELSEWHERE = [
    book("Death's End", "Liu Cixin", series="Remembrance of Earth's Past", seq="3"),
    book("The Farthest Shore", "Ursula K. Le Guin", series="Earthsea", seq="3"),
    book("Pyramids", "Terry Pratchett", series="Discworld", seq="7"),
    book("Dungeon Crawler Carl", "Matt Dinniman", series="Dungeon Crawler Carl", seq="1"),
    book("Origins", "Jane Doe"),
    book("The Stand: Part One", "Stephen King"),
    book("The Wise Man's Fear (1 of 2)", "Patrick Rothfuss"),
    book("Mort", "Terry Pratchett", series="Discworld", seq="4"),
]


@pytest.mark.parametrize(
    ("title", "author", "series", "position"),
    [
        pytest.param("Death's End", "Cixin Liu", None, None, id="family name first or last"),
        pytest.param("The Farthest Shore", "Ursula Le Guin", None, None, id="without the middle initial"),
        pytest.param(
            "Pyramids (Discworld 7)", "Terry Pratchett", None, None, id="a series note in the title"
        ),
        pytest.param("The Stand: Part One", "Stephen King", None, None, id="the same part"),
        pytest.param("Mort: Part Two", "Terry Pratchett", None, None, id="a part of a whole book owned"),
    ],
)
def test_a_book_owned_under_another_spelling_is_owned(
    title: str, author: str, series: str | None, position: str | None
) -> None:
    assert OwnedIndex(OWNED_ELSEWHERE).owns(WantSpec("k", "manual", author, title, series, position))


@pytest.mark.parametrize(
    ("title", "author", "series", "position"),
    [
        pytest.param(
            "Dungeon Crawler Carl", "Matt Dinniman", "Dungeon Crawler Carl", "7", id="another position"
        ),
        pytest.param("Legacy: Origins", "Jane Doe", None, None, id="only the part after the colon"),
        pytest.param(
            "The Stand: Part Two", "Stephen King", None, None, id="the other half of a split edition"
        ),
        pytest.param("The Stand", "Stephen King", None, None, id="the whole of a split edition"),
        pytest.param("The Wise Man's Fear (2 of 2)", "Patrick Rothfuss", None, None, id="(2 of 2)"),
        pytest.param("Death's End", "Cixin Chen", None, None, id="another person"),
    ],
)
def test_a_close_title_or_name_is_not_ownership(
    title: str, author: str, series: str | None, position: str | None
) -> None:
    assert not OwnedIndex(OWNED_ELSEWHERE).owns(WantSpec("k", "manual", author, title, series, position))


def test_a_series_keeps_its_author_whatever_order_audiobookshelf_lists_co_authors_in() -> None:
    def series(order: list[tuple[str, ...]]) -> str:
        library = [
            book(f"Book {n}", *authors, series="Shared World", seq=str(n))
            for n, authors in zip((1, 3), order, strict=True)
        ]
        [gap] = discover(library, series_gaps_wanted=True, include_novellas=False).wants.values()
        return gap.author

    first = series([("Anne Author", "Bob Writer"), ("Anne Author", "Bob Writer")])
    assert series([("Bob Writer", "Anne Author"), ("Bob Writer", "Anne Author")]) == first
    assert series([("Bob Writer", "Anne Author"), ("Anne Author", "Bob Writer")]) == first
