"""A torrent as MAM lists it (a "release" of a book), in mamd's own types."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

AUDIOBOOKS = 13
EBOOKS = 14
ABRIDGED_FLAG = 32
DRAMATIZATION = 10  # the new taxonomy's "Dramatization/Full Cast" content tag
VIP_CLASSES = frozenset({"vip", "elite vip"})
AUDIO_FORMATS = frozenset({"m4b", "mp3", "m4a", "aac", "flac", "ogg", "opus", "wma", "wav"})
_ABRIDGED = re.compile(r"\babridged\b", re.IGNORECASE)  # "unabridged" has no word boundary before it
_DRAMATISED = re.compile(r"dramati[sz]ed|dramati[sz]ation|full[- ]cast|bbc radio", re.IGNORECASE)
# words that mark a production only where they label the title (brackets or a subtitle): a book may
# be called "Radio Silence" or "The Drama of the Gifted Child"
_PRODUCTION = re.compile(r"\b(radio|audio|original)\s+(drama|play)\b|\baudioplay\b", re.IGNORECASE)
_LABELS = re.compile(r"[\(\[]([^\(\)\[\]]*)[\)\]]|(?::|\s[-–—]\s)(.*)$")


@dataclass(frozen=True)
class SeriesTag:
    name: str
    number: str  # as MAM writes it: "3", "03", "01-16, 13.5", or ""


@dataclass(frozen=True)
class Release:
    id: int
    title: str
    authors: tuple[str, ...] = ()
    narrators: tuple[str, ...] = ()
    series: tuple[SeriesTag, ...] = ()
    filetypes: tuple[str, ...] = ()
    size: int | None = None  # bytes
    files: int | None = None
    seeders: int = 0
    leechers: int = 0
    snatched: int = 0
    added: str | None = None
    vip: bool = False
    free: bool = False
    fl_vip: bool = False
    personal_freeleech: bool = False
    my_snatched: bool = False
    main_cat: int | None = None
    mediatype: int | None = None
    language: int | None = None
    lang_code: str | None = None
    browseflags: int = 0
    categories: tuple[int, ...] = ()
    bitrate: int | None = None  # bits per second, from mediainfo
    duration_s: int | None = None
    isbn: str | None = None
    asin: str | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)  # fields that could not be read

    @property
    def abridged(self) -> bool:
        return bool(self.browseflags & ABRIDGED_FLAG) or bool(_ABRIDGED.search(self.title))

    @property
    def audiobook(self) -> bool:
        if self.main_cat is not None:
            return self.main_cat == AUDIOBOOKS
        if self.mediatype is not None:
            return self.mediatype in (1, 8)
        return bool(set(self.filetypes) & AUDIO_FORMATS)

    @property
    def dramatized(self) -> bool:
        if DRAMATIZATION in self.categories or _DRAMATISED.search(self.title):
            return True
        labels = " ".join(a or b for a, b in _LABELS.findall(self.title))
        return bool(_PRODUCTION.search(labels))

    def free_for(self, classname: str | None) -> bool:
        """Freeleech for this user (Prowlarr's rule): free for all, bought, or VIP-free for a VIP class."""
        vip_class = (classname or "").casefold() in VIP_CLASSES
        return self.free or self.personal_freeleech or ((self.fl_vip or self.vip) and vip_class)

    @property
    def label(self) -> str:
        by = f" by {', '.join(self.authors)}" if self.authors else ""
        return f"{self.title}{by} [MAM {self.id}]"
