"""GET /api/v1/wanted and /api/v1/wanted/{id}, and the library and wanted sections of /status."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from mamd.clock import iso
from mamd.config.model import RulesConfig
from mamd.domain.discovery import WantSpec, series_want_key, title_want_key
from mamd.domain.library import Book, SeriesEntry
from mamd.domain.matching import Want
from mamd.domain.release import Release
from mamd.domain.rules import AccountView, choose
from mamd.runtime import Runtime
from tests.support.clock import FakeClock
from tests.support.configs import API_KEY

KEY = {"X-Api-Key": API_KEY}


async def seed(runtime: Runtime, clock: FakeClock) -> list[int]:
    specs = [
        WantSpec(series_want_key("Mistborn", "3"), "series_gap", "Brandon Sanderson", None, "Mistborn", "3"),
        WantSpec(title_want_key("Frank Herbert", "Dune"), "manual", "Frank Herbert", "Dune"),
        WantSpec(series_want_key("Discworld", "5"), "series_gap", "Terry Pratchett", None, "Discworld", "5"),
    ]
    await runtime.wanted.apply(specs, {}, [], clock.now())
    books = await runtime.wanted.all()
    await runtime.events.add(clock.now(), "wanted.added", "wanted: Dune", f"wanted:{books[1].id}")
    return [b.id for b in books]


async def test_the_wanted_list_shows_each_book_with_its_state_and_the_counts(
    client: TestClient[Any, Any], runtime: Runtime, clock: FakeClock
) -> None:
    await seed(runtime, clock)
    response = await client.get("/api/v1/wanted", headers=KEY)
    assert response.status == 200
    body = await response.json()
    assert [w["label"] for w in body["wanted"]] == [
        "Mistborn #3 by Brandon Sanderson",
        "Dune by Frank Herbert",
        "Discworld #5 by Terry Pratchett",
    ]
    assert {w["state"] for w in body["wanted"]} == {"wanted"}
    assert body["counts"]["wanted"] == 3
    assert body["counts"]["imported"] == 0
    assert body["next"] is None


async def test_the_wanted_list_pages_and_filters_by_state(
    client: TestClient[Any, Any], runtime: Runtime, clock: FakeClock
) -> None:
    ids = await seed(runtime, clock)
    first = await (await client.get("/api/v1/wanted?limit=2", headers=KEY)).json()
    assert [w["id"] for w in first["wanted"]] == ids[:2]
    rest = await (await client.get(f"/api/v1/wanted?limit=2&after={first['next']}", headers=KEY)).json()
    assert [w["id"] for w in rest["wanted"]] == ids[2:]
    none = await (await client.get("/api/v1/wanted?state=imported", headers=KEY)).json()
    assert none["wanted"] == []


async def test_one_wanted_book_comes_with_its_history(
    client: TestClient[Any, Any], runtime: Runtime, clock: FakeClock
) -> None:
    ids = await seed(runtime, clock)
    body = await (await client.get(f"/api/v1/wanted/{ids[1]}", headers=KEY)).json()
    assert body["wanted"]["title"] == "Dune"
    assert [e["kind"] for e in body["events"]] == ["wanted.added"]


async def test_each_wanted_book_carries_the_release_chosen_for_it(
    client: TestClient[Any, Any], runtime: Runtime, clock: FakeClock
) -> None:
    ids = await seed(runtime, clock)
    dune = Want("Dune", ("Frank Herbert",))
    releases = [
        Release(5001, "Dune", ("Frank Herbert",), filetypes=("m4b",), size=10**9, seeders=9, main_cat=13),
        Release(
            5002, "Dune Messiah", ("Frank Herbert",), filetypes=("m4b",), size=10**9, seeders=9, main_cat=13
        ),
    ]
    choice = choose(dune, releases, RulesConfig(), ["ENG"], AccountView())
    await runtime.candidates.record(ids[1], choice, clock.now())
    nothing = choose(
        Want(None, ("Terry Pratchett",), "Discworld", "5"), releases, RulesConfig(), ["ENG"], AccountView()
    )
    await runtime.candidates.record(ids[2], nothing, clock.now())
    body = await (await client.get("/api/v1/wanted", headers=KEY)).json()
    chosen = {w["id"]: w["chosen"] for w in body["wanted"]}
    assert chosen[ids[1]] == {"torrent_id": 5001, "title": "Dune", "decided_at": iso(clock.now())}
    assert chosen[ids[0]] is None  # never searched
    assert chosen[ids[2]] is None  # searched, nothing acceptable
    one = await (await client.get(f"/api/v1/wanted/{ids[1]}", headers=KEY)).json()
    assert one["wanted"]["chosen"]["torrent_id"] == 5001
    assert [c["decision"] for c in one["candidates"]] == ["chosen", "rejected"]


async def test_wanted_endpoints_refuse_bad_input_and_need_the_key(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/api/v1/wanted")).status == 401
    assert (await client.get("/api/v1/wanted?state=lost", headers=KEY)).status == 400
    assert (await client.get("/api/v1/wanted?limit=0", headers=KEY)).status == 400
    assert (await client.get("/api/v1/wanted/abc", headers=KEY)).status == 400
    missing = await client.get("/api/v1/wanted/999", headers=KEY)
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"


async def test_status_shows_the_library_and_the_wanted_counts(
    client: TestClient[Any, Any], runtime: Runtime, clock: FakeClock
) -> None:
    await runtime.library.upsert(
        [
            Book("a", "The Final Empire", ("Brandon Sanderson",), series=(SeriesEntry("Mistborn", "1"),)),
            Book("b", "Good Omens", ("Terry Pratchett", "Neil Gaiman")),
        ],
        clock.now(),
    )
    await runtime.library.set_sync_state({"library": "Audiobooks", "last_sync_at": clock.now()}, clock.now())
    await seed(runtime, clock)
    body = await (await client.get("/status")).json()
    assert body["library"] == {
        "library": "Audiobooks",
        "items": 2,
        "series": 1,
        "authors": 3,
        "last_sync_at": "2027-01-15T08:00:00Z",
    }
    assert body["wanted"]["wanted"] == 3
