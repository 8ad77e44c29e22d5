"""A book as mamd files it: the metadata an import needs, and its Audiobookshelf `metadata.json`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BookMeta:
    title: str
    authors: tuple[str, ...] = ()
    narrators: tuple[str, ...] = ()
    series: str | None = None
    position: str | None = None  # "3", "2.5"
    subtitle: str | None = None
    asin: str | None = None
    isbn: str | None = None
    year: str | None = None
    language: str | None = None
    description: str | None = None
    source: str = "unknown"  # where this came from: grab, tags, torrent_name
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        by = f" by {', '.join(self.authors)}" if self.authors else ""
        where = f" ({self.series} #{self.position})" if self.series and self.position else ""
        return f"{self.title}{where}{by}"

    def card(self) -> dict[str, Any]:
        """The few fields a message names the book by."""
        return {
            "title": self.title,
            "authors": list(self.authors),
            "series": self.series,
            "position": self.position,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "authors": list(self.authors),
            "narrators": list(self.narrators),
            "series": self.series,
            "position": self.position,
            "subtitle": self.subtitle,
            "asin": self.asin,
            "isbn": self.isbn,
            "year": self.year,
            "language": self.language,
            "description": self.description,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BookMeta:
        return cls(
            title=str(data.get("title") or ""),
            authors=tuple(str(a) for a in data.get("authors") or ()),
            narrators=tuple(str(n) for n in data.get("narrators") or ()),
            series=data.get("series") or None,
            position=data.get("position") or None,
            subtitle=data.get("subtitle") or None,
            asin=data.get("asin") or None,
            isbn=data.get("isbn") or None,
            year=data.get("year") or None,
            language=data.get("language") or None,
            description=data.get("description") or None,
            source=str(data.get("source") or "unknown"),
        )


def merge(first: BookMeta | None, then: BookMeta) -> BookMeta:
    """`first`, with every field it lacks taken from `then`; the source names both."""
    if first is None:
        return then
    return BookMeta(
        title=first.title or then.title,
        authors=first.authors or then.authors,
        narrators=first.narrators or then.narrators,
        series=first.series or then.series,
        position=first.position if first.series else then.position,
        subtitle=first.subtitle or then.subtitle,
        asin=first.asin or then.asin,
        isbn=first.isbn or then.isbn,
        year=first.year or then.year,
        language=first.language or then.language,
        description=first.description or then.description,
        source=f"{first.source}+{then.source}",
    )


def abs_metadata(book: BookMeta) -> dict[str, Any]:
    """Audiobookshelf's own `metadata.json` sidecar, holding only what mamd knows.

    The sidecar wins over tags, `reader.txt` and folder names, field by field. Audiobookshelf skips
    a field that is null, and an empty list of authors, genres or tags, but an empty list of narrators
    or series replaces what the audio tags say (its `AbsMetadataFileScanner`): a field mamd does not
    know is left out, so the tags' narrator (`composer`) and series still count.
    """
    values: dict[str, Any] = {
        "title": book.title,
        "subtitle": book.subtitle,
        "authors": list(book.authors),
        "narrators": list(book.narrators),
        "series": [f"{book.series} #{book.position}" if book.position else book.series]
        if book.series
        else [],
        "publishedYear": book.year,
        "description": book.description,
        "isbn": book.isbn,
        "asin": book.asin,
        "language": book.language,
    }
    return {key: value for key, value in values.items() if value}
