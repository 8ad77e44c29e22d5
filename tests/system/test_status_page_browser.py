"""The status page of a running daemon in a real browser: Debian's Chromium, headless, loads it from
`mamd run` (against the MAM simulator and a real qbittorrent-nox, with a month of account readings, a
problem, wanted books of which one has a hostile title) and the DOM and two screenshots are checked."""

from __future__ import annotations

import asyncio
import contextlib
import html
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mamd.domain.account import AccountSnapshot, Counter
from mamd.sim.qbittorrent.launcher import QbittorrentNox
from mamd.store import Store
from mamd.store.account import AccountHistory
from tests.support.abs_sim import abs_simulator
from tests.support.browser import dump_dom, read_png, screenshot
from tests.support.configs import write_config
from tests.support.daemon import DaemonProcess, wait_for
from tests.support.mam_sim import SIM_COOKIE, mam_simulator
from tests.support.page import GIB, HOSTILE_AUTHOR, HOSTILE_TITLE, page_tags, page_text
from tests.support.qbittorrent import qbittorrent_settings

pytestmark = pytest.mark.system

HOUR = 3600.0


async def _month_of_readings(database: str, now: float) -> None:
    """Account readings every six hours for the 30 days before now, as the account job stores them."""
    store = Store(database)
    await store.open()
    try:
        history = AccountHistory(store)
        for index in range(120):
            at = now - (120 - index) * 6 * HOUR
            await history.add(
                AccountSnapshot(
                    at=at,
                    classname="Power User",
                    ratio=2.4 - index * 0.004,
                    uploaded=(800 + index) * GIB,
                    downloaded=(350 + index // 2) * GIB,
                    seedbonus=20_000.0 + index * 150,
                    counters={"unsat": Counter(10, 50)},
                )
            )
    finally:
        await store.close()


def run_job(daemon: DaemonProcess, name: str) -> dict[str, Any]:
    before = daemon.status()["jobs"][name]["last_run_id"]
    code, body = daemon.post_json(f"/api/v1/jobs/{name}", {})
    assert code == 202, body

    def finished() -> dict[str, Any] | None:
        job = daemon.status()["jobs"][name]
        done = job["last_run_id"] != before and not job["running"] and job["last_result"]
        return dict(job) if done else None

    return wait_for(f"the {name} job", finished, timeout=60)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    folder = tmp_path_factory.mktemp("page")
    # a real qbittorrent-nox: MAM is searched only while a grab could happen, which needs its downloads
    with mam_simulator() as mam, abs_simulator(items=3) as library, contextlib.ExitStack() as stack:
        qbt = QbittorrentNox(folder / "qbt").start()
        stack.callback(qbt.stop)
        config = write_config(
            folder,
            {
                "dry_run": True,
                # a library folder that is not there: the import check reports a problem at start
                "audiobookshelf": {
                    "url": library.url,
                    "api_key": library.api_key,
                    "path": str(folder / "not-mounted"),
                },
                "mam": {"base_url": mam.url, "session": SIM_COOKIE, "search_interval": "1s"},
                "qbittorrent": qbittorrent_settings(qbt),
                "limits": {"min_free_space": "1MiB"},
                "wanted": {
                    "manual": [
                        {"title": HOSTILE_TITLE, "author": HOSTILE_AUTHOR},
                        {"title": "The Hero of Ages", "author": "Brandon Sanderson"},
                    ]
                },
            },
        )
        database = yaml.safe_load(config.read_text())["state"]["database"]
        (folder / "state").mkdir(exist_ok=True)
        asyncio.run(_month_of_readings(database, time.time()))
        running = DaemonProcess(config).start()
        try:
            running.wait_healthy()
            for job in ("library_sync", "account", "discover", "search"):
                assert run_job(running, job)["last_result"] == "ok", running.log()[-3000:]
            yield running
        finally:
            running.stop()


def test_the_browser_shows_the_guard_a_problem_a_wanted_book_and_the_charts(
    daemon: DaemonProcess, tmp_path: Path
) -> None:
    status = daemon.status()
    dom = dump_dom(daemon.base_url + "/", tmp_path)
    text = page_text(dom)
    assert status["account"]["guard"].upper() in text
    for reason in status["account"]["guard_detail"]["reasons"]:
        assert reason in text
    [problem] = [p for p in status["problems"] if p["id"] == "import.link"]
    assert problem["summary"] in text
    assert "The Hero of Ages by Brandon Sanderson" in text
    assert dom.count("<svg") == 3
    assert "Ratio, last 30 days" in text
    assert 'class="line" d="M' in dom
    assert text.index("Problems") < text.index("Account guard")


def test_hostile_text_stays_text_in_the_browser(daemon: DaemonProcess, tmp_path: Path) -> None:
    code, wanted = daemon.get("/api/v1/wanted")
    assert code == 200
    [hostile] = [book for book in wanted["wanted"] if book["title"] == HOSTILE_TITLE]
    for path in ("/", f"/wanted/{hostile['id']}", "/wanted?state=" + hostile["state"]):
        dom = dump_dom(daemon.base_url + path, tmp_path)
        text = page_text(dom)
        assert HOSTILE_TITLE in text, path
        assert HOSTILE_AUTHOR in text, path
        tags = page_tags(dom)
        assert "script" not in tags, path  # the title's <script> never became an element
        assert "img" not in tags, path  # nor the author's <img onerror>
        title = html.unescape(dom.split("<title>")[1].split("</title>")[0])
        assert title != "pwned", path  # nothing ran: the title is still the page's own
        assert "mamd" in title, path
    event = f"wanted: {HOSTILE_TITLE} by {HOSTILE_AUTHOR} (manual)"
    assert event in page_text(dump_dom(daemon.base_url + "/", tmp_path))


def test_a_wanted_book_page_in_the_browser_lists_its_candidates(
    daemon: DaemonProcess, tmp_path: Path
) -> None:
    code, wanted = daemon.get("/api/v1/wanted")
    assert code == 200
    [book] = [b for b in wanted["wanted"] if b["title"] == "The Hero of Ages"]
    code, detail = daemon.get(f"/api/v1/wanted/{book['id']}")
    assert code == 200
    assert detail["candidates"]
    text = page_text(dump_dom(f"{daemon.base_url}/wanted/{book['id']}", tmp_path))
    assert f"Releases considered ({len(detail['candidates'])})" in text
    for candidate in detail["candidates"]:
        assert f"{candidate['decision']} {candidate['title']}" in text
        assert all(reason in text for reason in candidate["reasons"])


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_screenshots_at_phone_and_desktop_sizes_are_drawn(
    daemon: DaemonProcess, tmp_path: Path, width: int, height: int
) -> None:
    path = screenshot(daemon.base_url + "/", width, height, tmp_path / f"status-{width}x{height}.png")
    image = read_png(path)
    assert (image.width, image.height) == (width, height)
    assert image.colours > 20  # text, badges and chart lines, not one flat colour
    assert image.background_share < 0.97
    assert image.background_luma > 200  # a light page by default


def test_a_system_in_dark_mode_gets_a_dark_page(daemon: DaemonProcess, tmp_path: Path) -> None:
    path = screenshot(daemon.base_url + "/", 390, 844, tmp_path / "status-dark.png", dark=True)
    image = read_png(path)
    assert (image.width, image.height) == (390, 844)
    assert image.background_luma < 40
    assert image.colours > 20
