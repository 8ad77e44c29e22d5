"""Fake payloads and the v1 `.torrent` files that describe them, for tests, the demo and the benchmarks.

`write_payload()` fills files with pseudo-random bytes that depend only on the seed and the file's path, so
two runs (or a seeder and the test comparing a leecher's files) produce the same bytes. `make_torrent()`
hashes a file or folder the way BitTorrent v1 does, which is what `mktorrent -p -l 16 -s MAM` would write,
without a creation date so the same input always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from mamd.domain.torrentfile import bencode

_CHUNK = 1 << 20
_BLOCK = 16 * 1024  # BitTorrent transfers 16 KiB blocks; piece sizes are multiples of it


def write_payload(folder: Path, files: Mapping[str, int], seed: str) -> None:
    """Write each relative path in `files` under `folder` with that many deterministic pseudo-random bytes.

    Parent folders are created. Absolute paths and `..` components are refused with `ValueError`.
    """
    for relative, size in files.items():
        parts = PurePosixPath(relative).parts
        if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
            raise ValueError(f"payload paths must be relative and stay inside the folder: {relative!r}")
        if size < 0:
            raise ValueError(f"payload size must not be negative: {relative!r} has {size}")
        target = folder.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        # one generator per file: a file's bytes do not depend on which other files are written
        stream = random.Random(f"{seed}\0{relative}")
        with target.open("wb") as handle:
            left = size
            while left:
                chunk = min(left, _CHUNK)
                handle.write(stream.randbytes(chunk))
                left -= chunk


def make_torrent(
    path: Path,
    *,
    announce: str | None = None,
    private: bool = True,
    source: str | None = "MAM",
    piece_length: int = 65536,
    name: str | None = None,
) -> bytes:
    """The bencoded v1 `.torrent` for a file (single-file torrent) or a folder (multi-file torrent).

    A folder's regular files are listed in sorted path order and hashed as one stream, pieces crossing
    file boundaries (BEP 3). `name` defaults to the file or folder name. `piece_length` must be a positive
    multiple of 16 KiB. Raises `ValueError` for an empty folder or a bad piece length.
    """
    if piece_length <= 0 or piece_length % _BLOCK:
        raise ValueError(f"piece_length must be a positive multiple of {_BLOCK}, not {piece_length}")
    info: dict[str, Any] = {"name": name if name is not None else path.name, "piece length": piece_length}
    if path.is_dir():
        files = sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).parts)
        if not files:
            raise ValueError(f"cannot make a torrent of an empty folder: {path}")
        info["files"] = [{"length": f.stat().st_size, "path": list(f.relative_to(path).parts)} for f in files]
    elif path.is_file():
        files = [path]
        info["length"] = path.stat().st_size
    else:
        raise ValueError(f"cannot make a torrent of {path}: not a file or folder")
    info["pieces"] = _piece_hashes(files, piece_length)
    if private:
        info["private"] = 1
    if source is not None:
        info["source"] = source
    document: dict[str, Any] = {"info": info}
    if announce is not None:
        document["announce"] = announce
    return bencode(document)


def _piece_hashes(files: list[Path], piece_length: int) -> bytes:
    """SHA-1 of every piece of the files read back to back; the last piece may be short."""
    hashes: list[bytes] = []
    piece = hashlib.sha1()
    filled = 0
    for chunk in _read_all(files):
        view = memoryview(chunk)
        while view:
            take = min(len(view), piece_length - filled)
            piece.update(view[:take])
            view = view[take:]
            filled += take
            if filled == piece_length:
                hashes.append(piece.digest())
                piece, filled = hashlib.sha1(), 0
    if filled:
        hashes.append(piece.digest())
    return b"".join(hashes)


def _read_all(files: list[Path]) -> Iterator[bytes]:
    for file in files:
        with file.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk
