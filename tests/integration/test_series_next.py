"""Series continuation against the MAM simulator: the next books of owned series, and only those."""

from __future__ import annotations

import itertools
from pathlib import Path

from mamd.domain.discovery import WantSpec, series_want_key, title_want_key
from mamd.domain.library import Book
from mamd.jobs import build_jobs
from mamd.jobs.series_next import SERIES_PER_RUN
from mamd.sim.mam.rows import Row
from mamd.web.page import ChartReadings, page_context
from mamd.web.status import status_document
from mamd.web.templates import environment
from tests.support.series_env import SEARCH, many_series, owned, row, series_env

SANDERSON = (1, "Brandon Sanderson")
MISTBORN = (11, "Mistborn")


def catalogue() -> list[Row]:
    """Mistborn 1–5 by Sanderson, and a fan's same-named series whose 4 to 6 are not his."""
    rows = [
        row(800_000 + n, f"Mistborn {n}: Book {n}", SANDERSON, (*MISTBORN, str(n)), times_completed=10 * n)
        for n in (1, 2, 3, 4, 5)
    ]
    rows += [
        row(800_100 + n, f"Mistborn Fan Tale {n}", (2, "Someone Else"), (12, "Mistborn", str(n)))
        for n in (4, 5, 6)
    ]
    return rows


async def test_an_owned_series_1_to_3_wants_exactly_4_and_5_with_the_rows_as_evidence(tmp_path: Path) -> None:
    async with series_env(tmp_path, owned("Mistborn", "Brandon Sanderson", (1, 2, 3)), catalogue()) as env:
        summary = await env.sweep()
        wanted = await env.wanted()
        assert sorted((b.series, b.position, b.reason) for b in wanted) == [
            ("Mistborn", "4", "series_next"),
            ("Mistborn", "5", "series_next"),
        ]
        assert summary["requests"] == 1
        four = next(b for b in wanted if b.position == "4").as_dict()
        assert four["evidence"]["rows"][0]["torrent_id"] == 800_004
        assert four["evidence"]["rows"][0]["series_number"] == "4"
        assert four["author"] == "Brandon Sanderson"
        [(query, _)] = env.sim.searches
        assert query.fields == frozenset({"series", "author"})
        assert query.text == "Mistborn Brandon Sanderson"
        shown = (await status_document(env.runtime))["series_next"]
        assert (shown["series"], shown["checked"], shown["requests"], shown["added"]) == (1, 1, 1, 2)
        page = (
            environment()
            .get_template("status.html")
            .render(**await page_context(env.runtime, ChartReadings()))
        )
        assert "1 of 1 series, 1 MAM requests, 2 books wanted" in page


async def test_a_series_is_looked_up_once_per_period_and_wants_nothing_twice(tmp_path: Path) -> None:
    async with series_env(tmp_path, owned("Mistborn", "Brandon Sanderson", (1, 2, 3)), catalogue()) as env:
        await env.sweep()
        again = await env.sweep()
        assert again["requests"] == 0  # schedule.series_check (7d) has not passed
        env.clock.advance(7 * 86400)
        later = await env.sweep()
        assert later["requests"] == 1
        assert later["added"] == 0
        assert len(await env.wanted()) == 2


async def test_ranges_lists_empty_and_unreadable_numbers_name_no_book(tmp_path: Path) -> None:
    rows = [
        row(1, "Mistborn Boxed 4-6", SANDERSON, (*MISTBORN, "04-06")),
        row(2, "Mistborn Two Books", SANDERSON, (*MISTBORN, "4, 5")),
        row(3, "Mistborn Extra", SANDERSON, (*MISTBORN, "")),
        row(4, "Mistborn Prequel", SANDERSON, (*MISTBORN, "Prequel")),
        row(5, "Mistborn 7", SANDERSON, (*MISTBORN, "7")),
    ]
    async with series_env(tmp_path, owned("Mistborn", "Brandon Sanderson", (1, 2, 3)), rows) as env:
        await env.sweep()
        assert [(b.position, b.title) for b in await env.wanted()] == [("7", "Mistborn 7")]


async def test_novellas_are_wanted_only_with_include_novellas(tmp_path: Path) -> None:
    rows = [
        row(1, "Mistborn: Secret History", SANDERSON, (*MISTBORN, "3.5")),
        row(2, "Book 4", SANDERSON, (*MISTBORN, "4")),
    ]
    books = owned("Mistborn", "Brandon Sanderson", (1, 2, 3))
    async with series_env(tmp_path / "off", books, rows) as env:
        await env.sweep()
        assert [b.position for b in await env.wanted()] == ["4"]
    async with series_env(tmp_path / "on", books, rows, {"wanted": {"include_novellas": True}}) as env:
        await env.sweep()
        assert sorted(b.position for b in await env.wanted()) == ["3.5", "4"]


async def test_a_position_owned_under_another_title_or_ignored_or_wanted_is_not_wanted_again(
    tmp_path: Path,
) -> None:
    rows = [
        row(1, "The Alloy of Law", SANDERSON, (*MISTBORN, "4")),
        row(2, "Shadows of Self", SANDERSON, (*MISTBORN, "5")),
        row(3, "The Bands of Mourning", SANDERSON, (*MISTBORN, "6")),
        row(4, "The Lost Metal", SANDERSON, (*MISTBORN, "7")),
        row(5, "Mistborn 8 in German", SANDERSON, (*MISTBORN, "8"), language=37),
        row(6, "Mistborn 9 as epub", SANDERSON, (*MISTBORN, "9"), filetype="epub"),
    ]
    # The Alloy of Law is owned, but without its series position in Audiobookshelf
    books = [
        *owned("Mistborn", "Brandon Sanderson", (1, 2, 3)),
        Book("x", "The Alloy of Law", ("Brandon Sanderson",)),
    ]
    changes = {"wanted": {"ignore": ["Shadows of Self"]}, "mam": {"languages": ["ENG", "GER"]}}
    async with series_env(tmp_path, books, rows, changes) as env:
        manual = WantSpec(
            title_want_key("Brandon Sanderson", "The Bands of Mourning"),
            "manual",
            "Brandon Sanderson",
            "The Bands of Mourning",
        )
        await env.runtime.wanted.apply([manual], {}, [], env.clock.now())
        await env.sweep()
        found = {(b.position, b.reason) for b in await env.wanted()}
        # 4 owned under its title, 5 ignored, 6 wanted by hand already, 8 German (allowed here), 9 an epub
        assert found == {(None, "manual"), ("7", "series_next"), ("8", "series_next")}


async def test_a_same_named_series_by_another_author_is_not_the_users(tmp_path: Path) -> None:
    rows = [row(1, "Dune Tales 4", (2, "Someone Else"), (12, "Dune Tales", "4"))]
    async with series_env(tmp_path, owned("Dune Tales", "Frank Herbert", (1, 2, 3)), rows) as env:
        summary = await env.sweep()
        assert summary["requests"] == 1
        assert await env.wanted() == []


async def test_a_429_mid_sweep_ends_it_cleanly_and_the_next_run_takes_up_the_rest(tmp_path: Path) -> None:
    books, rows = many_series(6)
    async with series_env(tmp_path, books, rows) as env:
        env.sim.faults.fail_next(2, 429, retry_after=60, path_prefix=SEARCH)  # the first try and its retry
        first = await env.sweep()
        assert first["stopped"]
        assert first["checked"] == 0
        assert first["requests"] == 2  # the try and its retry were both sent: /status counts what MAM saw
        assert await env.wanted() == []
        env.clock.advance(120)
        second = await env.sweep()
        assert "stopped" not in second
        assert second["checked"] == 6
        wanted = await env.wanted("series_next")
        assert len(wanted) == 12  # 4 and 5 of each, none of the imitations
        assert {b.position for b in wanted} == {"4", "5"}
        keys = {b.key for b in wanted}
        assert series_want_key("Saga0000", "4") in keys


async def test_a_query_mam_refuses_is_checked_with_nothing_found_and_the_sweep_goes_on(
    tmp_path: Path,
) -> None:
    """A series whose search MAM will not serve must not stop every later sweep at its door."""
    books, rows = many_series(3)
    async with series_env(tmp_path, books, rows) as env:
        env.sim.faults.refuse_next(1, path_prefix=SEARCH)
        first = await env.sweep()
        assert "stopped" not in first
        assert first["checked"] == 3
        assert len(first["refused"]) == 1
        assert len(await env.wanted("series_next")) == 4  # 4 and 5 of the two series MAM answered
        env.clock.advance(120)
        assert (await env.sweep())["checked"] == 0  # the refused one is checked too: due again next period


async def test_a_sweep_keeps_the_spacing_and_the_bound_on_requests_per_run(tmp_path: Path) -> None:
    books, rows = many_series(SERIES_PER_RUN + 7)
    async with series_env(tmp_path, books, rows, {"mam": {"search_interval": "3s"}}) as env:
        first = await env.sweep()
        second = await env.sweep()
        assert (first["requests"], second["requests"]) == (SERIES_PER_RUN, 7)
        assert (await env.sweep())["requests"] == 0
        searches = env.sim.requests.matching(SEARCH)
        assert len(searches) == SERIES_PER_RUN + 7
        gaps = [b.monotonic - a.monotonic for a, b in itertools.pairwise(searches)]
        assert min(gaps) >= 3.0
        assert len(await env.wanted("series_next")) == 2 * (SERIES_PER_RUN + 7)


async def test_off_by_default_nothing_is_asked(tmp_path: Path) -> None:
    books = owned("Mistborn", "Brandon Sanderson", (1, 2, 3))
    async with series_env(tmp_path, books, catalogue(), {"wanted": {"series_next": False}}) as env:
        assert await env.sweep() == {"enabled": False}
        assert env.sim.requests.matching(SEARCH) == []


async def test_the_sweep_runs_on_the_search_jobs_timer_and_only_while_it_is_on(tmp_path: Path) -> None:
    books = owned("Mistborn", "Brandon Sanderson", (1, 2, 3))
    async with series_env(tmp_path, books, catalogue(), {"schedule": {"search": "1h"}}) as env:
        env.runtime.use_jobs(build_jobs(env.runtime))
        intervals = env.runtime.job_intervals()
        assert (intervals["series_next"], intervals["top"]) == (3600.0, 0.0)  # wanted.top is empty
    changes = {
        "schedule": {"search": "1h"},
        "wanted": {"series_next": False, "top": [{"category": "Fantasy"}]},
    }
    async with series_env(tmp_path / "top", books, catalogue(), changes) as env:
        env.runtime.use_jobs(build_jobs(env.runtime))
        intervals = env.runtime.job_intervals()
        assert (intervals["series_next"], intervals["top"]) == (0.0, 3600.0)
