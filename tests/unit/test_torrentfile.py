"""Bencoding is strict, and a `.torrent` yields the info-hash qBittorrent computes, its name and files."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mamd.domain.torrentfile import TorrentEntry, TorrentError, bdecode, bencode, parse_torrent
from mamd.sim.torrents import make_torrent, write_payload

PIECE = 16384


def torrent(info: dict[bytes, Any], **top: Any) -> bytes:
    return bencode({b"info": info, **{key.encode(): value for key, value in top.items()}})


def single(length: int = 100, **extra: Any) -> dict[bytes, Any]:
    pieces = -(-length // PIECE)
    return {
        b"name": b"book.m4b",
        b"piece length": PIECE,
        b"pieces": b"x" * 20 * pieces,
        b"length": length,
        **{key.encode(): value for key, value in extra.items()},
    }


# --- bencoding


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"i0e"),
        (-42, b"i-42e"),
        (2**70, b"i1180591620717411303424e"),
        (b"", b"0:"),
        (b"spam", b"4:spam"),
        ([], b"le"),
        ([1, b"a", [2]], b"li1e1:ali2eee"),
        ({}, b"de"),
        ({b"b": 1, b"a": b"x"}, b"d1:a1:x1:bi1ee"),
        ({b"\xff": 1, b"a": 2, b"Z": 3}, b"d1:Zi3e1:ai2e1:\xffi1ee"),  # sorted as raw bytes
    ],
)
def test_values_encode_canonically_and_decode_back(value: Any, encoded: bytes) -> None:
    assert bencode(value) == encoded
    assert bdecode(encoded) == value


def test_str_and_tuples_encode_as_utf8_and_lists() -> None:
    assert bencode({"näme": ("é", 1)}) == b"d5:n\xc3\xa4mel2:\xc3\xa9i1eee"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (True, TypeError),
        (1.5, TypeError),
        (None, TypeError),
        ({1: b"x"}, TypeError),
        ({b"a": 1, "a": 2}, ValueError),
    ],
)
def test_values_bencoding_cannot_express_are_refused(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        bencode(value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "unexpected end of data"),
        (b"i03e", "leading zero"),
        (b"i-0e", "negative zero"),
        (b"i-03e", "leading zero"),
        (b"ie", "malformed integer"),
        (b"i-e", "malformed integer"),
        (b"i1.5e", "malformed integer"),
        (b"i12", "unterminated integer"),
        (b"03:abc", "leading zero"),
        (b"5:abc", "runs past the end"),
        (b"3abc", "without ':'"),
        (b"x", "unexpected byte"),
        (b"-1:a", "unexpected byte"),
        (b"i1ei2e", "3 bytes of trailing data"),
        (b"4:spamx", "trailing data"),
        (b"li1e", "unterminated list"),
        (b"d1:ai1e", "unterminated dictionary"),
        (b"d1:ae", "unexpected byte"),
        (b"di1ei2ee", "key is not a byte string"),
        (b"dli1ee1:ae", "key is not a byte string"),
        (b"l" * 65 + b"e" * 65, "deeper than 64"),
    ],
)
def test_malformed_bencoding_is_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(TorrentError, match=message):
        bdecode(data)


def test_sixty_four_levels_of_nesting_are_allowed() -> None:
    assert bdecode(b"l" * 64 + b"e" * 64) is not None


def test_unsorted_and_repeated_keys_are_tolerated_and_the_first_value_wins() -> None:
    assert bdecode(b"d1:bi1e1:ai2e1:bi3ee") == {b"a": 2, b"b": 1}


bencodable = st.recursive(
    st.integers() | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.binary(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@given(bencodable)
def test_bencode_round_trips(value: Any) -> None:
    encoded = bencode(value)
    assert bdecode(encoded) == value
    assert bencode(bdecode(encoded)) == encoded


# --- torrents


def test_a_single_file_torrent_has_one_entry_named_after_the_torrent() -> None:
    info = single(length=40000, private=1, source=b"MAM")
    meta = parse_torrent(torrent(info, announce=b"https://t.example/announce"))
    assert meta.info_hash == hashlib.sha1(bencode(info)).hexdigest()
    assert meta.name == "book.m4b"
    assert meta.files == (TorrentEntry(("book.m4b",), 40000),)
    assert (meta.total_size, meta.piece_length) == (40000, PIECE)
    assert meta.private is True
    assert (meta.announce, meta.source) == ("https://t.example/announce", "MAM")


def test_a_multi_file_torrent_lists_paths_under_its_name() -> None:
    info = {
        b"name": b"Jane Doe - Book",
        b"piece length": PIECE,
        b"pieces": b"x" * 40,
        b"files": [
            {b"length": 20000, b"path": [b"CD1", b"01.mp3"]},
            {b"length": 0, b"path": [b"empty.txt"]},
            {b"length": 100, b"path": [b"cover.jpg"]},
        ],
    }
    meta = parse_torrent(torrent(info))
    assert meta.files == (
        TorrentEntry(("Jane Doe - Book", "CD1", "01.mp3"), 20000),
        TorrentEntry(("Jane Doe - Book", "empty.txt"), 0),
        TorrentEntry(("Jane Doe - Book", "cover.jpg"), 100),
    )
    assert meta.total_size == 20100
    assert (meta.private, meta.announce, meta.source) == (False, None, None)


def test_utf8_names_win_and_undecodable_bytes_are_replaced() -> None:
    info = single(**{"name.utf-8": "Les Misérables".encode()})
    assert parse_torrent(torrent(info)).name == "Les Misérables"
    latin1 = single(name="Misérables".encode("latin-1"))
    assert parse_torrent(torrent(latin1)).name == "Mis\ufffdrables"
    multi = {
        b"name": b"n",
        b"piece length": PIECE,
        b"pieces": b"x" * 20,
        b"files": [{b"length": 1, b"path": [b"a\xe9"], b"path.utf-8": ["é".encode()]}],
    }
    assert parse_torrent(torrent(multi)).files[0].path == ("n", "é")


def test_path_components_are_decoded_not_sanitised() -> None:
    info = {
        b"name": b"../x",
        b"piece length": PIECE,
        b"pieces": b"x" * 20,
        b"files": [{b"length": 1, b"path": [b"..", b"a/b"]}],
    }
    assert parse_torrent(torrent(info)).files[0].path == ("../x", "..", "a/b")


def test_padding_files_are_not_listed() -> None:
    info = {
        b"name": b"n",
        b"piece length": PIECE,
        b"pieces": b"x" * 40,
        b"files": [
            {b"length": 100, b"path": [b"a"]},
            {b"length": PIECE - 100, b"path": [b".pad", b"16284"], b"attr": b"p"},
            {b"length": 5, b"path": [b"b"], b"attr": b"x"},
        ],
    }
    meta = parse_torrent(torrent(info))
    assert [entry.path for entry in meta.files] == [("n", "a"), ("n", "b")]
    assert meta.total_size == 105


def test_the_info_hash_is_taken_from_the_bytes_in_the_file_not_a_re_encoding() -> None:
    # keys out of order: a canonical re-encoding would hash differently, qBittorrent hashes these bytes
    raw_info = b"d6:lengthi100e4:name8:book.m4b6:pieces20:" + b"x" * 20 + b"12:piece lengthi16384ee"
    data = b"d8:announce3:url4:info" + raw_info + b"e"
    meta = parse_torrent(data)
    assert meta.info_hash == hashlib.sha1(raw_info).hexdigest()
    assert meta.info_hash != hashlib.sha1(bencode(bdecode(raw_info))).hexdigest()


def test_a_repeated_info_key_hashes_its_first_value() -> None:
    first = bencode(single())
    data = b"d4:info" + first + b"4:info" + bencode(single(length=5)) + b"e"
    assert parse_torrent(data).info_hash == hashlib.sha1(first).hexdigest()


def info_without(key: bytes, **changes: Any) -> dict[bytes, Any]:
    info = single(**changes)
    info.pop(key, None)
    return info


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"le", "top level is not a dictionary"),
        (bencode({b"announce": b"x"}), "no 'info' dictionary"),
        (bencode({b"info": b"x"}), "no 'info' dictionary"),
        (torrent(info_without(b"pieces")), "no 'pieces'"),
        (torrent(info_without(b"pieces", **{"meta version": 2})), "v2-only torrents are not supported"),
        (torrent(single(pieces=b"x" * 19)), "multiple of 20"),
        (torrent(single(pieces=[b"x"])), "multiple of 20"),
        (torrent(single(**{"piece length": 0})), "'piece length' must be a positive integer"),
        (torrent(single(**{"piece length": b"16384"})), "'piece length' must be a positive integer"),
        (torrent(info_without(b"name")), "no 'name'"),
        (torrent(info_without(b"length")), "neither 'length' nor 'files'"),
        (torrent(single(length=-1)), "'length' must be a non-negative integer"),
        (torrent(info_without(b"length", files=[])), "'files' must be a non-empty list"),
        (torrent(info_without(b"length", files=[b"x"])), r"files\[0\] is not a dictionary"),
        (
            torrent(info_without(b"length", files=[{b"length": -5, b"path": [b"a"]}])),
            r"files\[0\]: 'length' must be a non-negative integer",
        ),
        (
            torrent(info_without(b"length", files=[{b"length": 5, b"path": []}])),
            r"files\[0\]: 'path' must be a non-empty list",
        ),
        (
            torrent(info_without(b"length", files=[{b"length": 5, b"path": [1]}])),
            r"files\[0\]: 'path' must be a non-empty list of strings",
        ),
        (torrent(single(length=PIECE + 1, pieces=b"x" * 20)), "has 1 piece hashes but its files need 2"),
        (torrent(single()) + b"x", "trailing data"),
    ],
)
def test_unusable_torrents_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(TorrentError, match=message):
        parse_torrent(data)


def test_torrent_error_is_a_value_error() -> None:
    assert issubclass(TorrentError, ValueError)


# --- the torrent maker (mamd.sim.torrents)


def test_payloads_are_deterministic_per_seed_and_path(tmp_path: Path) -> None:
    files = {"a/part 1.m4b": 70000, "cover.jpg": 10, "empty": 0}
    write_payload(tmp_path / "one", files, seed="s")
    write_payload(tmp_path / "two", files, seed="s")
    write_payload(tmp_path / "three", files, seed="t")
    for name, size in files.items():
        one = (tmp_path / "one" / name).read_bytes()
        assert len(one) == size
        assert one == (tmp_path / "two" / name).read_bytes()
        if size:
            assert one != (tmp_path / "three" / name).read_bytes()
    assert (tmp_path / "one/a/part 1.m4b").read_bytes() != (tmp_path / "one/cover.jpg").read_bytes()


@pytest.mark.parametrize("relative", ["/etc/x", "../x", "a/../../x", ""])
def test_payload_paths_must_stay_inside_the_folder(tmp_path: Path, relative: str) -> None:
    with pytest.raises(ValueError, match="relative"):
        write_payload(tmp_path, {relative: 1}, seed="s")


def test_a_folder_torrent_hashes_pieces_across_file_boundaries(tmp_path: Path) -> None:
    book = tmp_path / "Book"
    write_payload(book, {"b/2.mp3": 30000, "a.mp3": 20000, "cover.jpg": 1000}, seed="x")
    data = make_torrent(book, announce="http://127.0.0.1:1/announce", piece_length=PIECE)
    meta = parse_torrent(data)
    assert meta.files == (
        TorrentEntry(("Book", "a.mp3"), 20000),
        TorrentEntry(("Book", "b", "2.mp3"), 30000),
        TorrentEntry(("Book", "cover.jpg"), 1000),
    )
    stream = b"".join((book / name).read_bytes() for name in ("a.mp3", "b/2.mp3", "cover.jpg"))
    expected = b"".join(hashlib.sha1(stream[at : at + PIECE]).digest() for at in range(0, len(stream), PIECE))
    info = bdecode(data)[b"info"]
    assert info[b"pieces"] == expected
    assert (meta.private, meta.source, meta.announce) == (True, "MAM", "http://127.0.0.1:1/announce")
    assert make_torrent(book, piece_length=PIECE) == make_torrent(book, piece_length=PIECE)


def test_a_single_file_torrent_can_be_renamed_and_made_public(tmp_path: Path) -> None:
    write_payload(tmp_path, {"x.m4b": 65537}, seed="y")
    meta = parse_torrent(make_torrent(tmp_path / "x.m4b", private=False, source=None, name="Book.m4b"))
    assert meta.files == (TorrentEntry(("Book.m4b",), 65537),)
    assert (meta.private, meta.source, meta.piece_length) == (False, None, 65536)


@pytest.mark.parametrize("piece_length", [0, 1000, 16385])
def test_piece_lengths_must_be_whole_blocks(tmp_path: Path, piece_length: int) -> None:
    write_payload(tmp_path, {"x": 1}, seed="z")
    with pytest.raises(ValueError, match="multiple of 16384"):
        make_torrent(tmp_path / "x", piece_length=piece_length)


def test_an_empty_folder_makes_no_torrent(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty folder"):
        make_torrent(tmp_path)
