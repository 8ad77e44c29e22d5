"""The soak: mamd with its default schedule through 90 days, in minutes, against the simulators.

The daemon runs as its own process (`tests.bench.soak_daemon`) on a clock that leaps ahead whenever
mamd waits for nothing but time; this process serves the simulators on that same clock, read from a
shared file: a 2,000-book Audiobookshelf library (gaps in its series, imports scanned from the library
folder), MAM (rotating the session cookie on every answer, a release for most wanted books, new books
by followed authors every day), and a simulated qBittorrent (downloads take hours, then seed). It plays
a season: uploads grow, each snatch is unsatisfied for 72 hours, qBittorrent is away for half a day,
Audiobookshelf for a day, MAM answers 503 for three hours, and the ratio dips into an emergency for
three days. The figures: the daemon's memory from day 1 to the end, the database's size, MAM requests
per day and their spacing, searches while nothing could be grabbed, `/status` at the end, log lines
per day, and whatever grew through the whole run.

Why a simulated qBittorrent: a real one keeps real time (seeding time, completion dates), which the
leaping clock would contradict, and some 30,000 reconcile runs against it would not fit in ten minutes;
the real one is what the test suite and the other benchmarks use.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mmap
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from mamd.sim.abs.app import AbsSimulator
from mamd.sim.abs.generate import generate_library
from mamd.sim.abs.model import Library
from mamd.sim.mam.app import MamSimulator
from mamd.sim.mam.catalogue import handwritten_rows
from mamd.sim.mam.generate import audio_mediainfo, generate_rows
from mamd.sim.mam.rows import Credit, Row, SeriesLink
from mamd.sim.qbittorrent.webui import QbittorrentWebUI, SimTorrent
from tests.bench.figures import Figure, median
from tests.bench.soak_daemon import SHAPE
from tests.support.configs import API_KEY, free_port, write_config

DAY = 86400.0
HOUR = 3600.0
GIB = 1024**3
START = 1_800_000_000.0  # 2027-01-15: after every generated library date
BOOKS = 2_000
MANUAL = 45  # books wanted by hand beside the series gaps: about 200 wanted in all
FOLLOWED = ("Odile Marchetti", "Teodor Brannigan", "Wren Abernethy")
NEW_PER_DAY = 1  # a new book by a followed author on MAM each day
NOISE = 300  # generated rows nobody wants
COOKIE = "soak-mam-session-cookie-value"
UPLOADED, DOWNLOADED = 300 * GIB, 120 * GIB
UPLOAD_PER_DAY = 3 * GIB  # what seeding earns
UNSATISFIED_BASE = 8  # unsatisfied torrents that are not mamd's
SATISFIED_AFTER_S = 72 * HOUR
SEARCH = "/tor/js/loadSearchJSONbasic.php"
STATUS_SAMPLES = 30


@dataclass(frozen=True)
class Window:
    name: str
    start_day: float
    end_day: float

    def holds(self, day: float) -> bool:
        return self.start_day <= day < self.end_day


QBITTORRENT_AWAY = Window("qBittorrent away", 20.5, 21.0)
AUDIOBOOKSHELF_AWAY = Window("Audiobookshelf away", 35.0, 36.0)
MAM_503 = Window("MAM answers 503", 60.0, 60.125)
RATIO_DIP = Window("a ratio emergency", 50.0, 53.0)
NOTHING_GRABBABLE = (  # MAM must not be searched then; the guard learns of the dip within an hour
    QBITTORRENT_AWAY,
    Window("the emergency, once read", RATIO_DIP.start_day + 1 / 24, RATIO_DIP.end_day),
)


class SharedTime:
    """The daemon's clock, as this process reads it."""

    def __init__(self, path: Path) -> None:
        path.write_bytes(SHAPE.pack(START, 0.0))
        self._file = path.open("r+b")
        self._map = mmap.mmap(self._file.fileno(), SHAPE.size)

    def now(self) -> float:
        return float(SHAPE.unpack(self._map[: SHAPE.size])[0])

    @property
    def done(self) -> bool:
        return SHAPE.unpack(self._map[: SHAPE.size])[1] > 0

    def close(self) -> None:
        self._map.close()
        self._file.close()


# -- the world: library, catalogue -----------------------------------------------------------------


def series_gaps(library: Library) -> list[tuple[str, str, int]]:
    """(author, series, position) of every whole position missing below the highest owned one."""
    owned: dict[str, set[float]] = defaultdict(set)
    authors: dict[str, str] = {}
    for item in library.items.values():
        for link in item.series:
            with contextlib.suppress(TypeError, ValueError):
                owned[link.series.name].add(float(link.sequence or ""))
                if item.authors:
                    authors.setdefault(link.series.name, item.authors[0].name)
    return [
        (authors[name], name, n)
        for name, positions in sorted(owned.items())
        if name in authors
        for n in range(1, int(max(positions)) + 1)
        if float(n) not in positions
    ]


@dataclass
class Catalogue:
    rows: list[Row]
    manual: list[dict[str, str]]
    next_id: int = 950_000
    credits: dict[str, Credit] = field(default_factory=dict)

    def credit(self, name: str) -> Credit:
        return self.credits.setdefault(name, Credit(880_000 + len(self.credits), name))

    def row(
        self, title: str, author: str, draw: random.Random, *, series: tuple[str, int] | None, added: str
    ) -> Row:
        self.next_id += 1
        hours = draw.randint(5, 25)
        bitrate = 64
        free = 1 if draw.random() < 0.4 else 0
        # a stable id per series name (`hash()` of a string changes from run to run)
        link = (
            (SeriesLink(770_000 + zlib.crc32(series[0].encode()) % 100_000, series[0], str(series[1])),)
            if series
            else ()
        )
        return Row(
            id=self.next_id,
            title=title,
            authors=(self.credit(author),),
            narrators=(self.credit("Soak Narrator"),),
            series=link,
            filetype="m4b",
            size_bytes=bitrate * 125 * hours * 3600,
            seeders=draw.randint(3, 60),
            leechers=1,
            times_completed=draw.randint(10, 200),
            added=added,
            free=free,
            mediainfo=audio_mediainfo("m4b", bitrate, hours * 3600, title, 10),
        )


def build_catalogue(library: Library, draw: random.Random) -> Catalogue:
    catalogue = Catalogue([*handwritten_rows(), *generate_rows(NOISE, 3)], [])
    for author, series, position in series_gaps(library):
        if draw.random() < 0.85:  # most gaps have a release; the rest are searched in vain, less and less
            title = f"{series}, Book {position}"
            catalogue.rows.append(
                catalogue.row(title, author, draw, series=(series, position), added="2025-06-01 10:00:00")
            )
    for number in range(MANUAL):
        author, title = f"Hand Picked {number % 9}", f"A Book Wanted by Hand No {number}"
        catalogue.manual.append({"title": title, "author": author})
        if number % 10:  # a tenth is not on MAM at all
            catalogue.rows.append(
                catalogue.row(title, author, draw, series=None, added="2025-07-01 10:00:00")
            )
    return catalogue


# -- the season --------------------------------------------------------------------------------------


def outage(
    flag: Callable[[], bool], text: str
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def away(request: web.Request, handler: Handler) -> web.StreamResponse:
        if flag() and not request.path.startswith("/__sim/"):
            return web.Response(status=503, text=text)
        return await handler(request)

    return away


@dataclass
class Season:
    time: SharedTime
    mam: MamSimulator
    qbt: QbittorrentWebUI
    catalogue: Catalogue
    database: Path
    log: Path
    draw: random.Random
    abs_away: bool = False
    mam_away: bool = False
    released_days: int = 0
    marks: dict[int, dict[str, Any]] = field(default_factory=dict)
    log_offset: int = 0
    lines_per_day: list[int] = field(default_factory=list)

    def day(self) -> float:
        return (self.time.now() - START) / DAY

    def play(self) -> None:
        """Bring the simulated world to the daemon's now."""
        now, day = self.time.now(), self.day()
        account = self.mam.account
        account.uploaded_bytes = UPLOADED + int(UPLOAD_PER_DAY * day)
        dip = RATIO_DIP.holds(day)
        account.downloaded_bytes = int(account.uploaded_bytes / 1.1) if dip else DOWNLOADED + self._paid()
        recent = sum(1 for d in self.mam.downloads if d.snatched and now - d.wall < SATISFIED_AFTER_S)
        account.unsat["count"] = UNSATISFIED_BASE + recent
        self.qbt.down = QBITTORRENT_AWAY.holds(day)
        self.abs_away = AUDIOBOOKSHELF_AWAY.holds(day)
        self.mam_away = MAM_503.holds(day)
        while self.released_days < int(day) + 1:
            self._release(self.released_days)
            self.released_days += 1

    def _paid(self) -> int:
        return sum(self.mam.rows[d.tid].size_bytes for d in self.mam.downloads if d.snatched and not d.free)

    def _release(self, day: int) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(START + day * DAY))
        for number in range(NEW_PER_DAY):
            author = FOLLOWED[(day * NEW_PER_DAY + number) % len(FOLLOWED)]
            row = self.catalogue.row(f"New Story {day}-{number}", author, self.draw, series=None, added=stamp)
            self.mam.state.rows[row.id] = row

    def mark(self, day: int) -> None:
        """What the database holds, and the log lines written, at the end of `day`."""
        with (
            contextlib.suppress(sqlite3.Error),
            contextlib.closing(sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)) as db,
        ):
            tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            self.marks[day] = {
                name: db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables
            }
        with self.log.open("rb") as handle:
            handle.seek(self.log_offset)
            chunk = handle.read()
        self.log_offset += len(chunk)
        self.lines_per_day.append(chunk.count(b"\n"))


# -- running it ---------------------------------------------------------------------------------------


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


def _launch(config: Path, folder: Path, end: float, log: Path) -> subprocess.Popen[bytes]:
    """The daemon, on the leaping clock, as its own process; its lines go to `log`."""
    command = [sys.executable, "-m", "tests.bench.soak_daemon", str(config), str(folder / "clock"), str(end)]
    with log.open("wb") as out:
        return subprocess.Popen(
            [*command, str(folder / "memory.jsonl")],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@dataclass
class Outcome:
    wall_s: float
    days: int
    memory: list[dict[str, Any]]
    marks: dict[int, dict[str, int]]
    lines_per_day: list[int]
    requests: list[tuple[float, str, int | None]]  # (time, path, status) of every MAM request
    status_ms: list[float]
    db_mib: float
    grabs: int
    imports: int
    confirmed: int
    exit_code: int | None


async def _soak(folder: Path, days: int) -> Outcome:
    draw = random.Random(90)
    shared = SharedTime(folder / "clock")
    library_folder = folder / "library"
    library_folder.mkdir()
    save_path = folder / "torrents"
    save_path.mkdir()
    library = generate_library(BOOKS, 7, library_path=str(library_folder))
    catalogue = build_catalogue(library, draw)
    mam = MamSimulator(catalogue.rows, cookie=COOKIE, clock=shared.now, monotonic=shared.now, control=False)
    abs_sim = AbsSimulator(library, folder=library_folder, clock=shared.now, scan_delay=0.05, control=False)
    season_ref: list[Season] = []
    hooks: set[asyncio.Task[Any]] = set()
    http_port = free_port()
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def hook(info_hash: str) -> None:  # what the README's curl line does on completion
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            url = f"http://127.0.0.1:{http_port}/hooks/qbittorrent?apikey={API_KEY}"
            async with session.post(url, data={"hash": info_hash}) as response:
                await response.read()

    def completed(torrent: SimTorrent) -> None:
        task = asyncio.get_running_loop().create_task(hook(torrent.hash))
        hooks.add(task)
        task.add_done_callback(hooks.discard)

    qbt = QbittorrentWebUI(
        clock=shared.now,
        download_s=lambda info_hash: random.Random(info_hash).uniform(1 * HOUR, 10 * HOUR),
        on_complete=completed,
    )
    mam.app.middlewares.insert(0, outage(lambda: season_ref[0].mam_away, "Service Unavailable"))
    abs_sim.app.middlewares.insert(0, outage(lambda: season_ref[0].abs_away, "Bad Gateway"))
    runners = []
    try:
        urls = {}
        for name, app in (("mam", mam.app), ("abs", abs_sim.app), ("qbt", qbt.app)):
            runner, urls[name] = await _serve(app)
            runners.append(runner)
        config = write_config(
            folder,
            {
                "http": {"port": http_port},
                "state": {"database": str(folder / "state" / "mamd.db"), "backups": 7},
                "logging": {"level": "info", "format": "json"},
                "mam": {"base_url": urls["mam"], "session": COOKIE},
                "qbittorrent": {
                    "url": urls["qbt"],
                    "username": qbt.username,
                    "password": qbt.password,
                    "save_path": str(save_path),
                },
                "audiobookshelf": {
                    "url": urls["abs"],
                    "api_key": abs_sim.api_key,
                    "path": str(library_folder),
                },
                "wanted": {"manual": catalogue.manual, "follow": {"authors": list(FOLLOWED)}},
                "limits": {"min_free_space": "1MiB"},  # the temporary folder is small; the rest as shipped
            },
            jobs_off=False,
        )
        log = folder / "mamd.log"
        season = Season(shared, mam, qbt, catalogue, folder / "state" / "mamd.db", log, draw)
        season_ref.append(season)
        season.play()
        end = START + days * DAY
        started = time.monotonic()
        daemon = _launch(config, folder, end, log)
        try:
            marked = 0
            while not shared.done:
                if daemon.poll() is not None:
                    raise RuntimeError(
                        f"the daemon exited with {daemon.returncode}: {log.read_text()[-3000:]}"
                    )
                season.play()
                while marked < int(season.day()):
                    marked += 1
                    season.mark(marked)
                await asyncio.sleep(0.02)
            wall = time.monotonic() - started
            status_ms = await _status_times(session, http_port)
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                exit_code: int | None = await asyncio.to_thread(daemon.wait, 20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                exit_code = await asyncio.to_thread(daemon.wait, 10)
        for task in list(hooks):
            task.cancel()
        database = folder / "state" / "mamd.db"
        db_bytes = sum(p.stat().st_size for p in database.parent.glob("mamd.db*"))
        with contextlib.closing(sqlite3.connect(database)) as db:
            grabs, imports, confirmed = db.execute(
                "SELECT count(grabbed_at), count(imported_at), count(abs_confirmed_at) FROM torrents"
            ).fetchone()
        memory = [json.loads(line) for line in (folder / "memory.jsonl").read_text().splitlines()]
        requests = [(entry.wall, entry.path, entry.status) for entry in mam.requests.entries]
        return Outcome(
            wall, days, memory, season.marks, season.lines_per_day, requests, status_ms, db_bytes / 1024**2,
            grabs, imports, confirmed, exit_code,
        )  # fmt: skip
    finally:
        await session.close()
        for runner in reversed(runners):
            await runner.cleanup()
        shared.close()


async def _status_times(session: aiohttp.ClientSession, port: int) -> list[float]:
    times = []
    for _ in range(STATUS_SAMPLES):
        started = time.perf_counter()
        async with session.get(f"http://127.0.0.1:{port}/status") as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"/status answered {response.status}")
        times.append((time.perf_counter() - started) * 1000)
    return times


# -- the figures -------------------------------------------------------------------------------------


def _per_day(requests: list[tuple[float, str, int | None]], days: int) -> list[int]:
    counts = Counter(int((at - START) // DAY) for at, _, _ in requests)
    return [counts.get(day, 0) for day in range(days)]


def _spacing_breaches(requests: list[tuple[float, str, int | None]], spacing: float) -> int:
    last: dict[str, float] = {}
    breaches = 0
    for at, path, _ in requests:
        kind = path.split("?")[0]
        if kind in last and at - last[kind] < spacing - 1e-6:
            breaches += 1
        last[kind] = at
    return breaches


def _grew(series: dict[int, dict[str, int]], days: int) -> dict[str, tuple[int, int, int]]:
    """What rose from a third through two thirds to the end of the run: (value then, then, at the end)."""
    first, second = days // 3, 2 * days // 3
    if first < 1 or second not in series or days not in series or first not in series:
        return {}
    out = {}
    for key, end_value in series[days].items():
        a, b = series[first].get(key, 0), series[second].get(key, 0)
        if a < b < end_value:
            out[key] = (a, b, end_value)
    return out


# what grows through 90 days on purpose, and what bounds it
BOUNDED_BY = {
    "events": "kept 180 days",
    "torrents": "one per torrent mamd knows",
    "grabs": "kept 90 days once finished",
    "job_runs": "kept 90 days",
    "wanted": "new books by followed authors",
    "candidates": "one per wanted book and release",
    "library_items": "the library grows with each import",
    "library_series": "the library grows with each import",
    "hook_inbox": "kept 30 days once finished",
    "account_snapshots": "kept 30 days",
    "mam_request_log": "the last 1,000 requests",
    "scheduler_counts": "one per job and result",
    "counters": "one per HTTP status",
    "rss_kib": "see soak_rss_growth_mib",
    "python_objects": "see soak_rss_growth_mib",
}
NOT_SIZES = ("day", "wall_s")
# by this day the MAM request log holds its last 1,000 requests and SQLite its page cache (flat after)
WARM_DAY = 30


def _grown(outcome: Outcome) -> tuple[list[str], str]:
    """What rose through the whole run: those nothing bounds, and a note of all with their bounds."""
    memory = {m["day"]: {k: v for k, v in m.items() if k not in NOT_SIZES} for m in outcome.memory}
    grew = {**_grew(outcome.marks, outcome.days), **_grew(memory, outcome.days)}
    unbounded = sorted(key for key in grew if key not in BOUNDED_BY)
    note = "; ".join(f"{k} {a}→{b}→{c} ({BOUNDED_BY.get(k, 'UNBOUNDED')})" for k, (a, b, c) in grew.items())
    return unbounded, note or "nothing grew throughout"


def figures(outcome: Outcome) -> list[Figure]:
    days = outcome.days
    memory = {m["day"]: m for m in outcome.memory}
    first, last = memory[min(memory)], memory[max(memory)]
    warm = memory.get(WARM_DAY, first) if days > WARM_DAY else first
    searches = [at for at, path, _ in outcome.requests if path.startswith(SEARCH)]
    held = sum(1 for at in searches if any(w.holds((at - START) / DAY) for w in NOTHING_GRABBABLE))
    per_day = [float(n) for n in _per_day(outcome.requests, days)]
    unbounded, grew = _grown(outcome)
    lines = outcome.lines_per_day
    shown = f"{days} days" if days == 90 else f"{days} days (quick)"
    rss = f"day 1 {first['rss_kib'] / 1024:.1f} MiB, day {last['day']} {last['rss_kib'] / 1024:.1f} MiB"
    return [
        Figure("soak_rss_growth_mib", (last["rss_kib"] - first["rss_kib"]) / 1024, 5, note=rss),
        Figure(
            "soak_rss_growth_warm_mib",
            (last["rss_kib"] - warm["rss_kib"]) / 1024,
            note=f"day {warm['day']} to day {last['day']}: after the bounded logs and caches have filled",
        ),
        Figure("soak_db_mib", outcome.db_mib, 50, note="the database and its WAL at the end"),
        Figure("soak_mam_requests_per_day_p50", median(per_day), note=f"{len(outcome.requests)} in {shown}"),
        Figure("soak_mam_requests_per_day_max", max(per_day)),
        Figure(
            "soak_mam_spacing_breaches",
            float(_spacing_breaches(outcome.requests, 2.0)),
            0,
            note="requests of one kind closer than mam.search_interval (2 s)",
        ),
        Figure(
            "soak_mam_searches_while_nothing_grabbable",
            float(held),
            0,
            note=f"of {len(searches)} searches; windows: qBittorrent away, the emergency once read",
        ),
        Figure("soak_status_ms_day90", median(outcome.status_ms), 20, note=f"median of {STATUS_SAMPLES}"),
        Figure("soak_log_lines_per_day", statistics.fmean(lines) if lines else 0.0, note=f"max {max(lines)}"),
        Figure(
            "soak_grabs", float(outcome.grabs), note=f"{outcome.imports} imported, {outcome.confirmed} in ABS"
        ),
        Figure("soak_unbounded", float(len(unbounded)), 0, note=grew),
        Figure("soak_wall_s", outcome.wall_s, 600, note=f"{shown}; the daemon exited {outcome.exit_code}"),
    ]


def run(quick: bool) -> list[Figure]:
    days = 9 if quick else 90
    scratch = "/dev/shm" if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK) else None
    # the database and the files in memory: fsync costs nothing there, and sizes are what they are
    with tempfile.TemporaryDirectory(prefix="mamd-soak-", dir=scratch) as temporary:
        outcome = asyncio.run(_soak(Path(temporary), days))
    return figures(outcome)
