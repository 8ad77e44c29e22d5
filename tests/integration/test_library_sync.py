"""library_sync and discover against the Audiobookshelf simulator on loopback, with a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from mamd.clients.audiobookshelf import AudiobookshelfClient
from mamd.clients.errors import NotFound, Unauthorized, Unavailable
from mamd.config import load_config
from mamd.jobs import discover, library_sync
from mamd.runtime import Runtime
from mamd.schedule import JobContext, JobState
from mamd.sim.abs.app import AbsSimulator
from tests.support.clock import InstantClock
from tests.support.configs import write_config


class Env:
    def __init__(
        self,
        sim: AbsSimulator,
        server: TestServer,
        runtime: Runtime,
        clock: InstantClock,
        session: aiohttp.ClientSession,
    ) -> None:
        self.sim, self.server, self.runtime, self.clock, self.session = sim, server, runtime, clock, session

    def context(self, job: str) -> JobContext:
        return JobContext(job, 0, "manual", self.clock, JobState(job), by_hand=True)

    async def sync(self) -> dict[str, Any]:
        return dict(await library_sync.run(self.runtime, self.context("library_sync")))

    async def discover(self) -> dict[str, Any]:
        return dict(await discover.run(self.runtime, self.context("discover")))

    async def wanted(self) -> list[tuple[str | None, str | None, str | None, str]]:
        rows = [(w.series, w.position, w.title, w.reason) for w in await self.runtime.wanted.all()]
        return sorted(rows, key=lambda row: tuple(part or "" for part in row))

    async def stored_titles(self) -> list[str]:
        return sorted(book.title for book in await self.runtime.library.books())


@pytest.fixture
async def make_env(tmp_path: Path, aiohttp_server: Any) -> AsyncIterator[Callable[..., Any]]:
    made: list[tuple[Runtime, aiohttp.ClientSession]] = []

    async def make(sim: AbsSimulator, changes: dict[str, Any] | None = None) -> Env:
        server = await aiohttp_server(sim.app)
        settings = {"audiobookshelf": {"url": str(server.make_url("")), "api_key": sim.api_key}}
        for section, values in (changes or {}).items():
            settings.setdefault(section, {}).update(values)
        path = write_config(tmp_path, settings)
        clock = InstantClock()
        runtime = Runtime(load_config(path), path, clock=clock)
        await runtime.store.open()
        session = aiohttp.ClientSession()
        runtime.connect(session)
        made.append((runtime, session))
        return Env(sim, server, runtime, clock, session)

    yield make
    for runtime, session in made:
        await session.close()
        await runtime.store.close()


def empty() -> AbsSimulator:
    return AbsSimulator.generated(0, scan_delay=0.01)


def add(
    sim: AbsSimulator,
    title: str,
    author: str | list[str] | None,
    series: str | None = None,
    seq: str | None = None,
    **fields: Any,
) -> str:
    authors = [author] if isinstance(author, str) else (author or [])
    return sim.add_item(title, authors=authors, series=[(series, seq)] if series else [], **fields).id


# -- the library as mamd stores it --------------------------------------------------------------


async def test_a_first_sync_stores_every_usable_item_with_structured_metadata(make_env: Any) -> None:
    sim = empty()
    add(
        sim,
        "The Final Empire",
        "Brandon Sanderson",
        "Mistborn",
        "1",
        asin="B002UZMLXM",
        narrators=["Michael Kramer"],
    )
    add(sim, "Good Omens", ["Terry Pratchett", "Neil Gaiman"])
    gone = add(sim, "Lost Book", "Somebody")
    broken = add(sim, "Broken Book", "Somebody")
    sim.mark_missing(gone)
    sim.mark_invalid(broken)
    env = await make_env(sim)
    summary = await env.sync()
    assert summary["listed"] == 4
    assert summary["usable"] == 2
    assert summary["skipped_missing_or_invalid"] == 2
    books = {b.title: b for b in await env.runtime.library.books()}
    assert set(books) == {"The Final Empire", "Good Omens"}
    final = books["The Final Empire"]
    assert (final.authors, final.narrators, final.asin) == (
        ("Brandon Sanderson",),
        ("Michael Kramer",),
        "B002UZMLXM",
    )
    assert [(s.name, s.sequence) for s in final.series] == [("Mistborn", "1")]
    assert books["Good Omens"].authors == ("Terry Pratchett", "Neil Gaiman")
    assert final.path.endswith("Brandon Sanderson/Mistborn/Book 1 - The Final Empire")
    counts = await env.runtime.library.counts()
    assert (counts.items, counts.series, counts.authors) == (2, 1, 3)


async def test_a_second_sync_fetches_only_what_changed_and_forgets_what_left(make_env: Any) -> None:
    sim = AbsSimulator.generated(600, seed=3)
    env = await make_env(sim)
    first = await env.sync()
    assert first["fetched"] == first["usable"] == first["items"]
    unchanged = await env.sync()
    assert (unchanged["fetched"], unchanged["removed"]) == (0, 0)

    victims = [
        item.id for item in list(sim.library.items.values()) if not (item.is_missing or item.is_invalid)
    ][:3]
    sim.update_item(victims[0], title="A New Title")
    sim.remove_item(victims[1])
    sim.mark_missing(victims[2])
    added = add(sim, "Brand New", "New Author")
    third = await env.sync()
    assert third["fetched"] == 2  # the changed one and the new one
    assert third["removed"] == 2  # the removed one and the one now missing
    stored = {b.id: b for b in await env.runtime.library.books()}
    assert stored[victims[0]].title == "A New Title"
    assert victims[1] not in stored
    assert victims[2] not in stored
    assert stored[added].title == "Brand New"


async def test_progress_is_reported_while_the_sync_runs(make_env: Any) -> None:
    env = await make_env(AbsSimulator.generated(300, seed=5))
    context = env.context("library_sync")
    await library_sync.run(env.runtime, context)
    assert context.state.progress["phase"] == "fetching"
    assert context.state.progress["listed"] == 300
    assert context.state.progress["fetched"] == context.state.progress["to_fetch"]


async def test_an_item_added_while_pages_are_read_is_stored_now_or_next_time(make_env: Any) -> None:
    sim = AbsSimulator.generated(2500, seed=7)
    env = await make_env(sim)
    original = env.runtime.require_audiobookshelf().items_page
    added: list[str] = []

    async def page_then_add(library_id: str, page: int, limit: int) -> Any:
        answer = await original(library_id, page, limit)
        if page == 0 and not added:
            added.append(add(sim, "Arrived Mid-Sync", "Late Author"))
        return answer

    env.runtime.require_audiobookshelf().items_page = page_then_add  # type: ignore[method-assign]
    await env.sync()
    env.runtime.require_audiobookshelf().items_page = original  # type: ignore[method-assign]
    await env.sync()
    stored = {b.id for b in await env.runtime.library.books()}
    usable = {i.id for i in sim.library.items.values() if not (i.is_missing or i.is_invalid)}
    assert stored == usable
    assert added[0] in stored


async def test_an_item_removed_while_pages_are_read_is_never_forgotten_wrongly(make_env: Any) -> None:
    """A removal shifts later pages, so one item is not listed; it must be confirmed, not forgotten."""
    sim = AbsSimulator.generated(2500, seed=8)
    env = await make_env(sim)
    await env.sync()
    before = {b.id for b in await env.runtime.library.books()}
    original = env.runtime.require_audiobookshelf().items_page
    removed: list[str] = []

    async def page_then_remove(library_id: str, page: int, limit: int) -> Any:
        answer = await original(library_id, page, limit)
        if page == 0 and not removed:
            victim = answer.items[10].id
            sim.remove_item(victim)
            removed.append(victim)
        return answer

    env.runtime.require_audiobookshelf().items_page = page_then_remove  # type: ignore[method-assign]
    await env.sync()
    after = {b.id for b in await env.runtime.library.books()}
    assert after == before - set(removed) or after == before  # the removed one goes now or next time
    usable = {i.id for i in sim.library.items.values() if not (i.is_missing or i.is_invalid)}
    assert usable <= after  # nothing the server still has was forgotten


async def test_a_sync_that_fails_midway_keeps_the_library_whole_and_resumes(make_env: Any) -> None:
    sim = AbsSimulator.generated(1200, seed=9)
    env = await make_env(sim)
    await env.sync()
    for item in list(sim.library.items.values())[:900]:
        if not (item.is_missing or item.is_invalid):
            sim.update_item(item.id, title=item.title + " (revised)")
    sim.remove_item(next(iter(sim.library.items)))
    stored_before = set(await env.runtime.library.versions())
    sim.faults.fail_after_successes(3, 500)  # the listing passes, then batch/get fails for good
    with pytest.raises(Unavailable):
        await env.sync()
    # nothing was forgotten on a partial pass; what was fetched is stored
    assert set(await env.runtime.library.versions()) == stored_before
    sim.faults.clear()
    resumed = await env.sync()
    assert resumed["fetched"] < 900  # batches stored before the failure are not fetched again
    stored = {b.id for b in await env.runtime.library.books()}
    usable = {i.id for i in sim.library.items.values() if not (i.is_missing or i.is_invalid)}
    assert stored == usable


async def test_a_500_or_a_timeout_now_and_then_is_retried_within_the_sync(make_env: Any) -> None:
    sim = AbsSimulator.generated(800, seed=10)
    env = await make_env(sim)
    sim.faults.fail_next(1, 500)
    sim.faults.fail_next(1, 503, path_prefix="/api/items/batch")
    summary = await env.sync()
    assert summary["items"] == len(await env.runtime.library.books())
    assert env.clock.slept  # it backed off before retrying
    assert env.runtime.health.services["audiobookshelf"].state == "ok"


async def test_an_item_without_authors_is_stored_and_gives_no_gaps(make_env: Any) -> None:
    sim = empty()
    orphan = add(sim, "Orphan", "Someone", "S", "3")
    sim.update_item(orphan, authors=[])
    env = await make_env(sim)
    await env.sync()
    [book] = await env.runtime.library.books()
    assert (book.title, book.authors, book.series[0].sequence) == ("Orphan", (), "3")
    await env.discover()
    assert await env.wanted() == []  # gaps need an author to search for


# -- what goes wrong ----------------------------------------------------------------------------


async def test_a_library_name_that_does_not_exist_names_the_ones_that_do(make_env: Any) -> None:
    env = await make_env(empty(), {"audiobookshelf": {"library": "Podcasts"}})
    with pytest.raises(NotFound, match=r"no library is named 'Podcasts'.*'Audiobooks' \(id "):
        await env.sync()


async def test_the_library_can_be_named_by_id_or_in_another_case(make_env: Any) -> None:
    sim = empty()
    add(sim, "One", "Someone")
    env = await make_env(sim, {"audiobookshelf": {"library": "audiobooks"}})
    assert (await env.sync())["library"] == "Audiobooks"
    env2 = await make_env(sim, {"audiobookshelf": {"library": sim.library.id}})
    assert (await env2.sync())["items"] == 1


async def test_a_wrong_api_key_is_unauthorized_with_advice_and_no_retries(make_env: Any) -> None:
    sim = empty()
    env = await make_env(sim, {"audiobookshelf": {"api_key": "not-the-key-at-all"}})
    with pytest.raises(Unauthorized, match="API Keys"):
        await env.sync()
    assert env.clock.slept == []
    service = env.runtime.health.services["audiobookshelf"]
    assert service.state == "unauthorized"
    assert "audiobookshelf.api_key" in (service.last_error or "")


async def test_garbage_instead_of_an_answer_fails_the_sync_without_storing_anything(make_env: Any) -> None:
    sim = AbsSimulator.generated(50, seed=2)
    env = await make_env(sim)
    sim.faults.garbage_next(10)
    with pytest.raises(Unavailable, match="not JSON"):
        await env.sync()
    assert await env.runtime.library.versions() == {}
    assert env.runtime.health.services["audiobookshelf"].state == "down"


# -- discovery from a synced library -------------------------------------------------------------

KNOWN_GAPS = [
    # (title, author, series, sequence) as the library holds them
    ("The Final Empire", "Brandon Sanderson", "Mistborn", "1"),
    ("The Well of Ascension", "Brandon Sanderson", "Mistborn", "2"),
    ("The Alloy of Law", "Brandon Sanderson", "Mistborn", "4"),
    ("The Colour of Magic", "Terry Pratchett", "Discworld", "01"),
    ("The Light Fantastic", "Terry Pratchett", "Discworld", "Book 2"),
    ("Mort", "Terry Pratchett", "Discworld", "#4"),
    ("Pyramids", "Terry Pratchett", "Discworld", "VII"),
    ("A Wizard of Earthsea", "Ursula K. Le Guin", "Earthsea", "1"),
    ("The Farthest Shore", "Ursula Le Guin", "Earthsea", "3"),
    ("Leviathan Wakes", "James S. A. Corey", "The Expanse", "1"),
    ("Caliban's War", "James S. A. Corey", "The Expanse", "2"),
    ("The Churn", "James S. A. Corey", "The Expanse", "2.5"),
    ("Nemesis Games", "James S. A. Corey", "The Expanse", "5"),
    ("Omnibus One", "Anne Author", "Trilogy", "1-3"),
    ("Four", "Anne Author", "Trilogy", "4"),
    ("Elantris", "Brandon Sanderson", None, None),
    ("Elantris", "Brandon Sanderson", None, None),  # the same book twice
]


async def test_a_library_with_known_gaps_yields_exactly_the_expected_wanted_list(make_env: Any) -> None:
    sim = empty()
    for title, author, series, seq in KNOWN_GAPS:
        add(sim, title, author, series, seq)
    env = await make_env(
        sim,
        {
            "wanted": {
                "manual": [
                    {
                        "title": "The Hero of Ages",
                        "author": "Brandon Sanderson",
                        "series": "Mistborn",
                        "position": 3,
                    },
                    {"title": "Dune", "author": "Frank Herbert"},
                    {"title": "elantris", "author": "Sanderson, Brandon"},
                ],
                "ignore": ["The Expanse"],
            }
        },
    )
    await env.sync()
    summary = await env.discover()
    assert await env.wanted() == [
        (None, None, "Dune", "manual"),
        ("Discworld", "3", None, "series_gap"),
        ("Discworld", "5", None, "series_gap"),
        ("Discworld", "6", None, "series_gap"),
        ("Earthsea", "2", None, "series_gap"),
        ("Mistborn", "3", "The Hero of Ages", "manual"),
    ]
    assert summary["ignored"] == 2  # The Expanse #3 and #4
    assert summary["owned_manual"] == 1  # Elantris


async def test_a_book_that_arrives_in_the_library_leaves_the_wanted_list_with_an_event(make_env: Any) -> None:
    sim = empty()
    for title, author, series, seq in KNOWN_GAPS[:3]:
        add(sim, title, author, series, seq)
    env = await make_env(sim)
    await env.sync()
    await env.discover()
    [want] = await env.runtime.wanted.all()
    assert (want.series, want.position, want.state) == ("Mistborn", "3", "wanted")
    add(sim, "The Hero of Ages", "Brandon Sanderson", "Mistborn", "3")
    await env.sync()
    summary = await env.discover()
    assert summary["dropped"] == 1
    assert await env.runtime.wanted.all() == []
    events = await env.runtime.events.about(f"wanted:{want.id}", 10)
    assert [e.kind for e in events] == ["wanted.dropped", "wanted.added"]
    assert "in the library now" in events[0].message


async def test_discovery_is_stable_and_followed_names_become_search_intents(make_env: Any) -> None:
    sim = empty()
    for title, author, series, seq in KNOWN_GAPS[:7]:
        add(sim, title, author, series, seq)
    follow = {
        "authors": ["Joe Abercrombie"],
        "series": ["The Wheel of Time"],
        "narrators": ["Michael Kramer"],
    }
    env = await make_env(sim, {"wanted": {"follow": follow}})
    await env.sync()
    first = await env.discover()
    again = await env.discover()
    assert first["added"] == 4
    assert (again["added"], again["changed"], again["dropped"]) == (0, 0, 0)
    assert await env.runtime.wanted.follows() == {
        "author": ["Joe Abercrombie"],
        "series": ["The Wheel of Time"],
        "narrator": ["Michael Kramer"],
    }


async def test_a_request_that_times_out_mid_sync_is_retried_and_the_sync_completes(make_env: Any) -> None:
    sim = AbsSimulator.generated(1500, seed=11)
    env = await make_env(sim)
    # the same client, with a timeout short enough for a test
    env.runtime.audiobookshelf = AudiobookshelfClient.create(
        env.session,
        lambda: env.runtime.config.audiobookshelf,
        on_state=lambda state, error: env.runtime.health.service("audiobookshelf", state, error),
        sleep=env.clock.sleep,
        timeout_s=0.5,
    )
    client = env.runtime.require_audiobookshelf()
    original = client.items_page

    async def last_page_then_hang(library_id: str, page: int, limit: int) -> Any:
        answer = await original(library_id, page, limit)
        if (page + 1) * limit >= answer.total:
            sim.faults.hang_next(1, seconds=5)  # the first batch/get after the listing hangs
        return answer

    client.items_page = last_page_then_hang  # type: ignore[method-assign]
    summary = await env.sync()
    usable = {i.id for i in sim.library.items.values() if not (i.is_missing or i.is_invalid)}
    assert summary["fetched"] == len(usable)
    assert {b.id for b in await env.runtime.library.books()} == usable
    assert env.clock.slept  # it backed off after the timeout


async def test_a_refused_key_read_from_a_file_names_that_file_and_the_menu_to_fix_it(
    make_env: Any, tmp_path: Path
) -> None:
    key_file = tmp_path / "abs_key"
    key_file.write_text("not-the-key-at-all\n")
    env = await make_env(empty(), {"audiobookshelf": {"api_key": None, "api_key_file": str(key_file)}})
    with pytest.raises(Unauthorized) as refused:
        await env.sync()
    assert f"audiobookshelf.api_key_file ({key_file})" in refused.value.message
    assert "Settings → API Keys" in refused.value.message
    assert "audiobookshelf.api_key " not in refused.value.message + " "
