"""Where a book goes inside the library, and what each file there is called.

Every path component is made safe on its own: no `/` or `\\`, no NUL or control
characters, no `..`, no leading or trailing dots or spaces, Unicode NFC, at most 255 bytes
of UTF-8 (cut on a character boundary, keeping the extension), and none of the characters Windows and SMB
shares refuse (NAS users browse their library from other machines). A path built here is
always relative and never climbs: joined to the library folder it stays inside it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from string import Formatter

from mamd.domain.book import BookMeta

MAX_COMPONENT_BYTES = 255
MAX_SUFFIX_BYTES = 16  # an extension kept whole when a long name is cut
MAX_AUTHORS_IN_FOLDER = 3
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SEPARATORS = str.maketrans(
    {"/": "-", "\\": "-", ":": " -", '"': "'", "<": "", ">": "", "|": "-", "?": "", "*": ""}
)
_SPACES = re.compile(r"\s+")
_MISSING = "\x00"  # marks a placeholder without a value while a component is rendered
_AROUND_MISSING = re.compile(r"[\s\-–—_.,;:#]*\x00[\s\-–—_.,;:#]*")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]|\{\s*\}")


def safe_component(text: str, fallback: str = "_") -> str:
    """One path component, safe to create inside the library; `fallback` when nothing is left."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text).translate(_SEPARATORS)
    text = _SPACES.sub(" ", text).strip(" .")
    if len(text.encode()) > MAX_COMPONENT_BYTES:
        stem, suffix = _split_suffix(text)
        text = _fit(stem, suffix, MAX_COMPONENT_BYTES).strip(" .")
    if not text or text in (".", ".."):
        return fallback
    return text


def join_authors(authors: Sequence[str]) -> str:
    """Several authors as Audiobookshelf's folder parser reads them: `A & B`."""
    named = [a.strip() for a in authors if a.strip()]
    if len(named) > MAX_AUTHORS_IN_FOLDER:
        named = named[:MAX_AUTHORS_IN_FOLDER]
    return " & ".join(named)


def _render(component: str, values: dict[str, str | None]) -> str:
    out = []
    for literal, name, _, _ in Formatter().parse(component):
        out.append(literal)
        if name is not None:
            value = values.get(name)
            out.append(value if value else _MISSING)
    text = "".join(out)
    # a missing value takes the separators around it along ("{position} - {title}" → "{title}")
    text = _AROUND_MISSING.sub(" ", text)
    return _EMPTY_BRACKETS.sub("", text).strip()


def book_folder(layout: str, book: BookMeta) -> PurePosixPath:
    """The book's folder relative to the library, from the `import.layout` template.

    Components whose placeholders are all empty disappear, so a book without a series lands
    in `{author}/{title}` with the default layout.
    """
    values: dict[str, str | None] = {
        "author": join_authors(book.authors) or "Unknown Author",
        "series": book.series,
        "position": book.position if book.series else None,
        "title": book.title or "Untitled",
        "narrator": ", ".join(book.narrators[:2]) if book.narrators else None,
        "asin": book.asin,
        "year": book.year,
    }
    parts = []
    for component in layout.split("/"):
        rendered = _render(component, values)
        if rendered:
            parts.append(safe_component(rendered))
    return PurePosixPath(*parts) if parts else PurePosixPath(safe_component(values["title"] or ""))


def file_path(parts: Iterable[str]) -> PurePosixPath:
    """A file's path inside the book folder from the torrent's path components, made safe.

    `..`, `.` and empty components are dropped rather than followed; nothing can climb out.
    """
    safe = [safe_component(p) for p in parts if p not in ("", ".", "..")]
    safe = [p for p in safe if p not in (".", "..")]
    return PurePosixPath(*safe) if safe else PurePosixPath("file")


def unique_paths(paths: Sequence[PurePosixPath]) -> list[PurePosixPath]:
    """The same paths, with later ones renamed `name (2).ext` where two became equal once made safe."""
    seen: set[str] = set()
    out = []
    for path in paths:
        candidate, number = path, 2
        while str(candidate).casefold() in seen:
            candidate = path.with_name(_numbered(path.name, number))
            number += 1
        seen.add(str(candidate).casefold())
        out.append(candidate)
    return out


def _numbered(name: str, number: int) -> str:
    """`name (number).ext`, the stem cut so that the number always fits: a name already at the length
    limit would otherwise lose its number to the cut and never become unique."""
    stem, suffix = _split_suffix(name)
    return safe_component(_fit(stem, f" ({number}){suffix}", MAX_COMPONENT_BYTES))


def _split_suffix(name: str) -> tuple[str, str]:
    """The name and its extension, which a cut keeps (`.mp3`, `.m4b`); a long "extension" is name."""
    suffix = PurePosixPath(name).suffix
    if not suffix or len(suffix.encode()) > MAX_SUFFIX_BYTES:
        return name, ""
    return name[: -len(suffix)], suffix


def _fit(stem: str, tail: str, limit: int) -> str:
    """`stem + tail` in at most `limit` bytes of UTF-8, the stem cut on a character boundary."""
    room = max(limit - len(tail.encode()), 0)
    return stem.encode()[:room].decode("utf-8", errors="ignore").rstrip(" .") + tail
