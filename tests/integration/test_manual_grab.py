"""A grab, a search and an import asked for by hand, against the MAM simulator and a real qbittorrent-nox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mamd.domain.rules import AccountView, choose
from mamd.jobs import build_jobs
from mamd.jobs.search import want_of
from mamd.searching.cascade import find
from mamd.searching.grab import book_meta
from mamd.sim.mam.catalogue import GOOD
from mamd.store.wanted import WantedBook
from mamd.web import create_app
from tests.integration.test_search_job import CIBOLA, HERO
from tests.support.configs import API_KEY
from tests.support.mam_env import Env

pytestmark = pytest.mark.qbittorrent

KEY = {"X-Api-Key": API_KEY}
SECOND_BEST = 900_190  # The Hero of Ages again, as mp3 with fewer seeders: accepted, ranked below 900001
ABRIDGED, OTHER_AUTHOR = 900_102, 900_101


async def prepared(
    make_env: Callable[..., Any], aiohttp_client: Any, changes: dict[str, Any] | None = None
) -> tuple[Env, TestClient[Any, Any], WantedBook]:
    """A wanted Hero of Ages whose releases were searched and recorded (not grabbed), and the API."""
    env: Env = await make_env(changes)
    best = env.sim.rows[GOOD["The Hero of Ages"]]
    env.sim.rows[SECOND_BEST] = replace(best, id=SECOND_BEST, filetype="mp3", seeders=3)
    [book] = await env.want(HERO)
    await env.account()
    mam, config = env.runtime.require_mam(), env.runtime.config
    found = await find(mam, config, AccountView(), want_of(book), book)
    # and a release of another book that a title search could have shown: its author is someone else
    other = await mam.release(OTHER_AUTHOR)
    assert other is not None
    releases = [*found.releases.values(), other]
    choice = choose(want_of(book), releases, config.rules, config.mam.languages, AccountView())
    await env.runtime.candidates.record(book.id, choice, env.clock.now())
    assert choice.best is not None
    assert choice.best.release.id == GOOD["The Hero of Ages"]
    client: TestClient[Any, Any] = await aiohttp_client(create_app(env.runtime))
    return env, client, book


async def message(response: Any, status: int) -> str:
    assert response.status == status, await response.text()
    text: str = (await response.json())["error"]["message"]
    return text


async def test_the_second_best_release_is_grabbed_by_hand(
    make_env: Callable[..., Any], aiohttp_client: Any
) -> None:
    env, client, book = await prepared(make_env, aiohttp_client)
    response = await client.post(f"/api/v1/wanted/{book.id}/grab", json={"mam_id": SECOND_BEST}, headers=KEY)
    assert response.status == 201, await response.text()
    assert (await response.json())["added"] is True
    assert [d.tid for d in env.sim.downloads] == [SECOND_BEST]
    assert (await env.book(book)).state == "grabbed"
    [torrent] = env.in_qbittorrent()
    record = await env.runtime.torrents.by_mam_id(SECOND_BEST)
    assert record is not None
    assert record.hash == torrent.hash
    assert [e.data["torrent_id"] for e in await env.events("grab.by_hand")] == [SECOND_BEST]
    again = await client.post(f"/api/v1/wanted/{book.id}/grab", json={"mam_id": SECOND_BEST}, headers=KEY)
    assert "it is grabbed" in await message(again, 409)


async def test_a_grab_of_a_release_never_considered_or_of_another_book_is_refused(
    make_env: Callable[..., Any], aiohttp_client: Any
) -> None:
    env, client, book = await prepared(make_env, aiohttp_client)
    never = await client.post(
        f"/api/v1/wanted/{book.id}/grab", json={"mam_id": GOOD["Cibola Burn"]}, headers=KEY
    )
    assert "never a candidate" in await message(never, 409)
    other = await client.post(
        f"/api/v1/wanted/{book.id}/grab", json={"mam_id": OTHER_AUTHOR, "override_rules": True}, headers=KEY
    )
    assert "is not The Hero of Ages" in await message(other, 409)
    for body in (
        {},
        {"mam_id": "abc"},
        {"mam_id": -1},
        {"mam_id": 1, "override_rules": "yes"},
        {"mam_id": 1, "x": 1},
    ):
        assert (await client.post(f"/api/v1/wanted/{book.id}/grab", json=body, headers=KEY)).status == 400
    assert env.sim.downloads == []


async def test_the_rules_are_overridden_only_when_asked(
    make_env: Callable[..., Any], aiohttp_client: Any
) -> None:
    env, client, book = await prepared(make_env, aiohttp_client)
    refused = await client.post(f"/api/v1/wanted/{book.id}/grab", json={"mam_id": ABRIDGED}, headers=KEY)
    assert "override_rules" in await message(refused, 409)
    taken = await client.post(
        f"/api/v1/wanted/{book.id}/grab", json={"mam_id": ABRIDGED, "override_rules": True}, headers=KEY
    )
    assert taken.status == 201, await taken.text()
    assert [d.tid for d in env.sim.downloads] == [ABRIDGED]


async def test_the_guard_is_never_overridden(make_env: Callable[..., Any], aiohttp_client: Any) -> None:
    env, client, book = await prepared(make_env, aiohttp_client)
    env.sim.account.downloaded_bytes = env.sim.account.uploaded_bytes  # ratio 1.0, below ratio.floor
    await env.account()
    body = {"mam_id": GOOD["The Hero of Ages"], "override_rules": True}
    refused = await client.post(f"/api/v1/wanted/{book.id}/grab", json=body, headers=KEY)
    assert "never overridden" in await message(refused, 409)
    assert env.sim.downloads == []
    assert (await env.book(book)).state == "wanted"
    assert await env.events("grab.blocked")


async def test_a_grab_by_hand_in_dry_run_only_says_what_it_would_do(
    make_env: Callable[..., Any], aiohttp_client: Any
) -> None:
    env, client, book = await prepared(make_env, aiohttp_client, {"dry_run": True})
    response = await client.post(f"/api/v1/wanted/{book.id}/grab", json={"mam_id": SECOND_BEST}, headers=KEY)
    assert response.status == 200
    body = await response.json()
    assert body["dry_run"] is True
    assert "would grab" in body["message"]
    assert env.sim.downloads == []
    assert env.in_qbittorrent() == []
    [event] = await env.events("grab.would_grab")
    assert event.data["by_hand"] is True


async def test_a_search_asked_for_runs_the_search_job_now(
    make_env: Callable[..., Any], aiohttp_client: Any
) -> None:
    env: Env = await make_env({"dry_run": True})
    env.runtime.use_jobs(build_jobs(env.runtime))
    await env.runtime.scheduler.load()
    [book] = await env.want(CIBOLA)
    await env.runtime.wanted.searched(
        book.id, "skipped", "nothing yet", env.clock.now() + 86400, env.clock.now()
    )
    client: TestClient[Any, Any] = await aiohttp_client(create_app(env.runtime))
    response = await client.post(f"/api/v1/wanted/{book.id}/search", headers=KEY)
    assert response.status == 202
    await env.runtime.tasks.drain(30)
    state = env.runtime.scheduler.states["search"]
    assert state.last_result == "ok", state.last_error
    assert {c.mam_id for c in await env.runtime.candidates.of(book.id)} >= {GOOD["Cibola Burn"]}
    assert await env.events("wanted.search_asked")


async def test_an_import_is_refused_for_an_unknown_or_incomplete_torrent_and_queued_when_complete(
    make_env: Callable[..., Any], aiohttp_client: Any
) -> None:
    env, client, book = await prepared(make_env, aiohttp_client)
    unknown = await client.post(f"/api/v1/torrents/{'ab' * 20}/import", headers=KEY)
    assert "does not know" in await message(unknown, 404)
    await client.post(f"/api/v1/wanted/{book.id}/grab", json={"mam_id": SECOND_BEST}, headers=KEY)
    [torrent] = env.in_qbittorrent()  # no peer will ever send it: it stays incomplete
    incomplete = await client.post(f"/api/v1/torrents/{torrent.hash}/import", headers=KEY)
    assert "not complete" in await message(incomplete, 409)
    assert await env.runtime.inbox.pending_count() == 0


async def test_a_grab_by_hand_spends_the_wedge_its_decision_counted_on(
    make_env: Callable[..., Any], aiohttp_client: Any
) -> None:
    """A release accepted because a wedge makes it free is fetched with that wedge: the guard and the ratio
    budget judged it as freeleech, and MAM must serve it so."""
    wedges = {"rules": {"wedges": {"use": "prefer", "min_size": "100MiB", "keep": 1}}}
    env, client, book = await prepared(make_env, aiohttp_client, wedges)
    env.sim.account.wedges = 2
    await env.account()
    response = await client.post(f"/api/v1/wanted/{book.id}/grab", json={"mam_id": SECOND_BEST}, headers=KEY)
    assert response.status == 201, await response.text()
    [download] = env.sim.downloads
    assert download.wedge_spent
    assert download.free
    assert env.sim.account.wedges == 1
    env.sim.account.wedges = 1  # none to spare now: rules.wedges.keep holds for a grab by hand too
    await env.account()
    await env.runtime.wanted.set_state(book.id, "wanted", None, env.clock.now())
    again = await client.post(f"/api/v1/wanted/{book.id}/grab", json={"mam_id": SECOND_BEST}, headers=KEY)
    assert again.status in (201, 409), await again.text()
    assert all(not d.wedge_spent for d in env.sim.downloads[1:])


async def test_overridden_rules_never_take_a_release_whose_size_is_unknown(
    make_env: Callable[..., Any], aiohttp_client: Any
) -> None:
    env, client, book = await prepared(make_env, aiohttp_client)
    env.sim.rows[SECOND_BEST] = replace(env.sim.rows[SECOND_BEST], size_text="about a gigabyte")
    body = {"mam_id": SECOND_BEST, "override_rules": True}
    refused = await client.post(f"/api/v1/wanted/{book.id}/grab", json=body, headers=KEY)
    assert "no size" in await message(refused, 409)
    assert env.sim.downloads == []


async def test_a_grab_by_hand_waits_for_no_other_grabber(
    make_env: Callable[..., Any], aiohttp_client: Any
) -> None:
    """While the search job runs (or another grab by hand), a grab by hand is refused, not raced: each
    judges the budgets before spending them. A book whose fetched `.torrent` is still being finished is
    never grabbed again."""
    env, client, book = await prepared(make_env, aiohttp_client)
    body = {"mam_id": SECOND_BEST}
    async with env.runtime.grabbing:
        busy = await client.post(f"/api/v1/wanted/{book.id}/grab", json=body, headers=KEY)
        assert "under way" in await message(busy, 409)
    release = await env.runtime.require_mam().release(SECOND_BEST)
    assert release is not None
    config = env.runtime.config
    choice = choose(want_of(book), [release], config.rules, config.mam.languages, AccountView())
    assert choice.best is not None
    meta = book_meta(book, want_of(book), release)
    grab = await env.runtime.grabs.decide(book.id, choice.best, meta, env.clock.now())
    await env.runtime.grabs.fetched(grab.id, b"d4:infoe", "b" * 40, "Hero", env.clock.now())
    await env.runtime.wanted.set_state(book.id, "failed", "qBittorrent refused it", env.clock.now())
    again = await client.post(f"/api/v1/wanted/{book.id}/grab", json=body, headers=KEY)
    assert "grab of it is under way" in await message(again, 409)
    assert env.sim.downloads == []
