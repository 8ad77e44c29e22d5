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
_ABRIDGED = re.compile(r"\babridged\b|\(abr\.?\)", re.IGNORECASE)  # "unabridged" has no boundary before it
# an uploader's description or tags that call the recording abridged; "non-abridged" and "not abridged"
# say the opposite, and a text that also says "unabridged" is describing another edition beside it
_ABRIDGED_TEXT = re.compile(r"(?<![\w-])(?<!not )(?<!non )abridged\b", re.IGNORECASE)
_UNABRIDGED = re.compile(r"unabridged", re.IGNORECASE)
_DRAMATISED = re.compile(
    r"dramati[sz]ed|dramati[sz]ation|full[- ]cast|bbc radio|graphic ?audio", re.IGNORECASE
)
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
    tags: str = ""  # the uploader's free text
    description: str = ""  # HTML, when the search asked for it
    file_title: str | None = None  # the title tag of the (first) file, from mediainfo
    problems: tuple[str, ...] = field(default=(), compare=False)  # fields that could not be read

    @property
    def abridged(self) -> bool:
        if self.browseflags & ABRIDGED_FLAG or _ABRIDGED.search(self.title):
            return True
        return any(_ABRIDGED_TEXT.search(text) and not _UNABRIDGED.search(text) for text in self.notes)

    @property
    def notes(self) -> tuple[str, ...]:
        """What the uploader wrote about the release besides its title: tags and description."""
        return tuple(text for text in (self.tags, self.description) if text)

    @property
    def audiobook(self) -> bool:
        if self.main_cat is not None:
            return self.main_cat == AUDIOBOOKS
        if self.mediatype is not None:
            return self.mediatype in (1, 8)
        return bool(set(self.filetypes) & AUDIO_FORMATS)

    @property
    def dramatized(self) -> bool:
        """A full-cast or dramatised production: MAM's category 10, or the title, the tags or the
        narrators say so (GraphicAudio and "Full Cast" are credited as narrators). The description is
        not read: a blurb may mention a radio version of the book it describes."""
        if DRAMATIZATION in self.categories:
            return True
        if any(_DRAMATISED.search(text) for text in (self.title, self.tags, *self.narrators)):
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
