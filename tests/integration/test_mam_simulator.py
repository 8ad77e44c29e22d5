"""The MAM simulator against MAM's documented behaviour: sessions, search, rows, downloads, the account,
the bonus store, the dynamic seedbox, faults, the request log, the `/__sim/` controls and the standalone
process.

Everything goes through real sockets (`aiohttp_client`, without a cookie jar so each test says which
`mam_id` it sends); every wait is bounded.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from mamd.domain.torrentfile import parse_torrent
from mamd.sim.mam.account import GIB, Account
from mamd.sim.mam.app import MamSimulator
from mamd.sim.mam.catalogue import GOOD, HANDWRITTEN_IDS, handwritten_rows
from mamd.sim.mam.generate import generate_rows
from mamd.sim.mam.rows import DRAMATIZATION, human_size
from mamd.sim.mam.store import UPLOAD_MINIMUM_ERROR
from mamd.sim.torrents import make_torrent
from tests.support.clock import FakeClock

Client = TestClient[Any, Any]
REPO = Path(__file__).resolve().parents[2]
COOKIE = "test-cookie-initial"
SEARCH = "/tor/js/loadSearchJSONbasic.php"
ROW_FIELDS = {
    "id", "title", "author_info", "narrator_info", "series_info", "filetype", "size", "numfiles", "seeders",
    "leechers", "times_completed", "added", "vip", "vip_expire", "free", "fl_vip", "personal_freeleech",
    "my_snatched", "main_cat", "category", "catname", "cat", "language", "lang_code", "mediatype", "maincat",
    "categories", "tags", "browseflags", "w", "comments", "bookmarked", "poster_type", "mediainfo",
    "ownership",
}  # fmt: skip
ACCOUNT_FIELDS = {
    "classname", "uid", "username", "ratio", "seedbonus", "wedges", "vip_until", "uploaded", "uploaded_bytes",
    "downloaded", "downloaded_bytes", "country_code", "country_name",
}  # fmt: skip
COUNTERS = {
    "seedUnsat", "sSat", "seedHnr", "inactHnr", "inactUnsat", "inactSat", "leeching", "upAct", "upInact",
    "reseed", "ite", "duplicates",
}  # fmt: skip
_SIZE = re.compile(r"\d+(\.\d+)? (B|KiB|MiB|GiB|TiB)")


def set_cookies(response: aiohttp.ClientResponse) -> list[str]:
    return list(response.headers.getall("Set-Cookie", []))


def rotated_value(response: aiohttp.ClientResponse) -> str | None:
    """The new `mam_id` a careful client keeps: the last one that is not a deletion."""
    found = None
    for header in set_cookies(response):
        morsel = SimpleCookie(header).get("mam_id")
        if morsel is None or morsel.value == "deleted" or morsel["max-age"] == "0":
            continue
        found = morsel.value
    return found


class Mam:
    """A careful MAM client over a test client: it sends the latest cookie and adopts every rotation."""

    def __init__(self, client: Client, cookie: str) -> None:
        self.client = client
        self.cookie: str | None = cookie

    async def call(
        self, method: str, path: str, *, cookie: str | None = "", adopt: bool = True, **options: Any
    ) -> aiohttp.ClientResponse:
        """`cookie=""` sends the current value, `None` sends none, anything else is sent as given."""
        value = self.cookie if cookie == "" else cookie
        headers = dict(options.pop("headers", {}))
        if value:
            headers["Cookie"] = f"mam_id={value}"
        response = await self.client.request(method, path, headers=headers, **options)
        await response.read()
        new = rotated_value(response)
        if adopt and new:
            self.cookie = new
        return response

    async def get_json(self, path: str, **params: str) -> Any:
        response = await self.call("GET", path, params=params)
        assert response.status == 200, await response.text()
        assert response.content_type == "application/json"
        return await response.json()

    async def search(self, tor: dict[str, Any] | None = None, **top: Any) -> Any:
        response = await self.call("POST", SEARCH, json={"tor": tor or {}, **top})
        assert response.status == 200, await response.text()
        return await response.json()

    async def ids(self, tor: dict[str, Any], **top: Any) -> set[int]:
        body = await self.search(tor, perpage=1000, **top)
        return set() if "error" in body else {row["id"] for row in body["data"]}

    async def download(self, tid: int | str, **params: str) -> aiohttp.ClientResponse:
        return await self.call("GET", "/tor/download.php", params={"tid": str(tid), **params})

    async def buy(
        self, path: str = "/json/bonusBuy.php/", *, headers: dict[str, str] | None = None, **params: str
    ) -> aiohttp.ClientResponse:
        return await self.call("GET", path, params=params, headers=headers or {})


MakeMam = Callable[..., Any]


@pytest.fixture
def connect(aiohttp_client: Any) -> MakeMam:
    """`await connect(sim)`: a careful client of `sim` over loopback, holding `sim.cookie`."""

    async def make(sim: MamSimulator) -> Mam:
        client: Client = await aiohttp_client(sim.app, cookie_jar=aiohttp.DummyCookieJar())
        return Mam(client, sim.cookie)

    return make


@pytest.fixture
def sim() -> MamSimulator:
    return MamSimulator.handwritten(cookie=COOKIE)


@pytest.fixture(scope="module")
def big_rows() -> list[Any]:
    return generate_rows(3000, 1)


@pytest.fixture
def big() -> MamSimulator:
    """The full catalogue: hand-written rows and 3,000 generated ones."""
    return MamSimulator.generated(3000, 1, cookie=COOKIE)


# -- search: paging, envelope, body shape ---------------------------------------------------------------


async def test_paging_with_a_string_start_number_returns_every_match_once(
    big: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(big)
    tor = {"main_cat": ["13"], "browse_lang": [37], "sortType": "default"}
    expected = {r.id for r in big.rows.values() if r.main_cat == 13 and r.language == 37}
    assert len(expected) > 60
    seen: list[int] = []
    start = 0
    while True:
        body = await mam.search({**tor, "startNumber": str(start)}, perpage=25)
        if "error" in body or not body["data"]:
            break
        assert body["found"] == len(expected)
        assert body["start"] == start
        assert body["perpage"] == 25
        assert body["total"] == len(body["data"]) <= 25
        seen.extend(row["id"] for row in body["data"])
        start += len(body["data"])
        if start >= body["found"]:
            break
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected


async def test_a_page_past_the_end_is_empty_but_still_counts_the_matches(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    body = await mam.search({"text": "sanderson", "startNumber": "500"}, perpage=10)
    assert body["data"] == []
    assert body["total"] == 0
    assert body["found"] > 0


async def test_no_match_is_the_nothing_returned_error_with_the_catalogue_size(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    body = await mam.search({"text": "no such book anywhere"})
    assert body == {"error": f"Nothing returned, out of {len(sim.rows)}"}


async def test_perpage_counts_only_at_the_top_level_of_the_body(big: MamSimulator, connect: MakeMam) -> None:
    """As on MAM, a `perpage` inside `tor` is silently ignored (the default page size applies)."""
    mam = await connect(big)
    inside = await mam.search({"main_cat": ["13"], "perpage": 100})
    top = await mam.search({"main_cat": ["13"]}, perpage=100)
    assert inside["perpage"] == 25
    assert len(inside["data"]) == 25
    assert top["perpage"] == 100
    assert len(top["data"]) == 100
    assert inside["found"] == top["found"]


async def test_a_number_as_start_number_is_ignored_so_paging_goes_nowhere(
    big: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(big)
    first = await mam.search({"startNumber": "0"}, perpage=10)
    as_number = await mam.search({"startNumber": 10}, perpage=10)
    as_string = await mam.search({"startNumber": "10"}, perpage=10)
    assert as_number["start"] == 0
    assert [r["id"] for r in as_number["data"]] == [r["id"] for r in first["data"]]
    assert as_string["start"] == 10
    assert not {r["id"] for r in as_string["data"]} & {r["id"] for r in first["data"]}


async def test_a_form_encoded_search_gets_200_with_an_empty_body_and_no_rotation(
    sim: MamSimulator, connect: MakeMam
) -> None:
    """As on MAM: indistinguishable from a dead cookie, unless the client checks its encoding."""
    mam = await connect(sim)
    response = await mam.call("POST", SEARCH, data={"tor[text]": "warbreaker", "perpage": "5"})
    assert response.status == 200
    assert await response.read() == b""
    assert set_cookies(response) == []
    broken = await mam.call(
        "POST", SEARCH, data=b'{"tor": {"text": ', headers={"Content-Type": "application/json"}
    )
    assert broken.status == 200
    assert await broken.read() == b""


# -- search: matching and filters -----------------------------------------------------------------------


async def test_every_word_must_appear_in_the_fields_chosen_by_srchin(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    both = {"title": "true", "author": "true"}
    assert await mam.ids({"text": "HERO of ages SANDERSON", "srchIn": both}) == {
        900001,
        900102,
        900105,
        900108,
    }
    assert await mam.ids({"text": "hero of ages sanderson", "srchIn": ["title", "author"]}) == {
        900001,
        900102,
        900105,
        900108,
    }
    assert await mam.ids({"text": "hero of ages sanderson", "srchIn": {"title": "true"}}) == set()
    assert await mam.ids({"text": "michael kramer", "srchIn": ["narrator"]}) == {
        900001, 900102, 900103, 900117, 900118,
    }  # fmt: skip
    assert await mam.ids({"text": "earthsea", "srchIn": ["series"]}) == {900003, 900111, 900112, 900119}
    assert await mam.ids({"text": "graphicaudio", "srchIn": ["tags"]}) == {900105}
    assert 900001 in await mam.ids({"text": "The Hero of Ages.m4b", "srchIn": ["filenames"]})


@pytest.mark.parametrize(
    ("written", "row", "found"),
    [
        ("Les Misérables", 900122, True),
        ("les misérables", 900122, True),
        ("Les Miserables", 900122, False),  # accents are not folded
        ("Pride & Prejudice", 900123, True),
        ("Pride and Prejudice", 900123, False),  # nor `&` against `and`
        ("11/22/63", 900124, True),
        ("11 22 63", 900124, False),  # nor punctuation inside a word
        ("112263", 900124, False),
        ("Ender’s Game", 900129, True),
        ("Ender's Game", 900129, False),  # a straight apostrophe is not a curly one
        ("Enders Game", 900129, False),
        ("Nemesis Jo Nesbø", 900130, True),
        ("Nemesis Jo Nesbo", 900130, False),
        ("Misérables:", 900122, True),  # the punctuation around a word goes
        ("Miser", 900122, False),  # whole words only
    ],
)
async def test_the_search_folds_case_and_nothing_else(
    sim: MamSimulator, connect: MakeMam, written: str, row: int, found: bool
) -> None:
    """MAM's search is a plain full-text match: the words as the uploader wrote them, whatever the case."""
    mam = await connect(sim)
    assert (row in await mam.ids({"text": written, "srchIn": ["title", "author"]})) is found


async def test_main_cat_language_and_the_abridged_flag_filter_rows(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    title = {"text": "hero of ages", "srchIn": ["title"]}
    assert await mam.ids(title) == {900001, 900101, 900102, 900105, 900108}
    english_unabridged = {
        **title, "main_cat": ["13"], "browse_lang": [1], "browseFlagsHideVsShow": "0", "browseFlags": [32],
    }  # fmt: skip
    assert await mam.ids(english_unabridged) == {900001, 900101, 900105}
    assert await mam.ids({**title, "browseFlagsHideVsShow": "1", "browseFlags": [32]}) == {900102}
    assert await mam.ids({**title, "browse_lang": [37]}) == {900108}
    assert await mam.ids({"text": "equal rites", "main_cat": ["14"]}) == {900106}
    assert await mam.ids({"text": "equal rites", "main_cat": ["13"], "cat": ["0"]}) == {900002, 900114}
    assert await mam.ids({"text": "abaddon's", "browse_lang": ["4"]}) == {900107}


@pytest.mark.parametrize(
    ("search_type", "expected"),
    [
        ("VIP", {900109}),
        ("fl", {900110, 900119}),
        ("fl-VIP", {900109, 900110, 900119}),
    ],
)
async def test_search_type_selects_vip_and_freeleech_rows(
    sim: MamSimulator, connect: MakeMam, search_type: str, expected: set[int]
) -> None:
    mam = await connect(sim)
    assert await mam.ids({"searchType": search_type}) == expected


async def test_active_hides_torrents_without_seeders_and_nvip_hides_vip_rows(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    everything = await mam.ids({"searchType": "all"})
    assert everything == set(sim.rows)
    assert await mam.ids({"searchType": "active"}) == everything - {900121}
    assert await mam.ids({"searchType": "inactive"}) == {900121}
    assert await mam.ids({"searchType": "nVIP"}) == everything - {900109}


async def test_id_and_date_range_narrow_the_search(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)
    assert await mam.ids({"id": 900004}) == {900004}
    window = {"startDate": "2021-05-01", "endDate": "2021-06-05"}
    assert await mam.ids(window) == {900005, 900006}


@pytest.mark.parametrize(
    ("sort_type", "key", "descending"),
    [
        ("seedersDesc", lambda r: r["seeders"], True),
        ("seedersAsc", lambda r: r["seeders"], False),
        ("dateDesc", lambda r: r["added"], True),
        ("dateAsc", lambda r: r["added"], False),
        ("default", lambda r: r["added"], True),
        ("titleAsc", lambda r: r["title"].lower(), False),
        ("snatchedDesc", lambda r: r["times_completed"], True),
    ],
)
async def test_sort_types_order_the_whole_result(
    big: MamSimulator, connect: MakeMam, sort_type: str, key: Callable[[Any], Any], descending: bool
) -> None:
    mam = await connect(big)
    body = await mam.search({"main_cat": ["13"], "sortType": sort_type}, perpage=1000)
    values = [key(row) for row in body["data"]]
    assert values == sorted(values, reverse=descending)


async def test_size_sorts_by_bytes_not_by_the_displayed_text(big: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(big)
    body = await mam.search({"sortType": "sizeDesc", "main_cat": ["13"], "startNumber": "1000"}, perpage=1000)
    sizes = [big.rows[row["id"]].size_bytes for row in body["data"]]
    assert sizes == sorted(sizes, reverse=True)
    texts = [row["size"] for row in body["data"]]
    assert {"MiB", "GiB"} <= {text.split()[-1] for text in texts}
    assert texts != sorted(texts, reverse=True)
    ascending = await mam.search({"sortType": "sizeAsc", "main_cat": ["13"]}, perpage=1000)
    small = [big.rows[row["id"]].size_bytes for row in ascending["data"]]
    assert small == sorted(small)


async def test_random_order_is_stable_across_pages_of_one_query(big: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(big)
    tor = {"main_cat": ["14"], "sortType": "random"}
    whole = await mam.search({**tor, "startNumber": "0"}, perpage=60)
    halves = [await mam.search({**tor, "startNumber": s}, perpage=30) for s in ("0", "30")]
    assert [r["id"] for h in halves for r in h["data"]] == [r["id"] for r in whole["data"]]
    assert [r["id"] for r in whole["data"]] != sorted(r["id"] for r in whole["data"])


# -- rows -----------------------------------------------------------------------------------------------


def _check_row_types(row: dict[str, Any]) -> None:
    assert isinstance(row["id"], int)
    for key in ("author_info", "narrator_info", "series_info"):
        assert isinstance(json.loads(row[key]), dict)
    assert isinstance(json.loads(row["categories"]), list)
    owner = json.loads(row["ownership"])
    assert isinstance(owner[0], int)
    assert isinstance(owner[1], str)
    assert _SIZE.fullmatch(row["size"]), row["size"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["added"])
    for flag in ("vip", "free", "fl_vip", "personal_freeleech", "my_snatched"):
        assert row[flag] in (0, 1)
    for number in ("numfiles", "seeders", "leechers", "times_completed", "main_cat", "category", "language"):
        assert type(row[number]) is int
    assert isinstance(row["browseflags"], int)
    assert row["bookmarked"] is None or isinstance(row["bookmarked"], int)
    if row["mediatype"] == 1:
        info = json.loads(row["mediainfo"])
        assert re.fullmatch(r"\d+:\d\d:\d\d", info["General"]["Duration"])
        assert re.fullmatch(r"\d+k", info["Audio1"]["BitRate"])


async def test_rows_carry_every_field_with_mams_real_types(big: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(big)
    body = await mam.search({"startNumber": "0"}, perpage=1000)
    rows = [row for row in body["data"] if row["id"] not in HANDWRITTEN_IDS]
    assert len(rows) > 950
    for row in rows:
        assert set(row) == ROW_FIELDS
        _check_row_types(row)


async def test_isbn_description_and_dl_appear_only_when_asked_at_the_top_level(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    plain = (await mam.search({"id": 900001}, perpage=1))["data"][0]
    assert not {"isbn", "description", "dl"} & set(plain)
    nested = (await mam.search({"id": 900001, "isbn": True, "description": True, "dlLink": True}))["data"][0]
    assert not {"isbn", "description", "dl"} & set(nested)
    full = (await mam.search({"id": 900001}, perpage=1, isbn=True, description=True, dlLink=True))["data"][0]
    assert full["isbn"].startswith("ASIN:")
    assert full["description"].startswith("<p>")
    assert re.fullmatch(r"[0-9a-f]{40}", full["dl"])


async def test_the_demo_rows_decode_to_their_book(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)
    row = (await mam.search({"id": 900001}))["data"][0]
    assert row["title"] == "The Hero of Ages"
    assert list(json.loads(row["author_info"]).values()) == ["Brandon Sanderson"]
    assert list(json.loads(row["narrator_info"]).values()) == ["Michael Kramer"]
    assert list(json.loads(row["series_info"]).values()) == [["Mistborn", "3"]]
    assert json.loads(row["mediainfo"])["General"]["Format"] == "MPEG-4"
    assert (row["filetype"], row["lang_code"], row["browseflags"], row["vip"]) == ("m4b", "ENG", 0, 0)
    warbreaker = (await mam.search({"id": 900004}))["data"][0]
    assert warbreaker["series_info"] == "{}"


async def test_trap_rows_are_served_exactly_as_written(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)

    async def row(tid: int) -> dict[str, Any]:
        return dict((await mam.search({"id": tid}))["data"][0])

    missing = await row(900113)
    assert not {"filetype", "narrator_info", "series_info", "mediainfo", "categories", "lang_code"} & set(
        missing
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads((await row(900114))["author_info"])
    assert (await row(900115))["size"] == "12345678"
    assert (await row(900116))["size"] == "1,021.4 MiB"
    assert (await row(900117))["size"] == "781.3 MB"
    old = await row(900118)
    assert "ownership" not in old
    assert (old["owner"], old["owner_name"]) == (200_101, "sim-curator")
    assert list(json.loads((await row(900103))["series_info"]).values()) == [["Mistborn", "01-03"]]
    assert list(json.loads((await row(900104))["series_info"]).values()) == [["Discworld", "01-16, 13.5"]]
    assert DRAMATIZATION in json.loads((await row(900105))["categories"])
    assert (await row(900111))["size"] == "128.0 MiB"
    assert (await row(900112))["size"] == "6.0 GiB"
    assert (await row(900106))["filetype"] == "epub mobi pdf"


def _good(row: dict[str, Any], author: str) -> bool:
    try:
        authors = list(json.loads(row["author_info"]).values())
        categories = json.loads(row.get("categories", "[]"))
    except json.JSONDecodeError:
        return False
    return (
        row.get("filetype") == "m4b"
        and row["main_cat"] == 13
        and row["language"] == 1
        and not row["browseflags"] & 32
        and not row["vip"]
        and DRAMATIZATION not in categories
        and authors == [author]
    )


@pytest.mark.parametrize(
    ("title", "author"),
    [
        ("The Hero of Ages", "Brandon Sanderson"),
        ("Equal Rites", "Terry Pratchett"),
        ("The Tombs of Atuan", "Ursula K. Le Guin"),
        ("Warbreaker", "Brandon Sanderson"),
        ("Abaddon's Gate", "James S. A. Corey"),
        ("Cibola Burn", "James S. A. Corey"),
    ],
)
async def test_each_demo_book_has_exactly_one_good_row_among_its_traps(
    big: MamSimulator, connect: MakeMam, title: str, author: str
) -> None:
    mam = await connect(big)
    body = await mam.search({"text": title, "srchIn": ["title", "author"]}, perpage=100)
    rows = body["data"]
    assert len(rows) >= 2, "every demo book has at least one trap around it"
    assert [row["id"] for row in rows if row["title"] == title and _good(row, author)] == [GOOD[title]]


def test_the_generated_catalogue_is_deterministic_and_realistic(big_rows: list[Any]) -> None:
    assert generate_rows(3000, 1) == big_rows
    assert generate_rows(300, 2) != generate_rows(300, 1)
    audio = [row for row in big_rows if row.main_cat == 13]
    bitrates = {int(row.mediainfo["Audio1"]["BitRate"][:-1]) for row in audio if row.filetype != "flac"}
    assert min(bitrates) == 32
    assert max(bitrates) == 320
    assert {row.filetype for row in audio} == {"m4b", "mp3", "flac"}
    assert all(0 <= row.seeders <= 200 for row in big_rows)
    assert max(row.seeders for row in big_rows) > 150
    assert sum(row.seeders == 0 for row in big_rows) > 50
    for flag in ("vip", "free", "fl_vip", "personal_freeleech", "my_snatched"):
        assert 5 < sum(getattr(row, flag) for row in big_rows) < 600, flag
    assert any(row.vip_expire for row in big_rows)
    assert {row.language for row in big_rows} >= {1, 4, 36, 37}
    ebooks = [row for row in big_rows if row.main_cat == 14]
    assert "epub mobi pdf" in {row.filetype for row in ebooks}
    assert any(s.number == "01-03" for row in big_rows for s in row.series)
    assert any(row.layout == "file" for row in audio)
    ids = [row.id for row in big_rows]
    assert ids == sorted(ids)
    assert [row.added for row in big_rows] == sorted(row.added for row in big_rows)
    assert not {row.title for row in big_rows} & set(GOOD)


def test_human_sizes_use_powers_of_1024() -> None:
    assert human_size(1023) == "1023 B"
    assert human_size(217_000) == "211.9 KiB"
    assert human_size(473_746_227) == "451.8 MiB"
    assert human_size(10 * GIB, 2) == "10.00 GiB"


# -- the session cookie ---------------------------------------------------------------------------------


async def test_every_json_answer_rotates_the_cookie_and_the_previous_value_still_works(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    first = await mam.call("GET", "/jsonLoad.php")
    header = set_cookies(first)
    assert len(header) == 1
    assert re.fullmatch(r"mam_id=[\w-]{64,}; Path=/; HttpOnly", header[0])
    new = rotated_value(first)
    assert new is not None
    assert new != COOKIE
    assert sim.cookie == new
    again = await mam.call("GET", "/jsonLoad.php", cookie=COOKIE)
    assert again.status == 200, "the value before the latest is still accepted"
    assert rotated_value(again) not in (None, COOKIE, new)


async def test_a_client_that_never_adopts_the_rotated_cookie_is_locked_out_on_its_third_call(
    sim: MamSimulator, connect: MakeMam
) -> None:
    """MAM's cookie rotation, compressed: only the latest value and the one before it are accepted."""
    mam = await connect(sim)
    statuses = [(await mam.call("GET", "/jsonLoad.php", cookie=COOKIE)).status for _ in range(3)]
    assert statuses == [200, 200, 403]


async def test_a_careful_client_keeps_its_session_across_many_calls(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    for _ in range(5):
        await mam.get_json("/jsonLoad.php")
        await mam.search({"text": "warbreaker"})
    assert sim.session.rotations == 10
    assert mam.cookie == sim.cookie


@pytest.mark.parametrize(
    ("rejection", "status", "body"),
    [
        ("403", 403, "Forbidden"),
        ("401", 401, "Unauthorized"),
        ("empty", 200, ""),
        ("login", 200, "Not logged in!"),
    ],
)
async def test_a_rejected_cookie_is_answered_in_the_configured_style(
    connect: MakeMam, rejection: Any, status: int, body: str
) -> None:
    sim = MamSimulator.handwritten(cookie=COOKIE, rejection=rejection)
    mam = await connect(sim)
    for path, cookie in (("/jsonLoad.php", "not-a-session"), ("/tor/download.php?tid=900001", "nön-ascii")):
        response = await mam.call("GET", path, cookie=cookie)
        assert response.status == status
        text = await response.text()
        assert (body in text) if body else text == ""
        assert response.content_type != "application/json"
        assert set_cookies(response) == []
    assert sim.session.rejected == 2
    assert sim.downloads == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", SEARCH),
        ("GET", "/tor/download.php?tid=900001"),
        ("GET", "/jsonLoad.php?snatch_summary"),
        ("GET", "/json/bonusBuy.php/?spendtype=wedges&source=cheese"),
        ("GET", "/json/jsonIp.php"),
    ],
)
async def test_every_mam_path_needs_the_cookie(
    sim: MamSimulator, connect: MakeMam, method: str, path: str
) -> None:
    mam = await connect(sim)
    response = await mam.call(
        method, path, cookie=None, **({"json": {"tor": {}}} if method == "POST" else {})
    )
    assert response.status == 403
    assert sim.account.wedges == 4


async def test_expire_session_rejects_every_held_cookie_until_a_new_one_is_given(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    await mam.get_json("/jsonLoad.php")
    held = [COOKIE, mam.cookie]
    fresh = sim.expire_session()
    for value in held:
        assert (await mam.call("GET", "/jsonLoad.php", cookie=value)).status == 403
    assert (await mam.call("GET", "/jsonLoad.php", cookie=fresh)).status == 200
    pasted = sim.new_session("pasted-by-the-user")
    assert (await mam.call("GET", "/jsonLoad.php", cookie=fresh)).status == 403
    assert (await mam.call("GET", "/jsonLoad.php", cookie=pasted)).status == 200


async def test_a_deletion_cookie_follows_the_new_value_when_switched_on(connect: MakeMam) -> None:
    """Clients must ignore MAM's `mam_id=deleted; Max-Age=0`; a cookie jar that obeys it loses the session."""
    sim = MamSimulator.handwritten(cookie=COOKIE, deletion_every=2)
    mam = await connect(sim)
    first = await mam.call("GET", "/jsonLoad.php")
    second = await mam.call("GET", "/jsonLoad.php")
    assert len(set_cookies(first)) == 1
    headers = set_cookies(second)
    assert len(headers) == 2
    assert headers[1].startswith("mam_id=deleted;")
    assert "Max-Age=0" in headers[1]
    assert rotated_value(second) == sim.cookie
    assert (await mam.call("GET", "/jsonLoad.php")).status == 200
    # a jar that obeys the deletion forgets the session and is rejected on its next call
    jar = aiohttp.CookieJar(unsafe=True)
    jar.update_cookies(SimpleCookie(headers[0]))
    jar.update_cookies(SimpleCookie(headers[1]))
    assert not [c for c in jar if c.key == "mam_id"]


async def test_torrent_and_non_json_answers_leave_the_cookie_alone(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    response = await mam.download(900001)
    assert response.status == 200
    assert set_cookies(response) == []
    missing = await mam.download(123)
    assert missing.status == 404
    assert set_cookies(missing) == []
    assert sim.cookie == COOKIE


# -- downloads ------------------------------------------------------------------------------------------


def _files(data: bytes) -> dict[str, int]:
    return {"/".join(entry.path): entry.length for entry in parse_torrent(data).files}


async def test_download_serves_a_real_private_torrent_of_the_payload(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    for tid in (900001, 900103, 900106, 900112):
        response = await mam.download(tid)
        assert response.status == 200
        assert response.content_type == "application/x-bittorrent"
        data = await response.read()
        assert data.startswith(b"d")
        meta = parse_torrent(data)
        assert meta.private
        assert meta.source == "MAM"
        assert meta.announce is not None
        assert meta.announce.endswith("/announce")
        assert meta.announce.startswith(f"http://{mam.client.host}:{mam.client.port}")
        assert _files(data) == sim.payload(tid)
        assert all(
            100 * 1024 <= size <= 900 * 1024 for path, size in sim.payload(tid).items() if "cover" not in path
        )
        assert sim.downloads[-1].info_hash == meta.info_hash


async def test_the_torrent_hash_matches_one_made_from_the_written_payload(
    big: MamSimulator, connect: MakeMam, tmp_path: Path
) -> None:
    mam = await connect(big)
    single = next(row.id for row in big.rows.values() if row.layout == "file" and row.filetype == "m4b")
    for tid in (900001, 900005, single):
        meta = parse_torrent(await (await mam.download(tid)).read())
        folder = tmp_path / str(tid)
        files = big.write_payload(tid, folder)
        assert files == big.payload(tid)
        for path, size in files.items():
            assert (folder / path).stat().st_size == size
        remade = parse_torrent(make_torrent(folder / meta.name, source="MAM", piece_length=meta.piece_length))
        assert remade.info_hash == meta.info_hash
    assert "/" not in next(iter(big.payload(single)))


async def test_payload_bytes_depend_only_on_the_tid(sim: MamSimulator, tmp_path: Path) -> None:
    sim.write_payload(900003, tmp_path / "a")
    sim.write_payload(900003, tmp_path / "b")
    sim.write_payload(900002, tmp_path / "c")
    (path,) = [p for p in sim.payload(900003) if p.endswith(".m4b")]
    assert (tmp_path / "a" / path).read_bytes() == (tmp_path / "b" / path).read_bytes()
    other = next(p for p in sim.payload(900002) if p.endswith(".m4b"))
    assert (tmp_path / "c" / other).read_bytes()[:4096] != (tmp_path / "a" / path).read_bytes()[:4096]
    assert MamSimulator.handwritten().payload(900003) == sim.payload(900003)


async def test_an_unknown_tid_is_404_and_costs_nothing(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)
    before = json.dumps(vars(sim.account), default=str)
    for tid in ("1", "abc", ""):
        response = await mam.download(tid, fl="1")
        assert response.status == 404
    assert json.dumps(vars(sim.account), default=str) == before
    assert sim.downloads == []


async def test_complete_into_writes_the_payload_as_if_the_swarm_had_delivered_it(
    connect: MakeMam, tmp_path: Path
) -> None:
    sim = MamSimulator.handwritten(cookie=COOKIE, complete_into=tmp_path / "downloads")
    mam = await connect(sim)
    response = await mam.download(900103)
    meta = parse_torrent(await response.read())
    for path, size in sim.payload(900103).items():
        assert (tmp_path / "downloads" / path).stat().st_size == size
    remade = parse_torrent(make_torrent(tmp_path / "downloads" / meta.name, source="MAM"))
    assert remade.info_hash == meta.info_hash
    assert not (tmp_path / "downloads" / next(iter(sim.payload(900001)))).exists()


async def test_more_than_ten_downloads_within_a_minute_get_429_with_retry_after(connect: MakeMam) -> None:
    """MAM's download burst limit; the limiter runs on the simulator's (here: fake) monotonic clock."""
    now = [1000.0]
    sim = MamSimulator.handwritten(cookie=COOKIE, monotonic=lambda: now[0])
    mam = await connect(sim)
    tids = sorted(sim.rows)
    for tid in tids[:10]:
        assert (await mam.download(tid)).status == 200
        now[0] += 1.0
    refused = await mam.download(tids[10])
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "50"
    assert len(sim.downloads) == 10
    assert tids[10] not in {record.tid for record in sim.downloads}
    now[0] += 49
    assert (await mam.download(tids[10])).status == 429
    now[0] += 1
    assert (await mam.download(tids[10])).status == 200


async def test_the_burst_limit_is_configurable(connect: MakeMam) -> None:
    sim = MamSimulator.handwritten(cookie=COOKIE, download_limit=2, download_window=30)
    mam = await connect(sim)
    statuses = [(await mam.download(tid)).status for tid in (900001, 900002, 900003)]
    assert statuses == [200, 200, 429]


async def test_fl_spends_a_wedge_even_on_a_vip_or_free_torrent(sim: MamSimulator, connect: MakeMam) -> None:
    """As on MAM, `fl` present, with any value, spends a wedge; no refund for free torrents."""
    mam = await connect(sim)
    assert sim.account.wedges == 4
    await mam.download(900109, fl="0")  # VIP
    await mam.download(900110, fl="")  # already freeleech
    await mam.download(900001, fl="1")  # a normal torrent: the wedge does its job
    assert sim.account.wedges == 1
    assert [(r.tid, r.wedge_spent, r.wasted_wedge) for r in sim.downloads] == [
        (900109, True, True),
        (900110, True, True),
        (900001, True, False),
    ]
    assert sim.rows[900001].personal_freeleech == 1
    assert sim.downloads[-1].free
    row = (await mam.search({"id": 900001}))["data"][0]
    assert row["personal_freeleech"] == 1


async def test_without_wedges_fl_downloads_without_freeleech(sim: MamSimulator, connect: MakeMam) -> None:
    sim.account.wedges = 0
    mam = await connect(sim)
    before = sim.account.downloaded_bytes
    assert (await mam.download(900004, fl="1")).status == 200
    assert not sim.downloads[0].wedge_spent
    assert sim.account.downloaded_bytes == before + sim.rows[900004].size_bytes


async def test_downloads_are_snatches_and_only_non_free_ones_cost_download(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    account = sim.account
    count, downloaded = account.unsat["count"], account.downloaded_bytes
    await mam.download(900001)
    assert account.unsat["count"] == count + 1
    assert account.downloaded_bytes == downloaded + sim.rows[900001].size_bytes
    assert sim.rows[900001].my_snatched == 1
    await mam.download(900110)  # freeleech
    assert account.unsat["count"] == count + 2
    assert account.downloaded_bytes == downloaded + sim.rows[900001].size_bytes
    await mam.download(900001)  # the same torrent again is no new snatch
    await mam.download(900120)  # already snatched before the test
    assert account.unsat["count"] == count + 2
    body = await mam.get_json("/jsonLoad.php", snatch_summary="")
    assert body["snatch_summary"]["unsat"]["count"] == count + 2
    assert body["downloaded_bytes"] == account.downloaded_bytes


async def test_vip_and_fl_vip_torrents_are_free_for_a_vip_class(connect: MakeMam) -> None:
    sim = MamSimulator.handwritten(cookie=COOKIE, account=Account(classname="VIP"))
    mam = await connect(sim)
    before = sim.account.downloaded_bytes
    await mam.download(900109)
    assert sim.downloads[0].free
    assert sim.account.downloaded_bytes == before


# -- the account ----------------------------------------------------------------------------------------


async def test_the_account_has_the_2026_09_shape_by_default(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)
    body = await mam.get_json("/jsonLoad.php", snatch_summary="")
    assert set(body) == ACCOUNT_FIELDS | {"unsat", "snatch_summary"}
    assert body["unsat"] is None
    summary = body["snatch_summary"]
    assert summary["unsat"] == {"name": "Unsatisfied", "count": 12, "limit": 50, "size": 9_876_543_210}
    assert set(summary) >= COUNTERS | {"connectable", "created", "created_at", "unsat"}
    assert isinstance(body["seedbonus"], int)
    assert body["uploaded"] == "300.00 GiB"
    assert body["uploaded_bytes"] == 300 * GIB
    assert body["ratio"] == 2.5
    assert body["username"] == "sim-mouse"


async def test_the_old_shape_has_unsat_at_the_top_level_only(connect: MakeMam) -> None:
    sim = MamSimulator.handwritten(cookie=COOKIE, old_unsat_shape=True)
    mam = await connect(sim)
    body = await mam.get_json("/jsonLoad.php", snatch_summary="")
    assert body["unsat"]["limit"] == 50
    assert "unsat" not in body["snatch_summary"]
    sim.old_unsat_shape = False
    body = await mam.get_json("/jsonLoad.php", snatch_summary="")
    assert body["unsat"] is None
    assert body["snatch_summary"]["unsat"]["limit"] == 50


async def test_without_snatch_summary_only_the_account_fields_come_back(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    assert set(await mam.get_json("/jsonLoad.php")) == ACCOUNT_FIELDS


async def test_pretty_indents_the_account(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)
    response = await mam.call("GET", "/jsonLoad.php?snatch_summary&pretty")
    text = await response.text()
    assert text.startswith('{\n    "classname"')
    assert json.loads(text)["snatch_summary"]["unsat"]["count"] == 12


async def test_account_changes_show_in_the_next_answer(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)
    sim.account.patch({"classname": "VIP", "wedges": 9, "counters": {"inactHnr": {"count": 2}}})
    body = await mam.get_json("/jsonLoad.php", snatch_summary="")
    assert (body["classname"], body["wedges"]) == ("VIP", 9)
    assert body["snatch_summary"]["inactHnr"]["count"] == 2
    with pytest.raises(ValueError, match="unknown account field"):
        sim.account.patch({"wedges": 1, "karma": 3})
    assert sim.account.wedges == 9


# -- the bonus store ------------------------------------------------------------------------------------


async def test_upload_credit_costs_500_points_per_gb_and_needs_at_least_50(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    small = await (await mam.buy(spendtype="upload", amount="10", _="1700000000000")).json()
    assert small == {"success": False, "error": UPLOAD_MINIMUM_ERROR}
    assert sim.account.seedbonus == 62_500
    bought = await (await mam.buy(spendtype="upload", amount="50")).json()
    assert bought["success"] is True
    assert (bought["type"], bought["amount"]) == ("upload", 50)
    assert bought["seedbonus"] == 37_500.0
    assert isinstance(bought["seedbonus"], float)
    assert bought["uploaded"] == 350 * GIB
    assert bought["uploadFancy"] == "350.000 GiB"
    assert bought["downloaded"] == sim.account.downloaded_bytes
    assert bought["ratio"] == sim.account.ratio
    fractional = await (await mam.buy(spendtype="upload", amount="50.5")).json()
    assert fractional["seedbonus"] == 37_500.0 - 25_250
    assert [p.points for p in sim.purchases] == [25_000, 25_250]


async def test_too_few_points_are_refused_and_nothing_is_deducted(
    sim: MamSimulator, connect: MakeMam
) -> None:
    sim.account.seedbonus = 1_000.0
    mam = await connect(sim)
    for params in (
        {"spendtype": "upload", "amount": "50"},
        {"spendtype": "VIP", "duration": "4"},
        {"spendtype": "wedges", "source": "points"},
    ):
        body = await (await mam.buy(**params)).json()
        assert body == {"success": False, "error": "Not enough bonus, s1"}
    assert sim.account.seedbonus == 1_000.0
    assert sim.purchases == []


async def test_vip_costs_1250_points_a_week_and_amount_is_a_404(connect: MakeMam) -> None:
    clock = FakeClock()
    sim = MamSimulator.handwritten(cookie=COOKIE, clock=clock.now)
    mam = await connect(sim)
    wrong = await mam.buy(spendtype="VIP", amount="4")
    assert wrong.status == 404
    assert sim.account.seedbonus == 62_500
    body = await (await mam.buy(spendtype="VIP", duration="4")).json()
    assert body["success"] is True
    assert body["seedbonus"] == 62_500 - 5_000
    assert body["amount"] == 4
    expected_end = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(clock.now() + 28 * 86_400))
    assert sim.account.vip_until == body["vip_until"] == expected_end
    assert sim.account.classname == "VIP"
    invalid = await (await mam.buy(spendtype="VIP", duration="5")).json()
    assert invalid["success"] is False


async def test_vip_is_capped_at_90_days_remaining(connect: MakeMam) -> None:
    clock = FakeClock()
    sim = MamSimulator.handwritten(cookie=COOKIE, clock=clock.now)
    sim.account.vip_until = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(clock.now() + 80 * 86_400))
    mam = await connect(sim)
    body = await (await mam.buy(spendtype="VIP", duration="12")).json()
    assert body["success"] is True
    assert body["amount"] == round(10 / 7, 2)
    assert body["seedbonus"] == pytest.approx(62_500 - 1250 * 10 / 7, abs=0.01)
    full = await (await mam.buy(spendtype="VIP", duration="max")).json()
    assert full["success"] is False
    assert "90 days" in full["error"]
    clock.advance(30 * 86_400)
    topped = await (await mam.buy(spendtype="VIP", duration="max")).json()
    assert topped["amount"] == round(30 / 7, 2)
    remaining = calendar.timegm(time.strptime(sim.account.vip_until or "", "%Y-%m-%d %H:%M:%S")) - clock.now()
    assert remaining == pytest.approx(90 * 86_400, abs=1)


async def test_a_wedge_costs_50000_points_or_cheese(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)
    body = await (await mam.buy(spendtype="wedges", source="points")).json()
    assert (body["success"], body["wedges"], body["seedbonus"]) == (True, 5, 12_500.0)
    cheese = await (await mam.buy(spendtype="wedges", source="cheese")).json()
    assert (cheese["wedges"], cheese["seedbonus"]) == (6, 12_500.0)
    assert (await (await mam.buy(spendtype="wedges")).json())["success"] is False


async def test_personal_freeleech_spends_a_wedge_and_refuses_vip_or_repeat(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    path = "/json/bonusBuy.php/1700000000000"
    body = await (
        await mam.buy(path, spendtype="personalFL", torrentid="900004", timestamp="1700000000000")
    ).json()
    assert (body["success"], body["torrentid"], body["wedges"]) == (True, 900004, 3)
    assert sim.rows[900004].personal_freeleech == 1
    again = await (await mam.buy(path, spendtype="personalFL", torrentid="900004")).json()
    assert again == {"success": False, "error": "This is already a personal freeleech"}
    vip = await (await mam.buy(path, spendtype="personalFL", torrentid="900109")).json()
    assert vip == {"success": False, "error": "This Torrent is VIP"}
    free = await (await mam.buy(path, spendtype="personalFL", torrentid="900110")).json()
    assert free["success"] is True
    assert [p.wasted for p in sim.purchases] == [False, True]
    assert sim.account.wedges == 2


async def test_personal_freeleech_can_charge_points_instead(connect: MakeMam) -> None:
    sim = MamSimulator.handwritten(cookie=COOKIE, personal_fl_charge="points")
    mam = await connect(sim)
    body = await (await mam.buy(spendtype="personalFL", torrentid="900001")).json()
    assert (body["success"], body["seedbonus"], body["wedges"]) == (True, 12_500.0, 4)


async def test_capitalised_store_answers_use_success_and_error(connect: MakeMam) -> None:
    sim = MamSimulator.handwritten(cookie=COOKIE, capitalized_store=True)
    mam = await connect(sim)
    ok = await (await mam.buy(spendtype="upload", amount="50")).json()
    bad = await (await mam.buy(spendtype="upload", amount="1")).json()
    assert ok["Success"] is True
    assert "success" not in ok
    assert bad == {"Success": False, "Error": UPLOAD_MINIMUM_ERROR}


async def test_the_store_is_404_on_the_t_host_and_refuses_unknown_spendtypes(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    on_t = await mam.buy(spendtype="upload", amount="50", headers={"Host": "t.myanonamouse.net"})
    assert on_t.status == 404
    assert sim.account.seedbonus == 62_500
    unknown = await (await mam.buy(spendtype="karma")).json()
    assert unknown["success"] is False


# -- the dynamic seedbox --------------------------------------------------------------------------------


async def test_the_seedbox_ip_is_set_once_then_unchanged(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)
    first = await mam.call("GET", "/json/dynamicSeedbox.php")
    assert first.status == 200
    assert await first.json() == {
        "Success": True,
        "msg": "Completed",
        "ip": "127.0.0.1",
        "ASN": 64500,
        "AS": "Example ISP",
    }
    second = await mam.call("GET", "/json/dynamicSeedbox.php")
    assert (await second.json())["msg"] == "No change"
    assert rotated_value(second) is not None
    assert await mam.get_json("/json/jsonIp.php") == {"ip": "127.0.0.1", "ASN": 64500, "AS": "Example ISP"}


async def test_a_second_change_within_the_hour_is_too_recent(connect: MakeMam) -> None:
    clock = FakeClock()
    sim = MamSimulator.handwritten(cookie=COOKIE, clock=clock.now)
    mam = await connect(sim)
    assert (await mam.call("GET", "/json/dynamicSeedbox.php")).status == 200
    sim.seedbox.seen_ip = "192.0.2.7"
    clock.advance(3599)
    refused = await mam.call("GET", "/json/dynamicSeedbox.php")
    assert refused.status == 429
    assert await refused.json() == {"Success": False, "msg": "Last Change too recent"}
    assert sim.seedbox.registered_ip == "127.0.0.1"
    clock.advance(1)
    moved = await mam.call("GET", "/json/dynamicSeedbox.php")
    assert (moved.status, (await moved.json())["msg"]) == (200, "Completed")
    assert sim.seedbox.registered_ip == "192.0.2.7"


@pytest.mark.parametrize(
    ("cookie", "msg"),
    [(None, "No Session Cookie"), ("dead-cookie", "Invalid session - Invalid Cookie")],
)
async def test_the_seedbox_words_a_bad_cookie_in_json(
    sim: MamSimulator, connect: MakeMam, cookie: str | None, msg: str
) -> None:
    mam = await connect(sim)
    response = await mam.call("GET", "/json/dynamicSeedbox.php", cookie=cookie)
    assert response.status == 403
    assert await response.json() == {"Success": False, "msg": msg}


@pytest.mark.parametrize(
    ("change", "msg"),
    [
        ({"session_type": "asn"}, "Incorrect session type"),
        ({"allow_dynamic": False}, "Incorrect session type"),
        ({"mismatch": "IP"}, "Invalid session - IP mismatch"),
        ({"mismatch": "ASN"}, "Invalid session - ASN mismatch"),
    ],
)
async def test_the_seedbox_refuses_sessions_that_may_not_change_it(
    sim: MamSimulator, connect: MakeMam, change: dict[str, Any], msg: str
) -> None:
    for key, value in change.items():
        setattr(sim.seedbox, key, value)
    mam = await connect(sim)
    response = await mam.call("GET", "/json/dynamicSeedbox.php")
    assert response.status == 403
    assert await response.json() == {"Success": False, "msg": msg}
    assert sim.seedbox.registered_ip is None


# -- faults ---------------------------------------------------------------------------------------------


async def test_latency_delays_every_mam_answer(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)
    sim.faults.add_latency(0.2)
    started = time.monotonic()
    await mam.get_json("/jsonLoad.php")
    assert time.monotonic() - started >= 0.2
    quick = time.monotonic()
    await mam.client.get("/__sim/state")
    assert time.monotonic() - quick < 0.2


async def test_status_faults_hit_the_next_requests_under_a_prefix(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    sim.faults.fail_next(2, 503, path_prefix="/tor/")
    sim.faults.fail_next(1, 429, path_prefix="/jsonLoad.php")
    limited = await mam.call("GET", "/jsonLoad.php")
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "1"
    assert (await mam.download(900001)).status == 503
    assert (await mam.call("POST", SEARCH, json={"tor": {}})).status == 503
    assert (await mam.download(900001)).status == 200
    assert (await mam.call("GET", "/jsonLoad.php")).status == 200
    assert sim.faults.injected == 3
    assert sim.cookie != COOKIE


async def test_garbage_and_empty_faults_answer_200_without_json(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)
    sim.faults.garbage_next()
    sim.faults.garbage_next(as_json=True)
    sim.faults.empty_next()
    html = await mam.call("GET", "/jsonLoad.php")
    assert (html.status, html.content_type) == (200, "text/html")
    assert "<html>" in await html.text()
    lying = await mam.call("GET", "/jsonLoad.php")
    assert lying.content_type == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(await lying.text())
    empty = await mam.call("GET", "/jsonLoad.php")
    assert (empty.status, await empty.read()) == (200, b"")
    assert sim.cookie == COOKIE, "faulted answers do not rotate the cookie"


async def test_a_hanging_request_outlasts_the_client_timeout_until_cleared(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    sim.faults.hang_next(1, seconds=30)
    with pytest.raises(TimeoutError):
        await mam.call("GET", "/jsonLoad.php", timeout=aiohttp.ClientTimeout(total=0.3))
    sim.faults.hang_next(1, seconds=30)
    pending = asyncio.create_task(mam.call("GET", "/jsonLoad.php"))
    await asyncio.sleep(0.1)
    sim.faults.clear()
    response = await asyncio.wait_for(pending, 5)
    assert response.status == 504


async def test_fail_after_k_successes_fails_the_next_requests_then_recovers(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    sim.faults.fail_after_successes(2, 500, count=2, path_prefix="/tor/download.php")
    statuses = [(await mam.download(tid)).status for tid in (900001, 900002, 900003, 900004, 900005)]
    assert statuses == [200, 200, 500, 500, 200]


# -- the request log ------------------------------------------------------------------------------------


async def test_the_request_log_records_every_mam_request_with_its_outcome(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    before = time.time()
    await mam.get_json("/jsonLoad.php", snatch_summary="")
    await mam.call("GET", "/jsonLoad.php", cookie="stolen")
    sim.faults.fail_next(1, 500)
    await mam.call("POST", SEARCH, json={"tor": {}})
    await asyncio.sleep(0.05)
    await mam.download(900001)
    await mam.client.get("/__sim/state")
    log = sim.requests.entries
    assert [(e.method, e.path, e.status, e.accepted, e.fault) for e in log] == [
        ("GET", "/jsonLoad.php", 200, True, None),
        ("GET", "/jsonLoad.php", 403, False, None),
        ("POST", SEARCH, 500, False, "status"),
        ("GET", "/tor/download.php", 200, True, None),
    ]
    assert log[0].query == "snatch_summary="
    assert all(before <= e.wall <= time.time() for e in log)
    assert [e.monotonic for e in log] == sorted(e.monotonic for e in log)
    assert sim.requests.min_gap() is not None
    assert sim.requests.gaps()[-1] >= 0.05
    assert sim.requests.min_gap("/tor/download.php") is None


# -- the /__sim/ controls -------------------------------------------------------------------------------


async def test_control_state_options_and_cookie_need_no_session(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)
    client = mam.client
    state = await (await client.get("/__sim/state")).json()
    assert state["cookie"] == COOKIE
    assert state["rows"] == len(sim.rows)
    assert state["rejection"] == "403"
    changed = await client.patch(
        "/__sim/options",
        json={"oldUnsatShape": True, "rejection": "login", "downloadLimit": 3, "capitalizedStore": True},
    )
    body = await changed.json()
    assert (body["oldUnsatShape"], body["rejection"], body["downloadLimit"]) == (True, "login", 3)
    assert sim.old_unsat_shape
    bad = await client.patch("/__sim/options", json={"rejection": "teapot", "downloadLimit": 9})
    assert bad.status == 400
    assert sim.state.downloads.limiter.limit == 3, "a bad body changes nothing"
    assert (await client.get("/__sim/cookie")).status == 200
    expired = await (await client.post("/__sim/expire")).json()
    login = await mam.call("GET", "/jsonLoad.php")
    assert login.status == 200
    assert "Not logged in!" in await login.text()
    assert await (await client.get("/__sim/cookie")).json() == {"cookie": expired["cookie"], "previous": None}
    put = await (await client.put("/__sim/cookie", json={"cookie": "given-by-test"})).json()
    assert put["cookie"] == "given-by-test"
    assert (await mam.call("GET", "/jsonLoad.php", cookie="given-by-test")).status == 200
    assert sim.requests.matching("/__sim/") == []


async def test_control_faults_can_be_set_listed_and_cleared(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)
    client = mam.client
    for body in (
        {"kind": "status", "status": 503, "count": 1, "pathPrefix": "/jsonLoad.php"},
        {"kind": "empty", "count": 1, "pathPrefix": "/json/jsonIp.php"},
        {"latency": 0.01},
    ):
        assert (await client.post("/__sim/faults", json=body)).status == 200
    listed = await (await client.get("/__sim/faults")).json()
    assert [rule["kind"] for rule in listed["rules"]] == ["status", "empty"]
    assert listed["latency"] == 0.01
    assert (await client.post("/__sim/faults", json={"kind": "meteor"})).status == 400
    assert (await mam.call("GET", "/jsonLoad.php")).status == 503
    assert await (await mam.call("GET", "/json/jsonIp.php")).read() == b""
    await client.post("/__sim/faults", json={"kind": "failAfter", "successes": 0, "status": 502})
    assert (await mam.call("GET", "/jsonLoad.php")).status == 502
    cleared = await (await client.delete("/__sim/faults")).json()
    assert (cleared["rules"], cleared["failAfter"], cleared["latency"]) == ([], None, 0.0)
    assert (await mam.call("GET", "/jsonLoad.php")).status == 200


async def test_control_account_requests_and_downloads(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)
    client = mam.client
    patched = await client.patch(
        "/__sim/account",
        json={"wedges": 0, "vipUntil": "2027-01-01 00:00:00", "counters": {"unsat": {"limit": 200}}},
    )
    body = await patched.json()
    assert body["account"]["wedges"] == 0
    assert body["account"]["counters"]["unsat"]["limit"] == 200
    assert (await client.patch("/__sim/account", json={"wedges": "many"})).status == 400
    assert (await mam.get_json("/jsonLoad.php"))["vip_until"] == "2027-01-01 00:00:00"
    await mam.download(900001, fl="1")
    downloads = await (await client.get("/__sim/downloads")).json()
    assert downloads["downloads"][0]["tid"] == 900001
    assert downloads["downloads"][0]["wedgeSpent"] is False
    requests = await (await client.get("/__sim/requests", params={"pathPrefix": "/tor/"})).json()
    assert [r["path"] for r in requests["requests"]] == ["/tor/download.php"]
    assert requests["requests"][0]["accepted"] is True
    await client.delete("/__sim/requests")
    assert len(sim.requests) == 0


async def test_control_payload_lists_and_writes_the_files(
    sim: MamSimulator, connect: MakeMam, tmp_path: Path
) -> None:
    client = (await connect(sim)).client
    listed = await (await client.get("/__sim/payload", params={"tid": "900103"})).json()
    assert listed["files"] == sim.payload(900103)
    assert listed["name"] == "Brandon Sanderson - Mistborn Trilogy"
    written = await client.post("/__sim/payload", json={"tid": 900103, "folder": str(tmp_path / "save")})
    assert (await written.json())["files"] == sim.payload(900103)
    for path, size in sim.payload(900103).items():
        assert (tmp_path / "save" / path).stat().st_size == size
    assert (await client.get("/__sim/payload", params={"tid": "5"})).status == 404
    assert (await client.post("/__sim/payload", json={"tid": 900103})).status == 400


async def test_control_rows_and_seedbox_can_be_changed(sim: MamSimulator, connect: MakeMam) -> None:
    mam = await connect(sim)
    client = mam.client
    row = await (await client.get("/__sim/rows/900001")).json()
    assert {"isbn", "description", "dl"} <= set(row)
    changed = await (await client.patch("/__sim/rows/900001", json={"seeders": 0, "free": 1})).json()
    assert (changed["seeders"], changed["free"]) == (0, 1)
    assert 900001 in await mam.ids({"searchType": "fl"})
    assert (await client.patch("/__sim/rows/900001", json={"title": "x"})).status == 400
    assert (await client.get("/__sim/rows/1")).status == 404
    seedbox = await (
        await client.patch("/__sim/seedbox", json={"sessionType": "asn", "seenIp": "198.51.100.4"})
    ).json()
    assert (seedbox["sessionType"], seedbox["seenIp"]) == ("asn", "198.51.100.4")
    assert (await (await mam.call("GET", "/json/dynamicSeedbox.php")).json())[
        "msg"
    ] == "Incorrect session type"
    assert (await client.patch("/__sim/seedbox", json={"sessionType": "usb"})).status == 400
    listed = await (await client.get("/__sim/seedbox")).json()
    assert listed["calls"][0]["msg"] == "Incorrect session type"


async def test_the_announce_url_answers_an_empty_peer_list_without_a_cookie(
    sim: MamSimulator, connect: MakeMam
) -> None:
    mam = await connect(sim)
    response = await mam.client.get("/announce", params={"info_hash": "x", "peer_id": "y"})
    assert response.status == 200
    assert (await response.read()).startswith(b"d")
    assert sim.state.announces == 1
    assert len(sim.requests) == 0


# -- the standalone process -----------------------------------------------------------------------------


async def test_the_standalone_simulator_serves_mam_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mamd.sim.mam",
        "--port", "0", "--cookie", "process-cookie", "--count", "200", "--seed", "3",
        "--complete-into", str(tmp_path / "complete"), "--old-unsat-shape",
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        found = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert found, line
        base = found.group(1)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()) as session:
            headers = {"Cookie": "mam_id=process-cookie"}
            async with session.post(
                f"{base}{SEARCH}", json={"tor": {"text": "warbreaker"}}, headers=headers
            ) as r:
                assert {row["id"] for row in (await r.json())["data"]} == {900004, 900109, 900113}
                cookie = rotated_value(r)
            headers = {"Cookie": f"mam_id={cookie}"}
            async with session.get(f"{base}/jsonLoad.php?snatch_summary", headers=headers) as r:
                assert (await r.json())["unsat"]["limit"] == 50
            async with session.get(f"{base}/tor/download.php?tid=900004", headers=headers) as r:
                meta = parse_torrent(await r.read())
            async with session.get(f"{base}/__sim/payload?tid=900004") as r:
                files = (await r.json())["files"]
            assert {"/".join(e.path): e.length for e in meta.files} == files
            for path, size in files.items():
                assert (tmp_path / "complete" / path).stat().st_size == size
            async with session.get(f"{base}/__sim/state") as r:
                assert (await r.json())["rows"] == 200 + len(handwritten_rows())
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
