"""The MAM client against the MAM simulator, through real sockets on 127.0.0.1.

Most tests run on an `InstantClock` shared by the client and the simulator's request log: the
client's waits pass at once but are measured in the same time the simulator logs arrivals in,
so spacing and Retry-After are checked exactly. One test does the same in real time.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from mamd.clients.errors import NotFound, Rejected, Throttled, Unauthorized, Unavailable
from mamd.clients.mam import FAILURES_BEFORE_PAUSE, CookieStore, MamClient
from mamd.clock import SystemClock
from mamd.config.units import Duration, Secret
from mamd.domain.torrentfile import bdecode, bencode
from mamd.runtime import Runtime
from mamd.sim.mam.app import MamSimulator
from mamd.sim.mam.catalogue import GOOD
from mamd.sim.torrents import make_torrent
from tests.support.mam_client import COOKIE, Harness, Memory, mam_harness, settings, stub

SEARCH = "/tor/js/loadSearchJSONbasic.php"
DOWNLOAD = "/tor/download.php"
HERO = GOOD["The Hero of Ages"]


@pytest.fixture
async def mam() -> AsyncIterator[Harness]:
    async with mam_harness() as harness:
        yield harness


# -- search -----------------------------------------------------------------------------------


async def test_a_search_returns_typed_releases(mam: Harness) -> None:
    page = await mam.client().search("The Hero of Ages Sanderson", languages=["ENG"])
    hero = next(r for r in page.releases if r.id == HERO)
    assert hero.authors == ("Brandon Sanderson",)
    assert hero.series[0].name == "Mistborn"
    assert hero.filetypes == ("m4b",)
    assert hero.size is not None
    assert hero.size > 100 * 1024**2
    assert hero.bitrate is not None
    assert hero.duration_s is not None
    assert page.found >= len(page.releases)


async def test_paging_moves_by_the_rows_returned_and_misses_none(mam: Harness) -> None:
    client = mam.client(spacing_s=0)
    whole = await client.search("Sanderson", fields=("author",), perpage=100)
    paged = await client.search_all("Sanderson", fields=("author",), pages=50, perpage=5)
    assert whole.found > 5
    assert sorted(r.id for r in paged) == sorted(r.id for r in whole.releases)
    starts = [e.query for e in mam.sim.requests.matching(SEARCH)]
    assert len(starts) == 1 + -(-whole.found // 5)


async def test_nothing_found_is_an_empty_page_not_an_error(mam: Harness) -> None:
    page = await mam.client().search("zzzz no such book qqqq")
    assert page.releases == []
    assert page.rows == 0


async def test_the_search_body_is_the_documented_json(mam: Harness) -> None:
    seen: list[Any] = []

    async def capture(request: web.Request) -> web.Response:
        seen.append((request.content_type, await request.json()))
        return web.json_response({"data": [], "total": 0, "found": 0})

    async with stub({SEARCH: capture}) as url:
        mam.configure(base_url=url)
        await mam.client().search("Equal Rites", languages=["ENG", "GER", "XXX"], start=100, perpage=50)
    content_type, body = seen[0]
    assert content_type == "application/json"
    assert body["perpage"] == 50
    assert "perpage" not in body["tor"]
    assert body["tor"]["startNumber"] == "100"
    assert body["tor"]["main_cat"] == ["13"]
    assert body["tor"]["browse_lang"] == [1, 37]


# -- the session cookie --------------------------------------------------------------------------


async def test_rotated_cookies_are_saved_and_used_after_a_restart(mam: Harness, runtime: Runtime) -> None:
    store = CookieStore(runtime.account.cookie_state, runtime.account.save_cookie_state)
    first = mam.client(store)
    for _ in range(3):
        await first.account()
    saved = await runtime.account.cookie_state()
    assert saved["current"] == mam.sim.cookie
    assert saved["current"] != COOKIE
    assert not mam.sim.session.accepts(COOKIE)  # the configured value alone would be refused now

    restarted = mam.client(CookieStore(runtime.account.cookie_state, runtime.account.save_cookie_state))
    snapshot = await restarted.account()
    assert snapshot.unsat is not None
    assert mam.rejections == []


async def test_a_newly_pasted_session_replaces_the_rotated_one(mam: Harness) -> None:
    memory = Memory()
    client = mam.client(CookieStore(memory.load, memory.save))
    await client.account()
    pasted = mam.sim.new_session("a-fresh-cookie-from-the-user")
    mam.configure(session=Secret(pasted))
    await client.account()
    assert memory.state["current"] == mam.sim.cookie


async def test_deletion_cookies_are_ignored(mam: Harness) -> None:
    mam.sim.session.deletion_every = 1
    client = mam.client()
    for _ in range(3):
        await client.account()
    assert mam.rejections == []


async def test_a_rotated_cookie_is_known_to_the_redactor(mam: Harness) -> None:
    known: list[str] = []
    client = mam.client(on_cookie=known.append)
    await client.account()
    assert known == [mam.sim.cookie]


@pytest.mark.parametrize("rejection", ["403", "401", "empty", "login"])
async def test_an_expired_session_mid_run_stops_all_traffic_with_one_event(
    mam: Harness, rejection: str
) -> None:
    mam.sim.session.rejection = rejection  # type: ignore[assignment]
    client = mam.client()
    await client.search("Warbreaker")
    mam.sim.expire_session()
    with pytest.raises(Unauthorized):
        await client.search("Warbreaker")
    sent = len(mam.sim.requests)
    for call in (client.search("Equal Rites"), client.account(), client.download(HERO)):
        with pytest.raises(Unauthorized, match=r"mam\.session"):
            await call
    assert len(mam.sim.requests) == sent  # nothing more reached MAM
    assert len(mam.rejections) == 1
    assert "Preferences" in mam.rejections[0]
    assert mam.states[-1][0] == "unauthorized"

    mam.configure(session=Secret(mam.sim.new_session()))  # the user pastes a new session
    await client.account()
    assert mam.states[-1][0] == "ok"


async def test_a_retry_sends_the_cookie_the_failed_answer_rotated_to_and_keeps_it(mam: Harness) -> None:
    sent: list[str | None] = []

    async def account(request: web.Request) -> web.Response:
        sent.append(request.cookies.get("mam_id"))
        if len(sent) == 1:  # MAM rotates the cookie even on an error answer
            response = web.Response(status=503, text="busy")
        else:
            response = web.json_response({"classname": "User", "uid": 1})
        response.headers.add("Set-Cookie", f"mam_id=rotated-{len(sent)}; Path=/; HttpOnly")
        return response

    memory = Memory()
    async with stub({"/jsonLoad.php": account}) as url:
        mam.configure(base_url=url)
        await mam.client(CookieStore(memory.load, memory.save)).account()
    assert sent == [COOKIE, "rotated-1"]
    assert memory.state["current"] == "rotated-2"


async def test_a_cookie_rotated_on_an_answer_that_fails_the_call_is_kept(mam: Harness) -> None:
    async def broken(request: web.Request) -> web.Response:
        response = web.Response(status=500, text="boom")
        response.headers.add("Set-Cookie", f"mam_id=after-{request.cookies.get('mam_id')}; Path=/")
        return response

    memory = Memory()
    async with stub({"/jsonLoad.php": broken}) as url:
        mam.configure(base_url=url)
        with pytest.raises(Unavailable):
            await mam.client(CookieStore(memory.load, memory.save)).account()
    assert memory.state["current"] == f"after-after-{COOKIE}"


# -- politeness --------------------------------------------------------------------------------


async def test_requests_of_one_kind_are_never_closer_than_the_interval(mam: Harness) -> None:
    mam.configure(search_interval=Duration.parse("3s"))
    client = mam.client()
    await asyncio.gather(
        *(client.search(f"book {n}") for n in range(8)),
        *(client.download(HERO) for _ in range(4)),
        *(client.account() for _ in range(4)),
    )
    for path in (SEARCH, DOWNLOAD, "/jsonLoad.php"):
        gap = mam.sim.requests.min_gap(path)
        assert gap is not None
        assert gap >= 3.0, path


async def test_spacing_holds_in_real_time_through_real_sockets() -> None:
    sim = MamSimulator.handwritten(cookie=COOKIE, clock=time.time, monotonic=time.time)
    server = TestServer(sim.app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            client = MamClient(
                session,
                lambda: settings(f"http://127.0.0.1:{server.port}", interval="1s"),
                CookieStore(Memory().load, Memory().save),
                clock=SystemClock(),
            )
            await asyncio.wait_for(
                asyncio.gather(*(client.search(f"book {n}") for n in range(3)), client.account()), 30
            )
    finally:
        await server.close()
    gap = sim.requests.min_gap(SEARCH)
    assert gap is not None
    assert gap >= 1.0


async def test_a_429_waits_out_retry_after_before_the_next_request(mam: Harness) -> None:
    mam.sim.faults.fail_next(1, 429, retry_after=45, path_prefix=SEARCH)
    page = await mam.client().search("Warbreaker")  # retried once, after Retry-After
    assert any(r.id == GOOD["Warbreaker"] for r in page.releases)
    first, second = mam.sim.requests.matching(SEARCH)
    assert first.status == 429
    assert second.monotonic - first.monotonic >= 45


async def test_a_429_storm_ends_the_call_and_holds_back_the_next_one(mam: Harness) -> None:
    mam.sim.faults.fail_next(50, 429, retry_after=60, path_prefix=SEARCH)
    client = mam.client()
    with pytest.raises(Throttled):
        await client.search("Warbreaker")
    before = mam.sim.requests.matching(SEARCH)
    assert len(before) == 2  # one try and one retry, not a storm of our own
    with pytest.raises(Throttled):
        await client.search("Warbreaker")
    arrivals = [e.monotonic for e in mam.sim.requests.matching(SEARCH)]
    assert all(later - earlier >= 60 for earlier, later in itertools.pairwise(arrivals))
    assert mam.states[-1][0] == "throttled"


async def test_a_long_retry_after_is_not_slept_through_and_nothing_is_sent_meanwhile(mam: Harness) -> None:
    mam.sim.faults.fail_next(1, 429, retry_after=3600, path_prefix=SEARCH)
    client = mam.client()
    with pytest.raises(Throttled):
        await client.search("Warbreaker")
    with pytest.raises(Throttled, match="pause"):
        await client.search("Warbreaker")
    assert len(mam.sim.requests.matching(SEARCH)) == 1
    assert max(mam.clock.slept, default=0) < 200
    mam.clock.advance(3600)
    await client.search("Warbreaker")
    assert len(mam.sim.requests.matching(SEARCH)) == 2


async def test_server_errors_are_retried_once_then_reported_down(mam: Harness) -> None:
    mam.sim.faults.fail_next(2, 502)
    with pytest.raises(Unavailable):
        await mam.client().account()
    assert len(mam.sim.requests) == 2
    assert mam.states[-1][0] == "down"


async def test_repeated_failures_open_the_circuit(mam: Harness) -> None:
    mam.sim.faults.fail_next(100, 500)
    client = mam.client()
    for _ in range(FAILURES_BEFORE_PAUSE):
        with pytest.raises(Unavailable):
            await client.account()
    sent = len(mam.sim.requests)
    with pytest.raises(Unavailable, match="paused"):
        await client.account()
    assert len(mam.sim.requests) == sent
    mam.clock.advance(301)
    mam.sim.faults.clear()
    await client.account()


async def test_a_request_that_hangs_times_out(mam: Harness) -> None:
    mam.sim.faults.hang_next(2, seconds=30, path_prefix="/jsonLoad.php")
    client = mam.client(timeout_s=0.3)
    with pytest.raises(Unavailable):
        await asyncio.wait_for(client.account(), 10)
    mam.sim.faults.clear()


# -- answers that are not what they should be ---------------------------------------------------


async def test_an_html_page_instead_of_json_means_the_session_is_gone(mam: Harness) -> None:
    mam.sim.faults.garbage_next(1, path_prefix=SEARCH)
    with pytest.raises(Unauthorized):
        await mam.client().search("Warbreaker")
    assert len(mam.rejections) == 1


async def test_search_results_that_quote_the_login_page_are_results(mam: Harness) -> None:
    hero = mam.sim.rows[HERO]
    hero.title = "<html> Not logged in! The Hero of Ages"  # an uploader may title a book anything
    page = await mam.client().search("Not logged in", fields=("title",))
    assert [r.title for r in page.releases] == [hero.title]  # the words open the answer
    assert mam.rejections == []
    assert mam.states[-1][0] == "ok"


async def test_a_torrent_whose_files_are_named_like_the_login_page_is_a_torrent(
    mam: Harness, tmp_path: Path
) -> None:
    folder = tmp_path / "Not logged in! <html>"
    folder.mkdir()
    (folder / "<html> Not logged in! - Part 01.mp3").write_bytes(b"\x00" * 70_000)
    torrent = make_torrent(folder)

    async def download(request: web.Request) -> web.Response:
        return web.Response(body=torrent, content_type="application/x-bittorrent")

    async with stub({DOWNLOAD: download}) as url:
        mam.configure(base_url=url)
        data, meta = await mam.client().download(HERO)
    assert data == torrent
    assert meta.name == folder.name
    assert mam.rejections == []


async def test_the_login_page_instead_of_a_torrent_means_the_session_is_gone(mam: Harness) -> None:
    mam.sim.session.rejection = "login"
    mam.sim.expire_session()
    with pytest.raises(Unauthorized):
        await mam.client().download(HERO)
    assert len(mam.rejections) == 1


@pytest.mark.parametrize(
    "body",
    [b'{"data": "not a list"}', b"[1, 2, 3]", b"{truncated", b"\x00\x01binary"],
)
async def test_garbage_instead_of_a_search_answer_is_unavailable(mam: Harness, body: bytes) -> None:
    async def garbage(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async with stub({SEARCH: garbage}) as url:
        mam.configure(base_url=url)
        with pytest.raises(Unavailable):
            await mam.client().search("Warbreaker")
    assert mam.rejections == []


async def test_rows_that_cannot_be_read_are_counted_and_skipped(mam: Harness) -> None:
    rows = [
        {"id": 1, "title": "Readable", "author_info": '{"1": "A"}'},
        {"title": "no id"},
        "not a row",
        {"id": 2, "title": "Odd fields", "author_info": "not json", "size": "lots", "seeders": "x"},
    ]

    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"data": rows, "total": 4, "found": 4})

    async with stub({SEARCH: answer}) as url:
        mam.configure(base_url=url)
        page = await mam.client().search("anything")
    assert [r.id for r in page.releases] == [1, 2]
    assert page.unreadable == 2
    assert set(page.releases[1].problems) == {"author_info", "size"}


# -- downloads -----------------------------------------------------------------------------------


async def test_a_download_is_checked_bencode_with_its_info_hash(mam: Harness) -> None:
    data, meta = await mam.client().download(HERO)
    assert data.startswith(b"d")
    expected = hashlib.sha1(bencode(bdecode(mam.sim.torrent(HERO))[b"info"])).hexdigest()
    assert meta.info_hash == expected
    assert mam.sim.downloads[-1].info_hash == expected
    assert mam.sim.downloads[-1].fl is False


async def test_fl_is_sent_only_when_a_wedge_is_asked_for(mam: Harness) -> None:
    client = mam.client(spacing_s=0)
    await client.download(GOOD["Warbreaker"])
    await client.download(GOOD["Equal Rites"], wedge=True)
    queries = [e.query for e in mam.sim.requests.matching(DOWNLOAD)]
    assert "fl" not in queries[0]
    assert "fl=1" in queries[1]


async def test_an_unknown_torrent_is_not_found(mam: Harness) -> None:
    with pytest.raises(NotFound):
        await mam.client().download(123)


async def test_a_download_that_is_not_bencode_is_refused(mam: Harness) -> None:
    async def junk(request: web.Request) -> web.Response:
        return web.Response(body=b"PK\x03\x04 a zip file", content_type="application/x-bittorrent")

    async with stub({DOWNLOAD: junk}) as url:
        mam.configure(base_url=url)
        with pytest.raises(Rejected, match=r"not a valid \.torrent"):
            await mam.client().download(HERO)


async def test_a_download_burst_gets_429_and_the_retry_waits_for_mam(mam: Harness) -> None:
    mam.sim.set_download_limit(3, window=60.0)
    client = mam.client(spacing_s=2.0)
    for tid in GOOD.values():
        await client.download(tid)
    log = mam.sim.requests.matching(DOWNLOAD)
    throttled = [n for n, entry in enumerate(log) if entry.status == 429]
    assert throttled  # MAM said no to the burst …
    assert len(log) == len(GOOD) + len(throttled)  # … each 429 was retried once, and it went through
    for n in throttled:
        assert log[n + 1].status == 200
        assert log[n + 1].monotonic - log[n].monotonic >= 2.0
    assert mam.sim.requests.min_gap(DOWNLOAD) >= 2.0  # type: ignore[operator]
    assert [d.tid for d in mam.sim.downloads] == list(GOOD.values())


# -- the account ---------------------------------------------------------------------------------


@pytest.mark.parametrize("old_shape", [False, True])
async def test_the_account_in_both_unsat_shapes(mam: Harness, old_shape: bool) -> None:
    mam.sim.old_unsat_shape = old_shape
    snapshot = await mam.client().account()
    assert snapshot.unsat is not None
    assert snapshot.unsat.limit is not None
    assert snapshot.uploaded is not None
    assert snapshot.downloaded is not None
    assert snapshot.at == mam.clock.now()


async def test_a_clock_set_back_does_not_hold_mam_traffic_for_as_long(mam: Harness) -> None:
    client = mam.client()
    await client.search("Warbreaker")
    mam.clock.time -= 86400  # the clock was a day ahead, and is set right
    await client.search("Warbreaker")  # waits one interval, not a day
    assert max(mam.clock.slept) <= 2.0
