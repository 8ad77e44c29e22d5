"""Search figures: deciding 100,000 MAM rows, the search job over 1,000 wanted books, matching accuracy.

The rows are the MAM simulator's generated catalogue in MAM's raw JSON shape, read by mamd's own row
parser. Deciding runs `rules.choose` in batches the size of one search page, each against a book taken
from that page, with the matching caches cleared first (a cold run). The search job runs in this process
against the simulator on 127.0.0.1 (its server time is in the figure), with a real SQLite file, a real
qbittorrent-nox for the budgets to ask, the system clock and MAM's request spacing turned off; it runs in
dry run, so nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import random
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler

from mamd.clients.mam.rows import parse_row
from mamd.clock import SystemClock
from mamd.config import load_config
from mamd.config.model import RulesConfig
from mamd.domain import matching, normalize, sequence
from mamd.domain.discovery import WantSpec, series_want_key, title_want_key
from mamd.domain.matching import Want, match
from mamd.domain.queries import MAX_REQUESTS_PER_BOOK
from mamd.domain.release import Release
from mamd.domain.rules import AccountView, Choice, choose
from mamd.domain.sequence import parse_sequence
from mamd.jobs import account as account_job
from mamd.jobs import search as search_job
from mamd.logs import Redactor, configure_logging
from mamd.runtime import Runtime
from mamd.schedule import JobContext, JobState
from mamd.sim.mam.app import MamSimulator
from mamd.sim.mam.rows import Row
from mamd.sim.qbittorrent.launcher import QbittorrentNox
from tests.bench.figures import Figure, median
from tests.support.configs import write_config
from tests.support.matching_set import accuracy

DECISIONS = 100_000
PAGE = 50  # releases decided together: one page of a MAM search
LANGUAGES = ("ENG",)
ACCOUNT = AccountView(classname="User", wedges=4)
WANTED_BOOKS = 1_000
CATALOGUE = 3_000
COOKIE = "bench-mam-session-cookie-value"
_NOTE = re.compile(r"\s*[\(\[][^\(\)\[\]]*[\)\]]\s*$")  # `The Salt Tower (Abridged)` → `The Salt Tower`


def run(quick: bool) -> list[Figure]:
    return [_decide(), *_search(200 if quick else WANTED_BOOKS, quick), *_accuracy()]


# -- deciding ---------------------------------------------------------------------------------


def clear_caches(modules: tuple[ModuleType, ...] = (normalize, matching, sequence)) -> list[str]:
    """Empty every `lru_cache` of the matching code, so a timing starts cold; returns their names."""
    cleared: dict[int, str] = {}
    for module in modules:
        for name, value in vars(module).items():
            clear: Callable[[], None] | None = getattr(value, "cache_clear", None)
            if callable(clear) and id(value) not in cleared:
                clear()
                cleared[id(value)] = name
    return list(cleared.values())


def _catalogue_releases(count: int) -> list[Release]:
    sim = MamSimulator.generated(count=count, seed=1, control=False)
    parsed = (parse_row(sim.row_json(tid, isbn=True)) for tid in sim.rows)
    return [release for release in parsed if release is not None]


def _clean(title: str) -> str:
    return _NOTE.sub("", title).strip() or title


def _page_want(page: list[Release], number: int) -> Want:
    """A book one release of the page holds (an audiobook with an author, where the page has one);
    every fifth page wants a series position without a title, as a series gap does."""
    start = number * 17 % len(page)
    turn = page[start:] + page[:start]
    release = next((r for r in turn if r.audiobook and r.authors), turn[0])
    tag = release.series[0] if release.series else None
    if number % 5 == 4 and tag is not None and tag.number:
        return Want(None, release.authors, tag.name, tag.number)
    return Want(
        _clean(release.title), release.authors, tag.name if tag else None, tag.number if tag else None
    )


def _decide() -> Figure:
    releases = _catalogue_releases(DECISIONS)
    generated = len(releases)
    rotated = [releases[n % generated] for n in range(DECISIONS)]
    pages = [rotated[start : start + PAGE] for start in range(0, DECISIONS, PAGE)]
    work = [(_page_want(page, number), page) for number, page in enumerate(pages)]
    rules = RulesConfig()
    cleared = clear_caches()
    # the simulator that produced the rows is garbage in reference cycles: collect it now, or the full
    # collection it is due lands inside the timing (a second and more) whichever code is measured
    gc.collect()
    started = time.perf_counter()
    choices: list[Choice] = [choose(want, page, rules, LANGUAGES, ACCOUNT) for want, page in work]
    elapsed = time.perf_counter() - started
    accepted = sum(d.accepted for choice in choices for d in choice.decisions)
    chosen = sum(choice.best is not None for choice in choices)
    matched = sum(match(want, release).ok for want, page in work for release in page)
    source = (
        f"the first {DECISIONS:,} of {generated:,} sim rows"
        if generated >= DECISIONS
        else f"{generated:,} sim rows reused in rotation"
    )
    return Figure(
        "decide_100k_candidates_s",
        elapsed,
        2,
        note=(
            f"{DECISIONS:,} decisions ({source}) in {len(pages):,} pages of {PAGE}, cold caches "
            f"({', '.join(cleared)} cleared); {matched:,} matched the book, {accepted:,} accepted, "
            f"a choice on {chosen:,} pages"
        ),
    )


# -- the search job ---------------------------------------------------------------------------


def _spread(rows: list[Row], seed: str) -> Iterator[Row]:
    order = list(rows)
    random.Random(seed).shuffle(order)
    return iter(order)


def wanted_specs(sim: MamSimulator, count: int) -> list[WantSpec]:
    """`count` wanted books from the catalogue: 80 % by title and author, 15 % series gaps without a
    title, 5 % books no row holds."""
    rows = [row for row in sim.rows.values() if row.authors]
    gaps, absent = count * 15 // 100, count * 5 // 100
    specs: dict[str, WantSpec] = {}
    for row in _spread(rows, "titles"):
        if len(specs) >= count - gaps - absent:
            break
        author, title = row.authors[0].name, _clean(row.title)
        key = title_want_key(author, title)
        specs.setdefault(key, WantSpec(key, "manual", author, title))
    for row in _spread(rows, "gaps"):
        if len(specs) >= count - absent:
            break
        tag = row.series[0] if row.series else None
        position = parse_sequence(tag.number) if tag else None
        if tag is None or position is None or position.single is None:
            continue
        key = series_want_key(tag.name, tag.number)
        specs.setdefault(key, WantSpec(key, "series_gap", row.authors[0].name, None, tag.name, tag.number))
    for number in range(absent):
        author, title = f"Absent Author {number}", f"Unwritten Book {number}"
        key = title_want_key(author, title)
        specs[key] = WantSpec(key, "manual", author, title)
    return list(specs.values())


class _Stopwatch:
    """The seconds an aiohttp app spends in its handlers."""

    def __init__(self) -> None:
        self.total = 0.0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            self.total += time.perf_counter() - started


async def _search_job(folder: Path, books: int) -> tuple[float, Counter[str], int, int, float]:
    """Seconds for the search job to work through `books` wanted books; its totals, runs, the requests
    the simulator served and the seconds its handlers took (in this process, so part of the figure)."""
    sim = MamSimulator.generated(count=CATALOGUE, seed=1, cookie=COOKIE)
    specs = wanted_specs(sim, books)
    handling = _Stopwatch()
    sim.app.middlewares.append(handling.middleware)  # innermost: the simulator's own handlers only
    server = TestServer(sim.app, host="127.0.0.1")
    await server.start_server()
    qbt = await asyncio.to_thread(QbittorrentNox(folder / "qbt").start)  # the budgets ask it what runs
    path = write_config(
        folder,
        {
            "dry_run": True,
            "logging": {"level": "info"},
            "mam": {"base_url": f"http://127.0.0.1:{server.port}", "session": COOKIE},
            "qbittorrent": {
                "url": qbt.url,
                "username": qbt.username,
                "password": qbt.password,
                "save_path": str(qbt.save_path),
            },
            "limits": {"min_free_space": "1MiB"},
        },
    )
    clock = SystemClock()
    runtime = Runtime(load_config(path), path, clock=clock, redactor=Redactor())
    await runtime.store.open()
    try:
        async with aiohttp.ClientSession() as session:
            runtime.connect(session)
            runtime.mam = runtime.mam_client(session, spacing_s=0)
            await account_job.run(runtime, JobContext("account", 0, "manual", clock, JobState("account")))
            await runtime.wanted.apply(specs, {}, [], clock.now())
            sim.requests.clear()
            handling.total = 0.0
            totals: Counter[str] = Counter()
            runs = 0
            started = time.perf_counter()
            while True:
                context = JobContext("search", runs, "manual", clock, JobState("search"))
                result = await search_job.run(runtime, context)
                if not result.get("searched"):
                    break
                runs += 1
                totals.update({k: int(v) for k, v in result.items() if isinstance(v, int)})
            elapsed = time.perf_counter() - started
            requests, served = len(sim.requests), handling.total
    finally:
        await runtime.tasks.drain(1.0)
        await runtime.store.close()
        await server.close()
        await asyncio.to_thread(qbt.stop)
    if totals["searched"] != len(specs):
        raise RuntimeError(f"searched {totals['searched']} of {len(specs)} wanted books")
    return elapsed, totals, runs, requests, served


def _search(books: int, quick: bool) -> list[Figure]:
    """The job's seconds, and the MAM requests it sent per book, read from its `search.book` log lines."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with tempfile.TemporaryDirectory() as temporary:
        log_path = Path(temporary) / "mamd.log"
        with log_path.open("w") as log_stream:
            configure_logging("info", "json", Redactor(), stream=log_stream)  # as the daemon logs
            try:
                elapsed, totals, runs, requests, served = asyncio.run(_search_job(Path(temporary), books))
            finally:
                for handler in [h for h in root.handlers if h not in handlers]:
                    root.removeHandler(handler)
                root.setLevel(level)
        per_book = _requests_per_book(log_path)
    if len(per_book) != totals["searched"]:
        raise RuntimeError(f"{len(per_book)} search.book lines for {totals['searched']} books searched")
    quick_note = f"quick: {books} books; " if quick else ""
    spread = Counter(per_book)
    return [
        Figure(
            "search_1k_wanted_s",
            elapsed,
            20,
            note=(
                f"{quick_note}dry run, {totals['searched']} books in {runs} runs: {totals['would_grab']} "
                f"would-grab, {totals['blocked']} blocked, {totals['skipped']} skipped; "
                f"{requests} requests served by the simulator ({CATALOGUE:,} rows, no spacing), "
                f"{served:.1f} s of it in the simulator's handlers; logs at info to a file"
            ),
        ),
        Figure(
            "search_requests_per_book_p50",
            median([float(n) for n in per_book]),
            note=f"MAM searches per wanted book over {len(per_book)} books; books by count: "
            + ", ".join(f"{n}: {spread[n]}" for n in sorted(spread)),
        ),
        Figure(
            "search_requests_per_book_max",
            float(max(per_book)),
            float(MAX_REQUESTS_PER_BOOK),
            note=f"the bound is {MAX_REQUESTS_PER_BOOK} (mamd.domain.queries)",
        ),
    ]


def _requests_per_book(log_path: Path) -> list[int]:
    counts = []
    for line in log_path.read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "search.book":
            counts.append(int(event["requests"]))
    return counts


# -- matching accuracy ------------------------------------------------------------------------


def _accuracy() -> list[Figure]:
    """Precision and recall on each labelled set, kept apart: `matching_precision_first`, …"""
    figures: list[Figure] = []
    for name, found in accuracy().items():
        cases = f"{name} set: {found['cases']} labelled cases"
        figures.append(
            Figure(
                f"matching_precision_{name}",
                float(found["precision"]),
                note=f"goal 1.0; {cases}, {found['choices']} choices, {len(found['wrong'])} wrong",
            )
        )
        figures.append(
            Figure(
                f"matching_recall_{name}",
                float(found["recall"]),
                note=f"goal ≥ 0.97; {name} set: {found['answerable']} answerable, "
                f"{len(found['missed'])} missed",
            )
        )
    return figures
