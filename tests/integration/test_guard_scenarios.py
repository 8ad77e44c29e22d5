"""The account guard and the bonus economy against the MAM simulator and a real qbittorrent-nox.

A ratio emergency stops exactly mamd's downloads and resumes exactly those; a VIP about to end is
renewed once, audited, not again on the next run nor after a crash or a lost answer; an
unsatisfied count near the limit blocks grabs with the reason shown in the API; and the store's
refusals, garbage and silences are each handled without ever buying twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mamd.clients.errors import Unauthorized, Unavailable
from mamd.domain.discovery import WantSpec, series_want_key
from mamd.domain.spending import Spend
from mamd.domain.torrentfile import parse_torrent
from mamd.sim.mam.catalogue import GOOD
from mamd.sim.mam.store import StoreAnswer
from mamd.web import create_app
from mamd.web.status import status_document
from tests.support.configs import API_KEY
from tests.support.mam_env import Env
from tests.support.qbittorrent import api_client

pytestmark = pytest.mark.qbittorrent

HERO = WantSpec(
    series_want_key("Mistborn", "3"), "series_gap", "Brandon Sanderson", "The Hero of Ages", "Mistborn", "3"
)
DOWNLOADING = ("downloading", "stalledDL", "metaDL", "queuedDL")
STOPPED = ("pausedDL", "stoppedDL")
SEEDING = ("uploading", "stalledUP", "queuedUP")
STORE = "/json/bonusBuy.php"
BONUS_ON = {"bonus": {"enabled": True}}


def add(env: Env, tid: int, *, with_data: bool, stopped: bool = False) -> str:
    """Add one of the simulator's torrents to qBittorrent in mamd's category, as a grab would."""
    if with_data:
        env.sim.write_payload(tid, env.qbt.save_path)
    data = env.sim.torrent(tid, announce=f"{env.runtime.config.mam.base_url}/announce")  # answers on loopback
    with api_client(env.qbt) as client:
        client.torrents_add(
            torrent_files=data,
            save_path=str(env.qbt.save_path),
            category="mamd",
            tags="mamd",
            is_paused=stopped,
        )
    return parse_torrent(data).info_hash


def states(env: Env) -> dict[str, str]:
    with api_client(env.qbt) as client:
        return {t.hash: t.state for t in client.torrents_info()}


def settle(env: Env, expected: Callable[[dict[str, str]], bool]) -> dict[str, str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = states(env)
        if expected(found):
            return found
        time.sleep(0.1)
    raise AssertionError(f"qBittorrent never reached the expected states: {states(env)}")


def set_ratio(env: Env, ratio: float) -> None:
    env.sim.account.downloaded_bytes = int(env.sim.account.uploaded_bytes / ratio)


def vip_ending_in(env: Env, days: float) -> None:
    """Make the simulated account a VIP whose VIP ends `days` from the runtime's (and simulator's) now."""
    ends = datetime.fromtimestamp(env.clock.now() + days * 86400, UTC)
    env.sim.account.classname, env.sim.account.vip_until = "VIP", ends.strftime("%Y-%m-%d %H:%M:%S")


# -- the ratio emergency ------------------------------------------------------------------------


async def test_a_ratio_emergency_stops_exactly_the_downloads_and_recovery_resumes_exactly_those(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env()
    seeding = add(env, GOOD["The Hero of Ages"], with_data=True)
    downloading = add(env, GOOD["Equal Rites"], with_data=False)
    held_by_user = add(env, GOOD["The Tombs of Atuan"], with_data=False, stopped=True)
    settle(
        env,
        lambda s: (
            s.get(seeding) in SEEDING and s.get(downloading) in DOWNLOADING and s.get(held_by_user) in STOPPED
        ),
    )
    await env.account()
    assert (await env.runtime.guard.state()).level == "ok"

    set_ratio(env, 1.0)
    result = await env.account()
    assert (result["guard"], result["stopped"]) == ("emergency", 1)
    after = settle(env, lambda s: s.get(downloading) in STOPPED)
    assert after[seeding] in SEEDING  # seeding is never touched
    assert [t.hash for t in await env.runtime.guard.stopped()] == [downloading]
    [changed] = await env.events("guard.changed")
    assert "ok → emergency" in changed.message
    assert "ratio 1.00 is below ratio.emergency_below (1.2)" in changed.message

    [book] = await env.want(HERO)
    await env.search()
    blocked = await env.book(book)
    assert blocked.state == "blocked"
    assert "account guard emergency: nothing is grabbed" in (blocked.state_reason or "")
    assert env.sim.downloads == []
    assert env.sim.requests.matching("/tor/js/loadSearchJSONbasic.php") == []  # nothing could be grabbed
    await env.reconcile()
    risks = {record.hash: record.risk for record in await env.runtime.torrents.at_risk()}
    assert "stopped by the account guard" in (risks[downloading] or "")
    assert risks[held_by_user] == "its download is stopped"
    assert seeding not in risks

    set_ratio(env, 1.3)  # better, but not above ratio.recover_above (1.4)
    assert (await env.account())["guard"] == "emergency"
    assert states(env)[downloading] in STOPPED

    set_ratio(env, 1.6)
    result = await env.account()
    assert (result["guard"], result["resumed"]) == ("ok", 1)
    after = settle(env, lambda s: s.get(downloading) in DOWNLOADING)
    assert after[held_by_user] in STOPPED  # stopped by the user: left alone
    assert after[seeding] in SEEDING
    assert await env.runtime.guard.stopped() == []
    [resumed] = await env.events("guard.resumed")
    assert resumed.message.startswith("resumed 1 download(s)")


async def test_a_stopped_download_moved_to_another_category_is_still_resumed(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env()
    downloading = add(env, GOOD["Equal Rites"], with_data=False)
    settle(env, lambda s: s.get(downloading) in DOWNLOADING)
    set_ratio(env, 1.0)
    assert (await env.account())["stopped"] == 1
    settle(env, lambda s: s.get(downloading) in STOPPED)
    with api_client(env.qbt) as client:  # the user files it elsewhere meanwhile
        client.torrents_create_category(name="elsewhere")
        client.torrents_set_category(category="elsewhere", torrent_hashes=downloading)
        client.torrents_remove_tags(tags="mamd", torrent_hashes=downloading)

    set_ratio(env, 1.6)
    result = await env.account()
    assert (result["guard"], result["resumed"]) == ("ok", 1)
    settle(env, lambda s: s.get(downloading) in DOWNLOADING)
    assert await env.runtime.guard.stopped() == []
    [resumed] = await env.events("guard.resumed")
    assert "Equal Rites" in resumed.message


async def test_a_dry_run_emergency_says_what_it_would_stop_and_stops_nothing(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env({"dry_run": True})
    downloading = add(env, GOOD["Equal Rites"], with_data=False)
    settle(env, lambda s: s.get(downloading) in DOWNLOADING)
    set_ratio(env, 1.0)
    result = await env.account()
    assert (result["guard"], result["would_stop"]) == ("emergency", 1)
    await asyncio.sleep(1)  # what a stop would take to show
    assert states(env)[downloading] in DOWNLOADING
    assert await env.runtime.guard.stopped() == []
    [said] = await env.events("guard.would_stop")
    assert "dry run: would stop 1 download(s)" in said.message


async def test_qbittorrent_refusing_to_stop_is_said_once_and_tried_again(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env()
    downloading = add(env, GOOD["Equal Rites"], with_data=False)
    settle(env, lambda s: s.get(downloading) in DOWNLOADING)
    await env.account()
    set_ratio(env, 1.0)
    env.qbt.stop()
    try:
        for _ in range(2):
            assert (await env.account())["guard"] == "emergency"
        [failed] = await env.events("guard.stop_failed")
        assert "tried again at the next account reading" in failed.message
    finally:
        env.qbt.start()
    settle(env, lambda s: s.get(downloading) in DOWNLOADING)  # qBittorrent has its torrents back
    result = await env.account()
    assert result["stopped"] == 1
    settle(env, lambda s: s.get(downloading) in STOPPED)
    assert [t.hash for t in await env.runtime.guard.stopped()] == [downloading]


async def test_a_stale_snapshot_allows_only_freeleech_grabs(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env()
    await env.account()
    env.clock.advance(3 * 3600)  # no account reading since: the snapshot is too old to trust
    [book] = await env.want(HERO)
    await env.search()
    blocked = await env.book(book)
    assert blocked.state == "blocked"
    assert "only freeleech is grabbed" in (blocked.state_reason or "")
    assert "min old" in (blocked.state_reason or "")


async def test_a_clock_that_moved_back_does_not_hide_a_new_emergency(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env()
    downloading = add(env, GOOD["Equal Rites"], with_data=False)
    settle(env, lambda s: s.get(downloading) in DOWNLOADING)
    env.clock.advance(86400)
    await env.account()  # read while the clock was a day ahead
    env.clock.time -= 86400  # the clock is set right
    set_ratio(env, 1.0)
    result = await env.account()
    assert (result["guard"], result["stopped"]) == ("emergency", 1)


async def test_the_seedbox_update_comes_first_and_mends_an_ip_refusal(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env({"mam": {"seedbox_update": True}})
    env.sim.faults.fail_next(1, 403, path_prefix="/jsonLoad.php")  # MAM refuses the new address
    with pytest.raises(Unauthorized):
        await env.account()
    [updated] = await env.events("seedbox.updated")
    assert "MAM's seedbox IP is now" in updated.message
    env.clock.advance(3600)
    result = await env.account()  # the hourly update works, which lifts the refusal
    assert result["seedbox"] in ("unchanged", "too_recent", "updated")
    assert result["guard"] == "ok"


async def test_the_seedbox_ip_is_asked_at_most_once_an_hour(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env({"mam": {"seedbox_update": True}})
    assert (await env.account())["seedbox"] == "updated"
    env.clock.advance(3599)
    assert "seedbox" not in await env.account()  # not yet an hour
    env.clock.advance(1)
    assert (await env.account())["seedbox"] == "unchanged"
    mam = env.runtime.require_mam()
    assert [kind for kind, _ in mam.requests].count("seedbox") == 2


async def test_a_seedbox_update_that_never_left_mamd_does_not_start_the_hour(
    make_env: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    env: Env = await make_env({"mam": {"seedbox_update": True}})
    mam = env.runtime.require_mam()
    real = mam.update_seedbox

    async def paused() -> Any:
        raise Unavailable("MAM", "paused for 300 s after repeated failures").unsent()

    monkeypatch.setattr(mam, "update_seedbox", paused)
    assert (await env.account())["seedbox"] == "not asked: paused for 300 s after repeated failures"
    monkeypatch.setattr(mam, "update_seedbox", real)
    env.clock.advance(300)
    assert (await env.account())["seedbox"] == "updated"  # not an hour later


# -- the unsatisfied limit ----------------------------------------------------------------------


async def test_an_unsatisfied_count_near_the_limit_blocks_grabs_with_the_reason_in_the_api(
    make_env: Callable[..., Any], aiohttp_client: Any
) -> None:
    env: Env = await make_env()
    env.sim.account.counters["unsat"].update(count=46, limit=50)
    await env.account()
    [book] = await env.want(HERO)
    await env.search()
    assert env.sim.downloads == []
    client: TestClient[Any, Any] = await aiohttp_client(create_app(env.runtime))
    response = await client.get(f"/api/v1/wanted/{book.id}", headers={"X-Api-Key": API_KEY})
    body = await response.json()
    assert body["wanted"]["state"] == "blocked"
    assert (
        "46 of 50 unsatisfied torrents, keeping 5 free (limits.unsatisfied_reserve)"
        in body["wanted"]["state_reason"]
    )
    status = await (await client.get("/status", headers={"X-Api-Key": API_KEY})).json()
    assert status["account"]["guard"] == "caution"
    assert status["account"]["guard_detail"]["grabs"] == "none"


# -- VIP renewal ---------------------------------------------------------------------------------


async def test_a_vip_about_to_end_is_renewed_once_and_audited(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env(BONUS_ON)
    vip_ending_in(env, 3)
    result = await env.account()
    assert result["spend"] == "bought 12 weeks of VIP for 15,000 points"
    assert [(p.spendtype, p.points) for p in env.sim.purchases] == [("VIP", 15_000)]
    [spent] = await env.events("bonus.spent")
    assert "12 weeks of VIP" in spent.message
    [record] = await env.runtime.spends.recent(5)
    assert (record.state, record.points_before, record.points_after) == ("done", 62_500, 47_500)
    notes = (await status_document(env.runtime))["account"]["next_decisions"]
    assert any(note.startswith("12 weeks of VIP for 15,000 points: done") for note in notes)
    assert "spend" not in await env.account()  # the new VIP end is far off
    notes = (await status_document(env.runtime))["account"]["next_decisions"]
    assert any(note.startswith("VIP until ") for note in notes)
    assert len(env.sim.purchases) == 1


async def test_a_crash_after_the_request_is_settled_by_the_account_and_never_bought_twice(
    make_env: Callable[..., Any],
) -> None:
    """The purchase went out and mamd stopped before its answer: the next run finds it in the account."""
    env: Env = await make_env(BONUS_ON)
    vip_ending_in(env, 3)
    await env.account()  # nothing open; it renews (as any run would)
    assert len(env.sim.purchases) == 1
    # the same moment, replayed as if mamd had died between sending and hearing back
    [record] = await env.runtime.spends.recent(1)
    async with env.runtime.store.transaction() as db:
        await db.execute("UPDATE spends SET state = 'sent', settled_at = NULL, points_after = NULL")
    await env.account()
    [settled] = await env.runtime.spends.recent(1)
    assert settled.id == record.id
    assert settled.state == "done"  # the account shows the new VIP end: it went through
    assert len(env.sim.purchases) == 1  # and nothing more was bought


async def test_a_purchase_whose_answer_times_out_is_checked_and_not_repeated(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env(BONUS_ON, mam_timeout_s=0.3)
    vip_ending_in(env, 3)
    env.sim.faults.add_latency(1.0, path_prefix=STORE)  # the store answers after mamd gave up
    result = await env.account()
    assert result["spend"] == "12 weeks of VIP for 15,000 points: outcome unknown"
    [unknown] = await env.events("bonus.unknown")
    assert "nothing more is bought until then" in unknown.message
    await wait_for_purchase(env)  # it did go through on MAM's side
    env.sim.faults.clear()
    result = await env.account()  # the next reading settles it
    assert "spend" not in result
    [record] = await env.runtime.spends.recent(1)
    assert record.state == "done"
    assert len(env.sim.purchases) == 1


async def test_a_crash_before_sending_is_settled_as_not_bought(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env(BONUS_ON)
    vip_ending_in(env, 3)
    snapshot = await env.runtime.require_mam().account()
    spend = Spend("vip", 12, 15_000, f"vip:{env.sim.account.vip_until}", "a test")
    await env.runtime.spends.intend(spend, snapshot.seedbonus, env.clock.now())  # mamd died right here
    result = await env.account()
    records = await env.runtime.spends.recent(5)
    assert [r.state for r in records] == ["done", "failed"]  # the new decision, and the one never sent
    assert result["spend"] == "bought 12 weeks of VIP for 15,000 points"
    assert len(env.sim.purchases) == 1


async def wait_for_purchase(env: Env) -> None:
    for _ in range(300):
        if env.sim.purchases:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the simulated store never recorded the purchase")


# -- the store's refusals and garbage -------------------------------------------------------------


def answer_instead(env: Env, change: Callable[[Any, StoreAnswer], StoreAnswer]) -> None:
    """The simulated store sells as usual, then `change` rewrites its answer (and may touch the account)."""
    selling = env.sim.state.store.buy

    def buy(account: Any, rows: Any, query: Any, now: float) -> StoreAnswer:
        return change(account, selling(account, rows, query, now))

    object.__setattr__(env.sim.state.store, "buy", buy)


async def test_mams_refusal_is_recorded_and_not_tried_again_at_once(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env(BONUS_ON)
    vip_ending_in(env, 3)
    refusal = StoreAnswer(200, {"success": False, "error": "VIP purchases are closed for maintenance"})
    object.__setattr__(env.sim.state.store, "buy", lambda account, rows, query, now: refusal)
    result = await env.account()
    assert result["spend"] == "12 weeks of VIP for 15,000 points: refused"
    [refused] = await env.events("bonus.refused")
    assert "VIP purchases are closed for maintenance" in refused.message
    result = await env.account()
    assert result["spend"] == "MAM refused 12 weeks of VIP for 15,000 points lately"
    assert len(env.sim.requests.matching(STORE)) == 1


async def test_a_success_that_did_not_lower_the_points_stops_all_spending(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env(BONUS_ON)
    vip_ending_in(env, 3)

    def points_back(account: Any, answer: StoreAnswer) -> StoreAnswer:
        account.seedbonus += 15_000  # sold, yet the points are where they were
        assert answer.body is not None
        return StoreAnswer(200, {**answer.body, "seedbonus": account.seedbonus})

    answer_instead(env, points_back)
    result = await env.account()
    assert result["spend"] == "12 weeks of VIP for 15,000 points: spending stopped"
    [halted] = await env.events("bonus.halted")
    assert "the points did not go down" in halted.message
    vip_ending_in(env, 2)  # another renewal would be due now
    assert (await env.account())["spend"] == "stopped"
    assert len(env.sim.purchases) == 1


@pytest.mark.parametrize(
    "body",
    [{"Success": True}, {"result": "ok"}, {"success": "maybe", "seedbonus": "lots"}],
)
async def test_a_store_answer_that_says_nothing_clear_is_an_unknown_outcome(
    make_env: Callable[..., Any], body: dict[str, Any]
) -> None:
    env: Env = await make_env(BONUS_ON)
    vip_ending_in(env, 3)
    answer_instead(env, lambda account, answer: StoreAnswer(200, body))
    result = await env.account()
    assert result["spend"] in (
        "12 weeks of VIP for 15,000 points: outcome unknown",
        "12 weeks of VIP for 15,000 points: spending stopped",
    )
    assert len(env.sim.purchases) == 1  # it did sell: the next reading sees the points gone
    await env.account()
    assert len(env.sim.purchases) == 1


async def test_an_html_page_from_the_store_leaves_the_outcome_to_the_account(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env(BONUS_ON)
    vip_ending_in(env, 3)
    env.sim.faults.garbage_next(1, path_prefix=STORE)
    result = await env.account()
    assert result["spend"] == "12 weeks of VIP for 15,000 points: outcome unknown"
    assert env.sim.purchases == []
    [record] = await env.runtime.spends.recent(1)
    assert record.state == "unknown"
    assert await env.events("mam.session_rejected")  # MAM's login page: the session is gone


async def test_a_throttled_purchase_is_known_not_to_have_happened(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env(BONUS_ON)
    vip_ending_in(env, 3)
    env.sim.faults.fail_next(1, 429, path_prefix=STORE, retry_after=1)
    result = await env.account()
    assert result["spend"].startswith("12 weeks of VIP for 15,000 points: not bought")
    [record] = await env.runtime.spends.recent(1)
    assert record.state == "failed"
    assert env.sim.purchases == []
