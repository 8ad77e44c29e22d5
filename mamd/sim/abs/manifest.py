"""The 23-book test library of `abs-samples/`, rebuilt from its `library_manifest.json`.

The manifest says what each book's folder, files and audio tags are. What ABS made of them is rebuilt
the way the server does it: folder structure first, then the audio tags, then the sidecars, each
overriding the one before. The sidecars and a few tags are not in the manifest; `_SIDECARS` and `_GENRES`
hold what the samples show of them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from mamd.sim.abs.files import audio_size, padded_duration, summarize
from mamd.sim.abs.folder import from_folder_structure
from mamd.sim.abs.model import IdFactory, Item, Library, SeriesLink
from mamd.sim.abs.sidecars import BookMetadata

# The order in which the real 2.36 scan added the books (their `addedAt` order in items_all.json)
_SCAN_ORDER = (
    "The Left Hand of Darkness",
    "Good Omens",
    "Uprooted",
    "Elantris",
    "The Martian",
    "Project Hail Mary",
    "The Farthest Shore",
    "A Wizard of Earthsea",
    "Pyramids",
    "Mort",
    "The Light Fantastic",
    "The Colour of Magic",
    "Black Powder War",
    "His Majesty's Dragon",
    "Nemesis Games",
    "Gods of Risk",
    "Caliban's War",
    "Leviathan Wakes",
    "Words of Radiance",
    "The Way of Kings",
    "The Alloy of Law",
    "The Well of Ascension",
    "The Final Empire",
)

# Sidecar files per book (name, size) and the metadata they supply, as the samples show them
_SIDECARS: dict[str, tuple[tuple[tuple[str, int], ...], dict[str, Any]]] = {
    "The Final Empire": ((("cover.jpg", 762),), {}),
    "A Wizard of Earthsea": ((("cover.jpg", 765),), {}),
    "Project Hail Mary": ((("cover.jpg", 766),), {}),
    "Good Omens": (
        (("metadata.json", 307),),
        {
            "authors": ["Terry Pratchett", "Neil Gaiman"],
            "description": "The world will end on Saturday.",
            "genres": ["Fantasy", "Comedy"],
            "isbn": "9780060853983",
            "asin": "B0030EG5V6",
        },
    ),
    "Leviathan Wakes": (
        (("metadata.json", 432),),
        {
            "publisher": "Hachette Audio",
            "description": "Humanity has colonized the solar system.",
            "isbn": "9780316129084",
            "asin": "B005BXGLJG",
            "language": "English",
            "tags": ["space opera"],
        },
    ),
    "Words of Radiance": (
        (("metadata.json", 337),),
        {"publisher": "Macmillan Audio", "isbn": "9780765326362", "asin": "B00DA6YEKS"},
    ),
    "Pyramids": (
        (("metadata.opf", 761),),
        {
            "publisher": "Corgi Audio",
            "description": "Teppic becomes king of Djelibeybi.",
            "isbn": "9780552134613",
            "language": "en",
        },
    ),
    "The Left Hand of Darkness": (
        (("desc.txt", 69), ("reader.txt", 15)),
        {
            "description": "Genly Ai is sent to the planet Gethen.\nA classic of science fiction.",
            "narrators": ["George Guidall"],
        },
    ),
    "Uprooted": ((("desc.txt", 33),), {"description": "Agnieszka loves her valley home."}),
    "Elantris": (
        (("desc.txt", 33), ("reader.txt", 13)),
        {"description": "A city of gods fallen into ruin.", "narrators": ["Jack Garrett"]},
    ),
}
_GENRES = {
    "James S. A. Corey": ("Science Fiction",),
    "Andy Weir": ("Science Fiction",),
    "The Left Hand of Darkness": ("Science Fiction",),
    "The Colour of Magic": ("Fantasy", "Humor"),
    "The Light Fantastic": ("Fantasy", "Humor"),
}
_EMBEDDED_CHAPTERS = {"The Final Empire": 3, "The Well of Ascension": 2, "Leviathan Wakes": 4}
_BIT_RATES = {".m4b": 32_400, ".mp3": 32_000}


def _tag_metadata(metadata: BookMetadata, book: dict[str, Any], has_sidecar: bool) -> BookMetadata:
    """The audio tags the test library's files carry (`metaTags` in the samples)."""
    changes: dict[str, Any] = {
        "title": book["title"],
        "authors": [book["author"]],
        "genres": list(_GENRES.get(book["title"]) or _GENRES.get(book["author"]) or ("Fantasy",)),
        "published_year": book["year"],
        "publisher": "Test Audio",
        "description": f"Test audiobook: {book['title']}",
    }
    if book["narrator"]:
        changes["narrators"] = [name.strip() for name in book["narrator"].split(",")]
    if book["series"] and book["kind"] == "m4b" and not has_sidecar:
        changes["series"] = [(book["series"], book["seq"])]
    for key in ("asin", "isbn"):
        if book[key]:
            changes[key] = book[key]
    return replace(metadata, **changes)


def _tag_keys(book: dict[str, Any], has_sidecar: bool) -> frozenset[str]:
    keys = {"composer"} if book["narrator"] else set()
    if book["series"] and book["kind"] == "m4b" and not has_sidecar:
        keys.add("series")
    keys.update(key for key in ("isbn", "asin") if book[key])
    return frozenset(keys)


def library_from_manifest(
    manifest_path: Path,
    *,
    library_name: str = "Audiobooks",
    library_path: str | None = None,
    reference_ms: int = 1_795_304_155_944,
) -> Library:
    """The sample library as ABS 2.36 listed it, with stable ids; `reference_ms` is its first `addedAt`."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    root = library_path or manifest["library_root"]
    ids = IdFactory(f"manifest:{root}")
    library = Library(
        id=ids.make("library", library_name),
        name=library_name,
        folder_id=ids.make("folder", root),
        folder_path=root,
        created_at=reference_ms - 474,
        last_scan=None,
        ids=ids,
    )
    rank = {title: n for n, title in enumerate(_SCAN_ORDER)}
    books = sorted(manifest["library"], key=lambda book: rank.get(book["title"], len(rank)))
    now = reference_ms
    for number, book in enumerate(books):
        now = reference_ms + number * 130
        library.put(_item(library, book, 2_187_284 + 8 * manifest["library"].index(book), now))
    library.last_scan = now + 40
    library.last_update = now + 41
    return library


def _item(library: Library, book: dict[str, Any], ino: int, now: int) -> Item:
    rel_path = "/".join(part for part in (book["author"], book["series"], book["folder"]) if part)
    sidecars, sidecar_metadata = _SIDECARS.get(book["title"], ((), {}))
    has_sidecar = any(name in ("metadata.json", "metadata.opf") for name, _ in sidecars)
    metadata = _tag_metadata(from_folder_structure(rel_path, is_file=False), book, has_sidecar)
    metadata = replace(metadata, **sidecar_metadata)
    ext = f".{book['kind']}"
    part_duration = padded_duration(float(book["dur"]), ext)
    item = Item(
        id=library.ids.make("item", rel_path),
        ino=str(ino),
        rel_path=rel_path,
        title=metadata.title,
        authors=tuple(library.author(name, now) for name in metadata.authors),
        narrators=tuple(metadata.narrators),
        series=tuple(SeriesLink(library.series_named(name, now), seq) for name, seq in metadata.series),
        genres=tuple(metadata.genres),
        tags=tuple(metadata.tags),
        published_year=metadata.published_year,
        publisher=metadata.publisher,
        description=metadata.description,
        isbn=metadata.isbn,
        asin=metadata.asin,
        language=metadata.language,
        added_at=now,
        updated_at=now,
        last_scan=now - 1,
        mtime_ms=now - 9_000,
        ctime_ms=now - 9_000,
        birthtime_ms=now - 9_400,
        audio_ext=ext,
        parts=book["parts"] or 1,
        part_duration=part_duration,
        part_size=audio_size(part_duration, _BIT_RATES[ext]),
        embedded_chapters=_EMBEDDED_CHAPTERS.get(book["title"], 0),
        sidecars=sidecars,
        tag_keys=_tag_keys(book, has_sidecar),
    )
    return summarize(item)
