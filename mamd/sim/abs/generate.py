"""A deterministic generator of realistic libraries of any size up to 50,000 items.

The same `count` and `seed` give the same library: the same ids (uuid5), titles, authors, series,
timestamps and files. It holds what a real library holds and what mamd must cope with: authors with
initials ("J. R. R."), series with gaps and novellas at fractional positions ("2.5"), co-authored books,
standalones, books without narrator or ASIN, single-file m4b and multi-part mp3 books, and a few missing
and invalid items. Records stay compact; files are described, not stored (`files.files_of`).
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Sequence
from typing import TypeVar

from mamd.sim.abs.files import audio_size, padded_duration, summarize_plan
from mamd.sim.abs.model import Author, IdFactory, Item, Library, SeriesLink

MAX_ITEMS = 50_000
# 2026-01-01T00:00:00Z: generated libraries end here, so items added later by a test sort as newest
REFERENCE_MS = 1_767_225_600_000
_DAY_MS = 86_400_000


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "Aaron Abigail Adrian Alice Amara Andrew Anna Arthur Beatrice Benjamin Bianca Caleb Camille Carlos "
    "Celia Charles Chloe Claire Daniel Daphne David Diana Dmitri Eleanor Elena Elias Emily Ethan Evelyn "
    "Felix Fiona Frances Gabriel Grace Hannah Harold Helen Henry Ingrid Irene Isaac Isabel Jack James "
    "Jane Javier Joan Jonathan Julia Julian Karen Katherine Leo Leonora Lucas Lydia Malcolm Margaret "
    "Marcus Maria Martin Mary Matthew Maya Michael Miriam Nadia Naomi Nathan Nicholas Nina Oliver Olivia "
    "Omar Patricia Paul Peter Philippa Priya Rachel Raymond Rebecca Richard Robert Rosalind Ruth Samuel "
    "Sarah Sebastian Simon Sofia Stephen Susan Theodore Thomas Ursula Victor Vivian Walter William Yusuf "
    "Zoe"
)
_LAST = _words(
    "Abernathy Achebe Adler Ashford Baker Barrow Bennett Blackwood Bradley Brennan Calloway Carter "
    "Castellano Chambers Chen Clarke Cole Cooper Crane Dalton Davenport Delacroix Dixon Donovan Drake "
    "Duarte Ellison Emerson Fairfax Farrow Fenwick Fischer Fletcher Forsyth Gallagher Garland Gibson "
    "Goldberg Greenwood Hale Halloway Hargrove Harper Hawthorne Hayes Holloway Hughes Ishikawa Jansen "
    "Jennings Kavanagh Keller Kendrick Kimura Kowalski Lachance Lambert Langley Larkin Lindqvist Lockwood "
    "Lowell MacLeod Maddox Marlowe Mendoza Mercer Montgomery Moreau Morrow Nakamura Navarro Nolan Novak "
    "Okafor Oyelaran Pemberton Pendleton Petrov Pike Quinlan Ramsey Ravenscroft Reyes Rhodes Rinaldi Rowe "
    "Salazar Sandoval Sato Sinclair Sloane Smythe Sorensen Stafford Sterling Stone Sutherland Tanaka "
    "Thornton Torres Underhill Vance Varga Vasquez Wainwright Walsh Webb Whitaker Whitmore Wilder Winslow "
    "Wolfe Yates Zimmerman"
)
_PARTICLE_LAST = ("Le Guin", "van der Berg", "de la Cruz", "Van Dyke", "von Arnim", "Du Maurier", "da Silva")
_ADJECTIVES = _words(
    "Amber Ashen Bitter Black Broken Burning Crimson Crystal Dark Distant Drowned Ember Endless Fallen "
    "Final Forgotten Frozen Gilded Glass Golden Grey Hidden Hollow Iron Last Lost Midnight Nameless "
    "Northern Pale Quiet Red Restless Rising Scarlet Secret Shattered Silent Silver Starless Stolen "
    "Sunken Twisted Velvet Wandering Wild Winter Wounded"
)
_NOUNS = _words(
    "Archive Ash Blade Bone Bridge Champion Citadel City Clock Crown Dawn Door Dragon Dream Empire Engine "
    "Exile Fire Forge Garden Gate Ghost Harbor Heart Heir Horizon Hunter Island Key King Kingdom "
    "Labyrinth Lantern Legacy Library Lighthouse Machine Map Mirror Moon Mountain Oath Ocean Orchard "
    "Palace Path Prophecy Queen Raven River Road Rose Ruin Sea Shadow Ship Sky Song Spire Star Storm "
    "Sword Throne Tide Tower Traitor Tree Valley Voyage War Watcher Well Wind Wolf World"
)
_PLACES = _words(
    "Aldermoor Arkhaven Ashvale Brightwater Caerdoran Corvane Dunmere Eldoria Emberfall Farreach "
    "Greywater Highmoor Ironhold Kestrelbay Lowmarsh Mirewood Northmarch Oakenshield Ravenholm Saltreach "
    "Stonebridge Thornwick Valemont Westerly Wyndham"
)
# Repeats weight the draw: most libraries are mostly fantasy and science fiction
_GENRES = (
    *("Fantasy",) * 3,
    *("Science Fiction",) * 2,
    "Mystery",
    "Thriller",
    "Romance",
    "Historical Fiction",
    "Horror",
    "Literary Fiction",
    "Biography",
    "History",
    "Young Adult",
    "Humor",
)
_PUBLISHERS = (
    "Podium Audio",
    "Tantor Audio",
    "Recorded Books",
    "Audible Studios",
    "Hachette Audio",
    "Macmillan Audio",
    "Penguin Random House Audio",
    "HarperAudio",
    "Blackstone Publishing",
    "Brilliance Audio",
)
_LANGUAGES = ("English",) * 17 + ("German", "French", "Spanish")
_TAGS = ("favourite", "to re-listen", "space opera", "cozy", "grimdark", "litrpg", "found family")
_BLURBS = (
    "An unlikely hero is drawn into a conflict far larger than anyone imagined.",
    "Old loyalties are tested when a long-buried secret comes to light.",
    "A journey across a broken land, and the price of keeping a promise.",
    "Nothing is what it seems in a city built on lies.",
    "The war is over; the peace may be worse.",
    "A crew of misfits takes one last job.",
    "Two rivals must work together before the end of the world.",
)
T = TypeVar("T")
_ASIN_CHARS = string.ascii_uppercase + string.digits
_INITIALS = string.ascii_uppercase


class _Draw:
    """Seeded draws from `random.Random.random` alone: `choice` and `randrange` cost too much at 50,000."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed).random

    def pick(self, values: Sequence[T]) -> T:
        return values[int(self.random() * len(values))]

    def between(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low + 1))

    def chance(self, probability: float) -> bool:
        return self.random() < probability


def _plural(noun: str) -> str:
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "sh", "ch", "x")) else "s")


def _person(draw: _Draw) -> str:
    roll, pick = draw.random(), draw.pick
    if roll < 0.08:
        initials = " ".join(f"{pick(_INITIALS)}." for _ in range(draw.between(1, 3)))
        return f"{initials} {pick(_LAST)}"
    if roll < 0.11:
        return f"{pick(_FIRST)} {pick(_PARTICLE_LAST)}"
    if roll < 0.2:
        return f"{pick(_FIRST)} {pick(_INITIALS)}. {pick(_LAST)}"
    return f"{pick(_FIRST)} {pick(_LAST)}"


def _title(draw: _Draw) -> str:
    pattern, pick = draw.between(0, 5), draw.pick
    adjective, noun, other = pick(_ADJECTIVES), pick(_NOUNS), pick(_NOUNS)
    if pattern == 0:
        return f"The {adjective} {noun}"
    if pattern == 1:
        return f"{noun} of {_plural(other)}"
    if pattern == 2:
        return f"A {noun} for the {adjective} {other}"
    if pattern == 3:
        return f"The {noun} of {pick(_PLACES)}"
    if pattern == 4:
        return f"{adjective} {noun}"
    return f"The {noun}'s {other}"


def _series_name(draw: _Draw) -> str:
    pattern, pick = draw.between(0, 3), draw.pick
    if pattern == 0:
        return f"The {pick(_NOUNS)} Cycle"
    if pattern == 1:
        return f"{pick(_PLACES)} Chronicles"
    if pattern == 2:
        return f"The {pick(_ADJECTIVES)} {pick(_NOUNS)}"
    return f"Saga of the {pick(_NOUNS)}"


def _sequences(draw: _Draw, length: int) -> list[str]:
    """Positions 1..n with occasional gaps (a book the user lacks) and novellas at x.5."""
    result: list[str] = []
    position = 0
    while len(result) < length:
        if position >= 1 and draw.chance(0.08) and not result[-1].endswith(".5"):
            result.append(f"{position}.5")
            continue
        position += 2 if position >= 1 and draw.chance(0.1) else 1
        result.append(str(position))
    return result


def _asin(draw: _Draw) -> str:
    """`B0` and eight characters of [A-Z0-9], as Audible's ASINs look."""
    value = int(draw.random() * 36**8)
    chars = []
    for _ in range(8):
        value, digit = divmod(value, 36)
        chars.append(_ASIN_CHARS[digit])
    return "B0" + "".join(chars)


def _isbn(draw: _Draw) -> str:
    """An ISBN-13 with a valid check digit."""
    digits = f"978{int(draw.random() * 10**9):09d}"
    check = (10 - sum(int(d) * (3 if n % 2 else 1) for n, d in enumerate(digits)) % 10) % 10
    return f"{digits}{check}"


class _Builder:
    def __init__(self, library: Library, draw: _Draw, count: int, reference_ms: int) -> None:
        self.library = library
        self.draw = draw
        self.count = count
        self.reference_ms = reference_ms
        self.span_ms = 4 * 365 * _DAY_MS
        self.next_ino = 4_100_000
        self.paths: set[str] = set()
        self.narrators = [_person(draw) for _ in range(max(12, count // 25))]
        # Shared values keep 50,000 records small: one tuple per combination, not one per item
        self._shared: dict[object, object] = {}

    def shared(self, value: T) -> T:
        return self._shared.setdefault(value, value)  # type: ignore[return-value]  # same type in, same out

    def added_at(self, index: int) -> int:
        # The library grew over four years; books arrive roughly in generation order
        base = self.reference_ms - self.span_ms + index * self.span_ms // max(self.count, 1)
        return base + int(self.draw.random() * 3_600_000)

    def item(self, index: int, author: Author, narrators: tuple[str, ...], link: SeriesLink | None) -> Item:
        # `r() < p` rather than `draw.chance(p)`: some 40 draws per item, 50,000 items
        draw, r, pick, shared = self.draw, self.draw.random, self.draw.pick, self.shared
        title = _title(draw)
        authors: tuple[Author, ...] = shared((author,))
        if r() < 0.04:
            authors = (author, self.library.author(_person(draw), author.added_at))
        folder = f"Book {link.sequence} - {title}" if link else title
        rel_path = "/".join(
            part for part in (author.name, link.series.name if link else None, folder) if part
        )
        while rel_path in self.paths:
            rel_path += " (2)"
        self.paths.add(rel_path)
        m4b = r() < 0.6
        ext = ".m4b" if m4b else ".mp3"
        parts = 1 if m4b or r() < 0.3 else draw.between(2, 12) if r() < 0.85 else draw.between(13, 40)
        part_duration = padded_duration(round((7_200 + draw.random() * 100_800) / parts, 3), ext)
        json_sidecar = r() < 0.12
        sidecars = shared(
            ((("cover.jpg", 40_000 + 10_000 * draw.between(0, 30)),) if r() < 0.4 else ())
            + ((("metadata.json", 400 + 100 * draw.between(0, 12)),) if json_sidecar else ())
        )
        asin = _asin(draw) if r() < 0.85 else None
        isbn = _isbn(draw) if r() < 0.25 else None
        tag_keys = {"composer"} if narrators else set()
        if link and m4b and not json_sidecar:
            tag_keys.add("series")
        if not json_sidecar:
            tag_keys.update(key for key, value in (("asin", asin), ("isbn", isbn)) if value)
        added = self.added_at(index)
        updated = added if r() < 0.7 else min(added + int(draw.random() * 30 * _DAY_MS), self.reference_ms)
        mtime = added - 3_600_000 - int(draw.random() * 29 * _DAY_MS)
        ino = self.next_ino
        self.next_ino += parts + len(sidecars) + 1
        genres = (pick(_GENRES),) if r() < 0.7 else tuple(dict.fromkeys((pick(_GENRES), pick(_GENRES))))
        item = Item(
            id=self.library.ids.make("item", rel_path),
            ino=str(ino),
            rel_path=rel_path,
            title=title,
            subtitle=f"{link.series.name}, Book {link.sequence}" if link and r() < 0.15 else None,
            authors=authors,
            narrators=narrators,
            series=(link,) if link else (),
            genres=shared(genres),
            tags=shared((pick(_TAGS),)) if r() < 0.1 else (),
            published_year=shared(str(draw.between(1950, 2025))),
            publisher=pick(_PUBLISHERS),
            description=pick(_BLURBS) if r() < 0.9 else None,
            isbn=isbn,
            asin=asin,
            language=pick(_LANGUAGES) if r() < 0.9 else None,
            explicit=r() < 0.03,
            abridged=r() < 0.02,
            added_at=added,
            updated_at=updated,
            last_scan=updated,
            mtime_ms=mtime,
            ctime_ms=mtime,
            birthtime_ms=mtime - 1 - int(draw.random() * 60_000),
            audio_ext=ext,
            parts=parts,
            part_duration=part_duration,
            part_size=audio_size(part_duration, 64_000),
            embedded_chapters=draw.between(8, 60) if m4b and r() < 0.6 else 0,
            sidecars=sidecars,
            tag_keys=shared(frozenset(tag_keys)),
        )
        return summarize_plan(item)

    def series_name(self) -> str:
        """A series name no other author uses (ABS would merge series of the same name)."""
        name = _series_name(self.draw)
        attempt = 1
        while self.library.find_series(name) is not None:
            attempt += 1
            name = _series_name(self.draw) if attempt < 5 else f"{_series_name(self.draw)} {attempt}"
        return name

    def narration(self, pool: list[str]) -> tuple[str, ...]:
        roll = self.draw.random()
        if roll < 0.03:
            return ()
        if roll < 0.15:
            return tuple(dict.fromkeys((self.draw.pick(self.narrators), self.draw.pick(self.narrators))))
        return self.shared((self.draw.pick(pool),))


def generate_library(
    count: int,
    seed: int = 1,
    *,
    library_name: str = "Audiobooks",
    library_path: str = "/srv/media/audiobooks",
    reference_ms: int = REFERENCE_MS,
) -> Library:
    """A library of `count` items (at most 50,000), the same for the same arguments."""
    if not 0 <= count <= MAX_ITEMS:
        raise ValueError(f"count must be between 0 and {MAX_ITEMS}, not {count}")
    draw = _Draw(seed)
    ids = IdFactory(f"generated:{seed}:{library_path}")
    library = Library(
        id=ids.make("library", library_name),
        name=library_name,
        folder_id=ids.make("folder", library_path),
        folder_path=library_path,
        created_at=reference_ms - 4 * 365 * _DAY_MS - _DAY_MS,
        last_scan=reference_ms,
        last_update=reference_ms,
        ids=ids,
    )
    builder = _Builder(library, draw, count, reference_ms)
    index = 0
    while index < count:
        author = library.author(_person(draw), builder.added_at(index))
        pool = [draw.pick(builder.narrators), draw.pick(builder.narrators)]
        remaining = min(count - index, int(-7 * math.log(1.0 - draw.random())) + 1)
        while remaining > 0:
            if remaining >= 2 and draw.chance(0.7):
                length = min(remaining, draw.between(2, 14))
                series = library.series_named(builder.series_name(), builder.added_at(index))
                narrators = builder.narration(pool)
                for sequence in _sequences(draw, length):
                    library.put(builder.item(index, author, narrators, SeriesLink(series, sequence)))
                    index += 1
                remaining -= length
            else:
                library.put(builder.item(index, author, builder.narration(pool), None))
                index += 1
                remaining -= 1
    _mark_issues(library, draw)
    return library


def _mark_issues(library: Library, draw: _Draw) -> None:
    """About 0.2 % of the items are missing and 0.1 % invalid; at least one of each from 20 items up."""
    items = list(library.items.values())
    for item in items:
        roll = draw.random()
        item.is_missing = roll < 0.002
        item.is_invalid = 0.002 <= roll < 0.003
    if len(items) >= 20:
        if not any(item.is_missing for item in items):
            items[len(items) // 3].is_missing = True
        if not any(item.is_invalid for item in items):
            items[len(items) // 2 + 1].is_invalid = True
