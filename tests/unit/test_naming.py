"""Where books and files go in the library: the layout, safe names, and confinement as a property."""

from __future__ import annotations

import os
import unicodedata
from pathlib import PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamd.domain.book import BookMeta, abs_metadata, merge
from mamd.domain.naming import (
    MAX_COMPONENT_BYTES,
    book_folder,
    file_path,
    join_authors,
    safe_component,
    unique_paths,
)
from mamd.importing.plan import plan_import

LAYOUT = "{author}/{series}/{position} - {title}"
ROOT = "/srv/media/audiobooks"


@pytest.mark.parametrize(
    ("book", "folder"),
    [
        (
            BookMeta("The Hero of Ages", ("Brandon Sanderson",), series="Mistborn", position="3"),
            "Brandon Sanderson/Mistborn/3 - The Hero of Ages",
        ),
        (
            BookMeta("The Churn", ("James S. A. Corey",), series="The Expanse", position="2.5"),
            "James S. A. Corey/The Expanse/2.5 - The Churn",
        ),
        (BookMeta("Elantris", ("Brandon Sanderson",)), "Brandon Sanderson/Elantris"),
        (
            BookMeta("Good Omens", ("Terry Pratchett", "Neil Gaiman")),
            "Terry Pratchett & Neil Gaiman/Good Omens",
        ),
        (BookMeta("Untold", ("A",), series="S"), "A/S/Untold"),
        (BookMeta("Mistborn: The Final Empire", ("B",)), "B/Mistborn - The Final Empire"),
        (BookMeta("Who Goes There?", ("John W. Campbell",)), "John W. Campbell/Who Goes There"),
        (BookMeta("", ()), "Unknown Author/Untitled"),
    ],
)
def test_the_default_layout_gives_the_folders_audiobookshelf_parses(book: BookMeta, folder: str) -> None:
    assert str(book_folder(LAYOUT, book)) == folder


def test_optional_parts_of_a_layout_disappear_with_their_separators() -> None:
    layout = "{author}/{series}/{position} - {title} {{{narrator}}} [{asin}]"
    full = BookMeta("T", ("A",), narrators=("N",), series="S", position="1", asin="B082BHJMFF")
    assert str(book_folder(layout, full)) == "A/S/1 - T {N} [B082BHJMFF]"
    assert str(book_folder(layout, BookMeta("T", ("A",)))) == "A/T"


def test_many_authors_are_cut_to_three_for_the_folder() -> None:
    assert join_authors(["A", "B", "C", "D", " "]) == "A & B & C"


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("../..", "-"),
        ("..", "_"),
        (".hidden.", "hidden"),
        ("  spaced  out  ", "spaced out"),
        ("a/b\\c", "a-b-c"),
        ("line\nbreak\x00nul", "line break nul"),
        ('say "hi" <now>|*', "say 'hi' now-"),
        ("e\u0301", "é"),
    ],
)
def test_a_component_is_made_safe(text: str, safe: str) -> None:
    assert safe_component(text) == safe


def test_a_long_component_is_cut_on_a_character_boundary() -> None:
    cut = safe_component("é" * 300)
    assert len(cut.encode()) <= MAX_COMPONENT_BYTES
    assert cut == "é" * (MAX_COMPONENT_BYTES // 2)


@pytest.mark.parametrize(
    ("parts", "path"),
    [
        (["..", "..", "x.mp3"], "x.mp3"),
        (["", "etc", "passwd"], "etc/passwd"),
        (["CD1", ".", "01.mp3"], "CD1/01.mp3"),
        (["a\nb.mp3"], "a b.mp3"),
        ([".."], "file"),
    ],
)
def test_torrent_file_names_never_climb(parts: list[str], path: str) -> None:
    assert str(file_path(parts)) == path


def test_names_that_became_equal_are_made_unique() -> None:
    paths = unique_paths([PurePosixPath("a.mp3"), PurePosixPath("A.mp3"), PurePosixPath("a.mp3")])
    assert [str(p) for p in paths] == ["a.mp3", "A (2).mp3", "a (3).mp3"]


def test_a_long_file_name_keeps_its_extension_when_cut() -> None:
    cut = safe_component("é" * 300 + ".m4b")
    assert cut.endswith("é.m4b")
    assert len(cut.encode()) <= MAX_COMPONENT_BYTES


@pytest.mark.parametrize("name", ["é" * 300 + ".mp3", "é" * 300, "a." + "x" * 300])
def test_names_at_the_length_limit_still_become_unique(name: str) -> None:
    long = PurePosixPath(safe_component(name))
    paths = unique_paths([long] * 12)
    assert len({str(p).casefold() for p in paths}) == 12
    assert all(len(p.name.encode()) <= MAX_COMPONENT_BYTES for p in paths)
    assert paths[11].name.endswith(" (12)" + (".mp3" if name.endswith(".mp3") else ""))


def test_an_import_keeps_the_torrent_layout_below_its_top_folder() -> None:
    book = BookMeta("The Way of Kings", ("Brandon Sanderson",), series="The Stormlight Archive", position="1")
    plan = plan_import(LAYOUT, book, ["Kings/CD1/01.mp3", "Kings/CD1/02.mp3", "Kings/cover.jpg"])
    assert str(plan.folder) == "Brandon Sanderson/The Stormlight Archive/1 - The Way of Kings"
    assert [(p.source, str(p.target)) for p in plan.files] == [
        ("Kings/CD1/01.mp3", "CD1/01.mp3"),
        ("Kings/CD1/02.mp3", "CD1/02.mp3"),
        ("Kings/cover.jpg", "cover.jpg"),
    ]


def test_a_single_file_torrent_puts_its_file_in_the_book_folder() -> None:
    plan = plan_import(LAYOUT, BookMeta("Elantris", ("Brandon Sanderson",)), ["Elantris.m4b"])
    assert [str(p.target) for p in plan.files] == ["Elantris.m4b"]


def test_metadata_json_names_series_with_its_position() -> None:
    book = BookMeta(
        "The Hero of Ages", ("Brandon Sanderson",), ("Michael Kramer",), "Mistborn", "3", asin="B00"
    )
    data = abs_metadata(book)
    assert data["series"] == ["Mistborn #3"]
    assert (data["authors"], data["narrators"], data["asin"]) == (
        ["Brandon Sanderson"],
        ["Michael Kramer"],
        "B00",
    )


def test_tags_are_completed_from_the_torrent_name() -> None:
    tags = BookMeta("The Hero of Ages", source="tags")
    name = BookMeta(
        "Hero of Ages", ("Brandon Sanderson",), series="Mistborn", position="3", source="torrent_name"
    )
    merged = merge(tags, name)
    assert (merged.title, merged.authors, merged.series, merged.position) == (
        "The Hero of Ages",
        ("Brandon Sanderson",),
        "Mistborn",
        "3",
    )
    assert merged.source == "tags+torrent_name"


# -- confinement, as a property over any metadata and any file names -------------------------------

text = st.text(st.characters(codec="utf-8"), max_size=400)
books = st.builds(
    BookMeta,
    title=text,
    authors=st.lists(text, max_size=5).map(tuple),
    narrators=st.lists(text, max_size=3).map(tuple),
    series=st.none() | text,
    position=st.none() | text,
    asin=st.none() | text,
    year=st.none() | text,
)
layouts = st.sampled_from(
    [
        LAYOUT,
        "{author}/{title}",
        "{author}/{series}/{title} [{asin}]",
        "{title}",
        "{author}/{series}/{position}/{title}",
    ]
)
names = st.lists(st.lists(text, min_size=1, max_size=6).map("/".join), min_size=1, max_size=8)


def _components_are_safe(path: PurePosixPath) -> bool:
    for part in path.parts:
        data = part.encode("utf-8")
        if part in ("", ".", "..") or "/" in part or "\x00" in part or len(data) > MAX_COMPONENT_BYTES:
            return False
        if part != part.strip(" .") or unicodedata.normalize("NFC", part) != part:
            return False
        if any(ord(c) < 32 for c in part):
            return False
    return True


@settings(max_examples=400, deadline=None)
@given(book=books, layout=layouts, torrent_names=names)
def test_no_metadata_and_no_file_name_lead_outside_the_library(
    book: BookMeta, layout: str, torrent_names: list[str]
) -> None:
    plan = plan_import(layout, book, torrent_names)
    assert not plan.folder.is_absolute()
    assert _components_are_safe(plan.folder)
    book_root = os.path.normpath(os.path.join(ROOT, str(plan.folder)))
    assert book_root.startswith(ROOT + "/")
    targets = [str(p.target) for p in plan.files]
    assert len({t.casefold() for t in targets}) == len(targets)
    for placement in plan.files:
        assert not placement.target.is_absolute()
        assert _components_are_safe(placement.target)
        final = os.path.normpath(os.path.join(book_root, str(placement.target)))
        assert final.startswith(book_root + "/")
