"""`wanted.top`: its configuration errors, MAM's browse as the simulator answers it, and the job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mamd.config import ConfigError, load_config
from mamd.domain.library import Book
from tests.support.configs import write_config
from tests.support.series_env import SEARCH, row, series_env

FANTASY, SCIFI = 41, 47


def top_problems(tmp_path: Path, entry: dict[str, Any]) -> list[str]:
    path = write_config(tmp_path, {"wanted": {"top": [entry]}})
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    return [f"{p.key}: {p.message}" for p in caught.value.problems]


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        (
            {"category": "Fantasy Epics"},
            "wanted.top[0].category: 'Fantasy Epics' is not a MAM audiobook category",
        ),
        ({"category": 63}, "wanted.top[0].category: '63' is not a MAM audiobook category"),  # e-book Fantasy
        ({"category": "Fantasy", "count": 0}, "wanted.top[0].count: must be at least 1"),
        ({"category": "Fantasy", "count": -3}, "wanted.top[0].count: must be at least 1"),
        ({"category": "Fantasy", "period": "a week"}, "wanted.top[0].period"),
        ({"category": "Fantasy", "period": "1h"}, "wanted.top[0].period: must be at least 1d"),
        ({"category": "Fantasy", "min_snatches": -1}, "wanted.top[0].min_snatches: must be at least 0"),
        ({"count": 5}, "wanted.top[0].category"),
    ],
)
def test_a_bad_top_entry_is_a_clear_configuration_error(
    tmp_path: Path, entry: dict[str, Any], said: str
) -> None:
    problems = top_problems(tmp_path, entry)
    assert any(p.startswith(said) for p in problems), problems


def test_a_category_is_taken_by_name_in_any_case_or_by_id(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"wanted": {"top": [{"category": "science fiction"}, {"category": 41}]}})
    entries = load_config(path, env={}).wanted.top
    assert [(e.category, e.count, e.period.seconds, e.min_snatches) for e in entries] == [
        ("science fiction", 5, 7 * 86400, 0),
        ("41", 5, 7 * 86400, 0),
    ]


def catalogue() -> list[Any]:
    """Fantasy of the last week with snatch counts; an older one; a science fiction one."""
    new = "2027-01-12 10:00:00"
    return [
        row(1, "Most Snatched", (1, "Ann Author"), times_completed=900, category=FANTASY, added=new),
        row(2, "Owned Already", (2, "Bea Writer"), times_completed=800, category=FANTASY, added=new),
        row(3, "Ignored Here", (3, "Cy Penman"), times_completed=700, category=FANTASY, added=new),
        row(
            4,
            "The Box Set",
            (4, "Di Scribe"),
            (40, "Boxes", "1-3"),
            times_completed=650,
            category=FANTASY,
            added=new,
        ),
        row(
            5,
            "Second Best",
            (5, "Ed Quill"),
            (50, "Quills", "2"),
            times_completed=600,
            category=FANTASY,
            added=new,
        ),
        row(6, "Third Best", (6, "Flo Ink"), times_completed=500, category=FANTASY, added=new),
        row(7, "Fourth Best", (7, "Gus Nib"), times_completed=400, category=FANTASY, added=new),
        row(8, "Barely Snatched", (8, "Hal Page"), times_completed=3, category=FANTASY, added=new),
        row(
            9,
            "Old Classic",
            (9, "Ida Old"),
            times_completed=5000,
            category=FANTASY,
            added="2026-11-01 10:00:00",
        ),
        row(10, "Space Thing", (10, "Jo Star"), times_completed=9000, category=SCIFI, added=new),
    ]


async def test_the_weeks_most_snatched_of_a_category_not_owned_nor_ignored_are_wanted(tmp_path: Path) -> None:
    books = [Book("o", "Owned Already", ("Bea Writer",))]
    changes = {
        "wanted": {
            "series_next": False,
            "ignore": ["Ignored Here"],
            "top": [{"category": "Fantasy", "count": 3, "min_snatches": 10}],
        }
    }
    async with series_env(tmp_path, books, catalogue(), changes) as env:
        summary = await env.top()
        assert (summary["requests"], summary["added"]) == (1, 3)
        wanted = await env.wanted("top")
        assert [b.title for b in wanted] == ["Most Snatched", "Second Best", "Third Best"]
        second = next(b for b in wanted if b.title == "Second Best")
        assert (second.series, second.position) == ("Quills", "2")
        assert second.as_dict()["evidence"]["snatches"] == 600
        [(query, _)] = env.sim.searches
        assert (query.text, query.sort_type, query.cats, query.start_date) == (
            "",
            "snatchedDesc",
            frozenset({FANTASY}),
            "2027-01-08",
        )
        assert (await env.top())["requests"] == 0  # browsed once a day at most
        env.clock.advance(86400)
        again = await env.top()
        assert (again["requests"], again["added"]) == (1, 0)


async def test_min_snatches_ends_the_list_early_and_empty_top_is_off(tmp_path: Path) -> None:
    changes = {"wanted": {"series_next": False, "top": [{"category": 41, "count": 10, "min_snatches": 450}]}}
    async with series_env(tmp_path, [], catalogue(), changes) as env:
        await env.top()
        assert [b.title for b in await env.wanted()] == [
            "Most Snatched",
            "Owned Already",
            "Ignored Here",
            "Second Best",
            "Third Best",
        ]
    async with series_env(tmp_path / "off", [], catalogue(), {"wanted": {"series_next": False}}) as env:
        assert await env.top() == {"enabled": False}
        assert env.sim.requests.matching(SEARCH) == []


async def test_the_simulator_answers_a_series_search_and_a_browse_by_snatches_as_mam_does(
    tmp_path: Path,
) -> None:
    rows = [
        *catalogue(),
        row(20, "Mistborn 4", (20, "Brandon Sanderson"), (11, "Mistborn", "4"), category=FANTASY),
        row(21, "Mistborn Fan Tale", (21, "Someone Else"), (12, "Mistborn", "4"), category=FANTASY),
        row(22, "Mistborn", (22, "Brandon Sanderson"), category=FANTASY),  # the word in the title only
    ]
    async with series_env(tmp_path, [], rows) as env:
        mam = env.runtime.require_mam()
        series = await mam.search(
            "Mistborn Brandon Sanderson", fields=("series", "author"), active_only=False
        )
        assert [r.id for r in series.releases] == [20]
        by_name = await mam.search("Mistborn", fields=("series",), active_only=False)
        assert sorted(r.id for r in by_name.releases) == [20, 21]
        browse = await mam.search(
            "", sort="snatchedDesc", categories=(FANTASY,), start_date="2027-01-08", active_only=False
        )
        snatches = [r.snatched for r in browse.releases]
        assert snatches == sorted(snatches, reverse=True)
        assert 9 not in {r.id for r in browse.releases}  # uploaded before the start date
        assert 10 not in {r.id for r in browse.releases}  # science fiction
        assert browse.releases[0].id == 1
