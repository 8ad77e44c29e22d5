"""One torrent of the simulated MAM catalogue, and its search row exactly as MAM sends it.

`Row` holds typed data; `render_row()` turns it into the wire row with MAM's real types: `id` a number,
`author_info` / `narrator_info` / `series_info` / `categories` / `mediainfo` / `ownership` strings that
contain JSON, `size` a human base-1024 string, `added` `YYYY-MM-DD HH:MM:SS`, flags 0/1. A row
can carry traps on purpose: `size_text` replaces the displayed size (a plain byte count, odd units), `omit`
drops fields, `wire` replaces rendered values (an `author_info` that is not JSON), and `old_owner_fields`
sends `owner` / `owner_name` instead of `ownership`, as older rows do.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from mamd.domain.categories import AUDIOBOOK_CATEGORIES

AUDIOBOOKS = 13
EBOOKS = 14
ABRIDGED = 32  # the `browseflags` bit for abridged
DRAMATIZATION = 10  # the new-taxonomy tag "Dramatization/Full Cast" in `categories`
VIP_CLASSES = frozenset({"VIP", "Elite VIP"})

# MAM's language ids, with the three-letter codes rows carry in `lang_code`
LANGUAGES: dict[int, tuple[str, str]] = {
    1: ("English", "ENG"),
    2: ("Chinese", "CHI"),
    4: ("Spanish", "SPA"),
    22: ("Dutch", "DUT"),
    36: ("French", "FRE"),
    37: ("German", "GER"),
    43: ("Italian", "ITA"),
    52: ("Portuguese", "POR"),
}

# MAM's audiobook sub-categories are `AUDIOBOOK_CATEGORIES`; the e-book ids overlap in range
EBOOK_CATEGORIES: dict[int, str] = {63: "Fantasy", 69: "Science Fiction"}
NONFICTION = frozenset({49, 50, 83, 51, 97, 106, 52, 54, 55, 84, 56, 57, 85, 119, 88, 58, 59, 53, 89, 100})

_UNITS = ("KiB", "MiB", "GiB", "TiB")


def human_size(size: int, decimals: int = 1) -> str:
    """`size` bytes as MAM displays it, in powers of 1024: "211.9 KiB", "451.8 MiB", "1.2 GiB"."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.{decimals}f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Credit:
    """An author or narrator: MAM's stable id and the display name."""

    id: int
    name: str


@dataclass(frozen=True)
class SeriesLink:
    """A series and this torrent's number in it: "3", "2.5", or a bundle's "01-03" / "01-16, 13.5"."""

    id: int
    name: str
    number: str


@dataclass
class Row:
    """One torrent. Flags are ints (0/1) as on the wire; they change as the simulated account acts."""

    id: int
    title: str
    authors: tuple[Credit, ...]
    narrators: tuple[Credit, ...] = ()
    series: tuple[SeriesLink, ...] = ()
    filetype: str = "m4b"
    size_bytes: int = 0
    size_text: str | None = None  # shown instead of human_size(size_bytes): the odd sizes real rows show
    numfiles: int = 1
    seeders: int = 0
    leechers: int = 0
    times_completed: int = 0
    added: str = "2026-01-01 00:00:00"
    vip: int = 0
    vip_expire: int = 0
    free: int = 0
    fl_vip: int = 0
    personal_freeleech: int = 0
    my_snatched: int = 0
    main_cat: int = AUDIOBOOKS
    category: int = 41
    language: int = 1
    mediatype: int = 1
    categories: tuple[int, ...] = ()
    tags: str = ""
    browseflags: int = 0
    w: int = 1
    comments: int = 0
    bookmarked: int | None = None
    poster_type: str = "image/jpeg"
    mediainfo: dict[str, Any] | None = None
    owner: tuple[int, str] = (200001, "sim-uploader")
    old_owner_fields: bool = False
    description: str = ""
    isbn: str = ""
    layout: Literal["folder", "file"] = (
        "folder"  # the payload: a folder, or one bare file (single-file torrent)
    )
    omit: frozenset[str] = frozenset()
    wire: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> str:
        return self.size_text if self.size_text is not None else human_size(self.size_bytes)

    @property
    def lang_code(self) -> str:
        return LANGUAGES.get(self.language, ("Other", "OTH"))[1]

    @property
    def catname(self) -> str:
        if self.main_cat == EBOOKS:
            return f"Ebooks - {EBOOK_CATEGORIES.get(self.category, 'General Fiction')}"
        return f"Audiobooks - {AUDIOBOOK_CATEGORIES.get(self.category, 'Other')}"

    @property
    def maincat(self) -> int:
        """The new taxonomy's 1 Fiction / 2 Nonfiction."""
        return 2 if self.category in NONFICTION else 1

    @property
    def abridged(self) -> bool:
        return bool(self.browseflags & ABRIDGED)

    def dl_token(self) -> str:
        """The opaque `dl` value: stable per torrent, meaningless to the client."""
        return hashlib.sha1(f"sim-dl:{self.id}".encode()).hexdigest()


def _json_text(value: Any) -> str:
    return json.dumps(value)


def render_row(
    row: Row, *, isbn: bool = False, description: bool = False, dl: bool = False
) -> dict[str, Any]:
    """The row as `loadSearchJSONbasic.php` sends it: every field in MAM's order, with the optional
    `isbn`, `description` and `dl` keys only when the request asked for them (top-level `isbn: true`, …)."""
    wire: dict[str, Any] = {
        "id": row.id,
        "title": row.title,
        "author_info": _json_text({str(a.id): a.name for a in row.authors}),
        "narrator_info": _json_text({str(n.id): n.name for n in row.narrators}),
        "series_info": _json_text({str(s.id): [s.name, s.number] for s in row.series}),
        "filetype": row.filetype,
        "size": row.size,
        "numfiles": row.numfiles,
        "seeders": row.seeders,
        "leechers": row.leechers,
        "times_completed": row.times_completed,
        "added": row.added,
        "vip": row.vip,
        "vip_expire": row.vip_expire,
        "free": row.free,
        "fl_vip": row.fl_vip,
        "personal_freeleech": row.personal_freeleech,
        "my_snatched": row.my_snatched,
        "main_cat": row.main_cat,
        "category": row.category,
        "catname": row.catname,
        "cat": f'<div class="cat{row.category}">&nbsp;</div>',
        "language": row.language,
        "lang_code": row.lang_code,
        "mediatype": row.mediatype,
        "maincat": row.maincat,
        "categories": _json_text(list(row.categories)),
        "tags": row.tags,
        "browseflags": row.browseflags,
        "w": row.w,
        "comments": row.comments,
        "bookmarked": row.bookmarked,
        "poster_type": row.poster_type,
        "mediainfo": _json_text(row.mediainfo) if row.mediainfo else "",
    }
    if row.old_owner_fields:
        wire["owner"], wire["owner_name"] = row.owner
    else:
        wire["ownership"] = _json_text(list(row.owner))
    if description:
        wire["description"] = row.description
    if isbn:
        wire["isbn"] = row.isbn
    if dl:
        wire["dl"] = row.dl_token()
    for key in row.omit:
        wire.pop(key, None)
    wire.update(row.wire)
    return wire


def is_free_for(row: Row, classname: str) -> bool:
    """Prowlarr's conservative rule: free for everyone, personal freeleech, or VIP / `fl_vip` for a
    VIP class. Downloads that are not free count against the ratio."""
    if row.free or row.personal_freeleech:
        return True
    return bool(row.vip or row.fl_vip) and classname in VIP_CLASSES


def already_free(row: Row, classname: str) -> bool:
    """A wedge spent here is wasted (MAM still spends it): free, VIP, or already personal freeleech."""
    return bool(row.free or row.vip or row.personal_freeleech) or is_free_for(row, classname)
