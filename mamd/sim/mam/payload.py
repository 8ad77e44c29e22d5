"""The files behind each simulated torrent, and the real private v1 `.torrent` that describes them.

A torrent's payload depends only on its row (the tid seeds every choice), so `payload_files()` always
gives the same paths and sizes and `write_payload()` the same bytes. Files are small on purpose (100–900
KiB each) so tests and the demo stay fast: a row's displayed `size` and `numfiles` describe the listing,
not the payload.

Layouts, as MAM uploads look:
- m4b: `<Author> - <Title>/<Title>.m4b` (sometimes with `cover.jpg`), or a bare `<Title>.m4b` when the
  row's `layout` is "file" (a single-file torrent: no folder at all);
- mp3: `<Author> - <Title>/<Title> - Part NN.mp3`, 2–6 parts; flac: `… - Track NN.flac`, 3–5 tracks;
- e-books: one `<Title>.<ext>` per format of `filetype` ("epub mobi pdf").

`TorrentFactory` writes a payload into a temporary folder, hashes it with `make_torrent` (so the info-hash
always matches what `write_payload` produces), keeps the bencoded `info` in memory and adds the announce
URL of the host that asked.
"""

from __future__ import annotations

import random
import tempfile
import threading
from pathlib import Path, PurePosixPath
from typing import Any

from mamd.domain.torrentfile import bdecode, bencode
from mamd.sim import torrents
from mamd.sim.mam.rows import Row

MIN_FILE = 100 * 1024
MAX_FILE = 900 * 1024
PIECE_LENGTH = 64 * 1024
CREATED_BY = "mamd MAM simulator"
_UNSAFE = str.maketrans({"/": "-", "\\": "-", "\0": "", ":": " -"})


def payload_seed(tid: int) -> str:
    """The seed of `mamd.sim.torrents.write_payload` for this torrent's bytes."""
    return f"mam-payload:{tid}"


def _safe(name: str) -> str:
    cleaned = " ".join(name.translate(_UNSAFE).split()).strip(". ")
    return cleaned or "Untitled"


def _author(row: Row) -> str:
    return row.authors[0].name if row.authors else "Unknown Author"


def payload_files(row: Row) -> dict[str, int]:
    """Relative path → size of every file of `row`'s torrent; the first path part is the torrent name."""
    draw = random.Random(f"mam-layout:{row.id}")
    title = _safe(row.title)
    folder = _safe(f"{_author(row)} - {row.title}")
    formats = row.filetype.split() or ["m4b"]

    def size() -> int:
        return draw.randint(MIN_FILE, MAX_FILE)

    first = formats[0].lower()
    if row.main_cat == 14:
        return {f"{folder}/{title}.{ext.lower()}": size() for ext in formats}
    if first == "m4b" and row.layout == "file":
        return {f"{title}.m4b": size()}
    if first == "m4b":
        files = {f"{folder}/{title}.m4b": size()}
        if draw.random() < 0.5:
            files[f"{folder}/cover.jpg"] = draw.randint(40 * 1024, 90 * 1024)
        return files
    if first == "flac":
        return {f"{folder}/{title} - Track {n:02d}.flac": size() for n in range(1, draw.randint(3, 5) + 1)}
    parts = draw.randint(2, 6)
    return {f"{folder}/{title} - Part {n:02d}.{first}": size() for n in range(1, parts + 1)}


def write_payload(row: Row, folder: Path, *, skip_existing: bool = False) -> dict[str, int]:
    """Write `row`'s payload under `folder` (the save path: the torrent name is the first level).

    With `skip_existing`, files already present with the right size are left alone, so a payload that a
    torrent client is seeding is never rewritten. Returns the file list.
    """
    files = payload_files(row)
    todo = files
    if skip_existing:
        todo = {path: size for path, size in files.items() if not _present(folder, path, size)}
    torrents.write_payload(folder, todo, payload_seed(row.id))
    return files


def _present(folder: Path, relative: str, size: int) -> bool:
    target = folder.joinpath(*PurePosixPath(relative).parts)
    return target.is_file() and target.stat().st_size == size


def torrent_name(row: Row) -> str:
    return PurePosixPath(next(iter(payload_files(row)))).parts[0]


class TorrentFactory:
    """Builds each torrent's `info` once (thread-safe, file I/O: call it through `asyncio.to_thread`)."""

    def __init__(self) -> None:
        self._infos: dict[int, Any] = {}
        self._lock = threading.Lock()

    def info(self, row: Row) -> Any:
        """The decoded `info` dictionary of `row`'s torrent (private, source "MAM", 64 KiB pieces)."""
        with self._lock:
            cached = self._infos.get(row.id)
            if cached is not None:
                return cached
            with tempfile.TemporaryDirectory(prefix="mamd-sim-mam-") as scratch:
                root = Path(scratch)
                write_payload(row, root)
                raw = torrents.make_torrent(
                    root / torrent_name(row), private=True, source="MAM", piece_length=PIECE_LENGTH
                )
            info = bdecode(raw)[b"info"]
            self._infos[row.id] = info
            return info

    def torrent(self, row: Row, announce: str) -> bytes:
        """The `.torrent` bytes for `row`, with `announce` as its tracker URL."""
        return bencode({"announce": announce, "created by": CREATED_BY, "info": self.info(row)})
