"""The generated library served by a real Audiobookshelf 2.36 and by the simulator gives mamd the same books.

Both serve the same folder of real audio files (a copy each: Audiobookshelf follows inodes). mamd's
`library_sync` must store the same title, authors, narrators, series and position, ASIN and ISBN for every
book from either, equal to the library's ground truth, and `discover` must want the same books. Where the
two ever differ, the simulator is wrong: the real server decides.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from mamd.sim.abs.app import AbsSimulator
from tests.support.abs_real import RealAbs, book_facts
from tests.support.audiobooks import LIBRARY, WANTED_GAPS
from tests.support.library_env import library_runtime

pytestmark = pytest.mark.audiobookshelf

# the spellings of a book the library owns under another one: never wanted (item 5)
OWNED_BY_ANOTHER_NAME = [
    {"title": "Death's End", "author": "Cixin Liu"},
    {"title": "The Farthest Shore", "author": "Ursula Le Guin"},
    {"title": "Pyramids (Discworld 7)", "author": "Terry Pratchett"},
]
# and books it does not own, though a title or a name is close: another series position, a subtitle
# alone, the other half of a split edition
NOT_OWNED = [
    {"title": "Dune", "author": "Frank Herbert", "series": "Dune", "position": "7"},
    {"title": "Legacy: The Final Empire", "author": "Brandon Sanderson"},
    {"title": "The Stand: Part Two", "author": "Stephen King"},
]


def normalised(books: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {path: {**book, "series": [tuple(s) for s in book["series"]]} for path, book in books.items()}


async def test_the_real_server_shows_the_generated_library_as_its_ground_truth(
    generated_abs: RealAbs,
) -> None:
    shown = {item["relPath"]: book_facts(item) for item in generated_abs.items()}
    expected = {book.folder: book.facts for book in LIBRARY}
    assert normalised(shown) == normalised(expected)


async def test_library_sync_stores_the_same_books_from_the_real_server_and_the_simulator(
    generated_abs: RealAbs, generated_library: Path, tmp_path: Path, aiohttp_server: Any
) -> None:
    copy = tmp_path / "sim-library"
    shutil.copytree(generated_library, copy)
    sim = AbsSimulator.from_folder(copy)
    server = await aiohttp_server(sim.app)
    changes = {"wanted": {"manual": [*OWNED_BY_ANOTHER_NAME, *NOT_OWNED]}}
    real_home, sim_home = tmp_path / "real", tmp_path / "sim"
    real_home.mkdir()
    sim_home.mkdir()
    async with (
        library_runtime(
            real_home, generated_abs.url, generated_abs.api_key, generated_abs.library, changes
        ) as real,
        library_runtime(sim_home, str(server.make_url("")), sim.api_key, copy, changes) as simulated,
    ):
        real_summary, sim_summary = await real.sync(), await simulated.sync()
        assert real_summary["items"] == sim_summary["items"] == len(LIBRARY)
        from_real, from_sim = normalised(await real.books()), normalised(await simulated.books())
        for path in sorted(from_real):
            assert from_sim.get(path) == from_real[path], path
        assert from_sim == from_real
        assert from_real == normalised({book.folder: book.facts for book in LIBRARY})

        await real.discover()
        await simulated.discover()
        assert await simulated.wanted() == await real.wanted()
        wanted_gaps = {(row[0], row[1]) for row in await real.wanted() if row[4] == "series_gap"}
        assert wanted_gaps == {(series, p) for series, positions in WANTED_GAPS.items() for p in positions}
        wanted_titles = {title for _, _, title, _, reason in await real.wanted() if reason == "manual"}
        assert wanted_titles == {want["title"] for want in NOT_OWNED}
