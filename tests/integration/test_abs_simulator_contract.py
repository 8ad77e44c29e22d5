"""The ABS simulator against every recorded ABS 2.36 answer in `tests/fixtures/abs-samples/`.

For each sample the simulator, built from the same 23-book library (`library_manifest.json`), gets the
request the sample came from (`REQUESTS`). Its answer must have the sample's key structure at every
depth: the same keys in every object, the same JSON types (a null in the sample admits any type; a null
from the simulator where the sample has a value does not), and list elements shaped like the sample's.
Values need not match, except those the samples exist to show: paging echoes, totals, the empty
`results` traps, collapsing, the series and author filters, search hits, and the library's metadata.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mamd.sim.abs.app import AbsSimulator

SAMPLES = Path(os.environ.get("ABS_SAMPLES", Path(__file__).parents[1] / "fixtures" / "abs-samples"))
MANIFEST = SAMPLES / "library_manifest.json"
NOT_RESPONSES = {"library_manifest.json"}
Client = TestClient[Any, Any]


@dataclass(frozen=True)
class Call:
    """The request a sample came from; `{name}` placeholders are ids looked up in the simulator."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: bool = True


LIB = "/api/libraries/{lib}"
REQUESTS: dict[str, Call] = {
    "status.json": Call("GET", "/status", auth=False),
    "login.json": Call("POST", "/login", body={"username": "root", "password": "{password}"}, auth=False),
    "login_x_return_tokens.json": Call(
        "POST",
        "/login",
        body={"username": "root", "password": "{password}"},
        headers={"x-return-tokens": "true"},
        auth=False,
    ),
    "me.json": Call("GET", "/api/me"),
    "api_keys.json": Call("GET", "/api/api-keys"),
    "libraries.json": Call("GET", "/api/libraries"),
    "library.json": Call("GET", LIB),
    "library_include_filterdata.json": Call("GET", LIB, {"include": "filterdata"}),
    "filterdata.json": Call("GET", f"{LIB}/filterdata"),
    "library_stats.json": Call("GET", f"{LIB}/stats"),
    "items_all.json": Call("GET", f"{LIB}/items"),
    "items_limit5_page0.json": Call("GET", f"{LIB}/items", {"limit": "5", "page": "0"}),
    "items_limit5_page4.json": Call("GET", f"{LIB}/items", {"limit": "5", "page": "4"}),
    "items_limit5_page9_past_end.json": Call("GET", f"{LIB}/items", {"limit": "5", "page": "9"}),
    "items_minified.json": Call("GET", f"{LIB}/items", {"limit": "3", "page": "0", "minified": "1"}),
    "items_sort_title.json": Call(
        "GET", f"{LIB}/items", {"limit": "100", "page": "0", "sort": "media.metadata.title"}
    ),
    "items_sort_addedAt_desc.json": Call(
        "GET", f"{LIB}/items", {"limit": "5", "page": "0", "sort": "addedAt", "desc": "1"}
    ),
    "items_collapseseries.json": Call(
        "GET", f"{LIB}/items", {"collapseseries": "1", "limit": "100", "page": "0"}
    ),
    "items_filter_series.json": Call(
        "GET", f"{LIB}/items", {"filter": "series.{b64:mistborn}", "sort": "sequence"}
    ),
    "items_filter_author.json": Call(
        "GET", f"{LIB}/items", {"filter": "authors.{b64:sanderson}", "limit": "100", "page": "0"}
    ),
    "item_m4b.json": Call("GET", "/api/items/{final_empire}"),
    "item_m4b_expanded.json": Call(
        "GET", "/api/items/{final_empire}", {"expanded": "1", "include": "progress"}
    ),
    "item_mp3_multipart_expanded.json": Call("GET", "/api/items/{way_of_kings}", {"expanded": "1"}),
    "item_metadata_json_coauthor_expanded.json": Call("GET", "/api/items/{good_omens}", {"expanded": "1"}),
    "item_opf_expanded.json": Call("GET", "/api/items/{pyramids}", {"expanded": "1"}),
    "items_batch_get.json": Call(
        "POST", "/api/items/batch/get", body={"libraryItemIds": ["{leviathan}", "{final_empire}"]}
    ),
    "item_scan_result.json": Call("POST", "/api/items/{final_empire}/scan"),
    "series_all.json": Call("GET", f"{LIB}/series", {"limit": "100", "page": "0"}),
    "series_limit2_page1_sort_name.json": Call(
        "GET", f"{LIB}/series", {"limit": "2", "page": "1", "sort": "name"}
    ),
    "series_no_limit_EMPTY.json": Call("GET", f"{LIB}/series"),
    "series_one.json": Call("GET", "/api/series/{mistborn}"),
    "series_one_include_progress.json": Call("GET", "/api/series/{mistborn}", {"include": "progress"}),
    "library_series_one.json": Call("GET", f"{LIB}/series/{{mistborn}}"),
    "authors_all.json": Call("GET", f"{LIB}/authors"),
    "authors_paginated.json": Call("GET", f"{LIB}/authors", {"limit": "3", "page": "0", "sort": "name"}),
    "author_one.json": Call("GET", "/api/authors/{sanderson}"),
    "author_one_include_items_series.json": Call(
        "GET", "/api/authors/{sanderson}", {"include": "items,series"}
    ),
    "narrators.json": Call("GET", f"{LIB}/narrators"),
    "search_expanse.json": Call("GET", f"{LIB}/search", {"q": "expanse", "limit": "5"}),
    "search_sanderson.json": Call("GET", f"{LIB}/search", {"q": "sanderson", "limit": "5"}),
    "tasks.json": Call("GET", "/api/tasks"),
}


def _sample_names() -> list[str]:
    on_disk = {path.name for path in SAMPLES.glob("*.json")} - NOT_RESPONSES if SAMPLES.is_dir() else set()
    return sorted(on_disk | set(REQUESTS))


# -- the structural comparison -----------------------------------------------------------------------


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def compare(actual: Any, samples: list[Any], path: str, problems: list[str]) -> None:
    """Check `actual` against every value the samples hold at the same place (their union)."""
    kinds = {kind(sample) for sample in samples}
    actual_kind = kind(actual)
    if actual_kind == "null":
        if "null" not in kinds:
            problems.append(f"{path}: null where the sample has {sorted(kinds)}")
        return
    if actual_kind not in kinds:
        if "null" not in kinds:
            problems.append(f"{path}: {actual_kind} where the sample has {sorted(kinds)}")
        return
    if actual_kind == "object":
        objects = [sample for sample in samples if isinstance(sample, dict)]
        keysets = {frozenset(sample) for sample in objects}
        if frozenset(actual) not in keysets:
            closest = min(keysets, key=lambda keys: len(keys ^ set(actual)))
            missing, extra = sorted(closest - set(actual)), sorted(set(actual) - closest)
            problems.append(f"{path}: keys differ; missing {missing}, extra {extra}")
        for key, value in actual.items():
            values = [sample[key] for sample in objects if key in sample]
            if values:
                compare(value, values, f"{path}.{key}", problems)
    elif actual_kind == "array":
        lists = [sample for sample in samples if isinstance(sample, list)]
        elements = [element for sample in lists for element in sample]
        if not actual and lists and all(lists):
            problems.append(f"{path}: empty where the sample's lists never are")
        if elements:
            for index, element in enumerate(actual):
                compare(element, elements, f"{path}[{index}]", problems)


# -- the simulator and the requests --------------------------------------------------------------------


@pytest.fixture
def sim() -> AbsSimulator:
    return AbsSimulator.from_manifest(MANIFEST, library_path="/srv/media/audiobooks")


@pytest.fixture
async def abs_client(sim: AbsSimulator, aiohttp_client: Any) -> Client:
    client: Client = await aiohttp_client(sim.app)
    return client


def ids_of(sim: AbsSimulator) -> dict[str, str]:
    """The simulator's ids of the things the samples name, by name or title."""
    found = {
        "lib": sim.library.id,
        "password": sim.password,
        "mistborn": sim.series_id("Mistborn"),
        "sanderson": sim.author_id("Brandon Sanderson"),
        "final_empire": sim.item_titled("The Final Empire").id,
        "way_of_kings": sim.item_titled("The Way of Kings").id,
        "good_omens": sim.item_titled("Good Omens").id,
        "pyramids": sim.item_titled("Pyramids").id,
        "leviathan": sim.item_titled("Leviathan Wakes").id,
    }
    for name in ("mistborn", "sanderson"):
        # filter values are base64 and then URL-encoded; aiohttp encodes the query once more
        found[f"b64:{name}"] = base64.b64encode(found[name].encode()).decode()
    return found


def fill(template: Any, ids: dict[str, str]) -> Any:
    if isinstance(template, str):
        for name, value in ids.items():
            template = template.replace(f"{{{name}}}", value)
        return template
    if isinstance(template, list):
        return [fill(value, ids) for value in template]
    if isinstance(template, dict):
        return {key: fill(value, ids) for key, value in template.items()}
    return template


async def answer(client: Client, sim: AbsSimulator, call: Call) -> Any:
    ids = ids_of(sim)
    headers = dict(call.headers)
    if call.auth:
        headers["Authorization"] = f"Bearer {sim.api_key}"
    response = await client.request(
        call.method,
        fill(call.path, ids),
        params=fill(call.params, ids),
        json=fill(call.body, ids),
        headers=headers,
    )
    assert response.status == 200, f"{call.method} {call.path}: {response.status} {await response.text()}"
    return await response.json()


# -- what the samples exist to show ------------------------------------------------------------------


def titles(results: list[dict[str, Any]]) -> list[str]:
    return [row["media"]["metadata"]["title"] for row in results]


def joined(row: dict[str, Any]) -> tuple[Any, ...]:
    metadata = row["media"]["metadata"]
    return tuple(
        metadata.get(key) for key in ("title", "authorName", "authorNameLF", "narratorName", "seriesName")
    )


def structured(item: dict[str, Any]) -> dict[str, Any]:
    """An item's metadata without ids: what the library holds, which the simulator must reproduce."""
    metadata = dict(item["media"]["metadata"])
    metadata["authors"] = [author["name"] for author in metadata.get("authors", [])]
    metadata["series"] = [(entry["name"], entry["sequence"]) for entry in metadata.get("series", [])]
    files = [(entry["metadata"]["filename"], entry["fileType"]) for entry in item.get("libraryFiles", [])]
    media = item["media"]
    counts = {key: media.get(key) for key in ("numTracks", "numAudioFiles", "numChapters")}
    return {"metadata": metadata, "files": files, "counts": counts, "relPath": item["relPath"]}


def check_semantics(name: str, actual: Any, sample: Any, ids: dict[str, str]) -> None:
    if isinstance(sample, dict):
        for key in ("total", "limit", "page", "offset", "sortBy", "sortDesc", "minified", "collapseseries"):
            if key in sample:
                assert actual[key] == sample[key], f"{key} echoes {sample[key]!r}"
        if "results" in sample:
            assert len(actual["results"]) == len(sample["results"])
        if (
            isinstance(sample.get("results"), list)
            and sample["results"]
            and "relPath" in sample["results"][0]
        ):
            assert {row["relPath"]: joined(row) for row in actual["results"]} == {
                row["relPath"]: joined(row) for row in sample["results"]
            }
    check = SEMANTICS.get(name)
    if check is not None:
        check(actual, sample, ids)


def _sorted_titles(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    assert titles(actual["results"]) == titles(sample["results"])


def _newest_first(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    added = [row["addedAt"] for row in actual["results"]]
    assert added == sorted(added, reverse=True)
    assert titles(actual["results"]) == titles(sample["results"])


def _collapsed(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    def series(rows: list[dict[str, Any]]) -> dict[str, int]:
        return {
            row["collapsedSeries"]["name"]: row["collapsedSeries"]["numBooks"]
            for row in rows
            if "collapsedSeries" in row
        }

    assert actual["total"] == 12
    assert series(actual["results"]) == series(sample["results"])


def _mistborn(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    found = [
        (row["media"]["metadata"]["title"], row["media"]["metadata"]["series"]) for row in actual["results"]
    ]
    assert found == [
        (title, {"id": ids["mistborn"], "name": "Mistborn", "sequence": sequence})
        for title, sequence in (
            ("The Final Empire", "1"),
            ("The Well of Ascension", "2"),
            ("The Alloy of Law", "4"),
        )
    ]
    assert actual["filterBy"] == f"series.{ids['b64:mistborn']}"


def _sanderson(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    assert actual["total"] == 6
    assert sorted(titles(actual["results"])) == sorted(titles(sample["results"]))
    assert actual["filterBy"] == f"authors.{ids['b64:sanderson']}"


def _same_items(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    actual_items = actual.get("libraryItems", [actual])
    sample_items = sample.get("libraryItems", [sample])
    assert [structured(item) for item in actual_items] == [structured(item) for item in sample_items]


def _series_books(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    def books(results: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
        return [
            (row["name"], [book["media"]["metadata"]["seriesName"] for book in row["books"]])
            for row in results
        ]

    assert books(actual["results"]) == books(sample["results"])


def _no_limit_trap(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    assert actual["results"] == []
    assert actual["total"] == 6


def _authors(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    rows = actual.get("authors", actual.get("results"))
    expected = sample.get("authors", sample.get("results"))
    assert [(a["name"], a["numBooks"], a["lastFirst"]) for a in rows] == [
        (a["name"], a["numBooks"], a["lastFirst"]) for a in expected
    ]


def _author_series(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    def shape(author: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
        return [
            (
                series["name"],
                [
                    (item["media"]["metadata"]["title"], item["media"]["metadata"]["series"]["sequence"])
                    for item in series["items"]
                ],
            )
            for series in author["series"]
        ]

    assert shape(actual) == shape(sample)
    assert titles(actual["libraryItems"]) == titles(sample["libraryItems"])


def _narrators(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    # Narrator ids are the URL-encoded base64 of the name, so they equal the real server's
    assert actual == sample


def _search_expanse(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    assert actual["book"] == []
    (hit,) = actual["series"]
    assert hit["series"]["name"] == "The Expanse"
    assert titles(hit["books"]) == titles(sample["series"][0]["books"])
    for book in hit["books"]:
        # the trap: search hits carry empty structured authors and series
        assert book["media"]["metadata"]["authors"] == []
        assert book["media"]["metadata"]["series"] == []


def _search_sanderson(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    assert actual["book"] == []
    assert [(a["name"], a["numBooks"]) for a in actual["authors"]] == [("Brandon Sanderson", 6)]


def _filterdata(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    data, expected = actual.get("filterdata", actual), sample.get("filterdata", sample)
    for key in ("authors", "series"):
        assert [entry["name"] for entry in data[key]] == [entry["name"] for entry in expected[key]]
    for key in ("narrators", "genres", "tags", "languages", "publishers"):
        assert data[key] == expected[key]
    assert sorted(data["publishedDecades"]) == sorted(expected["publishedDecades"])


def _stats(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    for key in ("totalItems", "totalAuthors", "totalGenres", "numAudioTracks"):
        assert actual[key] == sample[key], key
    assert actual["genresWithCount"] == sample["genresWithCount"]
    assert [entry["title"] for entry in actual["longestItems"]][:4] == [
        entry["title"] for entry in sample["longestItems"]
    ][:4]


def _progress(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    assert len(actual["progress"]["libraryItemIds"]) == 3


def _login(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    assert actual["user"]["refreshToken"] is None
    assert actual["user"]["type"] == "root"


def _login_tokens(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    assert isinstance(actual["user"]["refreshToken"], str)


def _equal(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    assert actual == sample


def _library(actual: Any, sample: Any, ids: dict[str, str]) -> None:
    library = actual["libraries"][0] if "libraries" in actual else actual.get("library", actual)
    assert library["folders"][0]["fullPath"] == "/srv/media/audiobooks"
    assert library["settings"]["metadataPrecedence"] == [
        "folderStructure",
        "audioMetatags",
        "nfoFile",
        "txtFiles",
        "opfFile",
        "absMetadata",
    ]


SEMANTICS: dict[str, Callable[[Any, Any, dict[str, str]], None]] = {
    "items_sort_title.json": _sorted_titles,
    "items_sort_addedAt_desc.json": _newest_first,
    "items_collapseseries.json": _collapsed,
    "items_filter_series.json": _mistborn,
    "items_filter_author.json": _sanderson,
    "item_m4b.json": _same_items,
    "item_m4b_expanded.json": _same_items,
    "item_mp3_multipart_expanded.json": _same_items,
    "item_metadata_json_coauthor_expanded.json": _same_items,
    "item_opf_expanded.json": _same_items,
    "items_batch_get.json": _same_items,
    "item_scan_result.json": _equal,
    "series_all.json": _series_books,
    "series_limit2_page1_sort_name.json": _series_books,
    "series_no_limit_EMPTY.json": _no_limit_trap,
    "series_one_include_progress.json": _progress,
    "authors_all.json": _authors,
    "authors_paginated.json": _authors,
    "author_one_include_items_series.json": _author_series,
    "narrators.json": _narrators,
    "search_expanse.json": _search_expanse,
    "search_sanderson.json": _search_sanderson,
    "filterdata.json": _filterdata,
    "library_include_filterdata.json": _filterdata,
    "library_stats.json": _stats,
    "login.json": _login,
    "login_x_return_tokens.json": _login_tokens,
    "status.json": _equal,
    "tasks.json": _equal,
    "libraries.json": _library,
    "library.json": _library,
}


# -- the tests -----------------------------------------------------------------------------------------


def test_the_samples_are_there() -> None:
    """The contract needs the recorded answers; their absence must not pass as an empty test run."""
    assert SAMPLES.is_dir(), f"no samples at {SAMPLES} (set ABS_SAMPLES)"
    assert MANIFEST.is_file()


@pytest.mark.parametrize("name", _sample_names())
async def test_the_simulator_answers_like_the_recorded_server(
    name: str, sim: AbsSimulator, abs_client: Client
) -> None:
    """The simulator's answer to the sample's request has the sample's structure and semantics."""
    assert name in REQUESTS, f"no request known for the sample {name}: add it to REQUESTS"
    sample_path = SAMPLES / name
    assert sample_path.is_file(), f"{name} is in REQUESTS but not in {SAMPLES}"
    sample = json.loads(sample_path.read_text(encoding="utf-8"))
    actual = await answer(abs_client, sim, REQUESTS[name])
    problems: list[str] = []
    compare(actual, [sample], "$", problems)
    assert not problems, f"{name}: " + "\n".join(problems[:40])
    check_semantics(name, actual, sample, ids_of(sim))
