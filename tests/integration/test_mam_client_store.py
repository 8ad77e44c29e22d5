"""The MAM client's bonus-store purchases and dynamic-seedbox updates, against the MAM simulator.

As in `test_mam_client`, the simulator is served on 127.0.0.1 and shares an `InstantClock` with the
client. Purchases must reach MAM exactly once, whatever goes wrong; the seedbox's answers are read by
their `msg`, and only a dead cookie stops the session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web

from mamd.clients.errors import Throttled, Unauthorized, Unavailable
from mamd.clients.mam import SeedboxAnswer, SeedboxState, StoreReceipt, seedbox_url, store_url
from mamd.config.units import Secret
from mamd.sim.mam.catalogue import GOOD
from mamd.sim.mam.store import NOT_ENOUGH_POINTS, UPLOAD_MINIMUM_ERROR
from tests.support.mam_client import Harness, mam_harness, stub

STORE = "/json/bonusBuy.php"
SEEDBOX = "/json/dynamicSeedbox.php"
SEARCH = "/tor/js/loadSearchJSONbasic.php"


@pytest.fixture
async def mam() -> AsyncIterator[Harness]:
    async with mam_harness() as harness:
        yield harness


def queries(mam: Harness, path: str = STORE) -> list[dict[str, list[str]]]:
    return [parse_qs(entry.query) for entry in mam.sim.requests.matching(path)]


async def eventually(check: Callable[[], bool], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)


# -- where the requests go -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "store", "seedbox"),
    [
        ("https://www.myanonamouse.net", "https://www.myanonamouse.net", "https://t.myanonamouse.net"),
        ("https://myanonamouse.net/", "https://www.myanonamouse.net", "https://t.myanonamouse.net"),
        ("https://t.myanonamouse.net", "https://www.myanonamouse.net", "https://t.myanonamouse.net"),
        ("https://WWW.MyAnonamouse.net", "https://WWW.MyAnonamouse.net", "https://t.myanonamouse.net"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("http://mam-sim.lan/", "http://mam-sim.lan/", "http://mam-sim.lan/"),
    ],
)
def test_the_store_is_on_the_www_host_and_the_seedbox_on_the_t_host(
    base_url: str, store: str, seedbox: str
) -> None:
    assert store_url(base_url) == store
    assert seedbox_url(base_url) == seedbox


# -- purchases ---------------------------------------------------------------------------------------


async def test_an_upload_purchase_spends_points_and_says_what_is_left(mam: Harness) -> None:
    before = mam.sim.account.seedbonus
    uploaded = mam.sim.account.uploaded_bytes
    receipt = await mam.client().buy_upload(100)
    assert isinstance(receipt, StoreReceipt)
    assert receipt.success is True
    assert receipt.error is None
    assert [(p.spendtype, p.amount, p.points) for p in mam.sim.purchases] == [("upload", 100, 50_000)]
    assert mam.sim.account.seedbonus == before - 50_000
    assert receipt.seedbonus == mam.sim.account.seedbonus
    assert receipt.data["uploaded"] == uploaded + 100 * 1024**3
    (entry,) = mam.sim.requests.matching(STORE)
    assert entry.path == "/json/bonusBuy.php/"
    query = parse_qs(entry.query)
    assert query["spendtype"] == ["upload"]
    assert query["amount"] == ["100"]
    assert mam.states[-1] == ("ok", None)


@pytest.mark.parametrize(("weeks", "credited"), [(4, 4.0), (8, 8.0), (12, 12.0), ("max", 12.86)])
async def test_vip_is_bought_by_duration_never_by_amount(
    mam: Harness, weeks: int | str, credited: float
) -> None:
    receipt = await mam.client().buy_vip(weeks)
    assert receipt.success is True
    (query,) = queries(mam)
    assert query["spendtype"] == ["VIP"]
    assert query["duration"] == [str(weeks)]
    assert "amount" not in query  # MAM answers a VIP purchase by `amount` with 404
    (purchase,) = mam.sim.purchases
    assert (purchase.spendtype, purchase.amount) == ("VIP", credited)
    assert receipt.seedbonus == mam.sim.account.seedbonus
    assert receipt.data["vip_until"] == mam.sim.account.vip_until
    assert mam.sim.account.classname == "VIP"


@pytest.mark.parametrize("weeks", [0, 1, 5, 13, "4", "MAX", "forever", True, 4.0, None])
async def test_a_vip_duration_mam_does_not_sell_is_refused_before_sending(mam: Harness, weeks: Any) -> None:
    with pytest.raises(ValueError, match="weeks"):
        await mam.client().buy_vip(weeks)
    assert len(mam.sim.requests) == 0


@pytest.mark.parametrize("gigabytes", [0, -50, True, 50.0])
async def test_an_upload_amount_that_is_not_whole_gb_is_refused_before_sending(
    mam: Harness, gigabytes: Any
) -> None:
    with pytest.raises(ValueError, match="GB"):
        await mam.client().buy_upload(gigabytes)
    assert len(mam.sim.requests) == 0


async def test_less_than_50_gb_is_mams_refusal_returned_not_raised(mam: Harness) -> None:
    before = mam.sim.account.seedbonus
    receipt = await mam.client().buy_upload(49)
    assert receipt.success is False
    assert receipt.error == UPLOAD_MINIMUM_ERROR
    assert receipt.error.startswith("Automated spenders are limited to buying at least 50 GB")
    assert receipt.seedbonus is None
    assert mam.sim.purchases == []
    assert mam.sim.account.seedbonus == before
    assert len(mam.sim.requests.matching(STORE)) == 1
    assert mam.rejections == []
    assert mam.states[-1] == ("ok", None)


async def test_not_enough_points_is_mams_refusal(mam: Harness) -> None:
    mam.sim.account.seedbonus = 4_999.0
    client = mam.client()
    upload = await client.buy_upload(50)  # 25,000 points
    vip = await client.buy_vip(4)  # 5,000 points
    assert (upload.success, upload.error) == (False, NOT_ENOUGH_POINTS)
    assert (vip.success, vip.error) == (False, NOT_ENOUGH_POINTS)
    assert mam.sim.purchases == []
    assert mam.sim.account.seedbonus == 4_999.0
    mam.sim.account.seedbonus = 5_000.0
    assert (await client.buy_vip(4)).seedbonus == 0.0  # exactly enough


async def test_capitalised_keys_are_read_as_well() -> None:
    async with mam_harness(capitalized_store=True) as mam:
        client = mam.client()
        refused = await client.buy_upload(49)
        bought = await client.buy_upload(50)
    assert "Success" in refused.data
    assert "Error" in refused.data
    assert (refused.success, refused.error) == (False, UPLOAD_MINIMUM_ERROR)
    assert (bought.success, bought.error) == (True, None)
    assert bought.seedbonus == mam.sim.account.seedbonus


async def test_the_cache_buster_is_epoch_milliseconds_and_never_repeats(mam: Harness) -> None:
    client = mam.client(spacing_s=0)  # the clock does not move between these purchases
    started = int(mam.clock.now() * 1000)
    for _ in range(3):
        await client.buy_upload(49)
    await client.buy_vip(4)
    stamps = [int(query["_"][0]) for query in queries(mam)]
    assert len(stamps) == 4
    assert stamps[0] == started
    assert stamps == sorted(set(stamps))  # increasing, none twice


async def test_purchases_are_spaced_like_any_request(mam: Harness) -> None:
    client = mam.client()
    await asyncio.gather(client.buy_upload(50), client.buy_upload(50), client.buy_vip(4))
    gap = mam.sim.requests.min_gap(STORE)
    assert gap is not None
    assert gap >= 2.0
    stamps = [int(query["_"][0]) for query in queries(mam)]
    assert stamps == sorted(stamps)
    assert stamps[-1] - stamps[0] >= 4000


# -- purchases that fail: never sent twice ----------------------------------------------------------


async def test_an_html_answer_means_the_session_is_gone(mam: Harness) -> None:
    mam.sim.faults.garbage_next(1, path_prefix=STORE)
    client = mam.client()
    with pytest.raises(Unauthorized):
        await client.buy_upload(50)
    with pytest.raises(Unauthorized, match="nothing sent"):
        await client.buy_vip(4)
    assert len(mam.sim.requests) == 1
    assert len(mam.rejections) == 1
    assert mam.sim.purchases == []


@pytest.mark.parametrize(("status", "error"), [(500, Unavailable), (502, Unavailable), (429, Throttled)])
async def test_a_failed_purchase_is_not_retried(mam: Harness, status: int, error: type[Exception]) -> None:
    mam.sim.faults.fail_next(1, status, path_prefix=STORE)  # a retry would have gone through
    with pytest.raises(error):
        await mam.client().buy_upload(50)
    assert len(mam.sim.requests.matching(STORE)) == 1
    assert mam.sim.purchases == []
    assert mam.states[-1][0] == ("throttled" if status == 429 else "down")


async def test_a_purchase_whose_answer_times_out_went_through_and_is_not_repeated() -> None:
    # The simulator's latency delays the handler; served without handler cancellation (as aiohttp and the
    # simulator's own process do), the handler still runs after the client gave up, as on a real server.
    async with mam_harness(cancel_handlers=False) as mam:
        mam.sim.faults.add_latency(0.5)
        before = mam.sim.account.seedbonus
        with pytest.raises(Unavailable, match="no answer"):
            await mam.client(timeout_s=0.1).buy_upload(50)
        assert len(mam.sim.requests.matching(STORE)) == 1  # nothing more was sent when the call ended
        await eventually(lambda: len(mam.sim.purchases) == 1)
        mam.sim.faults.add_latency(0)
        (entry,) = mam.sim.requests.matching(STORE)
    assert entry.status == 200
    assert mam.sim.account.seedbonus == before - 25_000
    assert mam.states[-1][0] == "down"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[1, 2]", "not a JSON object"),
        (b"{}", "neither success nor failure"),
        (b'{"seedbonus": 1.5, "error": ""}', "neither success nor failure"),
        (b'{"success": "maybe"}', "neither success nor failure"),
        (b"{truncated", "not JSON"),
        (b"\x00\x01binary", "not JSON"),
    ],
)
async def test_a_store_answer_that_is_not_one_is_unavailable(mam: Harness, body: bytes, why: str) -> None:
    seen: list[str] = []

    async def garbage(request: web.Request) -> web.Response:
        seen.append(request.query_string)
        return web.json_response(body=body)

    async with stub({"/json/bonusBuy.php/": garbage}) as url:
        mam.configure(base_url=url)
        with pytest.raises(Unavailable, match=why):
            await mam.client().buy_upload(50)
    assert len(seen) == 1
    assert mam.rejections == []


# -- the dynamic seedbox -----------------------------------------------------------------------------


async def test_the_seedbox_is_set_then_unchanged_on_the_simulators_own_address(mam: Harness) -> None:
    client = mam.client()
    first = await client.update_seedbox()
    second = await client.update_seedbox()
    assert first == SeedboxAnswer("updated", "Completed", "127.0.0.1")
    assert second == SeedboxAnswer("unchanged", "No change", "127.0.0.1")
    assert len(mam.sim.requests.matching(SEEDBOX)) == 2  # to base_url: the simulator has no t. host
    assert [call.msg for call in mam.sim.seedbox.calls] == ["Completed", "No change"]
    assert mam.sim.seedbox.registered_ip == "127.0.0.1"
    assert mam.sim.requests.min_gap(SEEDBOX) >= 2.0  # type: ignore[operator]


@pytest.mark.parametrize(
    ("message", "status"),
    [("Last Change too recent", 429), ("Last Change Too Recent", 429), ("Last Change too recent", 403)],
)
async def test_a_change_too_soon_is_an_answer_not_a_failure(mam: Harness, message: str, status: int) -> None:
    mam.sim.seedbox.registered_ip = "192.0.2.7"
    mam.sim.seedbox.last_change = mam.clock.now() - 600
    mam.sim.seedbox.too_recent_msg = message
    mam.sim.seedbox.too_recent_status = status
    client = mam.client()
    answer = await client.update_seedbox()
    assert answer == SeedboxAnswer("too_recent", message, None)
    assert [e.status for e in mam.sim.requests.matching(SEEDBOX)] == [status]  # not retried
    assert mam.rejections == []
    await client.search("Warbreaker")  # the session is fine


@pytest.mark.parametrize("mismatch", ["IP", "ASN"])
async def test_a_mismatch_is_a_network_problem_not_a_dead_session(mam: Harness, mismatch: str) -> None:
    async with mam.session.patch(f"{mam.url}/__sim/seedbox", json={"mismatch": mismatch}) as response:
        assert response.status == 200
    client = mam.client()
    answer = await client.update_seedbox()
    assert answer == SeedboxAnswer("mismatch", f"Invalid session - {mismatch} mismatch", None)
    assert mam.rejections == []
    page = await client.search("Warbreaker")
    assert any(r.id == GOOD["Warbreaker"] for r in page.releases)


@pytest.mark.parametrize("setting", [{"session_type": "asn"}, {"allow_dynamic": False}])
async def test_the_wrong_session_type_is_a_configuration_problem(
    mam: Harness, setting: dict[str, Any]
) -> None:
    for name, value in setting.items():
        setattr(mam.sim.seedbox, name, value)
    client = mam.client()
    answer = await client.update_seedbox()
    assert answer == SeedboxAnswer("wrong_session_type", "Incorrect session type", None)
    assert mam.rejections == []
    await client.account()


async def test_an_invalid_session_stops_all_traffic_with_one_event(mam: Harness) -> None:
    client = mam.client()
    await client.account()
    mam.sim.expire_session()
    answer = await client.update_seedbox()
    assert answer == SeedboxAnswer("session_dead", "Invalid session - Invalid Cookie", None)
    assert len(mam.rejections) == 1
    assert "Preferences" in mam.rejections[0]
    assert mam.states[-1][0] == "unauthorized"
    sent = len(mam.sim.requests)
    for call in (client.search("Warbreaker"), client.update_seedbox(), client.buy_upload(50)):
        with pytest.raises(Unauthorized, match="nothing sent"):
            await call
    assert len(mam.sim.requests) == sent
    assert len(mam.rejections) == 1

    mam.configure(session=Secret(mam.sim.new_session()))  # the user pastes a new session
    assert (await client.update_seedbox()).state == "updated"
    assert mam.states[-1][0] == "ok"


async def test_a_seedbox_update_that_works_lifts_a_refusal_from_elsewhere(mam: Harness) -> None:
    """An IP-locked session is refused from an address MAM does not know until the seedbox update."""
    client = mam.client()
    mam.sim.faults.fail_next(1, 403, path_prefix="/jsonLoad.php")
    with pytest.raises(Unauthorized):
        await client.account()
    with pytest.raises(Unauthorized, match="nothing sent"):
        await client.search("Warbreaker")
    assert (await client.update_seedbox()).state in ("updated", "unchanged")  # sent despite the refusal
    assert mam.states[-1][0] == "ok"
    snapshot = await client.account()  # the session works again
    assert snapshot.unsat is not None
    assert len(mam.rejections) == 1


@pytest.mark.parametrize(
    ("status", "message", "state"),
    [
        (200, "Completed", "updated"),
        (200, "No change", "unchanged"),
        (200, "no CHANGE", "unchanged"),
        (429, "Last Change too recent", "too_recent"),
        (403, "No Session Cookie", "no_cookie"),
        (403, "Invalid session", "session_dead"),
        (403, "Invalid session.", "session_dead"),
        (403, "INVALID SESSION - Invalid Cookie", "session_dead"),
        (403, "Invalid session - IP mismatch", "mismatch"),
        (403, "Invalid session - ASN mismatch", "mismatch"),
        (403, "Incorrect session type", "wrong_session_type"),
        (403, "Invalid session - something MAM has not said before", "unknown"),
        (200, "Something new", "unknown"),
    ],
)
async def test_each_seedbox_message_means_what_it_says(
    mam: Harness, status: int, message: str, state: SeedboxState
) -> None:
    async def answer(request: web.Request) -> web.Response:
        found = {"ip": "198.51.100.4", "ASN": 64500, "AS": "Example ISP"} if status == 200 else {}
        return web.json_response({"Success": status == 200, "msg": message, **found}, status=status)

    async with stub({SEEDBOX: answer}) as url:
        mam.configure(base_url=url)
        client = mam.client()
        got = await client.update_seedbox()
        assert got == SeedboxAnswer(state, message, "198.51.100.4" if status == 200 else None)
        assert len(mam.rejections) == (1 if state == "session_dead" else 0)
        if state == "session_dead":
            with pytest.raises(Unauthorized, match="nothing sent"):
                await client.update_seedbox()


async def test_a_bare_429_is_throttled_and_the_next_call_waits(mam: Harness) -> None:
    mam.sim.faults.fail_next(1, 429, retry_after=90, path_prefix=SEEDBOX)
    client = mam.client()
    with pytest.raises(Throttled):
        await client.update_seedbox()
    assert mam.states[-1][0] == "throttled"
    assert (await client.update_seedbox()).state == "updated"
    first, second = mam.sim.requests.matching(SEEDBOX)
    assert second.monotonic - first.monotonic >= 90
    assert mam.rejections == []


async def test_a_bare_403_is_a_refused_session(mam: Harness) -> None:
    mam.sim.faults.fail_next(1, 403, path_prefix=SEEDBOX)
    client = mam.client()
    with pytest.raises(Unauthorized, match="Preferences"):
        await client.update_seedbox()
    with pytest.raises(Unauthorized, match="nothing sent"):
        await client.account()
    assert len(mam.sim.requests) == 1
    assert len(mam.rejections) == 1


@pytest.mark.parametrize("fault", ["empty", "garbage"])
async def test_an_empty_or_html_seedbox_answer_means_the_session_is_gone(mam: Harness, fault: str) -> None:
    if fault == "empty":
        mam.sim.faults.empty_next(1, path_prefix=SEEDBOX)
    else:
        mam.sim.faults.garbage_next(1, path_prefix=SEEDBOX)
    with pytest.raises(Unauthorized):
        await mam.client().update_seedbox()
    assert len(mam.rejections) == 1


async def test_a_seedbox_server_error_is_retried_once(mam: Harness) -> None:
    mam.sim.faults.fail_next(1, 502, path_prefix=SEEDBOX)
    answer = await mam.client().update_seedbox()
    assert answer.state == "updated"
    assert [e.status for e in mam.sim.requests.matching(SEEDBOX)] == [502, 200]
