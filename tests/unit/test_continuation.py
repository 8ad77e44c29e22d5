"""The next books of owned series from MAM rows, and the book a weekly-best row is: pure functions."""

from __future__ import annotations

from decimal import Decimal

from mamd.domain.categories import category_id
from mamd.domain.continuation import Allowed, next_books, owned_series, query
from mamd.domain.discovery import OwnedIndex
from mamd.domain.library import Book, SeriesEntry
from mamd.domain.release import AUDIOBOOKS, Release, SeriesTag
from mamd.jobs.top import as_want

ALLOWED = Allowed(frozenset({"ENG"}), frozenset({"m4b", "mp3"}))


def book(title: str, author: str, series: str, position: str) -> Book:
    return Book(title, title, (author,), series=(SeriesEntry(series, position),))


def release(tid: int, title: str, author: str, series: str, number: str, **fields: object) -> Release:
    values: dict[str, object] = {
        "filetypes": ("m4b",),
        "lang_code": "ENG",
        "main_cat": AUDIOBOOKS,
        "seeders": 3,
    }
    return Release(tid, title, (author,), series=(SeriesTag(series, number),), **(values | fields))  # type: ignore[arg-type]


LIBRARY = [
    book("The Final Empire", "Brandon Sanderson", "Mistborn", "1"),
    book("The Well of Ascension", "Sanderson, Brandon", "Mistborn", "2"),
    book("The Hero of Ages", "Brandon Sanderson", "Mistborn", "3"),
    book("A Book of Years", "Some Historian", "Chronicles", "1998"),
]


def test_owned_series_name_their_author_furthest_position_and_leave_out_years() -> None:
    [mistborn] = owned_series(LIBRARY)
    assert (mistborn.name, mistborn.author, mistborn.highest) == ("Mistborn", "Brandon Sanderson", Decimal(3))
    assert "brandon sanderson" in mistborn.authors
    assert query(mistborn) == "Mistborn Brandon Sanderson"


def test_only_positions_named_alone_above_the_furthest_owned_by_the_series_author_are_wanted() -> None:
    [mistborn] = owned_series(LIBRARY)
    rows = [
        release(1, "Mistborn 3: The Hero of Ages", "Brandon Sanderson", "Mistborn", "3"),
        release(2, "The Alloy of Law", "Brandon Sanderson", "Mistborn", "4"),
        release(3, "Mistborn Boxed", "Brandon Sanderson", "Mistborn", "04-06"),
        release(4, "Mistborn Fan Book", "Someone Else", "Mistborn", "5"),
        release(5, "Mistborn: Secret History", "Brandon Sanderson", "Mistborn", "3.5"),
        release(6, "Shadows of Self", "Brandon Sanderson", "Mistborn", "5", lang_code="GER"),
        release(7, "Mistborn 6 (epub)", "Brandon Sanderson", "Mistborn", "6", filetypes=("epub",)),
        release(8, "Mistborn 7", "Brandon Sanderson", "Mistborn", ""),
    ]
    found = next_books(mistborn, rows, ALLOWED, OwnedIndex(LIBRARY))
    assert [(spec.position, spec.title, spec.reason) for spec, _ in found] == [
        ("4", "The Alloy of Law", "series_next")
    ]
    [(_, evidence)] = found
    assert [row["torrent_id"] for row in evidence] == [2]
    novellas = Allowed(ALLOWED.languages, ALLOWED.formats, include_novellas=True)
    assert [spec.position for spec, _ in next_books(mistborn, rows, novellas, OwnedIndex(LIBRARY))] == [
        "3.5",
        "4",
    ]


def test_a_year_or_catalogue_number_in_the_series_field_is_no_next_book() -> None:
    [mistborn] = owned_series(LIBRARY)
    rows = [
        release(1, "Mistborn 2021 Edition", "Brandon Sanderson", "Mistborn", "2021"),
        release(2, "Mistborn Catalogue", "Brandon Sanderson", "Mistborn", "1000"),
    ]
    assert next_books(mistborn, rows, ALLOWED, OwnedIndex(LIBRARY)) == []


def test_a_position_owned_under_another_title_is_not_wanted() -> None:
    library = [*LIBRARY, Book("x", "The Alloy of Law", ("Brandon Sanderson",))]
    [mistborn] = owned_series(library)
    rows = [release(2, "The Alloy of Law", "Brandon Sanderson", "Mistborn", "4")]
    assert next_books(mistborn, rows, ALLOWED, OwnedIndex(library)) == []


def test_a_weekly_best_row_is_one_book_by_position_or_title_and_never_a_bundle() -> None:
    single = as_want(release(1, "Mistborn 4: The Alloy of Law", "Brandon Sanderson", "Mistborn", "4"))
    assert single is not None
    assert (single.series, single.position, single.title, single.reason) == (
        "Mistborn",
        "4",
        "The Alloy of Law",
        "top",
    )
    assert as_want(release(2, "Mistborn Boxed", "Brandon Sanderson", "Mistborn", "1-3")) is None
    alone = as_want(Release(3, "Project Hail Mary", ("Andy Weir",), filetypes=("m4b",), main_cat=AUDIOBOOKS))
    assert alone is not None
    assert (alone.title, alone.series) == ("Project Hail Mary", None)


def test_a_category_is_named_by_its_id_or_its_name() -> None:
    assert category_id("Fantasy") == category_id("fantasy") == category_id(" 41 ") == 41
    assert category_id("Science Fiction") == 47
    assert category_id("63") is None  # e-book Fantasy
    assert category_id("Epic") is None
