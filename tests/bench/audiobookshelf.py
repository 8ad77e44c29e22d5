"""The import chain against a real Audiobookshelf 2.36: from the completion hook to the book in its API.

A real qbittorrent-nox runs `mamd hook %I` as each download completes; the daemon imports the book (a
tagged m4b written by ffmpeg), asks Audiobookshelf to scan, and finds the book in Audiobookshelf's items
list. `hook_to_abs_visible_ms` is the daemon's own time from accepting the hook to finding it there
(`hook.accepted` to `import.in_library` in its log); the books are then checked in Audiobookshelf's API.
Completions come one after another, as downloads finish on a NAS.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.bench.figures import Figure, median, percentile
from tests.support.abs_chain import AbsChain, AbsChainFactory
from tests.support.abs_real import RealAbsFactory
from tests.support.audiobooks import LIBRARY
from tests.support.qbittorrent import QbittorrentFactory

BOOKS = 20
SPACING_S = 1.0


def at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["at"]).replace("Z", "+00:00")).timestamp()


def run(quick: bool) -> list[Figure]:
    count = 5 if quick else BOOKS
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        servers = RealAbsFactory(folder / "audiobookshelf")
        torrents = QbittorrentFactory(folder / "qbittorrent")
        chains = AbsChainFactory(folder, torrents, servers)
        try:
            chain = chains(LIBRARY)  # the generated library: the scans have folders to go through
        except (pytest.skip.Exception, pytest.fail.Exception) as exc:
            print(f"audiobookshelf: no real Audiobookshelf to measure against: {exc}", file=sys.stderr)
            return []
        try:
            hashes = _complete_books(chain, count)
            events = chain.daemon.log_events()
            listed = {item["relPath"] for item in chain.abs.items()}
        finally:
            chains.stop_all()
            torrents.stop_all(dump_logs=False)
            servers.stop_all(dump_logs=False)
    hooked = {
        e["hash"]: at(e) for e in events if e.get("event") == "hook.accepted" and not e.get("duplicate")
    }
    visible = {e["hash"]: (at(e), e["folder"]) for e in events if e.get("event") == "import.in_library"}
    missing = [folder for _, folder in visible.values() if folder not in listed]
    if missing:
        raise RuntimeError(f"mamd confirmed books Audiobookshelf does not list: {missing}")
    to_visible = [(visible[h][0] - hooked[h]) * 1000 for h in hashes]
    note = f"{count} books, one every {SPACING_S:g} s, into {len(LIBRARY)} in Audiobookshelf 2.36"
    return [
        Figure("hook_to_abs_visible_ms_p50", median(to_visible), note=note),
        Figure("hook_to_abs_visible_ms_p99", percentile(to_visible, 0.99), 1500),
    ]


def _complete_books(chain: AbsChain, count: int) -> list[str]:
    """Add `count` tagged books whose data is already on disk, one every SPACING_S; wait for them all."""
    hashes = []
    for number in range(count):
        title = f"Bench Book {number + 1}"
        tags = {
            "album": title,
            "title": title,
            "artist": "Ada Bench",
            "composer": "Bo Reader",
            "series": "Bench Series",
            "series-part": str(number + 1),
        }
        name = f"Ada Bench - Bench Series {number + 1:02d} - {title}"
        hashes.append(chain.add_audiobook(name, {f"{title}.m4b": tags}, audio="m4b-keys"))
        time.sleep(SPACING_S)
    deadline = time.monotonic() + 120
    while len(chain.events("import.done")) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"only {len(chain.events('import.done'))} of {count} books reached Audiobookshelf"
            )
        time.sleep(0.2)
    return hashes
