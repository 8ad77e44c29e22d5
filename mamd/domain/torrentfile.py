"""Bencoding and `.torrent` metadata: the info-hash, the name and the files, read without touching disk.

`bdecode()` is strict about syntax (BEP 3): integers without leading zeros or `-0`, no trailing data, byte
string keys only, at most 64 levels of nesting. It tolerates dictionary keys that are out of order or
repeated, because real torrents contain them and libtorrent loads them; a repeated key keeps its FIRST
value, as libtorrent's `dict_find` does.

`parse_torrent()` takes the v1 info-hash from the exact bytes of the `info` value in the file, never from a
re-encoding, so a non-canonical file hashes the way qBittorrent hashes it (the hash is
not returned by `torrents/add`, mamd computes it and keys everything on it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 64
_DIGITS = frozenset(b"0123456789")


class TorrentError(ValueError):
    """The bytes are not valid bencoding, or not a `.torrent` file mamd can use."""


@dataclass(frozen=True)
class TorrentEntry:
    path: tuple[str, ...]  # (torrent name, *sub-path); `(name,)` for a single-file torrent
    length: int


@dataclass(frozen=True)
class TorrentMeta:
    info_hash: str  # v1, lowercase hex
    name: str
    files: tuple[TorrentEntry, ...]
    total_size: int
    piece_length: int
    private: bool
    announce: str | None
    source: str | None


class _Decoder:
    """A recursive-descent bdecoder over one buffer; remembers where each top-level dict value lies."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.top_spans: dict[bytes, tuple[int, int]] = {}

    def fail(self, what: str, at: int) -> TorrentError:
        return TorrentError(f"invalid bencoding at byte {at}: {what}")

    def value(self, at: int, depth: int) -> tuple[Any, int]:
        if at >= len(self.data):
            raise self.fail("unexpected end of data", at)
        kind = self.data[at]
        if kind == ord("i"):
            return self.integer(at)
        if kind in _DIGITS:
            return self.string(at)
        if kind not in (ord("l"), ord("d")):
            raise self.fail(f"unexpected byte {bytes([kind])!r}", at)
        if depth >= MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels", at)
        if kind == ord("l"):
            return self.list(at, depth + 1)
        return self.dict(at, depth + 1)

    def integer(self, at: int) -> tuple[int, int]:
        end = self.data.find(b"e", at + 1)
        if end < 0:
            raise self.fail("unterminated integer", at)
        text = self.data[at + 1 : end]
        digits = text[1:] if text.startswith(b"-") else text
        if not digits or not all(b in _DIGITS for b in digits):
            raise self.fail(f"malformed integer {text!r}", at)
        if digits.startswith(b"0") and len(digits) > 1:
            raise self.fail(f"integer with a leading zero {text!r}", at)
        if text == b"-0":
            raise self.fail("negative zero", at)
        return int(text), end + 1

    def string(self, at: int) -> tuple[bytes, int]:
        colon = self.data.find(b":", at)
        if colon < 0:
            raise self.fail("string length without ':'", at)
        digits = self.data[at:colon]
        if not all(b in _DIGITS for b in digits):
            raise self.fail(f"malformed string length {digits!r}", at)
        if digits.startswith(b"0") and len(digits) > 1:
            raise self.fail(f"string length with a leading zero {digits!r}", at)
        start, end = colon + 1, colon + 1 + int(digits)
        if end > len(self.data):
            raise self.fail(f"string of {int(digits)} bytes runs past the end of data", at)
        return self.data[start:end], end

    def list(self, at: int, depth: int) -> tuple[list[Any], int]:
        items: list[Any] = []
        at += 1
        while at < len(self.data) and self.data[at] != ord("e"):
            item, at = self.value(at, depth)
            items.append(item)
        if at >= len(self.data):
            raise self.fail("unterminated list", at)
        return items, at + 1

    def dict(self, at: int, depth: int) -> tuple[dict[bytes, Any], int]:
        result: dict[bytes, Any] = {}
        at += 1
        while at < len(self.data) and self.data[at] != ord("e"):
            if self.data[at] not in _DIGITS:
                raise self.fail("dictionary key is not a byte string", at)
            key, at = self.string(at)
            start = at
            item, at = self.value(at, depth)
            # out-of-order and repeated keys are tolerated; the first value wins, as in libtorrent
            if key not in result:
                result[key] = item
                if depth == 1:
                    self.top_spans[key] = (start, at)
        if at >= len(self.data):
            raise self.fail("unterminated dictionary", at)
        return result, at + 1


def _decode_document(data: bytes) -> tuple[Any, _Decoder]:
    decoder = _Decoder(bytes(data))
    value, end = decoder.value(0, 0)
    if end != len(decoder.data):
        raise decoder.fail(f"{len(decoder.data) - end} bytes of trailing data", end)
    return value, decoder


def bdecode(data: bytes) -> Any:
    """Decode one bencoded value that spans all of `data`: int, bytes, list or dict with bytes keys.

    Raises `TorrentError` for malformed input (see the module docstring for what is refused).
    """
    return _decode_document(data)[0]


def bencode(value: Any) -> bytes:
    """Encode ints, byte strings (`str` as UTF-8), lists/tuples and dicts, with dict keys in sorted order.

    Dict keys must be `bytes` or `str`; anything else (including `bool`) raises `TypeError`.
    """
    out: list[bytes] = []
    _encode(value, out, 0)
    return b"".join(out)


def _encode(value: Any, out: list[bytes], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"cannot bencode nesting deeper than {MAX_DEPTH} levels")
    if isinstance(value, bool):
        raise TypeError("cannot bencode a bool; use 0 or 1")
    if isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, bytes | bytearray | memoryview | str):
        raw = value.encode() if isinstance(value, str) else bytes(value)
        out.append(b"%d:" % len(raw))
        out.append(raw)
    elif isinstance(value, list | tuple):
        out.append(b"l")
        for item in value:
            _encode(item, out, depth + 1)
        out.append(b"e")
    elif isinstance(value, dict):
        items: dict[bytes, Any] = {}
        for key, item in value.items():
            if not isinstance(key, bytes | str):
                raise TypeError(f"cannot bencode a dictionary key of type {type(key).__name__}")
            raw_key = key.encode() if isinstance(key, str) else key
            if raw_key in items:
                raise ValueError(f"dictionary key {raw_key!r} appears twice")
            items[raw_key] = item
        out.append(b"d")
        for raw_key in sorted(items):
            _encode(raw_key, out, depth + 1)
            _encode(items[raw_key], out, depth + 1)
        out.append(b"e")
    else:
        raise TypeError(f"cannot bencode a value of type {type(value).__name__}")


def parse_torrent(data: bytes) -> TorrentMeta:
    """Read a v1 (or hybrid) `.torrent`: its info-hash, name, files, sizes, flags, tracker and source.

    Text is decoded as UTF-8 with errors replaced; `name.utf-8` and `path.utf-8` win over `name` and
    `path`. Path components are decoded, not sanitised. BEP 47 padding files (`attr` containing `p`)
    are not real files and are left out of `files` and `total_size`. Raises `TorrentError` saying what
    is wrong; v2-only torrents are refused because qBittorrent 4.5's v1 hash is mamd's key.
    """
    document, decoder = _decode_document(data)
    if not isinstance(document, dict):
        raise TorrentError("not a torrent file: the top level is not a dictionary")
    info = document.get(b"info")
    if not isinstance(info, dict):
        raise TorrentError("not a torrent file: it has no 'info' dictionary")
    start, end = decoder.top_spans[b"info"]
    info_hash = hashlib.sha1(decoder.data[start:end]).hexdigest()

    pieces = info.get(b"pieces")
    if pieces is None:
        if info.get(b"meta version") == 2:
            raise TorrentError("v2-only torrents are not supported: the torrent has no v1 'pieces'")
        raise TorrentError("the 'info' dictionary has no 'pieces'")
    if not isinstance(pieces, bytes) or len(pieces) % 20:
        raise TorrentError("'pieces' must be a byte string whose length is a multiple of 20")
    piece_length = info.get(b"piece length")
    if not isinstance(piece_length, int) or piece_length <= 0:
        raise TorrentError("'piece length' must be a positive integer")

    name = _text(info, b"name")
    if name is None:
        raise TorrentError("the 'info' dictionary has no 'name'")
    files = _files(info, name)
    total_size = sum(entry.length for entry in files)
    expected_pieces = -(-_padded_size(info, total_size) // piece_length)
    if len(pieces) // 20 != expected_pieces:
        raise TorrentError(
            f"the torrent has {len(pieces) // 20} piece hashes but its files need {expected_pieces}"
        )
    return TorrentMeta(
        info_hash=info_hash,
        name=name,
        files=files,
        total_size=total_size,
        piece_length=piece_length,
        private=info.get(b"private") == 1,
        announce=_text(document, b"announce"),
        source=_text(info, b"source"),
    )


def _text(container: dict[bytes, Any], key: bytes) -> str | None:
    """The UTF-8 text under `key`, preferring `key.utf-8`; None when absent or not a string."""
    for candidate in (key + b".utf-8", key):
        value = container.get(candidate)
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
    return None


def _is_padding(entry: dict[bytes, Any]) -> bool:
    attr = entry.get(b"attr")
    return isinstance(attr, bytes) and b"p" in attr


def _padded_size(info: dict[bytes, Any], total_size: int) -> int:
    """The size the pieces cover: real files plus padding files."""
    listed = info.get(b"files")
    if not isinstance(listed, list):
        return total_size
    return total_size + sum(int(entry[b"length"]) for entry in listed if _is_padding(entry))


def _files(info: dict[bytes, Any], name: str) -> tuple[TorrentEntry, ...]:
    if b"length" in info:
        length = info[b"length"]
        if not isinstance(length, int) or length < 0:
            raise TorrentError("'length' must be a non-negative integer")
        return (TorrentEntry((name,), length),)
    listed = info.get(b"files")
    if listed is None:
        raise TorrentError("the 'info' dictionary has neither 'length' nor 'files'")
    if not isinstance(listed, list) or not listed:
        raise TorrentError("'files' must be a non-empty list")
    entries: list[TorrentEntry] = []
    for index, entry in enumerate(listed):
        if not isinstance(entry, dict):
            raise TorrentError(f"files[{index}] is not a dictionary")
        length = entry.get(b"length")
        if not isinstance(length, int) or length < 0:
            raise TorrentError(f"files[{index}]: 'length' must be a non-negative integer")
        raw_path = entry.get(b"path.utf-8", entry.get(b"path"))
        if (
            not isinstance(raw_path, list)
            or not raw_path
            or not all(isinstance(part, bytes) for part in raw_path)
        ):
            raise TorrentError(f"files[{index}]: 'path' must be a non-empty list of strings")
        if _is_padding(entry):
            continue
        parts = tuple(part.decode("utf-8", errors="replace") for part in raw_path)
        entries.append(TorrentEntry((name, *parts), length))
    return tuple(entries)
