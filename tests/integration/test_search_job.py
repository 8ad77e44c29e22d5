"""The search job end to end: wanted books → the MAM simulator → a real qbittorrent-nox, on a real database.

The runtime runs on an `InstantClock` (MAM's request spacing passes at once); the simulator and
qBittorrent listen on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mamd.clients.errors import Unauthorized
from mamd.domain.budget import BudgetFacts
from mamd.domain.discovery import OwnedIndex, WantSpec, series_want_key, title_want_key
from mamd.domain.library import Book, SeriesEntry
from mamd.domain.queries import MAX_REQUESTS_PER_BOOK
from mamd.domain.rules import AccountView
from mamd.jobs import search as search_job
from mamd.searching import grab as grabbing
from mamd.searching.cascade import find
from mamd.searching.run import Run
from mamd.sim.mam.catalogue import GOOD
from mamd.web import create_app
from mamd.web.status import status_document
from tests.support.configs import API_KEY
from tests.support.mam_env import Env
from tests.support.qbittorrent import api_client

pytestmark = pytest.mark.qbittorrent

DOWNLOAD = "/tor/download.php"
SEARCH = "/tor/js/loadSearchJSONbasic.php"
HERO = WantSpec(
    series_want_key("Mistborn", "3"), "series_gap", "Brandon Sanderson", "The Hero of Ages", "Mistborn", "3"
)
EQUAL_RITES = WantSpec(
    title_want_key("Terry Pratchett", "Equal Rites"), "manual", "Terry Pratchett", "Equal Rites"
)
CIBOLA = WantSpec(
    title_want_key("James S. A. Corey", "Cibola Burn"), "manual", "James S. A. Corey", "Cibola Burn"
)
WARBREAKER = WantSpec(
    title_want_key("Brandon Sanderson", "Warbreaker"), "manual", "Brandon Sanderson", "Warbreaker"
)
MISSING = WantSpec(title_want_key("Nobody", "No Such Book"), "manual", "Nobody Atall", "No Such Book")


async def test_a_wanted_book_is_found_chosen_and_grabbed_into_qbittorrent(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env()
    [book] = await env.want(HERO)
    await env.account()
    result = await env.search()
    assert result["grabbed"] == 1

    grabbed = await env.book(book)
    assert grabbed.state == "grabbed"
    record = await env.runtime.torrents.by_mam_id(GOOD["The Hero of Ages"])
    assert record is not None
    assert record.wanted_id == book.id
    assert record.meta is not None
    assert record.meta.title == "The Hero of Ages"
    assert record.meta.series == "Mistborn"
    assert record.meta.position == "3"
    [torrent] = env.in_qbittorrent()
    assert torrent.hash == record.hash
    assert torrent.category == "mamd"
    assert "mamd" in torrent.tags
    assert Path(torrent.save_path) == env.qbt.save_path
    [added] = await env.events("grab.added")
    assert added.data["torrent_id"] == GOOD["The Hero of Ages"]
    assert env.sim.downloads[-1].fl is False  # rules.wedges.use is never by default


async def test_every_candidate_is_recorded_with_its_reasons_and_shown_by_the_api(
    make_env: Callable[..., Any], aiohttp_client: Any
) -> None:
    env: Env = await make_env()
    [book] = await env.want(HERO)
    await env.account()
    await env.search()
    client: TestClient[Any, Any] = await aiohttp_client(create_app(env.runtime))
    response = await client.get(f"/api/v1/wanted/{book.id}", headers={"X-Api-Key": API_KEY})
    assert response.status == 200
    body = await response.json()
    candidates = {c["torrent_id"]: c for c in body["candidates"]}
    chosen = [c for c in body["candidates"] if c["decision"] == "chosen"]
    assert [c["torrent_id"] for c in chosen] == [GOOD["The Hero of Ages"]]
    reasons = {mam_id: " ".join(c["reasons"]) for mam_id, c in candidates.items()}
    assert "abridged" in reasons[900102]
    assert "dramatised" in reasons[900105]
    assert 900108 not in candidates  # the German edition: MAM filters it by mam.languages
    assert {candidates[i]["decision"] for i in (900102, 900105)} == {"rejected"}
    listed = await (await client.get("/api/v1/wanted", headers={"X-Api-Key": API_KEY})).json()
    [entry] = listed["wanted"]
    assert entry["chosen"]["torrent_id"] == GOOD["The Hero of Ages"]
    assert entry["chosen"]["title"] == "The Hero of Ages"
    assert entry["chosen"]["decided_at"] == chosen[0]["decided_at"]


async def test_a_dry_run_decides_and_records_but_downloads_and_adds_nothing(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env({"dry_run": True})
    [book] = await env.want(HERO)
    await env.account()
    result = await env.search()
    assert result["would_grab"] == 1
    assert (await env.book(book)).state == "wanted"
    assert env.sim.requests.matching(DOWNLOAD) == []
    assert env.sim.downloads == []
    assert env.in_qbittorrent() == []
    [event] = await env.events("grab.would_grab")
    assert "The Hero of Ages" in event.message
    assert await env.runtime.candidates.of(book.id)


async def test_without_an_account_snapshot_only_freeleech_is_grabbed(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env()
    hero, cibola = await env.want(HERO, CIBOLA)
    result = await env.search()
    assert result["grabbed"] == 1
    assert (await env.book(hero)).state == "blocked"
    assert "only freeleech" in ((await env.book(hero)).state_reason or "")
    assert (await env.book(cibola)).state == "grabbed"
    assert [d.tid for d in env.sim.downloads] == [900110]  # the freeleech mp3, not the paid m4b


async def test_a_spent_budget_holds_the_search_and_says_why_without_asking_mam(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env({"limits": {"grabs_per_day": 0, "min_free_space": "1MiB"}})
    [book] = await env.want(HERO)
    await env.account()
    result = await env.search()
    assert result["searched"] == 0
    assert "limits.grabs_per_day" in result["held"]
    blocked = await env.book(book)
    assert blocked.state == "blocked"
    assert "not searched" in (blocked.state_reason or "")
    assert "limits.grabs_per_day" in (blocked.state_reason or "")
    assert env.sim.requests.matching(SEARCH) == []  # nothing found could have been grabbed
    assert env.sim.downloads == []
    [event] = await env.events("search.held")
    assert "limits.grabs_per_day" in event.message
    assert "limits.grabs_per_day" in (await status_document(env.runtime))["search"]["held"]
    await env.search()
    assert len(await env.events("search.held")) == 1  # said when it began, not at every run


async def test_a_miss_is_searched_again_later_and_later(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env()
    [book] = await env.want(MISSING)
    await env.account()
    await env.search()
    first = await env.book(book)
    assert first.state == "skipped"
    assert first.next_search_at is not None
    first_delay = first.next_search_at - env.clock.now()
    assert first_delay >= 6 * 3600 - 1
    assert (await env.search())["searched"] == 0  # not due yet
    env.clock.advance(first_delay + 1)
    await env.search()
    second = await env.book(book)
    assert second.next_search_at is not None
    assert second.next_search_at - env.clock.now() > first_delay


async def test_a_torrent_already_in_qbittorrent_is_recorded_not_refused(make_env: Callable[..., Any]) -> None:
    """qBittorrent answers the duplicate "Fails." up to 5.1 and 409 Conflict from 5.3: either way the
    grab is recorded, and the .torrent is never fetched from MAM again."""
    env: Env = await make_env()
    data = env.sim.torrent(GOOD["The Hero of Ages"])
    with api_client(env.qbt) as client:
        client.torrents_add(torrent_files=data, save_path=str(env.qbt.save_path), category="elsewhere")
    [book] = await env.want(HERO)
    await env.account()
    await env.search()
    grabbed = await env.book(book)
    assert grabbed.state == "grabbed"
    assert "had it already" in (grabbed.state_reason or "")
    assert len(env.in_qbittorrent()) == 1
    record = await env.runtime.torrents.by_mam_id(GOOD["The Hero of Ages"])
    assert record is not None
    assert record.wanted_id == book.id
    [added] = await env.events("grab.added")
    assert "(qBittorrent had it already)" in added.message
    assert await env.events("grab.failed") == []
    assert [d.tid for d in env.sim.downloads] == [GOOD["The Hero of Ages"]]

    env.clock.advance(7 * 24 * 3600)  # well past any retry of a failed grab
    await env.account()
    await env.search()
    assert [d.tid for d in env.sim.downloads] == [GOOD["The Hero of Ages"]]  # never downloaded again
    assert (await env.book(book)).state == "grabbed"


async def test_a_book_that_became_owned_during_the_search_is_not_grabbed(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env()
    [book] = await env.want(HERO)
    await env.account()
    env.sim.faults.add_latency(0.5)  # the search is slow; a library sync lands meanwhile
    task = asyncio.create_task(env.search())
    await wait_until(lambda: bool(env.sim.requests.matching(SEARCH)))
    owned = Book(
        id="li_hero",
        title="The Hero of Ages",
        authors=("Brandon Sanderson",),
        series=(SeriesEntry("Mistborn", "3"),),
    )
    await env.runtime.library.upsert([owned], env.clock.now())
    await asyncio.wait_for(task, 30)
    assert await env.runtime.wanted.get(book.id) is None
    assert env.sim.downloads == []
    assert env.in_qbittorrent() == []
    [event] = await env.events("wanted.dropped")
    assert "in the library now" in event.message


async def test_an_expired_session_mid_run_stops_the_search_and_leaves_books_wanted(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env()
    hero, rites = await env.want(HERO, EQUAL_RITES)
    await env.account()
    env.sim.expire_session()
    with pytest.raises(Unauthorized):
        await env.search()
    sent = len(env.sim.requests)
    with pytest.raises(Unauthorized):
        await env.search()
    assert len(env.sim.requests) == sent  # the second run sent nothing
    for book in (hero, rites):
        assert (await env.book(book)).state in ("wanted", "failed", "skipped")
    [event] = await env.events("mam.session_rejected")
    assert "mam.session" in event.message
    assert env.runtime.health.services["mam"].state == "unauthorized"


async def test_a_torrent_gone_from_mam_fails_the_grab_and_the_book_waits(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env()
    [book] = await env.want(HERO)
    await env.account()
    env.sim.faults.fail_next(1, 404, path_prefix=DOWNLOAD)
    await env.search()
    failed = await env.book(book)
    assert failed.state == "failed"
    assert failed.next_search_at is not None
    assert env.in_qbittorrent() == []
    [event] = await env.events("grab.failed")
    assert "The Hero of Ages" in event.message


async def test_qbittorrent_down_holds_the_search_without_asking_mam(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env()
    hero, rites = await env.want(HERO, EQUAL_RITES)
    await env.account()
    env.qbt.stop()
    try:
        result = await env.search()
    finally:
        env.qbt.start()
    assert result["searched"] == 0
    assert env.sim.requests.matching(SEARCH) == []
    for book in (hero, rites):
        blocked = await env.book(book)
        assert blocked.state == "blocked"
        assert "qBittorrent did not answer" in (blocked.state_reason or "")
    result = await env.search()  # qBittorrent is back: the same books are searched at once
    assert result["searched"] == 2
    assert len(await env.events("search.resumed")) == 1


async def test_followed_authors_become_wanted_books(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env()
    await env.runtime.wanted.set_follows({"author": ["James S. A. Corey"]}, env.clock.now())
    await env.account()
    result = await env.search()
    assert result["follows_added"] >= 3
    wanted = {book.title for book in await env.runtime.wanted.all()}
    assert {"Leviathan Wakes", "Caliban's War", "Abaddon's Gate", "Cibola Burn"} <= wanted
    assert not any("Abadón" in (title or "") for title in wanted)  # not the Spanish edition


async def test_a_followed_author_adds_only_books_in_an_allowed_format(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env({"rules": {"formats": ["flac"]}})
    await env.runtime.wanted.set_follows({"author": ["Ursula K. Le Guin"]}, env.clock.now())
    await env.account()
    await env.search()
    wanted = {book.title for book in await env.runtime.wanted.all()}
    assert wanted == {"The Tombs of Atuan"}  # only its flac edition qualifies; A Wizard of Earthsea is m4b


async def wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):  # ten seconds at most
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_a_search_cut_short_by_a_crash_leaves_no_book_stuck_searching(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env()
    [book] = await env.want(HERO)
    await env.runtime.wanted.set_state(book.id, "searching", None, env.clock.now())  # as a crash leaves it
    await env.account()
    result = await env.search()
    assert result["grabbed"] == 1
    assert (await env.book(book)).state == "grabbed"


# -- every spelling ------------------------------------------------------------------------------


def manual(title: str, author: str) -> WantSpec:
    return WantSpec(title_want_key(author, title), "manual", author, title)


@pytest.mark.parametrize(
    ("title", "author", "row", "finder"),
    [
        # the library writes it without the accent: only the author's audiobooks find it
        ("Les Miserables", "Victor Hugo", 900122, ("Victor Hugo", {"author"}, "dateDesc")),
        # `and` in the library, `&` on MAM: the other spelling of the title
        (
            "Pride and Prejudice",
            "Jane Austen",
            900123,
            ("Pride & Prejudice Jane Austen", {"title", "author"}, "default"),
        ),
        # other punctuation: no spelling of `11.22.63` is MAM's `11/22/63`; the author's newest books are
        ("11.22.63", "Stephen King", 900124, ("Stephen King", {"author"}, "dateDesc")),
        # accents in the library, none on MAM
        ("Shōgun", "James Clavell", 900128, ("Shogun James Clavell", {"title", "author"}, "default")),
        # a straight apostrophe in the library, a typographic one on MAM
        (
            "Ender's Game",
            "Orson Scott Card",
            900129,
            ("Ender’s Game Orson Scott Card", {"title", "author"}, "default"),
        ),
        # the author's name with ø on MAM: the title alone finds it
        ("Nemesis", "Jo Nesbo", 900130, ("Nemesis", {"title"}, "default")),
    ],
)
async def test_a_title_spelled_otherwise_than_on_mam_is_found(
    make_env: Callable[..., Any], title: str, author: str, row: int, finder: tuple[str, set[str], str]
) -> None:
    """The simulator's search folds only case, as MAM's does: the cascade's spellings and the author's
    audiobooks find the book, within the bound on requests."""
    env: Env = await make_env({"dry_run": True})
    [book] = await env.want(manual(title, author))
    await env.account()
    result = await env.search()
    assert result["would_grab"] == 1, (await env.book(book)).state_reason
    [event] = await env.events("grab.would_grab")
    assert f"[MAM {row}]" in event.message
    assert 1 <= result["requests"] <= MAX_REQUESTS_PER_BOOK
    hits = [(q.text, set(q.fields), q.sort_type) for q, matched in env.sim.searches if matched]
    assert hits[-1] == finder  # the query that found it, and none after it
    assert env.sim.searches[-1][0].text == finder[0]


async def test_a_book_mam_does_not_have_costs_a_bounded_number_of_requests(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env({"dry_run": True})
    # accents, an apostrophe and `&`: ten spellings of the title, and the author's books after them
    [book] = await env.want(manual("Crónica's End & Beginning", "Orson Scott Card"))
    await env.account()
    result = await env.search()
    assert result["skipped"] == 1
    sent = [(q.text, q.sort_type) for q, _ in env.sim.searches]
    assert result["requests"] == result["most_requests_per_book"] == len(sent) == MAX_REQUESTS_PER_BOOK
    assert sent[:2] == [
        ("Crónica's End & Beginning Orson Scott Card", "default"),
        ("Crónica's End & Beginning", "default"),
    ]
    for spelling in (
        "Crónica's End and Beginning Orson Scott Card",
        "Crónica’s End & Beginning Orson Scott Card",
        "Crónica s End & Beginning Orson Scott Card",
        "Crónicas End & Beginning Orson Scott Card",
        "Cronica's End & Beginning Orson Scott Card",
    ):
        assert (spelling, "default") in sent
    assert sent[-1] == ("Orson Scott Card", "dateDesc")  # the author's books, within the bound
    assert "no acceptable release" in ((await env.book(book)).state_reason or "")


async def test_a_want_naming_its_authors_last_name_first_is_searched_by_the_first_of_them(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env({"dry_run": True})
    await env.want(manual("Cibola Burn", "Corey, James S. A.; Abraham, Daniel"))
    await env.account()
    result = await env.search()
    assert result["would_grab"] == 1
    assert env.sim.searches[0][0].text == "Cibola Burn Corey James S A"


# -- budgets that add up within one run -----------------------------------------------------------


def row_size(env: Env, title: str) -> int:
    return env.sim.rows[GOOD[title]].size_bytes


async def test_grabs_in_one_run_keep_the_unsatisfied_reserve_together(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env()
    env.sim.account.counters["unsat"].update(count=44, limit=50)  # room for one, keeping 5
    await env.want(HERO, EQUAL_RITES, WARBREAKER)
    await env.account()
    result = await env.search()
    assert (result["grabbed"], result["searched"]) == (1, 1)
    assert "45 of 50 unsatisfied torrents (1 grabbed since MAM was asked)" in result["held"]
    assert len(env.sim.downloads) == 1
    assert len(env.sim.requests.matching(SEARCH)) == 1  # the first book only
    states = sorted(book.state for book in await env.runtime.wanted.all())
    assert states == ["blocked", "blocked", "grabbed"]


async def test_paid_grabs_in_one_run_keep_the_ratio_floor_together(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env()
    account = env.sim.account
    first, second = row_size(env, "The Hero of Ages"), row_size(env, "Warbreaker")
    # one paid grab leaves the ratio above ratio.floor (1.5); the two together would not
    account.downloaded_bytes = int(account.uploaded_bytes / 1.5) - first - second // 2
    hero, warbreaker = await env.want(HERO, WARBREAKER)
    await env.account()
    result = await env.search()
    assert result["grabbed"] == 1
    assert (await env.book(hero)).state == "grabbed"
    refused = await env.book(warbreaker)
    assert refused.state == "blocked"
    assert "below ratio.floor" in (refused.state_reason or "")
    assert [d.tid for d in env.sim.downloads] == [GOOD["The Hero of Ages"]]


async def test_wedges_spent_in_one_run_leave_the_reserve_whole(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env({"rules": {"wedges": {"use": "prefer", "min_size": "100MiB", "keep": 3}}})
    env.sim.account.wedges = 4  # one to spare
    await env.want(HERO, WARBREAKER)
    await env.account()
    result = await env.search()
    assert result["grabbed"] == 2
    assert [d.fl for d in env.sim.downloads] == [True, False]
    assert env.sim.account.wedges == 3


# -- what is searched, and what is not -----------------------------------------------------------


async def test_a_book_ignored_since_discovery_is_dropped_not_grabbed(make_env: Callable[..., Any]) -> None:
    env: Env = await make_env()
    [hero] = await env.want(HERO)
    await env.account()
    wanted = replace(env.runtime.config.wanted, ignore=("Brandon Sanderson",))
    env.runtime.config = replace(env.runtime.config, wanted=wanted)  # a reload, before any discovery
    result = await env.search()
    assert result["grabbed"] == 0
    assert await env.runtime.wanted.get(hero.id) is None
    assert env.sim.requests.matching(SEARCH) == []
    [dropped] = await env.events("wanted.dropped")
    assert "wanted.ignore lists 'Brandon Sanderson'" in dropped.message


async def test_the_ownership_index_is_built_once_a_run(
    make_env: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    env: Env = await make_env({"limits": {"grabs_per_day": 1, "min_free_space": "1MiB"}, "dry_run": True})
    await env.runtime.library.upsert(
        [Book(id=f"li_{n}", title=f"Owned {n}", authors=("Someone Else",)) for n in range(50)],
        env.clock.now(),
    )
    built: list[int] = []
    original = search_job.OwnedIndex

    class Counting(original):  # type: ignore[valid-type,misc]  # counts, changes nothing
        def __init__(self, books: Any) -> None:
            built.append(1)
            super().__init__(books)

    monkeypatch.setattr(search_job, "OwnedIndex", Counting)
    await env.want(HERO, EQUAL_RITES, WARBREAKER, CIBOLA)
    await env.account()
    result = await env.search()
    assert result["would_grab"] == 4  # each had a release to check against the library
    assert len(built) == 1


# -- grabs that fail, and grabs cut short ----------------------------------------------------------


async def test_a_grab_mam_keeps_refusing_fails_for_good_after_five_tries(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env()
    [book] = await env.want(HERO)
    await env.account()
    waits = []
    for _ in range(5):
        env.sim.faults.fail_next(1, 404, path_prefix=DOWNLOAD)
        await env.search()
        failed = await env.book(book)
        assert failed.state == "failed"
        if failed.next_search_at is None:
            break
        waits.append(failed.next_search_at - env.clock.now())
        env.clock.advance(waits[-1] + 1)
        await env.account()  # the guard trusts a recent reading only
    assert waits == [3600, 7200, 14400, 28800]
    assert failed.next_search_at is None
    assert "5 times in a row" in (failed.state_reason or "")
    said = await env.events("grab.failed")  # newest first
    assert [event.data["final"] for event in said] == [True] + [False] * 4  # a notification says it louder
    assert said[0].data["book"]["title"] == "The Hero of Ages"
    [shown] = (await status_document(env.runtime))["failed"]["books"]
    assert (shown["id"], shown["next_search_at"]) == (book.id, None)
    assert "5 times in a row" in shown["reason"]
    env.clock.advance(30 * 86400)
    assert (await env.search())["searched"] == 0  # failed for good: never due again by itself
    assert len(env.sim.downloads) == 0

    await env.account()
    result = await search_job.run(env.runtime, env.context("search", "manual"))  # `mamd run-job search`
    assert result["failed_retried"] == 1
    assert (await env.book(book)).state == "grabbed"


async def test_a_fetched_torrent_qbittorrent_did_not_take_is_added_later_from_the_kept_bytes(
    make_env: Callable[..., Any],
) -> None:
    env: Env = await make_env()
    [book] = await env.want(HERO)
    await env.account()
    env.runtime.config = replace(
        env.runtime.config, qbittorrent=replace(env.runtime.config.qbittorrent, url="http://127.0.0.1:9")
    )
    search = Run(
        env.runtime, env.context("search"), env.runtime.require_mam(), None, BudgetFacts(0, 0, 2**40, None),
        OwnedIndex([]), (0, 0.0),
    )  # fmt: skip
    want = search_job.want_of(book)
    found = await find(search.mam, env.runtime.config, AccountView(), want, book)
    assert found.choice.best is not None
    await grabbing.grab(search, book, want, found.choice.best)  # qBittorrent is away
    waiting = await env.book(book)
    assert waiting.state == "failed"
    assert "added from the fetched .torrent later" in (waiting.state_reason or "")
    assert len(env.sim.downloads) == 1

    env.runtime.config = replace(
        env.runtime.config, qbittorrent=replace(env.runtime.config.qbittorrent, url=env.qbt.url)
    )
    result = await env.search()
    assert result["grabs_finished"] == 1
    assert (await env.book(book)).state == "grabbed"
    assert len(env.sim.downloads) == 1  # never fetched twice
    assert [t.hash for t in env.in_qbittorrent()] == [env.sim.downloads[0].info_hash]
    assert len(await env.events("grab.added")) == 1
