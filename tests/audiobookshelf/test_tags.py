"""Narrators and the rest of a book's tags, read by mamd as a real Audiobookshelf 2.36 reads them.

mamd files a download it did not grab by its tags and writes a `metadata.json` beside it; both must
agree with what Audiobookshelf shows: the narrator of an m4b is its `composer` (`©wrt`), an m4b that
ffmpeg wrote with `use_metadata_tags` names its tags in a `keys` atom, and a `metadata.json` must not
erase a narrator the tags give.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mamd.domain.book import BookMeta, abs_metadata
from mamd.importing.tags import meta_from_tags
from tests.support.abs_real import RealAbs, RealAbsFactory
from tests.support.audiobooks import LIBRARY, AudioWriter, GeneratedBook, write_book

pytestmark = pytest.mark.audiobookshelf

# the books whose tags alone say what Audiobookshelf shows (no sidecar overrides them)
TAGGED = [book for book in LIBRARY if book.tags.get("album") and not book.sidecars]


@pytest.mark.parametrize("book", TAGGED, ids=[book.folder for book in TAGGED])
def test_mamd_reads_each_tagged_book_as_audiobookshelf_shows_it(
    book: GeneratedBook, generated_abs: RealAbs, generated_library: Path
) -> None:
    item = generated_abs.item_at(book.folder)
    assert item is not None
    shown = item["media"]["metadata"]
    read = meta_from_tags(sorted((generated_library / book.folder).iterdir()))
    assert read is not None
    assert read.title == shown["title"]
    assert list(read.authors) == [author["name"] for author in shown["authors"]]
    assert list(read.narrators) == shown["narrators"]
    if book.tags.get("series"):
        assert [(read.series, read.position)] == [(s["name"], s["sequence"]) for s in shown["series"]]
    assert read.asin == shown["asin"]


def test_a_metadata_json_from_mamd_keeps_the_narrator_the_tags_give(
    real_abs: RealAbsFactory, tmp_path: Path
) -> None:
    """Audiobookshelf takes an empty `narrators` list in `metadata.json` as "no narrator"; mamd, not
    knowing the narrator, must leave the field out."""
    server = real_abs(scan=False)
    kramer = GeneratedBook(
        "Brandon Sanderson/Mistborn/Book 3 - The Hero of Ages",
        "The Hero of Ages",
        ("Brandon Sanderson",),
        tags={
            "album": "The Hero of Ages",
            "artist": "Brandon Sanderson",
            "composer": "Michael Kramer, Kate Reading",
        },
    )
    folder = write_book(server.library, kramer, AudioWriter(tmp_path / "audio"))
    known = BookMeta("The Hero of Ages", ("Brandon Sanderson",), series="Mistborn", position="3")
    (folder / "metadata.json").write_text(json.dumps(abs_metadata(known)))
    server.scan()
    item = server.wait_for_item(kramer.folder, timeout=30)
    metadata = item["media"]["metadata"]
    assert metadata["narrators"] == ["Michael Kramer", "Kate Reading"]
    assert [(s["name"], s["sequence"]) for s in metadata["series"]] == [("Mistborn", "3")]
