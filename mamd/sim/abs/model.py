"""The simulated Audiobookshelf library: libraries, items, authors and series, and their registries.

Records are compact (slotted, shared references for authors, series and pooled strings) so that a library
of 50,000 items stays small; every JSON shape is rendered per request by `render`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

SERVER_VERSION = "2.36.0"
AUDIO_EXTENSIONS = frozenset({".m4b", ".mp3", ".m4a", ".flac", ".ogg", ".opus"})
DEFAULT_PRECEDENCE = ("folderStructure", "audioMetatags", "nfoFile", "txtFiles", "opfFile", "absMetadata")

# Name particles that belong to the last name ("Ursula K. Le Guin" → "Le Guin, Ursula K.", as ABS shows it)
NAME_PARTICLES = frozenset(
    {"de", "da", "di", "du", "del", "della", "der", "den", "des", "la", "le", "van", "von"}
)
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})
# The server setting `sortingPrefixes` (login.json): ["the", "a"]
_SORTING_PREFIXES = ("the", "a")


def last_first(name: str) -> str:
    """`"James S. A. Corey"` → `"Corey, James S. A."`; a one-word name stays as it is."""
    parts = name.split()
    suffix = parts.pop() if len(parts) > 2 and parts[-1].lower() in _SUFFIXES else None
    if len(parts) < 2:
        return name
    start = len(parts) - 1
    while start > 1 and parts[start - 1].lower() in NAME_PARTICLES:
        start -= 1
    text = f"{' '.join(parts[start:])}, {' '.join(parts[:start])}"
    return f"{text}, {suffix}" if suffix else text


def ignore_prefix(text: str) -> str:
    """`"The Final Empire"` → `"Final Empire, The"` (`titleIgnorePrefix`, a series' `nameIgnorePrefix`)."""
    for prefix in _SORTING_PREFIXES:
        if text.lower().startswith(prefix + " ") and len(text) > len(prefix) + 1:
            return f"{text[len(prefix) + 1 :]}, {text[: len(prefix)]}"
    return text


def strip_prefix(text: str) -> str:
    """`"The Expanse"` → `"Expanse"`: the form `collapsedSeries` and an author's series carry."""
    for prefix in _SORTING_PREFIXES:
        if text.lower().startswith(prefix + " ") and len(text) > len(prefix) + 1:
            return text[len(prefix) + 1 :]
    return text


def sequence_key(sequence: str | None) -> float:
    """Sequences sort as numbers ("2" < "2.5" < "10"); a missing or odd one sorts last."""
    try:
        return float(sequence) if sequence is not None else float("inf")
    except ValueError:
        return float("inf")


class IdFactory:
    """Stable ids: uuid5 of a per-library namespace and a key, so the same library gets the same ids."""

    def __init__(self, namespace: str) -> None:
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"mamd-sim-abs:{namespace}").bytes

    def make(self, kind: str, key: str) -> str:
        """`str(uuid.uuid5(namespace, f"{kind}:{key}"))`, computed directly: 50,000 items need it fast."""
        digest = bytearray(
            hashlib.sha1(self._namespace + f"{kind}:{key}".encode(), usedforsecurity=False).digest()[:16]
        )
        digest[6] = (digest[6] & 0x0F) | 0x50
        digest[8] = (digest[8] & 0x3F) | 0x80
        text = digest.hex()
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@dataclass(slots=True, eq=False)
class Author:
    id: str
    name: str
    added_at: int
    updated_at: int
    last_first: str = ""
    asin: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if not self.last_first:
            self.last_first = last_first(self.name)


@dataclass(slots=True, eq=False)
class Series:
    id: str
    name: str
    added_at: int
    updated_at: int
    description: str | None = None


@dataclass(slots=True, frozen=True)
class SeriesLink:
    """An item's place in a series; `sequence` is a string ("1", "2.5") or None, as ABS stores it."""

    series: Series
    sequence: str | None


@dataclass(slots=True, frozen=True)
class FileEntry:
    """One file of an item folder; `rel_path` is relative to the item folder."""

    rel_path: str
    ino: str
    size: int
    mtime_ms: int
    ctime_ms: int
    birthtime_ms: int
    added_at: int
    duration: float = 0.0  # audio files only, seconds
    chapters: int = 0  # chapters embedded in this audio file
    track: int | None = None  # trackNumFromMeta
    track_from_filename: int | None = None

    @property
    def filename(self) -> str:
        return self.rel_path.rsplit("/", 1)[-1]

    @property
    def ext(self) -> str:
        name = self.filename
        return name[name.rfind(".") :].lower() if "." in name else ""


@dataclass(slots=True, kw_only=True, eq=False)
class Item:
    """One library item (a book).

    Items read from a real folder keep their `files`; generated items leave `files` as None and describe
    their audio with `audio_ext`, `parts`, `part_duration`, `part_size` and `sidecars`, from which
    `files` renders the same file entries on demand.
    """

    id: str
    ino: str
    rel_path: str
    is_file: bool = False
    title: str
    subtitle: str | None = None
    authors: tuple[Author, ...] = ()
    narrators: tuple[str, ...] = ()
    series: tuple[SeriesLink, ...] = ()
    genres: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    published_year: str | None = None
    publisher: str | None = None
    description: str | None = None
    isbn: str | None = None
    asin: str | None = None
    language: str | None = None
    explicit: bool = False
    abridged: bool = False
    added_at: int
    updated_at: int
    last_scan: int
    mtime_ms: int
    ctime_ms: int
    birthtime_ms: int
    is_missing: bool = False
    is_invalid: bool = False
    files: tuple[FileEntry, ...] | None = None
    audio_ext: str = ".m4b"
    parts: int = 1
    part_duration: float = 0.0
    part_size: int = 0
    embedded_chapters: int = 0
    sidecars: tuple[tuple[str, int], ...] = ()  # (filename, size) of the non-audio files
    tag_keys: frozenset[str] | None = None  # optional audio tags present; None: untagged files
    # Aggregates over the files, kept by `files.summarize` so listings need not walk the files
    size: int = 0
    media_size: int = 0  # audio bytes only
    duration: float = 0.0
    num_audio: int = 0
    num_files: int = 0
    num_chapters: int = 0
    cover_file: str | None = None  # relative to the item folder

    @property
    def author_name(self) -> str:
        return ", ".join(author.name for author in self.authors)

    @property
    def author_name_lf(self) -> str:
        return ", ".join(author.last_first for author in self.authors)

    @property
    def narrator_name(self) -> str:
        return ", ".join(self.narrators)

    @property
    def series_name(self) -> str:
        """`"Mistborn #4"`; several series comma-joined; "" without a series."""
        return ", ".join(
            f"{link.series.name} #{link.sequence}" if link.sequence else link.series.name
            for link in self.series
        )

    @property
    def has_issue(self) -> bool:
        return self.is_missing or self.is_invalid

    def link_to(self, series_id: str) -> SeriesLink | None:
        return next((link for link in self.series if link.series.id == series_id), None)


@dataclass(slots=True, eq=False)
class Library:
    """The library, its folder, and the registries of its items, authors and series.

    `version` grows with every change, so cached orderings (`query`) know when to recompute.
    """

    id: str
    name: str
    folder_id: str
    folder_path: str
    created_at: int
    last_scan: int | None
    ids: IdFactory
    last_update: int = 0
    disable_watcher: bool = False
    metadata_precedence: tuple[str, ...] = DEFAULT_PRECEDENCE
    items: dict[str, Item] = field(default_factory=dict)
    authors: dict[str, Author] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    version: int = 0
    _authors_by_name: dict[str, Author] = field(default_factory=dict)
    _series_by_name: dict[str, Series] = field(default_factory=dict)

    def changed(self, now_ms: int) -> None:
        self.version += 1
        self.last_update = now_ms

    def author(self, name: str, now_ms: int) -> Author:
        """The author of that name (case-insensitive, as ABS matches them), created when new."""
        key = name.strip().lower()
        found = self._authors_by_name.get(key)
        if found is None:
            found = Author(self.ids.make("author", key), name.strip(), now_ms, now_ms)
            self._authors_by_name[key] = found
            self.authors[found.id] = found
        return found

    def series_named(self, name: str, now_ms: int) -> Series:
        key = name.strip().lower()
        found = self._series_by_name.get(key)
        if found is None:
            found = Series(self.ids.make("series", key), name.strip(), now_ms, now_ms)
            self._series_by_name[key] = found
            self.series[found.id] = found
        return found

    def find_author(self, name: str) -> Author | None:
        return self._authors_by_name.get(name.strip().lower())

    def find_series(self, name: str) -> Series | None:
        return self._series_by_name.get(name.strip().lower())

    def put(self, item: Item) -> None:
        self.items[item.id] = item

    def drop(self, item_id: str) -> Item | None:
        return self.items.pop(item_id, None)

    def prune(self) -> None:
        """Forget authors and series left without books (what clearing issues does in ABS)."""
        used_authors = {author.id for item in self.items.values() for author in item.authors}
        used_series = {link.series.id for item in self.items.values() for link in item.series}
        for author_id in [key for key in self.authors if key not in used_authors]:
            author = self.authors.pop(author_id)
            self._authors_by_name.pop(author.name.lower(), None)
        for series_id in [key for key in self.series if key not in used_series]:
            gone = self.series.pop(series_id)
            self._series_by_name.pop(gone.name.lower(), None)

    def items_of_author(self, author_id: str) -> Iterator[Item]:
        return (item for item in self.items.values() if any(a.id == author_id for a in item.authors))

    def items_in_series(self, series_id: str) -> list[tuple[Item, SeriesLink]]:
        """The series' items with their links, in sequence order."""
        found = [
            (item, link)
            for item in self.items.values()
            for link in item.series
            if link.series.id == series_id
        ]
        found.sort(key=lambda pair: (sequence_key(pair[1].sequence), pair[0].added_at))
        return found

    def by_added(self) -> list[Item]:
        return sorted(self.items.values(), key=lambda item: item.added_at)


def distinct(values: Iterable[str]) -> list[str]:
    """The values in first-seen order, without repeats."""
    return list(dict.fromkeys(values))
