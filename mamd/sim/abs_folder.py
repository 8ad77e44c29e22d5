"""What ABS reads from a library folder: the book folders, their names and their sidecars.

`read_library` walks a folder laid out as `Author/Series/Title/<audio files>` (or `Author/Title/`) and
returns one `FolderBook` per book with the metadata ABS would derive. Name parsing is pure; only the walk
and the sidecar reads touch the disk (callers run them in a thread).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mamd.sim.abs_files import padded_duration
from mamd.sim.abs_model import AUDIO_EXTENSIONS, DEFAULT_PRECEDENCE, NAME_PARTICLES, FileEntry

# Files read from disk are not probed; their length follows from their size at this bit rate
ASSUMED_BIT_RATE = 32_000

_ASIN = re.compile(r"\s*\[([A-Z0-9]{10})\]")
_NARRATORS = re.compile(r"\s*\{([^{}]*)\}")
_YEAR = re.compile(r"^\(?(\d{4})\)?\s+-\s+(.+)$")
_VOLUME = re.compile(r"^(?:(?:book|vol\.?|volume)\s*)?(\d{1,3}(?:\.\d{1,2})?)(?:\s+-\s+|\.\s+)(.+)$", re.I)
_DISC_FOLDER = re.compile(r"^(?:cd|disc|disk)\s*\d+$", re.I)
_TRACK_NUMBER = re.compile(r"(\d{1,3})(?!.*\d)")
_SERIES_SEQUENCE = re.compile(r"^(.*?)\s+#\s*([^#]+)$")


@dataclass
class BookMetadata:
    """The metadata ABS keeps for a book, filled from the sources in precedence order."""

    title: str
    subtitle: str | None = None
    authors: list[str] = field(default_factory=list)
    narrators: list[str] = field(default_factory=list)
    series: list[tuple[str, str | None]] = field(default_factory=list)
    genres: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    published_year: str | None = None
    publisher: str | None = None
    description: str | None = None
    isbn: str | None = None
    asin: str | None = None
    language: str | None = None
    explicit: bool = False
    abridged: bool = False


@dataclass(frozen=True)
class TitleFolder:
    title: str
    sequence: str | None = None
    year: str | None = None
    narrators: tuple[str, ...] = ()
    asin: str | None = None


@dataclass(frozen=True)
class FolderBook:
    """One book found on disk: its place, its folder's stat, its files and the metadata ABS derives."""

    rel_path: str
    is_file: bool
    ino: str
    mtime_ms: int
    ctime_ms: int
    birthtime_ms: int
    files: tuple[FileEntry, ...]
    metadata: BookMetadata


def parse_title_folder(name: str) -> TitleFolder:
    """`"Book 1 - The Way of Kings {Michael Kramer, Kate Reading} [B003P2WO5E]"` and its other forms."""
    asin = None
    if found := _ASIN.search(name):
        asin, name = found.group(1), _ASIN.sub("", name, count=1)
    narrators: tuple[str, ...] = ()
    if found := _NARRATORS.search(name):
        narrators = tuple(part.strip() for part in found.group(1).split(",") if part.strip())
        name = _NARRATORS.sub("", name, count=1)
    name = name.strip()
    year = sequence = None
    if found := _YEAR.match(name):
        year, name = found.group(1), found.group(2).strip()
    if found := _VOLUME.match(name):
        sequence, name = found.group(1), found.group(2).strip()
    return TitleFolder(name, sequence, year, narrators, asin)


def parse_authors(text: str) -> list[str]:
    """An author folder: `A`, `Last, First`, `A, B`, `A & B` or `Last, First & Last, First`."""
    names: list[str] = []
    for chunk in re.split(r"\s*[&;]\s*", text):
        pieces = [piece.strip() for piece in chunk.split(",") if piece.strip()]
        if len(pieces) >= 2 and len(pieces) % 2 == 0 and all(_is_last_name(p) for p in pieces[0::2]):
            names.extend(f"{first} {last}" for last, first in zip(pieces[0::2], pieces[1::2], strict=True))
        else:
            names.extend(pieces)
    return names


def _is_last_name(piece: str) -> bool:
    # "Le Guin, Ursula K." is one author written last name first, not two authors
    words = piece.split()
    return len(words) == 1 or (len(words) > 1 and words[0].lower() in NAME_PARTICLES)


def from_folder_structure(rel_path: str, is_file: bool) -> BookMetadata:
    """The lowest-precedence source: only the last three folder levels count."""
    parts = rel_path.split("/")
    title_name = Path(parts[-1]).stem if is_file else parts[-1]
    parsed = parse_title_folder(title_name)
    folders = parts[:-1]
    metadata = BookMetadata(
        title=parsed.title,
        narrators=list(parsed.narrators),
        published_year=parsed.year,
        asin=parsed.asin,
    )
    if folders:
        # `Author/Series/Title`: a series only when the title folder has two folders above it
        metadata.authors = parse_authors(folders[-2] if len(folders) >= 2 else folders[-1])
        if len(folders) >= 2:
            metadata.series = [(folders[-1], parsed.sequence)]
    return metadata


def apply_abs_metadata(metadata: BookMetadata, text: str) -> BookMetadata:
    """`metadata.json` in ABS's own format; every field it sets wins (absMetadata is the highest source)."""
    data = json.loads(text)
    if not isinstance(data, dict):
        return metadata
    changes: dict[str, Any] = {}
    for key, attr in (
        ("title", "title"),
        ("subtitle", "subtitle"),
        ("publishedYear", "published_year"),
        ("publisher", "publisher"),
        ("description", "description"),
        ("isbn", "isbn"),
        ("asin", "asin"),
        ("language", "language"),
    ):
        if isinstance(data.get(key), str | int) and str(data[key]).strip():
            changes[attr] = str(data[key]).strip()
    for key in ("authors", "narrators", "genres", "tags"):
        if isinstance(data.get(key), list) and data[key]:
            changes[key] = [str(value).strip() for value in data[key] if str(value).strip()]
    if isinstance(data.get("series"), list) and data["series"]:
        changes["series"] = [parse_series_entry(str(value)) for value in data["series"] if str(value).strip()]
    for key in ("explicit", "abridged"):
        if isinstance(data.get(key), bool):
            changes[key] = data[key]
    return replace(metadata, **changes)


def parse_series_entry(text: str) -> tuple[str, str | None]:
    """`"Mistborn #4"` → `("Mistborn", "4")`; a name without `#` has no sequence."""
    found = _SERIES_SEQUENCE.match(text.strip())
    return (found.group(1).strip(), found.group(2).strip()) if found else (text.strip(), None)


def apply_opf(metadata: BookMetadata, text: str) -> BookMetadata:
    """`metadata.opf`: Dublin Core title, creators, narrators, publisher, ISBN, `calibre:series`."""
    root = ET.fromstring(text)
    changes: dict[str, Any] = {}
    authors: list[str] = []
    narrators: list[str] = []
    genres: list[str] = []
    series_name = series_index = None
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        attributes = {key.rsplit("}", 1)[-1]: value for key, value in element.attrib.items()}
        value = (element.text or "").strip()
        role = attributes.get("role", "")
        if tag == "title" and value:
            changes["title"] = value
        elif tag == "creator" and value:
            (narrators if role == "nrt" else authors).append(value)
        elif tag == "contributor" and value and role == "nrt":
            narrators.append(value)
        elif tag in ("publisher", "description", "language") and value:
            changes[tag] = value
        elif tag == "date" and value[:4].isdigit():
            changes["published_year"] = value[:4]
        elif tag == "subject" and value:
            genres.append(value)
        elif tag == "identifier" and value:
            scheme = attributes.get("scheme", "").lower()
            if scheme in ("isbn", "asin"):
                changes[scheme] = value
        elif tag == "meta" and attributes.get("name") == "calibre:series":
            series_name = attributes.get("content")
        elif tag == "meta" and attributes.get("name") == "calibre:series_index":
            series_index = attributes.get("content")
    changes.update(
        {
            key: found
            for key, found in (("authors", authors), ("narrators", narrators), ("genres", genres))
            if found
        }
    )
    if series_name:
        changes["series"] = [(series_name, series_index)]
    return replace(metadata, **changes)


def read_library(root: Path, precedence: tuple[str, ...] = DEFAULT_PRECEDENCE) -> list[FolderBook]:
    """Every book under `root`: each folder with audio files is one book (disc folders such as `CD1`
    belong to their parent), and each audio file directly in `root` is a book of its own."""
    books: list[FolderBook] = []
    for directory, subdirs, filenames in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        here = Path(directory)
        if here == root:
            for name in sorted(filenames):
                if Path(name).suffix.lower() in AUDIO_EXTENSIONS and not name.startswith("."):
                    books.append(_single_file_book(root, name))
            continue
        if _DISC_FOLDER.match(here.name) or not _has_audio(here, filenames):
            continue
        book = read_book(root, here.relative_to(root).as_posix(), precedence)
        if book is not None:
            books.append(book)
    return books


def _has_audio(folder: Path, filenames: list[str]) -> bool:
    if any(Path(name).suffix.lower() in AUDIO_EXTENSIONS for name in filenames):
        return True
    return any(
        child.is_dir() and _DISC_FOLDER.match(child.name) and any(_audio_names(child))
        for child in folder.iterdir()
    )


def _audio_names(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS]


def read_book(
    root: Path, rel_path: str, precedence: tuple[str, ...] = DEFAULT_PRECEDENCE
) -> FolderBook | None:
    """The book in `root/rel_path`, or None when that folder is gone or holds no audio."""
    folder = root / rel_path
    try:
        folder_stat = folder.stat()
        paths = [p for p in folder.iterdir() if not p.name.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        return None
    found: list[Path] = []
    for path in sorted(paths):
        if path.is_file():
            found.append(path)
        elif path.is_dir() and _DISC_FOLDER.match(path.name):
            found.extend(sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")))
    files = _file_entries(folder, found)
    if not any(entry.ext in AUDIO_EXTENSIONS for entry in files):
        return None
    metadata = from_folder_structure(rel_path, is_file=False)
    for source in precedence:
        metadata = _apply_source(metadata, source, folder)
    ms = _stat_ms(folder_stat)
    return FolderBook(rel_path, False, str(folder_stat.st_ino), *ms, files, metadata)


def _single_file_book(root: Path, name: str) -> FolderBook:
    path = root / name
    ms = _stat_ms(path.stat())
    files = _file_entries(root, [path])
    return FolderBook(name, True, files[0].ino, *ms, files, from_folder_structure(name, is_file=True))


def _apply_source(metadata: BookMetadata, source: str, folder: Path) -> BookMetadata:
    """Apply one metadata source of `settings.metadataPrecedence`; audio tags and .nfo are not read."""
    if source == "txtFiles":
        if (text := _read_text(folder / "desc.txt")) is not None and text.strip():
            metadata = replace(metadata, description=text.strip())
        if (text := _read_text(folder / "reader.txt")) is not None and text.strip():
            first_line = text.strip().splitlines()[0]
            metadata = replace(metadata, narrators=[n.strip() for n in first_line.split(",") if n.strip()])
    elif source == "opfFile" and (text := _read_text(folder / "metadata.opf")) is not None:
        # ABS logs an unreadable sidecar and goes on with the other sources
        with contextlib.suppress(ET.ParseError):
            metadata = apply_opf(metadata, text)
    elif source == "absMetadata" and (text := _read_text(folder / "metadata.json")) is not None:
        with contextlib.suppress(ValueError):
            metadata = apply_abs_metadata(metadata, text)
    return metadata


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return None


def _stat_ms(stat: os.stat_result) -> tuple[int, int, int]:
    birth = getattr(stat, "st_birthtime", stat.st_ctime)
    return int(stat.st_mtime * 1000), int(stat.st_ctime * 1000), int(birth * 1000)


def _file_entries(folder: Path, paths: list[Path]) -> tuple[FileEntry, ...]:
    audio = [p for p in paths if p.suffix.lower() in AUDIO_EXTENSIONS]
    numbered = len(audio) > 1
    ordered = sorted(audio, key=lambda p: (_track_number(p) or 0, p.name)) + [
        p for p in paths if p not in audio
    ]
    entries = []
    for path in ordered:
        stat = path.stat()
        mtime, ctime, birth = _stat_ms(stat)
        is_audio = path in audio
        seconds = stat.st_size * 8 / ASSUMED_BIT_RATE if is_audio else 0.0
        entries.append(
            FileEntry(
                rel_path=path.relative_to(folder).as_posix() if path != folder else path.name,
                ino=str(stat.st_ino),
                size=stat.st_size,
                mtime_ms=mtime,
                ctime_ms=ctime,
                birthtime_ms=birth,
                added_at=0,
                duration=round(padded_duration(seconds, path.suffix.lower()), 6),
                track_from_filename=_track_number(path) if is_audio and numbered else None,
            )
        )
    return tuple(entries)


def _track_number(path: Path) -> int | None:
    found = _TRACK_NUMBER.search(path.stem)
    return int(found.group(1)) if found else None
