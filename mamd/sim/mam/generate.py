"""A deterministic generator of realistic MAM catalogue rows: the same `count` and `seed`, the same rows.

The rows hold what a real search returns and what a client must cope with: invented authors with series
(and bundles numbered "01-03"), one or two narrators or none, m4b / mp3 / flac audiobooks whose `mediainfo`
carries bitrates from 32k to 320k, durations and chapter lists, sizes that follow bitrate × duration,
seeders from 0 to 200, VIP rows (some with a temporary `vip_expire`), freeleech, `fl_vip`, personal
freeleech, `my_snatched`, content flags (a few abridged), other languages, and e-books under main category
14 with `filetype` such as "epub mobi pdf". Ids rise with the upload date, with gaps, from `first_id`.

Names are invented; no generated title collides with a hand-written row (`catalogue`).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from mamd.sim.mam.rows import EBOOKS, Credit, Row, SeriesLink

T = TypeVar("T")
FIRST_ID = 1_000_001
MAX_AUTHORS = 5000
_START = datetime(2010, 1, 1, tzinfo=UTC)
_END = datetime(2026, 9, 30, tzinfo=UTC)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "Adele Alistair Amelia Ansel Beatrix Bram Cassia Cormac Delphine Desmond Eamon Edith Elspeth Emrys "
    "Fenella Florian Gideon Greer Hamish Hester Idris Imogen Isolde Jasper Keziah Lachlan Linnea Lorcan "
    "Magnus Marisol Niamh Odette Orrin Perpetua Quentin Rosalie Ruairi Saskia Seren Tamsin Tobias Una "
    "Valentin Wilhelmina Wystan Xanthe Yara Zachariah"
)
_LAST = _words(
    "Ashcombe Bellweather Blackthorn Brightwell Carraway Coldridge Dunmore Elderkin Farrington Fenmore "
    "Galloway Greaves Hartigan Holloway Inchbald Kettering Lindqvist Lovelace Marchbanks Merriweather "
    "Northcott Oakhurst Penhallow Quartermaine Ravensworth Redfern Saltonstall Shackleton Thistlewood "
    "Trelawney Underwood Vanstone Wetherby Whitcombe Winterbourne Yelland"
)
_ADJECTIVES = _words(
    "Amber Ashen Broken Copper Crimson Drowned Ember Fallen Gilded Glass Hollow Iron Lantern Midnight "
    "Nameless Pale Quiet Salt Scarlet Silent Silver Starless Sunken Thorned Velvet Winter"
)
_NOUNS = _words(
    "Archive Bell Bridge Citadel Compass Crown Engine Exile Forge Garden Harbor Heir Labyrinth Lighthouse "
    "Machine Mirror Oath Orchard Palace Prophecy Raven Reliquary Spire Tide Tower Traitor Voyage Warden"
)
_PLACES = _words("Aldermoor Brackenfell Corvane Dunharrow Eskmere Farrowdeep Greyhaven Kestrel Marrowgate")
_UPLOADERS = ("quietmouse", "paperlantern", "owlbound", "dustjacket", "marginalia", "foxedpages")
_GENRES: tuple[tuple[int, tuple[int, ...], str], ...] = (
    # (audiobook category, new-taxonomy tags, free-text tags)
    (41, (13,), "epic fantasy"),
    (41, (13, 58), "progression fantasy"),
    (41, (13, 29), "litrpg"),
    (47, (45,), "space opera"),
    (47, (45,), "hard science fiction"),
    (87, (34,), "cozy mystery"),
    (40, (51,), "thriller"),
    (98, (42,), "historical fiction"),
    (43, (37,), "horror"),
    (46, (47,), "romance"),
    (54, (22,), "history"),
    (50, (5,), "biography"),
)
_LANGUAGE_DRAW = (1,) * 34 + (4, 36, 37, 37, 43, 22, 52, 2)
_BITRATES = (32, 48, 56, 62, 64, 64, 64, 96, 112, 128, 128, 192, 256, 320)


def _pick(draw: random.Random, options: Sequence[T]) -> T:
    return options[int(draw.random() * len(options))]


def _duration(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _isbn(draw: random.Random) -> str:
    roll = draw.random()
    if roll < 0.15:
        return ""
    if roll < 0.3:
        return "ASIN:B0" + "".join(_pick(draw, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8))
    digits = [9, 7, 8] + [draw.randint(0, 9) for _ in range(9)]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return "".join(map(str, digits)) + str(check)


def audio_mediainfo(
    fmt: str, bitrate: int, seconds: int, title: str, chapters: int, channels: int = 2
) -> dict[str, object]:
    """A `mediainfo` object as MAM stores it: General, Audio1 and, for m4b, the chapter menu."""
    general, codec, codec_id = {
        "m4b": ("MPEG-4", "AAC", "mp4a-40-2"),
        "mp3": ("MPEG Audio", "MPEG Audio", ""),
        "flac": ("FLAC", "FLAC", ""),
    }[fmt]
    info: dict[str, object] = {
        "General": {"Format": general, "Duration": _duration(seconds), "Title": title},
        "Audio1": {
            "Format": codec,
            "BitRate": f"{bitrate}k",
            "BitRate_Mode": "VBR" if fmt == "m4b" else "CBR",
            "Channels": channels,
            "SamplingRate": "22.05kHz" if bitrate < 48 else "44.1kHz",
            "CodecID": codec_id,
        },
    }
    if fmt == "m4b":
        info["menu"] = {"extra": [f"Chapter {n}" for n in range(1, chapters + 1)]}
    return info


@dataclass
class _Series:
    id: int
    name: str
    next: int = 1


class _Authors:
    """Invented authors, each with up to three series and a running book number per series."""

    def __init__(self, draw: random.Random, count: int) -> None:
        self.people: list[Credit] = []
        self.series: list[list[_Series]] = []
        series_ids = 30_000
        used: set[str] = set()
        while len(self.people) < count:
            name = f"{_pick(draw, _FIRST)} {_pick(draw, _LAST)}"
            if draw.random() < 0.12 or name in used:
                name = f"{_pick(draw, _FIRST)} {_pick(draw, 'ABCDEGHJKLMRT')}. {_pick(draw, _LAST)}"
            if name in used:
                continue  # draw again: the pools hold far more names than any catalogue needs
            used.add(name)
            self.people.append(Credit(10_000 + len(self.people), name))
            own = []
            for _ in range(draw.choice((0, 1, 1, 2, 3))):
                name = _pick(draw, (f"The {_pick(draw, _PLACES)} Cycle", f"{_pick(draw, _NOUNS)} Chronicles"))
                own.append(_Series(series_ids, name))
                series_ids += 1
            self.series.append(own)


def generate_rows(
    count: int, seed: int = 1, *, first_id: int = FIRST_ID, avoid_titles: Collection[str] = ()
) -> list[Row]:
    """`count` rows, ids ascending with the upload date; titles in `avoid_titles` (any case) never appear."""
    draw = random.Random(f"mam-catalogue:{seed}")
    authors = _Authors(draw, min(MAX_AUTHORS, max(12, count // 5)))
    narrators = [Credit(50_000 + n, f"{_pick(draw, _FIRST)} {_pick(draw, _LAST)}") for n in range(80)]
    avoid = {title.lower() for title in avoid_titles}
    span = (_END - _START).total_seconds()
    dates = sorted(_START + timedelta(seconds=draw.random() * span) for _ in range(count))
    rows: list[Row] = []
    tid = first_id
    for when in dates:
        rows.append(_row(draw, tid, when, authors, narrators, avoid))
        tid += 1 + int(draw.random() ** 4 * 40)
    return rows


def _title(draw: random.Random, avoid: set[str]) -> str:
    while True:
        title = _pick(
            draw,
            (
                f"The {_pick(draw, _ADJECTIVES)} {_pick(draw, _NOUNS)}",
                f"{_pick(draw, _NOUNS)} of {_pick(draw, _PLACES)}",
                f"The {_pick(draw, _NOUNS)}'s {_pick(draw, _NOUNS)}",
                f"{_pick(draw, _ADJECTIVES)} {_pick(draw, _NOUNS)}s",
            ),
        )
        if title.lower() not in avoid:
            return title


def _row(
    draw: random.Random,
    tid: int,
    when: datetime,
    authors: _Authors,
    narrators: list[Credit],
    avoid: set[str],
) -> Row:
    index = min(int(draw.random() ** 1.6 * len(authors.people)), len(authors.people) - 1)
    people = [authors.people[index]]
    if draw.random() < 0.05:
        people.append(_pick(draw, authors.people))
    category, taxonomy, tags = _pick(draw, _GENRES)
    title = _title(draw, avoid)
    series: tuple[SeriesLink, ...] = ()
    numfiles_hint = 1
    own = authors.series[index]
    if own and draw.random() < 0.7:
        entry = _pick(draw, own)
        if draw.random() < 0.04 and entry.next > 3:
            title, label = f"{entry.name} Books 1-3", "01-03"
            numfiles_hint = 3
        else:
            label = str(entry.next) if draw.random() > 0.06 or entry.next == 1 else f"{entry.next - 1}.5"
            entry.next += 1
        series = (SeriesLink(entry.id, entry.name, label),)
    language = _pick(draw, _LANGUAGE_DRAW)
    seeders = 0 if draw.random() < 0.08 else min(200, int(201 * draw.random() ** 2.5))
    vip = int(draw.random() < 0.07)
    row = Row(
        id=tid,
        title=title,
        authors=tuple(people),
        series=series,
        seeders=seeders,
        leechers=int(draw.random() ** 3 * 6),
        times_completed=seeders + int(draw.random() ** 2 * 400),
        added=when.strftime("%Y-%m-%d %H:%M:%S"),
        vip=vip,
        vip_expire=int(when.timestamp()) + 86_400 * draw.randint(14, 60)
        if vip and draw.random() < 0.3
        else 0,
        free=int(draw.random() < 0.04),
        fl_vip=int(bool(vip) or draw.random() < 0.04),
        personal_freeleech=int(draw.random() < 0.02),
        my_snatched=int(draw.random() < 0.02),
        category=category,
        language=language,
        categories=taxonomy,
        tags=tags,
        browseflags=_flags(draw),
        comments=int(draw.random() ** 3 * 20),
        bookmarked=draw.randint(1, 9_000_000) if draw.random() < 0.03 else None,
        poster_type="image/png" if draw.random() < 0.15 else "image/jpeg",
        owner=(200_001 + _UPLOADERS.index(name := _pick(draw, _UPLOADERS)), name),
        description=f"<p>{title}, read in full.</p><p>Uploaded for the simulated catalogue.</p>",
        isbn=_isbn(draw),
    )
    if draw.random() < 0.15:
        _make_ebook(draw, row)
    else:
        if row.abridged and draw.random() < 0.5:
            row.title = f"{row.title} (Abridged)"
        _make_audiobook(draw, row, narrators, numfiles_hint)
    return row


def _flags(draw: random.Random) -> int:
    flags = 0
    for bit, chance in ((2, 0.08), (4, 0.1), (8, 0.04), (16, 0.02), (32, 0.02), (64, 0.03)):
        if draw.random() < chance:
            flags |= bit
    return flags


def _make_audiobook(draw: random.Random, row: Row, narrators: list[Credit], bundle_books: int) -> None:
    roll = draw.random()
    fmt = "m4b" if roll < 0.55 else "mp3" if roll < 0.96 else "flac"
    bitrate = _pick(draw, _BITRATES) if fmt != "flac" else draw.randint(700, 1100)
    seconds = draw.randint(3, 40) * 3600 * bundle_books + draw.randint(0, 3599)
    if row.abridged:
        seconds //= 3
    chapters = min(60, max(3, seconds // 1500))
    row.filetype = fmt
    row.mediainfo = audio_mediainfo(fmt, bitrate, seconds, row.title, chapters, 1 if bitrate <= 48 else 2)
    row.size_bytes = int(bitrate * 125 * seconds * (1 + draw.random() * 0.03))
    row.numfiles = (
        draw.randint(1, 2) if fmt == "m4b" else draw.randint(8, 90) if fmt == "mp3" else draw.randint(20, 60)
    )
    row.layout = "file" if fmt == "m4b" and draw.random() < 0.2 else "folder"
    cast = draw.random()
    if cast < 0.05:
        row.narrators = ()
    elif cast < 0.06:
        row.narrators = (Credit(59_999, "Full Cast"),)
        row.categories = (*row.categories, 10)
    else:
        count = 2 if cast > 0.9 else 1
        row.narrators = tuple(dict.fromkeys(_pick(draw, narrators) for _ in range(count)))


def _make_ebook(draw: random.Random, row: Row) -> None:
    row.main_cat = EBOOKS
    row.mediatype = 2
    row.category = 69 if 45 in row.categories else 63
    row.filetype = _pick(draw, ("epub", "epub", "epub mobi", "epub mobi pdf", "pdf", "azw3 epub"))
    row.numfiles = len(row.filetype.split())
    row.size_bytes = draw.randint(300 * 1024, 40 * 1024 * 1024)
    row.browseflags &= ~32  # abridged is an audiobook flag
    row.mediainfo = None
