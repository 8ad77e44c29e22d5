"""Acting on wanted books through the API: want, delete, ignore, unignore, and each refusal."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from mamd.config import load_config
from mamd.domain.discovery import WantSpec, series_want_key, title_want_key
from mamd.domain.library import Book
from mamd.logs import Redactor
from mamd.runtime import Runtime
from mamd.store import Store
from mamd.store.migrations import MIGRATIONS
from mamd.web import create_app
from tests.support.clock import FakeClock
from tests.support.configs import API_KEY, write_config

KEY = {"X-Api-Key": API_KEY}
YAML_WANTS = {
    "manual": [{"title": "Dune", "author": "Frank Herbert"}],
    "ignore": ["Twilight"],
}


@contextlib.asynccontextmanager
async def api(
    tmp_path: Path, aiohttp_client: Any, wanted: dict[str, Any] | None = None
) -> AsyncIterator[tuple[TestClient[Any, Any], Runtime]]:
    path = write_config(tmp_path, {"wanted": wanted or YAML_WANTS})
    runtime = Runtime(load_config(path), path, clock=FakeClock(), redactor=Redactor())
    await runtime.store.open()
    await runtime.scheduler.load()
    try:
        client: TestClient[Any, Any] = await aiohttp_client(create_app(runtime))
        yield client, runtime
    finally:
        await runtime.tasks.drain(1.0)
        await runtime.store.close()


async def error(response: Any, status: int) -> str:
    assert response.status == status, await response.text()
    body = await response.json()
    message: str = body["error"]["message"]
    return message


async def test_a_book_wanted_through_the_api_is_stored_shown_and_an_event(
    tmp_path: Path, aiohttp_client: Any
) -> None:
    async with api(tmp_path, aiohttp_client) as (client, runtime):
        body = {
            "title": "The Way of Kings",
            "author": "Brandon Sanderson",
            "series": "Stormlight",
            "position": "1",
        }
        response = await client.post("/api/v1/wanted", json=body, headers=KEY)
        assert response.status == 201
        shown = (await response.json())["wanted"]
        assert (shown["reason"], shown["state"], shown["position"]) == ("api", "wanted", "1")
        book = await runtime.wanted.get(shown["id"])
        assert book is not None
        assert book.key == series_want_key("Stormlight", "1")
        listed = await (await client.get("/api/v1/wanted", headers=KEY)).json()
        assert [w["reason"] for w in listed["wanted"]] == ["api"]
        [event] = [e for e in await runtime.events.recent(10) if e.kind == "wanted.added"]
        assert event.subject == f"wanted:{book.id}"


async def test_a_want_that_duplicates_a_yaml_want_or_an_api_want_is_refused(
    tmp_path: Path, aiohttp_client: Any
) -> None:
    async with api(tmp_path, aiohttp_client) as (client, _):
        yaml = await client.post(
            "/api/v1/wanted", json={"title": "Dune", "author": "Frank Herbert"}, headers=KEY
        )
        assert "already under wanted.manual" in await error(yaml, 409)
        body = {"title": "Hyperion", "author": "Dan Simmons"}
        assert (await client.post("/api/v1/wanted", json=body, headers=KEY)).status == 201
        again = await client.post(
            "/api/v1/wanted", json={"title": "hyperion", "author": "Dan Simmons"}, headers=KEY
        )
        assert "already wanted as id" in await error(again, 409)


async def test_a_want_of_an_owned_or_ignored_book_is_refused(tmp_path: Path, aiohttp_client: Any) -> None:
    async with api(tmp_path, aiohttp_client) as (client, runtime):
        await runtime.library.upsert([Book("a", "Hyperion", ("Dan Simmons",))], runtime.clock.now())
        owned = await client.post(
            "/api/v1/wanted", json={"title": "Hyperion", "author": "Dan Simmons"}, headers=KEY
        )
        assert "in the library already" in await error(owned, 409)
        ignored = await client.post(
            "/api/v1/wanted", json={"title": "Twilight", "author": "Stephenie Meyer"}, headers=KEY
        )
        assert "wanted.ignore" in await error(ignored, 409)


async def test_bad_wants_are_refused_with_the_reason(tmp_path: Path, aiohttp_client: Any) -> None:
    async with api(tmp_path, aiohttp_client) as (client, _):
        cases = [
            ({"author": "Dan Simmons"}, "`title` is required"),
            ({"title": "Hyperion", "author": ""}, "`author` must be non-empty"),
            ({"title": "Hyperion", "author": "Dan Simmons", "series": "Cantos"}, "go together"),
            (
                {"title": "Hyperion", "author": "Dan Simmons", "series": "Cantos", "position": "1-3"},
                "not one position",
            ),
            ({"title": "Hyperion", "author": "Dan Simmons", "year": 1989}, "unknown field"),
            ({"title": "x" * 301, "author": "Dan Simmons"}, "at most 300"),
        ]
        for body, said in cases:
            assert said in await error(await client.post("/api/v1/wanted", json=body, headers=KEY), 400)
        raw = await client.post(
            "/api/v1/wanted", data=b"{not json", headers={**KEY, "Content-Type": "application/json"}
        )
        assert "not JSON" in await error(raw, 400)
        listed = await client.post("/api/v1/wanted", json=["Hyperion"], headers=KEY)
        assert "JSON object" in await error(listed, 400)
        assert (await client.post("/api/v1/wanted", json={"title": "a", "author": "b"})).status == 401


async def test_only_an_api_want_can_be_deleted_and_only_before_its_grab(
    tmp_path: Path, aiohttp_client: Any
) -> None:
    async with api(tmp_path, aiohttp_client) as (client, runtime):
        created = await client.post(
            "/api/v1/wanted", json={"title": "Hyperion", "author": "Dan Simmons"}, headers=KEY
        )
        api_id = (await created.json())["wanted"]["id"]
        gap = WantSpec(
            series_want_key("Mistborn", "2"), "series_gap", "Brandon Sanderson", None, "Mistborn", "2"
        )
        await runtime.wanted.apply([gap], {}, [], runtime.clock.now())
        gap_id = (await runtime.wanted.by_key(gap.key)).id  # type: ignore[union-attr]
        assert "not through the API" in await error(
            await client.delete(f"/api/v1/wanted/{gap_id}", headers=KEY), 409
        )
        await runtime.wanted.set_state(api_id, "grabbed", "in qBittorrent", runtime.clock.now())
        assert "it is grabbed" in await error(
            await client.delete(f"/api/v1/wanted/{api_id}", headers=KEY), 409
        )
        await runtime.wanted.set_state(api_id, "skipped", "nothing on MAM", runtime.clock.now())
        deleted = await client.delete(f"/api/v1/wanted/{api_id}", headers=KEY)
        assert deleted.status == 200
        assert await runtime.wanted.get(api_id) is None
        assert (await client.delete(f"/api/v1/wanted/{api_id}", headers=KEY)).status == 404


async def test_ignore_and_unignore_and_yaml_ignore_wins(tmp_path: Path, aiohttp_client: Any) -> None:
    async with api(tmp_path, aiohttp_client) as (client, runtime):
        spec = WantSpec(
            title_want_key("Stephenie Meyer", "New Moon"), "follow", "Stephenie Meyer", "New Moon"
        )
        hyperion = WantSpec(title_want_key("Dan Simmons", "Hyperion"), "follow", "Dan Simmons", "Hyperion")
        await runtime.wanted.apply([spec, hyperion], {}, [], runtime.clock.now())
        book = await runtime.wanted.by_key(hyperion.key)
        assert book is not None
        ignored = await client.post(f"/api/v1/wanted/{book.id}/ignore", headers=KEY)
        assert (await ignored.json())["wanted"]["state"] == "ignored"
        due = await runtime.wanted.due_for_search(runtime.clock.now() + 10**9, 10)
        assert [b.title for b in due] == ["New Moon"]  # an ignored book is never searched
        assert "it is ignored" in await error(
            await client.post(f"/api/v1/wanted/{book.id}/ignore", headers=KEY), 409
        )
        assert "it is ignored" in await error(
            await client.post(f"/api/v1/wanted/{book.id}/search", headers=KEY), 409
        )
        back = await client.post(f"/api/v1/wanted/{book.id}/unignore", headers=KEY)
        assert (await back.json())["wanted"]["state"] == "wanted"
        assert "is not ignored" in await error(
            await client.post(f"/api/v1/wanted/{book.id}/unignore", headers=KEY), 409
        )
        meyer = await runtime.wanted.by_key(spec.key)
        assert meyer is not None
        await client.post(f"/api/v1/wanted/{meyer.id}/ignore", headers=KEY)
        # wanted.ignore lists only "Twilight": add the author, and the file wins over the database
        path = write_config(tmp_path, {"wanted": {**YAML_WANTS, "ignore": ["Stephenie Meyer"]}})
        runtime.config = load_config(path)
        assert "it wins" in await error(
            await client.post(f"/api/v1/wanted/{meyer.id}/unignore", headers=KEY), 409
        )
        kinds = [e.kind for e in await runtime.events.recent(20)]
        assert kinds.count("wanted.ignored") == 2
        assert kinds.count("wanted.unignored") == 1


async def test_actions_on_a_book_that_does_not_exist_or_a_bad_id(tmp_path: Path, aiohttp_client: Any) -> None:
    async with api(tmp_path, aiohttp_client) as (client, _):
        for action in ("ignore", "unignore", "search", "grab"):
            assert (
                await client.post(f"/api/v1/wanted/999/{action}", json={"mam_id": 1}, headers=KEY)
            ).status == 404
            assert (await client.post(f"/api/v1/wanted/abc/{action}", headers=KEY)).status == 400
            assert (await client.post(f"/api/v1/wanted/1/{action}")).status == 401
        bad_hash = await client.post("/api/v1/torrents/xyz/import", headers=KEY)
        assert "40 hexadecimal" in await error(bad_hash, 400)


async def test_the_upgrade_keeps_every_wanted_book_and_what_points_at_it(tmp_path: Path) -> None:
    """Migration 9 builds the wanted table again: candidates and grabs that point at a book survive it."""
    path = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA foreign_keys = ON")
        for migration in MIGRATIONS[:8]:
            for statement in migration.statements():
                db.execute(statement)
        db.execute("PRAGMA user_version = 8")
        db.execute(
            "INSERT INTO wanted (id, key, reason, title, author, created_at, updated_at, failures) "
            "VALUES (5, 'title|x|y', 'manual', 'Y', 'X', 1, 1, 2)"
        )
        db.execute(
            "INSERT INTO candidates (wanted_id, mam_id, title, accepted, score, decided_at) "
            "VALUES (5, 77, 'Y', 1, 1.0, 1)"
        )
        db.execute(
            "INSERT INTO grabs (wanted_id, mam_id, label, freeleech, wedge, meta, state, decided_at, "
            "updated_at) VALUES (5, 77, 'Y', 0, 0, '{}', 'done', 1, 1)"
        )
        db.commit()
    store = Store(path)
    await store.open()
    try:
        assert [
            tuple(r) for r in await store.fetchall("SELECT id, reason, failures, evidence FROM wanted")
        ] == [(5, "manual", 2, None)]
        assert [tuple(r) for r in await store.fetchall("SELECT wanted_id, mam_id FROM candidates")] == [
            (5, 77)
        ]
        assert [tuple(r) for r in await store.fetchall("SELECT wanted_id FROM grabs")] == [(5,)]
        async with store.transaction() as db:
            await db.execute(
                "INSERT INTO wanted (key, reason, author, state, created_at, updated_at) "
                "VALUES ('k', 'series_next', 'A', 'ignored', 1, 1)"
            )
    finally:
        await store.close()


async def test_a_search_run_and_a_grab_by_hand_never_both_take_one_book(
    tmp_path: Path, aiohttp_client: Any
) -> None:
    """Both claim a book from the state their listing saw (the search job's run list, the grab's read): only
    one claim moves it, whichever comes first, and a book ignored since the listing is claimed by neither."""
    async with api(tmp_path, aiohttp_client) as (client, runtime):
        spec = WantSpec(
            series_want_key("Mistborn", "2"), "series_gap", "Brandon Sanderson", None, "Mistborn", "2"
        )
        await runtime.wanted.apply([spec], {}, [], runtime.clock.now())
        listed = await runtime.wanted.by_key(spec.key)
        assert listed is not None
        assert listed.state == "wanted"
        now = runtime.clock.now()
        claims = await asyncio.gather(
            runtime.wanted.advance(listed.id, listed.state, "searching", None, now),
            runtime.wanted.advance(listed.id, listed.state, "searching", "a grab asked for by hand", now),
        )
        assert sorted(claims) == [False, True]
        await runtime.wanted.set_state(listed.id, "wanted", None, now)
        ignored = await client.post(f"/api/v1/wanted/{listed.id}/ignore", headers=KEY)
        assert ignored.status == 200, await ignored.text()
        assert not await runtime.wanted.advance(listed.id, listed.state, "searching", None, now)
        after = await runtime.wanted.get(listed.id)
        assert after is not None
        assert after.state == "ignored"


async def test_a_want_by_title_of_a_book_wanted_by_its_series_position_is_a_duplicate(
    tmp_path: Path, aiohttp_client: Any
) -> None:
    """One book, two spellings of the want: by title alone, and by title with its series and position."""
    wanted = {
        "manual": [
            {
                "title": "The Way of Kings",
                "author": "Brandon Sanderson",
                "series": "Stormlight",
                "position": "1",
            }
        ]
    }
    async with api(tmp_path, aiohttp_client, wanted) as (client, _):
        by_title = {"title": "The Way of Kings", "author": "Brandon Sanderson"}
        assert "already under wanted.manual" in await error(
            await client.post("/api/v1/wanted", json=by_title, headers=KEY), 409
        )
        by_position = {
            "title": "Hyperion",
            "author": "Dan Simmons",
            "series": "Hyperion Cantos",
            "position": "1",
        }
        assert (await client.post("/api/v1/wanted", json=by_position, headers=KEY)).status == 201
        again = await client.post(
            "/api/v1/wanted", json={"title": "Hyperion", "author": "Dan Simmons"}, headers=KEY
        )
        assert "already wanted as id" in await error(again, 409)
