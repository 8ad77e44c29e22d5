"""The simulated MAM catalogue: hand-written rows that mamd's demo and tests rely on, plus generated ones.

Hand-written rows have ids 900001–900199; generated rows start at 1,000,001 (`generate`). A "good"
row is an m4b, unabridged, English audiobook (main category 13) of one book, by the right author, not
VIP-only and not a dramatization. Each of the six demo books has exactly one good row:

| id | row |
|---|---|
| 900001 | The Hero of Ages — Brandon Sanderson, Mistborn #3, narrated by Michael Kramer |
| 900002 | Equal Rites — Terry Pratchett, Discworld #3 |
| 900003 | The Tombs of Atuan — Ursula K. Le Guin, Earthsea #2 |
| 900004 | Warbreaker — Brandon Sanderson, no series |
| 900005 | Abaddon's Gate — James S. A. Corey, The Expanse #3 |
| 900006 | Cibola Burn — James S. A. Corey, The Expanse #4 |

The traps around them:

| id | trap |
|---|---|
| 900101 | "The Hero of Ages" by another author (Rowan Ashdown) |
| 900102 | "The Hero of Ages (Abridged)": `browseflags` 32 |
| 900103 | "Mistborn Trilogy": a bundle, series number "01-03", 127 mp3 files |
| 900104 | "Discworld Collection": a bundle numbered "01-16, 13.5" |
| 900105 | "The Hero of Ages", GraphicAudio dramatization: `categories` contains 10, full cast |
| 900106 | "Equal Rites" e-book: main category 14, `filetype` "epub mobi pdf" |
| 900107 | "La puerta de Abadón (Abaddon's Gate)": Spanish (language 4) |
| 900108 | "Held aller Zeiten (The Hero of Ages)": German (language 37) |
| 900109 | "Warbreaker", VIP-only (`vip` 1, `fl_vip` 1), 128k m4b |
| 900110 | "Cibola Burn", freeleech (`free` 1), 64k mp3 |
| 900111 | "The Tombs of Atuan", 48k mp3 of 128.0 MiB |
| 900112 | "The Tombs of Atuan", flac of 6.0 GiB |
| 900113 | "Warbreaker" with missing fields (no filetype, narrator_info, series_info, mediainfo, …) |
| 900114 | "Equal Rites" (mp3) whose `author_info` is not JSON ("Terry Pratchett") |
| 900115 | "Leviathan Wakes" (The Expanse #1): `size` in plain bytes, "12345678" |
| 900116 | "Caliban's War" (The Expanse #2): `size` "1,021.4 MiB" (a thousands separator) |
| 900117 | "The Well of Ascension" (Mistborn #2): `size` "781.3 MB" (a decimal unit name) |
| 900118 | "The Final Empire" (Mistborn #1): an older row with `owner` / `owner_name`, no `ownership` |
| 900119 | "A Wizard of Earthsea" (Earthsea #1): already `personal_freeleech` |
| 900120 | "The Colour of Magic" (Discworld #1): `my_snatched` 1 |
| 900121 | "Nemesis Games" (The Expanse #5): no seeders |

Titles MAM spells otherwise than a library may (MAM's search folds none of it, `search`):

| id | row |
|---|---|
| 900122 | "Les Misérables" — Victor Hugo, with its accent |
| 900123 | "Pride & Prejudice" — Jane Austen, with `&` |
| 900124 | "11/22/63" — Stephen King, with slashes; 900125–900127 are newer King books |
| 900128 | "Shogun" — James Clavell, without the macron |
| 900129 | "Ender’s Game" — Orson Scott Card, with a typographic apostrophe |
| 900130 | "Nemesis" — Jo Nesbø, Harry Hole #4, with ø in the author's name |

Author, narrator and series ids of these rows are stable too (Sanderson 8001, Pratchett 8002, Le Guin 8003,
Corey 8004; Mistborn 7001, Discworld 7002, Earthsea 7003, The Expanse 7004).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mamd.sim.mam.generate import audio_mediainfo, generate_rows
from mamd.sim.mam.rows import ABRIDGED, DRAMATIZATION, EBOOKS, Credit, Row, SeriesLink

GOOD = {
    "The Hero of Ages": 900001,
    "Equal Rites": 900002,
    "The Tombs of Atuan": 900003,
    "Warbreaker": 900004,
    "Abaddon's Gate": 900005,
    "Cibola Burn": 900006,
}
HANDWRITTEN_IDS = range(900001, 900200)

SANDERSON = Credit(8001, "Brandon Sanderson")
PRATCHETT = Credit(8002, "Terry Pratchett")
LE_GUIN = Credit(8003, "Ursula K. Le Guin")
COREY = Credit(8004, "James S. A. Corey")
ASHDOWN = Credit(8005, "Rowan Ashdown")
HUGO = Credit(8006, "Victor Hugo")
AUSTEN = Credit(8007, "Jane Austen")
KING = Credit(8008, "Stephen King")
CLAVELL = Credit(8009, "James Clavell")
CARD = Credit(8010, "Orson Scott Card")
NESBO = Credit(8011, "Jo Nesbø")
KRAMER = Credit(9001, "Michael Kramer")
IMRIE = Credit(9002, "Celia Imrie")
STERLIN = Credit(9003, "Jenny Sterlin")
BRESNAHAN = Credit(9004, "Alyssa Bresnahan")
MAYS = Credit(9005, "Jefferson Mays")
FULL_CAST = Credit(9006, "GraphicAudio Full Cast")
MISTBORN, DISCWORLD, EARTHSEA, EXPANSE = 7001, 7002, 7003, 7004


def _seconds(duration: str) -> int:
    hours, minutes, seconds = (int(part) for part in duration.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def _book(
    tid: int,
    title: str,
    author: Credit,
    *,
    narrator: Credit | None = None,
    series: tuple[int, str, str] | None = None,
    fmt: str = "m4b",
    bitrate: int = 64,
    duration: str = "10:00:00",
    added: str,
    seeders: int = 40,
    category: int = 41,
    **fields: Any,
) -> Row:
    """A hand-written audiobook row; `size_bytes` follows bitrate × duration unless given."""
    seconds = _seconds(duration)
    chapters = max(3, seconds // 1800)
    row = Row(
        id=tid,
        title=title,
        authors=(author,),
        narrators=(narrator,) if narrator else (),
        series=(SeriesLink(*series),) if series else (),
        filetype=fmt,
        size_bytes=bitrate * 125 * seconds,
        numfiles=1 if fmt == "m4b" else max(2, seconds // 2700),
        seeders=seeders,
        leechers=1,
        times_completed=seeders * 3 + 7,
        added=added,
        category=category,
        categories=(13,) if category == 41 else (45,) if category == 47 else (),
        tags="",
        mediainfo=audio_mediainfo(fmt, bitrate, seconds, title, chapters),
        owner=(200_101, "sim-curator"),
        description=f"<p>{title} by {author.name}.</p>",
        isbn=f"ASIN:B0SIM{tid % 100_000:05d}",
    )
    for key, value in fields.items():
        setattr(row, key, value)
    return row


def handwritten_rows() -> list[Row]:
    """The rows of the table in the module docstring, in id order."""
    hero = (MISTBORN, "Mistborn", "3")
    expanse3 = (EXPANSE, "The Expanse", "3")
    return [
        _book(900001, "The Hero of Ages", SANDERSON, narrator=KRAMER, series=hero,
              duration="27:25:17", added="2019-03-14 18:02:51", seeders=48, tags="epic fantasy"),
        _book(900002, "Equal Rites", PRATCHETT, narrator=IMRIE, series=(DISCWORLD, "Discworld", "3"),
              duration="7:56:44", added="2018-07-02 09:41:10", seeders=31, category=99),
        _book(900003, "The Tombs of Atuan", LE_GUIN, narrator=STERLIN, series=(EARTHSEA, "Earthsea", "2"),
              duration="5:37:02", added="2017-11-20 21:15:33", seeders=22),
        _book(900004, "Warbreaker", SANDERSON, narrator=BRESNAHAN, duration="24:45:33",
              added="2020-01-08 12:00:45", seeders=57),
        _book(900005, "Abaddon's Gate", COREY, narrator=MAYS, series=expanse3, duration="19:44:23",
              added="2021-05-30 16:27:08", seeders=64, category=47, tags="space opera"),
        _book(900006, "Cibola Burn", COREY, narrator=MAYS, series=(EXPANSE, "The Expanse", "4"),
              duration="20:58:06", added="2021-06-02 08:13:59", seeders=59, category=47),
        # -- traps --------------------------------------------------------------------------------
        _book(900101, "The Hero of Ages", ASHDOWN, narrator=Credit(9101, "Marcus Pell"),
              duration="11:12:40", added="2022-02-11 10:00:00", seeders=9, category=42),
        _book(900102, "The Hero of Ages (Abridged)", SANDERSON, narrator=KRAMER, series=hero,
              duration="9:02:10", added="2016-04-01 17:45:00", seeders=6, browseflags=ABRIDGED),
        _book(900103, "Mistborn Trilogy", SANDERSON, narrator=KRAMER, series=(MISTBORN, "Mistborn", "01-03"),
              fmt="mp3", duration="77:41:05", added="2015-09-09 13:20:00", seeders=35, numfiles=127),
        _book(900104, "Discworld Collection", PRATCHETT, narrator=Credit(9102, "Nigel Planer"),
              series=(DISCWORLD, "Discworld", "01-16, 13.5"), fmt="mp3", duration="160:03:44",
              added="2014-12-24 20:00:00", seeders=12, numfiles=412, category=99),
        _book(900105, "The Hero of Ages", SANDERSON, narrator=FULL_CAST, series=hero, bitrate=128,
              duration="19:30:00", added="2023-08-19 15:00:00", seeders=17,
              categories=(DRAMATIZATION, 13), tags="GraphicAudio dramatized adaptation full cast"),
        _book(900106, "Equal Rites", PRATCHETT, series=(DISCWORLD, "Discworld", "3"),
              added="2018-07-02 09:50:00", seeders=14, main_cat=EBOOKS, category=63, mediatype=2,
              filetype="epub mobi pdf", numfiles=3, size_bytes=3_456_789, mediainfo=None),
        _book(900107, "La puerta de Abadón (Abaddon's Gate)", COREY, narrator=Credit(9103, "Sergio Zamora"),
              series=expanse3, duration="21:03:00", added="2023-01-15 11:11:11", seeders=5, category=47,
              language=4),
        _book(900108, "Held aller Zeiten (The Hero of Ages)", SANDERSON,
              narrator=Credit(9104, "Oliver Siebeck"), series=hero, duration="31:10:00",
              added="2020-10-10 10:10:10", seeders=8, language=37),
        _book(900109, "Warbreaker", SANDERSON, narrator=BRESNAHAN, bitrate=128, duration="24:45:33",
              added="2024-02-02 02:02:02", seeders=88, vip=1, fl_vip=1),
        _book(900110, "Cibola Burn", COREY, narrator=MAYS, series=(EXPANSE, "The Expanse", "4"), fmt="mp3",
              duration="20:58:06", added="2022-06-06 06:06:06", seeders=41, category=47, free=1, numfiles=24),
        _book(900111, "The Tombs of Atuan", LE_GUIN, narrator=STERLIN, series=(EARTHSEA, "Earthsea", "2"),
              fmt="mp3", bitrate=48, duration="5:37:02", added="2013-03-03 03:03:03", seeders=3,
              size_bytes=134_217_728, numfiles=12),
        _book(900112, "The Tombs of Atuan", LE_GUIN, narrator=STERLIN, series=(EARTHSEA, "Earthsea", "2"),
              fmt="flac", bitrate=2547, duration="5:37:02", added="2024-07-07 07:07:07", seeders=4,
              size_bytes=6 * 1024**3, numfiles=34),
        _book(900113, "Warbreaker", SANDERSON, duration="24:45:33", added="2012-05-05 05:05:05", seeders=2,
              omit=frozenset({"filetype", "narrator_info", "series_info", "mediainfo", "categories",
                              "lang_code", "ownership", "tags", "poster_type"})),
        _book(900114, "Equal Rites", PRATCHETT, narrator=IMRIE, series=(DISCWORLD, "Discworld", "3"),
              fmt="mp3", duration="7:56:44", added="2011-01-11 11:01:01", seeders=7, category=99,
              wire={"author_info": "Terry Pratchett"}),
        _book(900115, "Leviathan Wakes", COREY, narrator=MAYS, series=(EXPANSE, "The Expanse", "1"),
              duration="20:57:00", added="2019-09-09 09:09:09", seeders=70, category=47,
              size_text="12345678"),
        _book(900116, "Caliban's War", COREY, narrator=MAYS, series=(EXPANSE, "The Expanse", "2"),
              bitrate=110, duration="21:10:05", added="2020-02-20 20:20:20", seeders=52, category=47,
              size_text="1,021.4 MiB"),
        _book(900117, "The Well of Ascension", SANDERSON, narrator=KRAMER, series=(MISTBORN, "Mistborn", "2"),
              duration="28:36:44", added="2019-03-13 13:13:13", seeders=45, size_text="781.3 MB"),
        _book(900118, "The Final Empire", SANDERSON, narrator=KRAMER, series=(MISTBORN, "Mistborn", "1"),
              duration="24:39:36", added="2012-12-12 12:12:12", seeders=61, old_owner_fields=True),
        _book(900119, "A Wizard of Earthsea", LE_GUIN, narrator=Credit(9105, "Rob Inglis"),
              series=(EARTHSEA, "Earthsea", "1"), duration="7:12:14", added="2017-11-19 19:19:19", seeders=28,
              personal_freeleech=1),
        _book(900120, "The Colour of Magic", PRATCHETT, narrator=Credit(9102, "Nigel Planer"),
              series=(DISCWORLD, "Discworld", "1"), duration="7:02:33", added="2018-06-30 06:30:00",
              seeders=26, category=99, my_snatched=1),
        _book(900121, "Nemesis Games", COREY, narrator=MAYS, series=(EXPANSE, "The Expanse", "5"),
              duration="18:56:21", added="2021-06-10 10:06:21", seeders=0, leechers=0, category=47),
        # -- spelled otherwise ----------------------------------------------------------------------
        _book(900122, "Les Misérables", HUGO, narrator=Credit(9106, "George Guidall"), duration="57:34:00",
              added="2016-02-02 12:00:00", seeders=14, category=45),
        _book(900123, "Pride & Prejudice", AUSTEN, narrator=Credit(9107, "Rosamund Pike"),
              duration="11:35:00", added="2017-05-05 09:30:00", seeders=33, category=45),
        _book(900124, "11/22/63", KING, narrator=Credit(9108, "Craig Wasson"), duration="30:44:00",
              added="2016-11-22 22:11:00", seeders=26, category=98),
        _book(900125, "Holly", KING, narrator=Credit(9109, "Justine Lupe"), duration="15:33:00",
              added="2023-09-05 10:00:00", seeders=40, category=40),
        _book(900126, "Billy Summers", KING, narrator=Credit(9110, "Thomas Mann"), duration="19:08:00",
              added="2021-08-03 10:00:00", seeders=30, category=40),
        _book(900127, "Fairy Tale", KING, narrator=Credit(9111, "Seth Numrich"), duration="24:08:00",
              added="2022-09-06 10:00:00", seeders=35, category=41),
        _book(900128, "Shogun", CLAVELL, narrator=Credit(9112, "Ralph Lister"), duration="53:06:00",
              added="2018-03-03 03:03:00", seeders=12, category=98),
        _book(900129, "Ender’s Game", CARD, narrator=Credit(9113, "Stefan Rudnicki"), duration="11:59:00",
              added="2019-01-01 01:01:00", seeders=44, category=47),
        _book(900130, "Nemesis", NESBO, narrator=Credit(9114, "Sean Barrett"),
              series=(7005, "Harry Hole", "4"), duration="15:03:00", added="2020-04-04 04:04:00", seeders=9,
              category=40),
    ]  # fmt: skip


def build_catalogue(count: int, seed: int) -> list[Row]:
    """The hand-written rows and `count` generated rows (whose titles never repeat a hand-written one)."""
    handwritten = handwritten_rows()
    generated = generate_rows(count, seed, avoid_titles={row.title for row in handwritten})
    return [*handwritten, *generated]


def index_rows(rows: Iterable[Row]) -> dict[int, Row]:
    """Rows by id, in id order; two rows with one id are an error."""
    indexed: dict[int, Row] = {}
    for row in sorted(rows, key=lambda row: row.id):
        if row.id in indexed:
            raise ValueError(f"two catalogue rows have the id {row.id}")
        indexed[row.id] = row
    return indexed
