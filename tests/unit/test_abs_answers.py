"""Reading Audiobookshelf answers that are odd: missing titles, authors, series, or wrong types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from mamd.clients.audiobookshelf import book_from_item, explain_unauthorized, listed_from_row, wire
from mamd.domain.library import SeriesEntry


def item(**metadata: Any) -> dict[str, Any]:
    return {"id": "i1", "path": "/lib/x", "relPath": "x", "updatedAt": 5, "media": {"metadata": metadata}}


def test_an_item_without_title_or_authors_is_read_with_empty_values() -> None:
    book = book_from_item(item(title=None, authors=None, narrators=None, series=None))
    assert book is not None
    assert (book.title, book.authors, book.narrators, book.series) == ("", (), (), ())


def test_structured_metadata_is_read_and_blank_entries_dropped() -> None:
    book = book_from_item(
        item(
            title=" The Way of Kings ",
            authors=[{"id": "a", "name": "Brandon Sanderson"}, {"id": "b", "name": ""}, "not an object"],
            narrators=["Michael Kramer", "", None, "Kate Reading"],
            series=[{"id": "s", "name": "The Stormlight Archive", "sequence": "1"}, {"name": None}],
            asin="B003P2WO5E",
            publishedYear=2010,
            abridged=False,
        )
    )
    assert book is not None
    assert book.title == "The Way of Kings"
    assert book.authors == ("Brandon Sanderson",)
    assert book.narrators == ("Michael Kramer", "Kate Reading")
    assert book.series == (SeriesEntry("The Stormlight Archive", "1", "s"),)
    assert (book.asin, book.published_year, book.updated_at) == ("B003P2WO5E", "2010", 5)


def test_joined_authors_are_split_only_when_the_structured_list_is_absent() -> None:
    book = book_from_item(item(title="Good Omens", authorName="Terry Pratchett, Neil Gaiman"))
    assert book is not None
    assert book.authors == ("Terry Pratchett", "Neil Gaiman")


def test_a_sequence_that_is_blank_is_unknown() -> None:
    book = book_from_item(item(title="X", series=[{"name": "S", "sequence": ""}]))
    assert book is not None
    assert book.series == (SeriesEntry("S", None, None),)


@pytest.mark.parametrize("row", [None, [], "item", {"media": {}}, {"id": 5}])
def test_rows_that_are_not_items_are_left_out(row: Any) -> None:
    assert book_from_item(row) is None
    assert listed_from_row(row) is None


def test_a_list_row_keeps_the_flags_that_exclude_it() -> None:
    row = {"id": "i2", "updatedAt": "soon", "isMissing": True, "media": "odd"}
    listed = listed_from_row(row)
    assert listed is not None
    assert (listed.updated_at, listed.is_missing, listed.usable, listed.title) == (0, True, False, "")


SAMPLES = Path(__file__).parents[1] / "fixtures" / "abs-samples"


@pytest.mark.parametrize(
    "sample",
    [
        "item_m4b_expanded.json",
        "item_mp3_multipart_expanded.json",
        "item_opf_expanded.json",
        "item_metadata_json_coauthor_expanded.json",
    ],
)
def test_the_fast_and_the_tolerant_readers_agree_on_real_items(sample: str) -> None:
    raw = (SAMPLES / sample).read_bytes()
    fast = wire.BATCH.decode(b'{"libraryItems": [' + raw + b"]}").libraryItems[0]
    assert wire.to_book(fast) == book_from_item(json.loads(raw))
    assert wire.to_listed(fast) == listed_from_row(json.loads(raw))


def test_an_answer_with_odd_types_is_read_by_the_tolerant_reader() -> None:
    odd = json.dumps({"libraryItems": [item(title=1984, authors=[{"name": "George Orwell"}])]}).encode()
    with pytest.raises(msgspec.ValidationError):
        wire.BATCH.decode(odd)
    book = book_from_item(json.loads(odd)["libraryItems"][0])
    assert book is not None
    assert (book.title, book.authors) == ("1984", ("George Orwell",))


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_explained_with_audiobookshelfs_own_menu_and_the_setting_that_holds_it(
    status: int,
) -> None:
    message = explain_unauthorized(status, "audiobookshelf.api_key_file (/etc/mamd/credentials/abs)")
    assert "Settings → API Keys" in message
    assert "Settings → Users" not in message
    assert message.endswith("audiobookshelf.api_key_file (/etc/mamd/credentials/abs)")
    assert f"({status})" in message
