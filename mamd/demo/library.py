"""The demo's Audiobookshelf: a small library on disk, with gaps, served by the simulator."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from mamd.demo.servers import LoopbackServer, serve
from mamd.sim.abs.app import AbsSimulator

# (author, series, position, title, narrator); None series: a standalone
BOOKS: tuple[tuple[str, str | None, str | None, str, str], ...] = (
    ("Brandon Sanderson", "Mistborn", "1", "The Final Empire", "Michael Kramer"),
    ("Brandon Sanderson", "Mistborn", "2", "The Well of Ascension", "Michael Kramer"),
    ("Brandon Sanderson", "Mistborn", "4", "The Alloy of Law", "Michael Kramer"),
    ("Brandon Sanderson", None, None, "Elantris", "Jack Garrett"),
    ("Terry Pratchett", "Discworld", "1", "The Colour of Magic", "Nigel Planer"),
    ("Terry Pratchett", "Discworld", "2", "The Light Fantastic", "Nigel Planer"),
    ("Terry Pratchett", "Discworld", "4", "Mort", "Nigel Planer"),
    ("Ursula K. Le Guin", "Earthsea", "1", "A Wizard of Earthsea", "Rob Inglis"),
    ("Ursula K. Le Guin", "Earthsea", "3", "The Farthest Shore", "Rob Inglis"),
    ("James S. A. Corey", "The Expanse", "1", "Leviathan Wakes", "Jefferson Mays"),
    ("James S. A. Corey", "The Expanse", "2", "Caliban's War", "Jefferson Mays"),
)


def write_library(root: Path) -> int:
    """Folders as Audiobookshelf lays them out, each with a small stand-in audio file."""
    for author, series, position, title, narrator in BOOKS:
        folder = root / author / series / f"Book {position} - {title}" if series else root / author / title
        folder = folder.with_name(f"{folder.name} {{{narrator}}}")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{title}.m4b").write_bytes(secrets.token_bytes(4096))
    return len(BOOKS)


@dataclass
class DemoAudiobookshelf:
    simulator: AbsSimulator
    server: LoopbackServer

    @property
    def url(self) -> str:
        return self.server.url

    async def close(self) -> None:
        await self.server.close()


async def start_audiobookshelf(library: Path) -> DemoAudiobookshelf:
    """The simulator serving `library` on a free loopback port."""
    simulator = AbsSimulator.from_folder(library, api_key=secrets.token_hex(20), scan_delay=0.05)
    return DemoAudiobookshelf(simulator, await serve(simulator.app))
