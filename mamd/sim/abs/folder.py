"""What ABS reads from a library folder: the book folders, their names and their sidecars.

`read_library` walks a folder laid out as `Author/Series/Title/<audio files>` (or `Author/Title/`) and
returns one `FolderBook` per book with the metadata ABS would derive. Name parsing is pure; only the walk
and the sidecar reads touch the disk (callers run them in a thread).
"""

from __future__ import annotations

import contextlib
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from pathlib import Path

from mamd.domain.names import parse_names
from mamd.importing.tags import read_tags
from mamd.sim.abs.files import padded_duration
from mamd.sim.abs.model import AUDIO_EXTENSIONS, DEFAULT_PRECEDENCE, FileEntry
from mamd.sim.abs.sidecars import BookMetadata, apply_abs_metadata, apply_audio_tags, apply_opf

# Files read from disk are not probed; their length follows from their size at this bit rate
ASSUMED_BIT_RATE = 32_000

# the folder-name rules of ABS's `scandir.getBookDataFromDir`
_ASIN = re.compile(r"(?: |^)\[([A-Z0-9]{10})](?= |$)")
_NARRATORS = re.compile(r"^(?P<title>.*) \{(?P<narrators>.*)\}$")
_SEQUENCE = re.compile(
    r"^(?P<label>vol\.? |volume |book )?(?P<sequence>\d{0,3}(?:\.\d{1,2})?)(?P<dot>\.?)(?: (?P<suffix>.*))?$",
    re.IGNORECASE,
)
_YEAR = re.compile(r"^ *\(?([0-9]{4})\)? * - *(.+)")
_DISC_FOLDER = re.compile(r"^(?:cd|disc|disk)\s*\d+$", re.I)
_TRACK_NUMBER = re.compile(r"(\d{1,3})(?!.*\d)")


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


def parse_title_folder(name: str, in_series: bool = True) -> TitleFolder:
    """`"Book 1 - The Way of Kings {Michael Kramer, Kate Reading} [B003P2WO5E]"` and its other forms:
    an ASIN in brackets, narrators in braces at the end, a position (only inside a series folder), then
    a year, in that order."""
    asin = None
    if found := _ASIN.search(name):
        asin, name = found.group(1), name.replace(found.group(0), "", 1)
    name = name.strip()
    narrators: tuple[str, ...] = ()
    if found := _NARRATORS.match(name):
        name, narrators = found.group("title"), parse_names(found.group("narrators"))
    sequence = None
    if in_series:
        name, sequence = _sequence(name)
    year = None
    if found := _YEAR.match(name):
        year, name = found.group(1), found.group(2)
    return TitleFolder(name, sequence, year, narrators, asin)


def _sequence(name: str) -> tuple[str, str | None]:
    """The first ` - `-separated part that is a volume (`Book 2`, `2`, `Vol. 7`, `1. X`, `0.5`) gives the
    position; a part that only starts with a number (`101 Dalmatians`) does not."""
    parts = name.split(" - ")
    for index, part in enumerate(parts):
        found = _SEQUENCE.match(part)
        if found is None or (found.group("suffix") and not (found.group("label") or found.group("dot"))):
            continue
        digits = found.group("sequence")
        sequence = format(float(digits), "g") if digits else "0"  # JavaScript's Number(x).toString()
        if found.group("suffix"):
            parts[index] = found.group("suffix")
        else:
            del parts[index]
        return " - ".join(parts), sequence
    return name, None


def parse_authors(text: str) -> list[str]:
    """An author folder: `A`, `Last, First`, `A, B`, `A & B` or `Last, First & Last, First`."""
    return list(parse_names(text))


def from_folder_structure(rel_path: str, is_file: bool) -> BookMetadata:
    """The lowest-precedence source: only the last three folder levels count."""
    parts = rel_path.split("/")
    title_name = Path(parts[-1]).stem if is_file else parts[-1]
    folders = parts[:-1]
    # `Author/Series/Title`: a series only when the title folder has two folders above it
    series = folders[-1] if len(folders) >= 2 else None
    author = folders[-2] if len(folders) >= 2 else folders[-1] if folders else None
    parsed = parse_title_folder(title_name, in_series=series is not None)
    return BookMetadata(
        title=parsed.title,
        narrators=list(parsed.narrators),
        published_year=parsed.year,
        asin=parsed.asin,
        authors=list(parse_names(author)) if author else [],
        series=[(series, parsed.sequence)] if series else [],
    )


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
    first_audio = next(folder / entry.rel_path for entry in files if entry.ext in AUDIO_EXTENSIONS)
    for source in precedence:
        metadata = _apply_source(metadata, source, folder, first_audio)
    ms = _stat_ms(folder_stat)
    return FolderBook(rel_path, False, str(folder_stat.st_ino), *ms, files, metadata)


def _single_file_book(root: Path, name: str) -> FolderBook:
    path = root / name
    ms = _stat_ms(path.stat())
    files = _file_entries(root, [path])
    return FolderBook(name, True, files[0].ino, *ms, files, from_folder_structure(name, is_file=True))


def _apply_source(metadata: BookMetadata, source: str, folder: Path, first_audio: Path) -> BookMetadata:
    """Apply one metadata source of `settings.metadataPrecedence` (.nfo files are not read)."""
    if source == "audioMetatags":
        tags = read_tags(first_audio)
        if tags:
            metadata = apply_audio_tags(metadata, tags)
    elif source == "txtFiles":
        if (text := _read_text(folder / "desc.txt")) is not None and text.strip():
            metadata = replace(metadata, description=text.strip())
        if (text := _read_text(folder / "reader.txt")) is not None and text.strip():
            first_line = text.splitlines()[0].strip() if text.splitlines() else ""
            if first_line:
                metadata = replace(metadata, narrators=list(parse_names(first_line)))
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
