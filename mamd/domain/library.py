"""What the user owns: books as Audiobookshelf describes them, in mamd's own types."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeriesEntry:
    name: str
    sequence: str | None  # as Audiobookshelf stores it: "1", "2.5", "Book 3", "1-3", or nothing
    series_id: str | None = None


@dataclass(frozen=True)
class Book:
    id: str
    title: str
    authors: tuple[str, ...]
    narrators: tuple[str, ...] = ()
    series: tuple[SeriesEntry, ...] = ()
    subtitle: str | None = None
    asin: str | None = None
    isbn: str | None = None
    path: str = ""
    rel_path: str = ""
    published_year: str | None = None
    language: str | None = None
    abridged: bool = False
    updated_at: int = 0  # Audiobookshelf's updatedAt, epoch milliseconds


@dataclass(frozen=True)
class ListedItem:
    """One row of the items list: enough to tell what changed since the last sync."""

    id: str
    updated_at: int
    is_missing: bool
    is_invalid: bool
    title: str
    rel_path: str
    added_at: int = 0  # Audiobookshelf's addedAt, epoch milliseconds

    @property
    def usable(self) -> bool:
        return not (self.is_missing or self.is_invalid)


@dataclass(frozen=True)
class Library:
    id: str
    name: str
    folders: tuple[str, ...]
    last_scan: int | None  # epoch milliseconds; moves when a scan finishes
    watcher_disabled: bool = False
