"""A library of short real audiobooks written by ffmpeg, with its ground truth.

Every way a book reaches Audiobookshelf is here: m4b with MP4 tags (the narrator in `composer`), m4b
whose tags ffmpeg wrote with `-movflags use_metadata_tags`, mp3 with ID3 frames, books in several files,
`metadata.json`, `metadata.opf`, `desc.txt` and `reader.txt`, names in NFC and in NFD, novellas, a
series numbered by years, an ASIN in a folder name, co-authors, and the spellings of item 5 (a library
author "Liu Cixin" wanted as "Cixin Liu"). `EXPECTED` says what Audiobookshelf shows for each book and
`WANTED_GAPS` which series positions mamd should want.

Audio is one second of silence per file, encoded once per format and then copied with new tags
(`-c copy`), so a library of 40 books takes a few seconds to write.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

SILENCE = ["-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "1"]
ENCODERS = {
    "m4b": ["-c:a", "aac", "-b:a", "16k"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "8k"],
}


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@dataclass(frozen=True)
class GeneratedBook:
    """One book: how it is written to disk, and what Audiobookshelf shows for it."""

    folder: str  # relative to the library, exactly as written (NFD stays NFD)
    title: str
    authors: tuple[str, ...]
    narrators: tuple[str, ...] = ()
    series: tuple[tuple[str, str | None], ...] = ()
    asin: str | None = None
    isbn: str | None = None
    audio: str = "m4b"  # m4b, m4b-keys (use_metadata_tags), mp3
    parts: int = 1
    tags: Mapping[str, str] = field(default_factory=dict)  # written into every audio file
    sidecars: Mapping[str, str] = field(default_factory=dict)  # file name → text

    @property
    def facts(self) -> dict[str, object]:
        """The same shape as `tests.support.abs_real.book_facts`."""
        return {
            "title": self.title,
            "authors": list(self.authors),
            "narrators": list(self.narrators),
            "series": list(self.series),
            "asin": self.asin,
            "isbn": self.isbn,
        }


def _tags(title: str, author: str, narrator: str | None = None, **more: str) -> dict[str, str]:
    tags = {"album": title, "title": title, "artist": author, **more}
    if narrator:
        tags["composer"] = narrator
    return tags


def _opf(title: str, author: str, narrator: str, series: str, index: str, isbn: str) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">
    <dc:title>{title}</dc:title>
    <dc:creator opf:role="aut" opf:file-as="Pratchett, Terry">{author}</dc:creator>
    <dc:creator opf:role="nrt">{narrator}</dc:creator>
    <dc:identifier opf:scheme="ISBN">{isbn}</dc:identifier>
    <dc:language>en</dc:language>
    <meta name="calibre:series" content="{series}"/>
    <meta name="calibre:series_index" content="{index}"/>
  </metadata>
</package>
"""


def _json(**fields: object) -> str:
    return json.dumps(fields, indent=2, ensure_ascii=False) + "\n"


BS, TP, UKL, LC, JC, NN = (
    "Brandon Sanderson",
    "Terry Pratchett",
    "Ursula K. Le Guin",
    "Liu Cixin",
    "James S. A. Corey",
    "Naomi Novik",
)
MK, KR = "Michael Kramer", "Kate Reading"
SA, DW, EA, REP, EX, TE = (
    "The Stormlight Archive",
    "Discworld",
    "Earthsea",
    "Remembrance of Earth's Past",
    "The Expanse",
    "Temeraire",
)
YB = "The Year's Best Science Fiction"
GGM = "Gabriel García Márquez"

LIBRARY: tuple[GeneratedBook, ...] = (
    # Mistborn: plain MP4 tags, ID3 series frames over three files, an untagged file
    GeneratedBook(
        f"{BS}/Mistborn/Book 1 - The Final Empire",
        "The Final Empire",
        (BS,),
        (MK,),
        (("Mistborn", "1"),),
        tags=_tags("The Final Empire", BS, MK),
    ),
    GeneratedBook(
        f"{BS}/Mistborn/Book 2 - The Well of Ascension",
        "The Well of Ascension",
        (BS,),
        (MK,),
        (("Mistborn", "2"),),
        audio="mp3",
        parts=3,
        tags=_tags("The Well of Ascension", BS, MK, series="Mistborn", **{"series-part": "2"}),
    ),
    GeneratedBook(
        f"{BS}/Mistborn/Book 4 - The Alloy of Law", "The Alloy of Law", (BS,), (), (("Mistborn", "4"),)
    ),
    # Stormlight: tags written with use_metadata_tags (series, ASIN), and a full metadata.json
    GeneratedBook(
        f"{BS}/{SA}/Book 1 - The Way of Kings",
        "The Way of Kings",
        (BS,),
        (MK, KR),
        ((SA, "1"),),
        asin="B003P2WO5E",
        audio="m4b-keys",
        tags=_tags(
            "The Way of Kings", BS, f"{MK}, {KR}", series=SA, asin="B003P2WO5E", **{"series-part": "1"}
        ),
    ),
    GeneratedBook(
        f"{BS}/{SA}/Book 3 - Oathbringer",
        "Oathbringer",
        (BS,),
        (MK, KR),
        ((SA, "3"),),
        isbn="9780765326379",
        tags=_tags("Oathbringer", BS, MK),
        sidecars={
            "metadata.json": _json(
                title="Oathbringer",
                authors=[BS],
                narrators=[MK, KR],
                series=[f"{SA} #3"],
                isbn="9780765326379",
                genres=[],
            )
        },
    ),
    GeneratedBook(
        f"{BS}/Elantris",
        "Elantris",
        (BS,),
        ("Jack Garrett",),
        audio="mp3",
        tags=_tags("Elantris", "Sanderson, Brandon", "Jack Garrett"),
    ),
    # Discworld: OPF, a grouping tag, reader.txt over two files, a `Vol. 7 -` folder
    GeneratedBook(
        f"{TP}/{DW}/1 - The Colour of Magic",
        "The Colour of Magic",
        (TP,),
        ("Nigel Planer",),
        ((DW, "1"),),
        isbn="9780552124751",
        audio="mp3",
        sidecars={"metadata.opf": _opf("The Colour of Magic", TP, "Nigel Planer", DW, "1", "9780552124751")},
    ),
    GeneratedBook(
        f"{TP}/{DW}/2 - The Light Fantastic",
        "The Light Fantastic",
        (TP,),
        ("Nigel Planer",),
        ((DW, "2"),),
        tags=_tags("The Light Fantastic", TP, "Nigel Planer", grouping=f"{DW} #2"),
    ),
    GeneratedBook(
        f"{TP}/{DW}/4 - Mort",
        "Mort",
        (TP,),
        ("Nigel Planer",),
        ((DW, "4"),),
        audio="mp3",
        parts=2,
        sidecars={"reader.txt": "Nigel Planer\n", "desc.txt": "Death takes an apprentice.\n"},
    ),
    GeneratedBook(f"{TP}/{DW}/Vol. 7 - Pyramids", "Pyramids", (TP,), (), ((DW, "7"),)),
    GeneratedBook(
        f"{TP}/Good Omens",
        "Good Omens",
        (TP, "Neil Gaiman"),
        ("Martin Jarvis",),
        sidecars={
            "metadata.json": _json(
                title="Good Omens", authors=[TP, "Neil Gaiman"], narrators=["Martin Jarvis"]
            )
        },
    ),
    # Earthsea and Remembrance of Earth's Past: the library's spellings of item 5
    GeneratedBook(
        f"{UKL}/{EA}/1 - A Wizard of Earthsea",
        "A Wizard of Earthsea",
        (UKL,),
        ("Rob Inglis",),
        ((EA, "1"),),
        audio="mp3",
        tags=_tags("A Wizard of Earthsea", UKL, "Rob Inglis"),
    ),
    GeneratedBook(f"{UKL}/{EA}/3 - The Farthest Shore", "The Farthest Shore", (UKL,), (), ((EA, "3"),)),
    GeneratedBook(
        f"{LC}/{REP}/1 - The Three-Body Problem",
        "The Three-Body Problem",
        (LC,),
        ("Luke Daniels",),
        ((REP, "1"),),
        tags=_tags("The Three-Body Problem", LC, "Luke Daniels"),
    ),
    GeneratedBook(f"{LC}/{REP}/3 - Death's End", "Death's End", (LC,), (), ((REP, "3"),)),
    # The Expanse: a novella at 2.5, tags with use_metadata_tags
    GeneratedBook(
        f"{JC}/{EX}/Book 1 - Leviathan Wakes",
        "Leviathan Wakes",
        (JC,),
        ("Jefferson Mays",),
        ((EX, "1"),),
        tags=_tags("Leviathan Wakes", JC, "Jefferson Mays"),
    ),
    GeneratedBook(
        f"{JC}/{EX}/Book 2 - Caliban's War",
        "Caliban's War",
        (JC,),
        ("Jefferson Mays",),
        ((EX, "2"),),
        audio="mp3",
        parts=2,
        tags=_tags("Caliban's War", JC, "Jefferson Mays"),
    ),
    GeneratedBook(f"{JC}/{EX}/Book 2.5 - The Churn", "The Churn", (JC,), (), ((EX, "2.5"),)),
    GeneratedBook(
        f"{JC}/{EX}/Book 5 - Nemesis Games",
        "Nemesis Games",
        (JC,),
        ("Jefferson Mays",),
        ((EX, "5"),),
        asin="B00QGRWRIQ",
        audio="m4b-keys",
        tags=_tags("Nemesis Games", JC, "Jefferson Mays", asin="B00QGRWRIQ"),
    ),
    # Temeraire: position 2 is the gap a torrent named "Temeraire 2 - Throne of Jade" fills
    GeneratedBook(
        f"{NN}/{TE}/1 - His Majesty's Dragon",
        "His Majesty's Dragon",
        (NN,),
        ("Simon Vance",),
        ((TE, "1"),),
        audio="mp3",
        tags=_tags("His Majesty's Dragon", NN, "Simon Vance"),
    ),
    GeneratedBook(
        f"{NN}/{TE}/3 - Black Powder War",
        "Black Powder War",
        (NN,),
        ("Simon Vance",),
        ((TE, "3"),),
        tags=_tags("Black Powder War", NN, "Simon Vance"),
    ),
    # a series named after its first book
    GeneratedBook(
        "Frank Herbert/Dune/1 - Dune", "Dune", ("Frank Herbert",), (), (("Dune", "1"),), audio="mp3"
    ),
    # one half of a split edition
    GeneratedBook(
        "Stephen King/The Stand, Part One",
        "The Stand: Part One",
        ("Stephen King",),
        ("Grover Gardner",),
        tags=_tags("The Stand: Part One", "Stephen King", "Grover Gardner"),
    ),
    # a series numbered by years: nothing in it is a gap to want
    *(
        GeneratedBook(
            f"Gardner Dozois/{YB}/{year} - The Year's Best Science Fiction {year}",
            f"The Year's Best Science Fiction {year}",
            ("Gardner Dozois",),
            (),
            ((YB, str(year)),),
            audio="m4b-keys",
            tags=_tags(
                f"The Year's Best Science Fiction {year}",
                "Gardner Dozois",
                series=YB,
                **{"series-part": str(year)},
            ),
        )
        for year in (2016, 2018)
    ),
    # accents: a folder in NFC, one in NFD, tags in NFC
    GeneratedBook("Stanisław Lem/Solaris", "Solaris", ("Stanisław Lem",)),
    GeneratedBook(nfd(f"{GGM}/Cien años de soledad"), nfd("Cien años de soledad"), (nfd(GGM),)),
    GeneratedBook(
        "Jules Verne/Voyage au centre de la Terre",
        "Voyage au centre de la Terre",
        ("Jules Verne",),
        ("Bernard Métraux",),
        audio="mp3",
        tags=_tags("Voyage au centre de la Terre", "Jules Verne", "Bernard Métraux"),
    ),
    # an ASIN in the folder name; reader.txt and desc.txt
    GeneratedBook(
        "Andy Weir/Project Hail Mary [B08G9PRS1K]", "Project Hail Mary", ("Andy Weir",), asin="B08G9PRS1K"
    ),
    GeneratedBook(
        "Andy Weir/The Martian",
        "The Martian",
        ("Andy Weir",),
        ("R. C. Bray",),
        audio="mp3",
        sidecars={"reader.txt": "R. C. Bray\n", "desc.txt": "Stranded on Mars.\n"},
    ),
)

# the series positions mamd wants from this library, by series: the gaps up to the furthest owned
WANTED_GAPS: dict[str, tuple[str, ...]] = {
    "Mistborn": ("3",),
    SA: ("2",),
    DW: ("3", "5", "6"),
    EA: ("2",),
    REP: ("2",),
    EX: ("3", "4"),
    TE: ("2",),
}


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True, timeout=60)


class AudioWriter:
    """Writes tagged copies of one second of silence; each format is encoded once, in `work`."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.work.mkdir(parents=True, exist_ok=True)

    def base(self, kind: str) -> Path:
        path = self.work / f"silence.{kind}"
        if not path.exists():
            temporary = path.with_suffix(f".part.{kind}")
            _ffmpeg(*SILENCE, *ENCODERS[kind], "-f", "mp4" if kind == "m4b" else "mp3", str(temporary))
            temporary.rename(path)
        return path

    def write(self, target: Path, audio: str, tags: Mapping[str, str]) -> None:
        kind = "mp3" if audio == "mp3" else "m4b"
        args = ["-i", str(self.base(kind)), "-map_metadata", "-1", "-c", "copy"]
        for key, value in tags.items():
            args += ["-metadata", f"{key}={value}"]
        if audio == "m4b-keys":
            args += ["-movflags", "use_metadata_tags"]
        if kind == "m4b":
            args += ["-f", "mp4"]
        target.parent.mkdir(parents=True, exist_ok=True)
        _ffmpeg(*args, str(target))


def write_book(root: Path, book: GeneratedBook, writer: AudioWriter) -> Path:
    """Write one book under `root` (its folder must not exist yet); returns the book's folder."""
    folder = root / book.folder
    folder.mkdir(parents=True)
    suffix = ".mp3" if book.audio == "mp3" else ".m4b"
    stem = Path(book.folder).name
    for part in range(1, book.parts + 1):
        name = f"{stem}{suffix}" if book.parts == 1 else f"{stem} - Part {part:02d}{suffix}"
        tags = dict(book.tags)
        if book.parts > 1:
            tags["track"] = f"{part}/{book.parts}"
        writer.write(folder / name, book.audio, tags)
    for name, text in book.sidecars.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def write_library(
    root: Path, books: Iterable[GeneratedBook] = LIBRARY, work: Path | None = None
) -> list[GeneratedBook]:
    """Write `books` under `root`; returns them (their `facts` are the ground truth)."""
    writer = AudioWriter(work or root.parent / f".{root.name}-audio")
    written = list(books)
    for book in written:
        write_book(root, book, writer)
    return written


def copy_library(source: Path, target: Path) -> None:
    """A copy with new inodes (Audiobookshelf follows inodes: two servers must not share them)."""
    shutil.copytree(source, target)
