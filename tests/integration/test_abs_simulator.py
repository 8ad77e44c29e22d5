"""The ABS simulator beyond the recorded samples: paging at size, the generator, auth, faults, scans,
folder parsing, the `/__sim/` controls, and the standalone process.

Everything goes through real sockets (`aiohttp_client`); every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from mamd.sim.abs import render as abs_render
from mamd.sim.abs.app import AbsSimulator
from mamd.sim.abs.folder import parse_authors, parse_title_folder
from mamd.sim.abs.generate import generate_library
from mamd.sim.abs.model import IdFactory

Client = TestClient[Any, Any]
MakeClient = Callable[[AbsSimulator], Any]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def connect(aiohttp_client: Any) -> MakeClient:
    """`await connect(sim)`: a test client on loopback for the simulator's app."""

    async def make(sim: AbsSimulator) -> Client:
        client: Client = await aiohttp_client(sim.app)
        return client

    return make


def admin(sim: AbsSimulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.api_key}"}


def reader(sim: AbsSimulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.user_api_key}"}


async def get_json(client: Client, sim: AbsSimulator, path: str, **params: str) -> Any:
    response = await client.get(path, params=params, headers=admin(sim))
    assert response.status == 200, await response.text()
    return await response.json()


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


# -- paging, sorting, filtering at size ----------------------------------------------------------------


@pytest.fixture
def library_2000() -> AbsSimulator:
    return AbsSimulator.generated(2_000, seed=3)


@pytest.mark.parametrize("limit", [100, 37])
async def test_paging_with_limit_and_page_returns_every_item_exactly_once(
    library_2000: AbsSimulator, connect: MakeClient, limit: int
) -> None:
    sim = library_2000
    client = await connect(sim)
    path = f"/api/libraries/{sim.library.id}/items"
    seen: list[str] = []
    page = 0
    while True:
        body = await get_json(client, sim, path, limit=str(limit), page=str(page), sort="addedAt")
        assert body["total"] == 2_000
        assert body["offset"] == page * limit
        if not body["results"]:
            break
        seen.extend(row["id"] for row in body["results"])
        page += 1
        assert page < 100, "paging never ended"
    assert len(seen) == len(set(seen)) == 2_000
    assert set(seen) == set(sim.library.items)


async def test_offset_and_sortby_are_ignored_like_the_real_server(
    library_2000: AbsSimulator, connect: MakeClient
) -> None:
    """As on ABS, a client paging with `offset` gets page 0 forever."""
    sim = library_2000
    client = await connect(sim)
    path = f"/api/libraries/{sim.library.id}/items"
    first = await get_json(client, sim, path, limit="10", sort="addedAt")
    shifted = await get_json(client, sim, path, limit="10", offset="50", sortBy="title", sort="addedAt")
    assert [row["id"] for row in shifted["results"]] == [row["id"] for row in first["results"]]
    assert shifted["offset"] == 0
    assert "sortBy" in shifted
    assert shifted["sortBy"] == "addedAt"


async def test_limit_zero_lists_everything_and_a_page_past_the_end_is_empty(
    library_2000: AbsSimulator, connect: MakeClient
) -> None:
    sim = library_2000
    client = await connect(sim)
    path = f"/api/libraries/{sim.library.id}/items"
    everything = await get_json(client, sim, path, limit="0")
    assert len(everything["results"]) == everything["total"] == 2_000
    assert "sortBy" not in everything
    assert "filterBy" not in everything
    past = await get_json(client, sim, path, limit="500", page="4")
    assert past["results"] == []
    assert past["total"] == 2_000


async def test_sorts_order_the_whole_library(library_2000: AbsSimulator, connect: MakeClient) -> None:
    sim = library_2000
    client = await connect(sim)
    path = f"/api/libraries/{sim.library.id}/items"
    newest = await get_json(client, sim, path, limit="50", sort="addedAt", desc="1")
    added = [row["addedAt"] for row in newest["results"]]
    assert added == sorted(added, reverse=True)
    assert added[0] == max(item.added_at for item in sim.library.items.values())
    by_title = await get_json(client, sim, path, limit="0", sort="media.metadata.title")
    names = [row["media"]["metadata"]["title"].lower() for row in by_title["results"]]
    assert names == sorted(names)


async def test_series_filter_adds_one_series_object_and_sorts_by_sequence(
    library_2000: AbsSimulator, connect: MakeClient
) -> None:
    sim = library_2000
    series_id = next(
        link.series.id
        for item in sim.library.items.values()
        for link in item.series
        if link.sequence and "." in link.sequence
    )
    client = await connect(sim)
    body = await get_json(
        client,
        sim,
        f"/api/libraries/{sim.library.id}/items",
        filter=f"series.{b64(series_id)}",
        sort="sequence",
    )
    sequences = [row["media"]["metadata"]["series"]["sequence"] for row in body["results"]]
    assert sequences == sorted(sequences, key=float)
    assert any("." in sequence for sequence in sequences)
    assert {row["media"]["metadata"]["series"]["id"] for row in body["results"]} == {series_id}


async def test_other_filters_select_the_matching_items(
    library_2000: AbsSimulator, connect: MakeClient
) -> None:
    sim = library_2000
    client = await connect(sim)
    path = f"/api/libraries/{sim.library.id}/items"
    items = list(sim.library.items.values())
    standalones = await get_json(client, sim, path, filter=f"series.{b64('no-series')}", limit="0")
    assert standalones["total"] == sum(1 for item in items if not item.series)
    assert all(row["media"]["metadata"]["seriesName"] == "" for row in standalones["results"])
    narrator = next(name for item in items for name in item.narrators)
    narrated = await get_json(client, sim, path, filter=f"narrators.{b64(narrator)}", limit="0")
    assert narrated["total"] == sum(1 for item in items if narrator in item.narrators)
    author = items[0].authors[0]
    by_author = await get_json(client, sim, path, filter=f"authors.{b64(author.id)}", limit="0")
    assert {row["id"] for row in by_author["results"]} == {i.id for i in items if author in i.authors}
    genre = await get_json(client, sim, path, filter=f"genres.{b64('Horror')}", limit="0")
    assert genre["total"] == sum(1 for item in items if "Horror" in item.genres) > 0


async def test_collapseseries_folds_each_series_into_its_first_book(
    library_2000: AbsSimulator, connect: MakeClient
) -> None:
    sim = library_2000
    client = await connect(sim)
    body = await get_json(
        client, sim, f"/api/libraries/{sim.library.id}/items", collapseseries="1", limit="0"
    )
    items = sim.library.items.values()
    series = {item.series[0].series.id for item in items if item.series}
    assert body["total"] == len(series) + sum(1 for item in items if not item.series)
    folded = [row["collapsedSeries"] for row in body["results"] if "collapsedSeries" in row]
    assert sum(entry["numBooks"] for entry in folded) == sum(1 for item in items if item.series)


async def test_series_without_a_limit_answers_an_empty_list_with_the_right_total(
    library_2000: AbsSimulator, connect: MakeClient
) -> None:
    """The real server's trap: no `limit`, no results, but `total` is right."""
    sim = library_2000
    client = await connect(sim)
    path = f"/api/libraries/{sim.library.id}/series"
    trap = await get_json(client, sim, path)
    assert trap["results"] == []
    assert trap["total"] == len(sim.library.series)
    first = await get_json(client, sim, path, limit="5", page="0", sort="numBooks", desc="1")
    counts = [len(row["books"]) for row in first["results"]]
    assert counts == sorted(counts, reverse=True)


async def test_authors_change_shape_when_paged(library_2000: AbsSimulator, connect: MakeClient) -> None:
    sim = library_2000
    client = await connect(sim)
    path = f"/api/libraries/{sim.library.id}/authors"
    plain = await get_json(client, sim, path)
    assert set(plain) == {"authors"}
    paged = await get_json(client, sim, path, limit="10", page="1", sort="numBooks", desc="1")
    assert set(paged) == {"results", "total", "limit", "page", "sortBy", "sortDesc", "minified"}
    assert paged["total"] == len(plain["authors"])
    assert len(paged["results"]) == 10


async def test_search_matches_titles_series_authors_and_narrators(
    library_2000: AbsSimulator, connect: MakeClient
) -> None:
    sim = library_2000
    client = await connect(sim)
    item = next(item for item in sim.library.items.values() if item.series and item.narrators)
    path = f"/api/libraries/{sim.library.id}/search"
    by_title = await get_json(client, sim, path, q=item.title.upper(), limit="50")
    assert item.id in {hit["libraryItem"]["id"] for hit in by_title["book"]}
    by_series = await get_json(client, sim, path, q=item.series[0].series.name, limit="50")
    hit = next(hit for hit in by_series["series"] if hit["series"]["id"] == item.series[0].series.id)
    assert all(book["media"]["metadata"]["authors"] == [] for book in hit["books"])
    by_author = await get_json(client, sim, path, q=item.authors[0].name.lower(), limit="50")
    assert item.authors[0].id in {author["id"] for author in by_author["authors"]}
    by_narrator = await get_json(client, sim, path, q=item.narrators[0], limit="50")
    assert item.narrators[0] in {narrator["name"] for narrator in by_narrator["narrators"]}
    missing = await client.get(path, headers=admin(sim))
    assert missing.status == 400


# -- the generator -------------------------------------------------------------------------------------


def test_the_generator_is_deterministic() -> None:
    """The same seed gives the same ids and the same data; another seed gives another library."""
    first, second = generate_library(600, seed=11), generate_library(600, seed=11)
    assert list(first.items) == list(second.items)
    assert [abs_render.expanded_item(first, item) for item in first.items.values()] == [
        abs_render.expanded_item(second, item) for item in second.items.values()
    ]
    assert list(first.authors) == list(second.authors)
    assert list(first.series) == list(second.series)
    assert set(generate_library(600, seed=12).items).isdisjoint(first.items)


def test_the_generator_holds_what_a_real_library_holds() -> None:
    library = generate_library(3_000, seed=1)
    items = list(library.items.values())
    sequences = [link.sequence or "" for item in items for link in item.series]
    assert any(re.fullmatch(r"\d+\.5", sequence) for sequence in sequences), "novellas at x.5"
    assert any(len(item.authors) > 1 for item in items), "co-authored books"
    assert any(not item.series for item in items), "standalones"
    assert any(item.is_missing for item in items)
    assert any(item.is_invalid for item in items)
    assert any(re.match(r"^([A-Z]\. )+[A-Z]", author.name) for author in library.authors.values()), "initials"
    assert any(not item.narrators for item in items)
    assert any(len(item.narrators) > 1 for item in items)
    assert any(item.audio_ext == ".m4b" and item.parts == 1 for item in items)
    assert any(item.audio_ext == ".mp3" and item.parts > 1 for item in items)
    asins = [item.asin for item in items if item.asin]
    assert 0.75 < len(asins) / len(items) < 0.95
    assert all(re.fullmatch(r"[A-Z0-9]{10}", asin) for asin in asins)
    for isbn in (item.isbn for item in items if item.isbn):
        assert sum(int(d) * (3 if n % 2 else 1) for n, d in enumerate(isbn)) % 10 == 0
    gaps = 0
    for series_id in library.series:
        whole = sorted(int(s) for s in library_sequences(library, series_id) if s.isdigit())
        gaps += any(b - a > 1 for a, b in itertools.pairwise(whole))
    assert gaps > 0, "series with gaps"
    assert len({item.rel_path for item in items}) == len(items)


def library_sequences(library: Any, series_id: str) -> list[str]:
    return [link.sequence or "" for _, link in library.items_in_series(series_id)]


def test_ids_are_uuid5_of_the_library_namespace() -> None:
    """The fast id function gives exactly what `uuid.uuid5` gives."""
    factory = IdFactory("some-library")
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "mamd-sim-abs:some-library")
    for key in ("a", "Brandon Sanderson/Mistborn/Book 1 - The Final Empire", "ünïcode"):
        assert factory.make("item", key) == str(uuid.uuid5(namespace, f"item:{key}"))


def test_fifty_thousand_items_generate_quickly() -> None:
    """Measured at about 1.2 s on a slow 2-vCPU box; the bound only catches order-of-magnitude slips."""
    started = time.perf_counter()
    library = generate_library(50_000, seed=1)
    elapsed = time.perf_counter() - started
    assert len(library.items) == 50_000
    assert elapsed < 6.0
    with pytest.raises(ValueError, match="50000"):
        generate_library(50_001)


# -- structured data, batch get, auth ------------------------------------------------------------------


async def test_batch_get_returns_expanded_items_in_order_and_skips_unknown_ids(connect: MakeClient) -> None:
    sim = AbsSimulator.generated(50, seed=2)
    client = await connect(sim)
    wanted = list(sim.library.items)[:3]
    response = await client.post(
        "/api/items/batch/get",
        json={"libraryItemIds": [wanted[0], "no-such-id", wanted[1], wanted[2]]},
        headers=admin(sim),
    )
    body = await response.json()
    assert [item["id"] for item in body["libraryItems"]] == wanted
    assert all(
        "tracks" in item["media"] and item["media"]["metadata"]["authors"] for item in body["libraryItems"]
    )
    bad = await client.post("/api/items/batch/get", json={"ids": wanted}, headers=admin(sim))
    assert bad.status == 400


async def test_a_missing_or_wrong_token_gets_plain_text_401(connect: MakeClient) -> None:
    sim = AbsSimulator.generated(10)
    client = await connect(sim)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": sim.api_key}):
        response = await client.get("/api/libraries", headers=headers)
        assert response.status == 401
        assert await response.text() == "Unauthorized"
        assert response.content_type == "text/plain"
    by_query = await client.get("/api/libraries", params={"token": sim.api_key})
    assert by_query.status == 200
    post_by_query = await client.post(f"/api/libraries/{sim.library.id}/scan", params={"token": sim.api_key})
    assert post_by_query.status == 401, "?token= is for GET only"
    for probe in ("/healthcheck", "/ping", "/status", "/audiobookshelf/status"):
        assert (await client.get(probe)).status == 200
    prefixed = await client.get("/audiobookshelf/api/libraries", headers=admin(sim))
    assert (await prefixed.json())["libraries"][0]["id"] == sim.library.id


async def test_the_non_admin_key_reads_but_gets_403_on_admin_routes(connect: MakeClient) -> None:
    sim = AbsSimulator.generated(10)
    client = await connect(sim)
    library, item = sim.library.id, next(iter(sim.library.items))
    assert (await client.get(f"/api/libraries/{library}/items", headers=reader(sim))).status == 200
    me = await (await client.get("/api/me", headers=reader(sim))).json()
    assert me["type"] == "user"
    for method, path in (
        ("POST", f"/api/libraries/{library}/scan"),
        ("GET", "/api/api-keys"),
        ("DELETE", f"/api/libraries/{library}/issues"),
        ("POST", "/api/watcher/update"),
        ("POST", f"/api/items/{item}/scan"),
    ):
        response = await client.request(method, path, headers=reader(sim), json={})
        assert response.status == 403, path
    assert sim.scan_requests == []


async def test_unknown_ids_are_404(connect: MakeClient) -> None:
    sim = AbsSimulator.generated(10)
    client = await connect(sim)
    for path in (
        "/api/libraries/nope",
        "/api/libraries/nope/items",
        "/api/items/nope",
        "/api/series/nope",
        "/api/authors/nope",
        f"/api/libraries/{sim.library.id}/series/nope",
    ):
        response = await client.get(path, headers=admin(sim))
        assert response.status == 404, path
        assert await response.text() == "Not Found"


async def test_login_accepts_the_configured_users_and_its_tokens_work(connect: MakeClient) -> None:
    sim = AbsSimulator.generated(5)
    client = await connect(sim)
    wrong = await client.post("/login", json={"username": "root", "password": "nope"})
    assert wrong.status == 401
    answer = await (await client.post("/login", json={"username": "reader", "password": sim.password})).json()
    assert answer["user"]["type"] == "user"
    assert answer["user"]["refreshToken"] is None
    token = answer["user"]["accessToken"]
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert (await me.json())["username"] == "reader"


# -- faults --------------------------------------------------------------------------------------------


@pytest.fixture
async def faulty(connect: MakeClient) -> tuple[AbsSimulator, Client]:
    sim = AbsSimulator.generated(20)
    return sim, await connect(sim)


async def test_latency_delays_every_request(faulty: tuple[AbsSimulator, Client]) -> None:
    sim, client = faulty
    sim.faults.add_latency(0.2)
    started = time.monotonic()
    assert (await client.get("/ping")).status == 200
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (503, 7), (429, None), (401, None)])
async def test_the_next_requests_answer_an_injected_status(
    faulty: tuple[AbsSimulator, Client], status: int, retry_after: int | None
) -> None:
    sim, client = faulty
    sim.faults.fail_next(2, status, retry_after=retry_after, path_prefix="/api/libraries")
    assert (await client.get("/api/me", headers=admin(sim))).status == 200, "outside the prefix"
    for _ in range(2):
        response = await client.get("/api/libraries", headers=admin(sim))
        assert response.status == status
        expected = str(retry_after) if retry_after else "1" if status == 429 else None
        assert response.headers.get("Retry-After") == expected
    assert (await client.get("/api/libraries", headers=admin(sim))).status == 200
    if status == 401:
        sim.faults.fail_next(1, 401)
        assert await (await client.get("/api/libraries", headers=admin(sim))).text() == "Unauthorized"


async def test_garbage_is_a_200_that_is_not_json(faulty: tuple[AbsSimulator, Client]) -> None:
    sim, client = faulty
    sim.faults.garbage_next(1)
    response = await client.get("/api/libraries", headers=admin(sim))
    assert response.status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(await response.text())
    assert (await client.get("/api/libraries", headers=admin(sim))).status == 200


async def test_a_hang_outlasts_the_client_timeout_and_clears(faulty: tuple[AbsSimulator, Client]) -> None:
    sim, client = faulty
    sim.faults.hang_next(1)
    with pytest.raises(asyncio.TimeoutError):
        await client.get("/api/libraries", headers=admin(sim), timeout=aiohttp.ClientTimeout(total=0.3))
    sim.faults.clear()
    assert (await client.get("/api/libraries", headers=admin(sim))).status == 200


async def test_fail_after_k_successes_breaks_a_sync_half_way(faulty: tuple[AbsSimulator, Client]) -> None:
    sim, client = faulty
    sim.faults.fail_after_successes(3, 502, count=2)
    statuses = [(await client.get("/api/libraries", headers=admin(sim))).status for _ in range(6)]
    assert statuses == [200, 200, 200, 502, 502, 200]


# -- scans ---------------------------------------------------------------------------------------------


def write_book(root: Path, rel_path: str, *names: str, sidecar: dict[str, Any] | None = None) -> Path:
    folder = root / rel_path
    folder.mkdir(parents=True, exist_ok=True)
    for name in names or ("book.m4b",):
        (folder / name).write_bytes(b"\0" * 8_000)
    if sidecar is not None:
        (folder / "metadata.json").write_text(json.dumps(sidecar), encoding="utf-8")
    return folder


async def test_a_library_scan_answers_at_once_and_moves_lastscan_after_the_delay(
    tmp_path: Path, connect: MakeClient
) -> None:
    write_book(tmp_path, "Andy Weir/Project Hail Mary")
    sim = AbsSimulator.from_folder(tmp_path, scan_delay=0.3)
    client = await connect(sim)
    library_path = f"/api/libraries/{sim.library.id}"
    before = (await get_json(client, sim, library_path))["lastScan"]
    write_book(tmp_path, "Andy Weir/The Martian [B082BHJMFF]", "Part 01.mp3", "Part 02.mp3")
    started = time.monotonic()
    response = await client.post(f"{library_path}/scan", headers=admin(sim))
    assert response.status == 200
    assert time.monotonic() - started < 0.25
    tasks = await get_json(client, sim, "/api/tasks")
    assert [task["action"] for task in tasks["tasks"]] == ["library-scan"]
    ignored = await client.post(f"{library_path}/scan", headers=admin(sim))
    assert ignored.status == 200
    assert [scan.accepted for scan in sim.scan_requests] == [True, False]
    assert (await get_json(client, sim, library_path))["lastScan"] == before
    await sim.wait_for_scans(max_wait=5)
    after = (await get_json(client, sim, library_path))["lastScan"]
    assert after > before
    assert after >= sim.scan_requests[0].requested_at + 300
    assert (await get_json(client, sim, "/api/tasks")) == {"tasks": []}
    assert sim.scanner.completed == 1
    newest = await get_json(client, sim, f"{library_path}/items", sort="addedAt", desc="1", limit="1")
    (row,) = newest["results"]
    assert row["relPath"] == "Andy Weir/The Martian [B082BHJMFF]"
    assert row["addedAt"] >= sim.scan_requests[0].requested_at
    assert row["media"]["metadata"]["asin"] == "B082BHJMFF"
    assert row["media"]["numAudioFiles"] == 2


async def test_a_removed_folder_turns_missing_and_clearing_issues_removes_it(
    tmp_path: Path, connect: MakeClient
) -> None:
    gone = write_book(tmp_path, "Naomi Novik/Uprooted")
    write_book(tmp_path, "Naomi Novik/Temeraire/Book 1 - His Majesty's Dragon")
    sim = AbsSimulator.from_folder(tmp_path, scan_delay=0.05)
    client = await connect(sim)
    item_id = sim.item_titled("Uprooted").id
    for child in gone.iterdir():
        child.unlink()
    gone.rmdir()
    await client.post(f"/api/libraries/{sim.library.id}/scan", headers=admin(sim))
    await sim.wait_for_scans(max_wait=5)
    item = await get_json(client, sim, f"/api/items/{item_id}")
    assert item["isMissing"] is True
    listed = await get_json(client, sim, f"/api/libraries/{sim.library.id}/items")
    assert listed["total"] == 2, "missing items still count"
    rescan = await client.post(f"/api/items/{item_id}/scan", headers=admin(sim))
    assert await rescan.json() == {"result": "REMOVED"}
    cleared = await client.delete(f"/api/libraries/{sim.library.id}/issues", headers=admin(sim))
    assert cleared.status == 200
    assert (await client.get(f"/api/items/{item_id}", headers=admin(sim))).status == 404
    authors = await get_json(client, sim, f"/api/libraries/{sim.library.id}/authors")
    assert [author["numBooks"] for author in authors["authors"]] == [1]


async def test_an_item_rescan_reports_changes_to_its_folder(tmp_path: Path, connect: MakeClient) -> None:
    folder = write_book(tmp_path, "Terry Pratchett/Good Omens")
    sim = AbsSimulator.from_folder(tmp_path)
    client = await connect(sim)
    item_id = sim.item_titled("Good Omens").id
    scan = f"/api/items/{item_id}/scan"
    assert await (await client.post(scan, headers=admin(sim))).json() == {"result": "UPTODATE"}
    (folder / "metadata.json").write_text(json.dumps({"authors": ["Terry Pratchett", "Neil Gaiman"]}))
    assert await (await client.post(scan, headers=admin(sim))).json() == {"result": "UPDATED"}
    item = await get_json(client, sim, f"/api/items/{item_id}")
    assert [author["name"] for author in item["media"]["metadata"]["authors"]] == [
        "Terry Pratchett",
        "Neil Gaiman",
    ]


async def test_the_watcher_route_does_nothing_when_the_watcher_is_disabled(
    tmp_path: Path, connect: MakeClient
) -> None:
    write_book(tmp_path, "Andy Weir/Project Hail Mary")
    sim = AbsSimulator.from_folder(tmp_path, watcher_delay=0.05)
    sim.set_watcher_disabled(True)
    client = await connect(sim)
    new = write_book(tmp_path, "Andy Weir/The Martian")
    body = {"libraryId": sim.library.id, "path": str(new / "book.m4b"), "type": "add"}
    assert (await client.post("/api/watcher/update", json=body, headers=admin(sim))).status == 200
    await asyncio.sleep(0.2)
    assert len(sim.library.items) == 1
    sim.set_watcher_disabled(False)
    assert (await client.post("/api/watcher/update", json=body, headers=admin(sim))).status == 200
    for _ in range(250):  # up to 5 s
        if len(sim.library.items) == 2:
            break
        await asyncio.sleep(0.02)
    assert len(sim.library.items) == 2
    assert [event["queued"] for event in sim.scanner.watcher_events] == [False, True]


# -- folder parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "title", "sequence", "year", "narrators", "asin"),
    [
        ("Book 2 - X", "X", "2", None, (), None),
        ("2 - X", "X", "2", None, (), None),
        ("Vol. 7 - Pyramids", "Pyramids", "7", None, (), None),
        ("Vol 1 - X", "X", "1", None, (), None),
        ("1. X", "X", "1", None, (), None),
        ("Book 2.5 - Gods of Risk", "Gods of Risk", "2.5", None, (), None),
        ("1969 - The Left Hand of Darkness", "The Left Hand of Darkness", None, "1969", (), None),
        ("X {Narrator A, Narrator B}", "X", None, None, ("Narrator A", "Narrator B"), None),
        ("The Martian [B082BHJMFF]", "The Martian", None, None, (), "B082BHJMFF"),
        (
            "Book 1 - The Way of Kings {Michael Kramer, Kate Reading} [B003P2WO5E]",
            "The Way of Kings",
            "1",
            None,
            ("Michael Kramer", "Kate Reading"),
            "B003P2WO5E",
        ),
        (
            "Good Omens - The Nice and Accurate Prophecies",
            "Good Omens - The Nice and Accurate Prophecies",
            None,
            None,
            (),
            None,
        ),
        ("X [not-an-asin]", "X [not-an-asin]", None, None, (), None),
    ],
)
def test_title_folder_names_parse_as_abs_parses_them(
    folder: str,
    title: str,
    sequence: str | None,
    year: str | None,
    narrators: tuple[str, ...],
    asin: str | None,
) -> None:
    parsed = parse_title_folder(folder)
    assert (parsed.title, parsed.sequence, parsed.year, parsed.narrators, parsed.asin) == (
        title,
        sequence,
        year,
        narrators,
        asin,
    )


@pytest.mark.parametrize(
    ("folder", "authors"),
    [
        ("Brandon Sanderson", ["Brandon Sanderson"]),
        ("Pratchett, Terry", ["Terry Pratchett"]),
        ("Terry Pratchett, Neil Gaiman", ["Terry Pratchett", "Neil Gaiman"]),
        ("Terry Pratchett & Neil Gaiman", ["Terry Pratchett", "Neil Gaiman"]),
        ("Pratchett, Terry & Gaiman, Neil", ["Terry Pratchett", "Neil Gaiman"]),
        ("Le Guin, Ursula K.", ["Ursula K. Le Guin"]),
        ("James S. A. Corey", ["James S. A. Corey"]),
    ],
)
def test_author_folders_split_into_authors(folder: str, authors: list[str]) -> None:
    assert parse_authors(folder) == authors


def test_a_library_folder_is_read_as_abs_reads_it(tmp_path: Path) -> None:
    write_book(tmp_path, "Brandon Sanderson/Mistborn/Book 2.5 - The Eleventh Metal", "a.m4b")
    write_book(
        tmp_path,
        "Brandon Sanderson/The Stormlight Archive/Book 1 - The Way of Kings {Michael Kramer, Kate Reading}",
        "The Way of Kings - Part 01.mp3",
        "The Way of Kings - Part 02.mp3",
        "The Way of Kings - Part 03.mp3",
    )
    write_book(tmp_path, "Ursula K. Le Guin/1969 - The Left Hand of Darkness", "book.mp3")
    write_book(tmp_path, "Pratchett, Terry & Gaiman, Neil/Good Omens", "book.m4b")
    write_book(tmp_path, "Naomi Novik/Temeraire/Book 3 - Black Powder War/CD1", "track 01.mp3")
    write_book(tmp_path, "Naomi Novik/Temeraire/Book 3 - Black Powder War/CD2", "track 02.mp3")
    write_book(
        tmp_path,
        "James S. A. Corey/The Expanse/Book 1 - Leviathan Wakes",
        "book.m4b",
        sidecar={
            "title": "Leviathan Wakes",
            "subtitle": "The Expanse, Book One",
            "authors": ["James S. A. Corey"],
            "narrators": ["Jefferson Mays"],
            "series": ["The Expanse #1", "Expanse Universe #1.0"],
            "genres": ["Science Fiction"],
            "publishedYear": "2011",
            "publisher": "Hachette Audio",
            "description": "Humanity has colonized the solar system.",
            "isbn": "9780316129084",
            "asin": "B005BXGLJG",
            "language": "English",
            "explicit": False,
            "abridged": True,
        },
    )
    (tmp_path / "Loose Audiobook.mp3").write_bytes(b"\0" * 4_000)
    (tmp_path / "Empty Author" / "No Audio").mkdir(parents=True)
    (tmp_path / "Empty Author" / "No Audio" / "cover.jpg").write_bytes(b"\xff")
    sim = AbsSimulator.from_folder(tmp_path)
    by_title = {item.title: item for item in sim.library.items.values()}
    assert len(by_title) == 7
    eleventh = by_title["The Eleventh Metal"]
    assert [(link.series.name, link.sequence) for link in eleventh.series] == [("Mistborn", "2.5")]
    kings = by_title["The Way of Kings"]
    assert kings.narrators == ("Michael Kramer", "Kate Reading")
    assert kings.num_audio == 3
    assert kings.series_name == "The Stormlight Archive #1"
    assert by_title["The Left Hand of Darkness"].published_year == "1969"
    assert by_title["The Left Hand of Darkness"].series == ()
    assert [a.name for a in by_title["Good Omens"].authors] == ["Terry Pratchett", "Neil Gaiman"]
    war = by_title["Black Powder War"]
    assert war.num_audio == 2
    assert war.rel_path == "Naomi Novik/Temeraire/Book 3 - Black Powder War"
    leviathan = by_title["Leviathan Wakes"]
    assert leviathan.subtitle == "The Expanse, Book One"
    assert leviathan.abridged is True
    assert leviathan.series_name == "The Expanse #1, Expanse Universe #1.0"
    assert (leviathan.asin, leviathan.isbn, leviathan.language) == ("B005BXGLJG", "9780316129084", "English")
    assert leviathan.narrators == ("Jefferson Mays",)
    loose = by_title["Loose Audiobook"]
    assert loose.is_file
    assert loose.authors == ()
    folder_stat = (tmp_path / kings.rel_path).stat()
    assert kings.ino == str(folder_stat.st_ino)
    assert sim.library.folder_path == str(tmp_path.resolve())


# -- changing the state, and the /__sim/ controls ---------------------------------------------------------


async def test_control_methods_change_what_the_api_shows(connect: MakeClient) -> None:
    sim = AbsSimulator.generated(30, seed=5)
    client = await connect(sim)
    path = f"/api/libraries/{sim.library.id}/items"
    added = sim.add_item(
        "The Hero of Ages", authors=["Brandon Sanderson"], series=[("Mistborn", "3")], asin="B002UZJGYY"
    )
    newest = await get_json(client, sim, path, sort="addedAt", desc="1", limit="1")
    assert newest["results"][0]["id"] == added.id
    assert newest["results"][0]["media"]["metadata"]["seriesName"] == "Mistborn #3"
    target = next(iter(sim.library.items.values()))
    before = target.updated_at
    await asyncio.sleep(0.002)
    sim.update_item(target.id, title="Renamed", narrators=["Someone New"])
    item = await get_json(client, sim, f"/api/items/{target.id}")
    assert item["media"]["metadata"]["title"] == "Renamed"
    assert item["updatedAt"] > before
    sim.mark_missing(target.id)
    sim.mark_invalid(added.id)
    assert (await get_json(client, sim, f"/api/items/{target.id}"))["isMissing"] is True
    assert (await get_json(client, sim, f"/api/items/{added.id}"))["isInvalid"] is True
    sim.remove_item(added.id)
    assert (await client.get(f"/api/items/{added.id}", headers=admin(sim))).status == 404


async def test_the_sim_control_endpoints_drive_a_simulator_over_http(connect: MakeClient) -> None:
    sim = AbsSimulator.generated(10, scan_delay=0.05)
    client = await connect(sim)
    state = await (await client.get("/__sim/state")).json()
    assert state["items"] == 10
    assert state["libraryId"] == sim.library.id
    created = await client.post(
        "/__sim/items", json={"title": "New Book", "authors": ["A. Writer"], "series": ["Saga #2.5"]}
    )
    assert created.status == 201
    item = (await created.json())["item"]
    assert item["media"]["metadata"]["series"][0]["sequence"] == "2.5"
    changed = await client.patch(
        f"/__sim/items/{item['id']}", json={"publishedYear": "2020", "isMissing": True}
    )
    assert (await changed.json())["item"]["isMissing"] is True
    assert (await client.patch(f"/__sim/items/{item['id']}", json={"colour": "red"})).status == 400
    assert (await client.post("/__sim/faults", json={"kind": "status", "count": "many"})).status == 400
    assert (await client.post("/__sim/faults", json={"kind": "flood"})).status == 400
    assert (await client.delete(f"/__sim/items/{item['id']}")).status == 200
    assert (await client.delete(f"/__sim/items/{item['id']}")).status == 404
    await client.post("/__sim/faults", json={"kind": "status", "status": 503, "count": 1, "retryAfter": 2})
    failed = await client.get("/api/libraries", headers=admin(sim))
    assert failed.status == 503
    assert failed.headers["Retry-After"] == "2"
    await client.post("/__sim/faults", json={"kind": "failAfter", "successes": 0, "status": 500})
    assert (await client.get("/__sim/state")).status == 200, "faults never touch the controls"
    assert (await client.get("/api/libraries", headers=admin(sim))).status == 500
    assert (await (await client.delete("/__sim/faults")).json())["failAfter"] is None
    await client.patch("/__sim/library", json={"disableWatcher": True, "scanDelay": 0.01})
    assert sim.library.disable_watcher is True
    assert sim.scan_delay == 0.01
    await client.post(f"/api/libraries/{sim.library.id}/scan", headers=admin(sim))
    await sim.wait_for_scans(max_wait=5)
    scans = await (await client.get("/__sim/scans")).json()
    assert [scan["accepted"] for scan in scans["scans"]] == [True]
    assert scans["completed"] == 1
    assert (await client.get("/api/__sim/state", headers=admin(sim))).status == 404
    assert (await client.get("/audiobookshelf/__sim/state")).status == 404


# -- the standalone process ----------------------------------------------------------------------------


async def test_the_simulator_runs_as_a_process_and_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mamd.sim.abs",
        "--port",
        "0",
        "--api-key",
        "process-key",
        "--items",
        "200",
        "--seed",
        "4",
        "--scan-delay",
        "0.05",
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        found = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert found, line
        base = found.group(1)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            async with session.get(f"{base}/ping") as response:
                assert await response.json() == {"success": True}
            headers = {"Authorization": "Bearer process-key"}
            async with session.get(f"{base}/api/libraries", headers=headers) as response:
                library = (await response.json())["libraries"][0]
            async with session.get(
                f"{base}/api/libraries/{library['id']}/items?limit=0", headers=headers
            ) as response:
                assert (await response.json())["total"] == 200
            async with session.get(f"{base}/__sim/state") as response:
                assert (await response.json())["items"] == 200
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
