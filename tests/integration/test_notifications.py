"""Notifications through real Apprise to receivers on loopback sockets, from a runtime on a real database.

Time is a `FakeClock`: a test moves it past a batch window or a backoff instead of waiting.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from mamd.config import load_config
from mamd.logs import Redactor
from mamd.notify import notifications as notifying
from mamd.notify import problems as notice
from mamd.notify.notifications import DELIVERY, FAILING_AFTER
from mamd.notify.routes import BATCH_S, SERVICE_HOLD_S
from mamd.notify.status import notify_status
from mamd.runtime import Runtime
from mamd.store.outbox import MAX_MESSAGES
from tests.support import receiver
from tests.support.clock import FakeClock
from tests.support.configs import API_KEY, MAM_SESSION, free_port, write_config

HERO = {"title": "The Hero of Ages", "authors": ["Brandon Sanderson"], "series": "Mistborn", "position": "3"}
WARBREAKER = {"title": "Warbreaker", "authors": ["Brandon Sanderson"], "series": None, "position": None}

MakeRuntime = Callable[..., Coroutine[Any, Any, Runtime]]


@pytest.fixture
async def make_runtime(tmp_path: Path, clock: FakeClock) -> AsyncIterator[MakeRuntime]:
    """`await make_runtime(notify=[…], …)`: a runtime over a real database with those keys; the same folder
    (so the same database) each call, as a restart would find it."""
    opened: list[Runtime] = []

    async def make(**changes: Any) -> Runtime:
        path = write_config(tmp_path, changes)
        runtime = Runtime(load_config(path), path, clock=clock, redactor=Redactor())
        await runtime.store.open()
        await runtime.scheduler.load()
        opened.append(runtime)
        return runtime

    yield make
    for runtime in opened:
        await runtime.store.close()


async def imported(runtime: Runtime, book: dict[str, Any], hash_: str = "a" * 40) -> int:
    return await runtime.events.add(
        runtime.clock.now(),
        "import.done",
        f"{book['title']} is in Audiobookshelf now",
        f"torrent:{hash_}",
        book=book,
    )


async def test_imports_within_a_minute_are_one_message_at_json_and_ntfy_targets(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    async with receiver.receiving() as served:
        runtime = await make_runtime(
            notify=[{"url": served.ntfy()}, {"url": served.json(), "events": ["imported"]}],
            http={"public_url": "https://nas.example.lan:8787/"},
        )
        first = await imported(runtime, HERO)
        clock.advance(30)
        second = await imported(runtime, WARBREAKER, "b" * 40)
        await runtime.notifications.run_once()
        assert served.messages == [], "a batch waits for its minute"
        clock.advance(BATCH_S)
        await runtime.notifications.run_once()
    assert sorted(m["style"] for m in served.messages) == ["json", "ntfy"]
    for message in served.messages:
        assert message["title"] == "Imported 2 books"
        assert message["message"] == (
            "• The Hero of Ages — Brandon Sanderson (Mistborn #3)\n"
            "• Warbreaker — Brandon Sanderson\n"
            f"mamd events {first}, {second}\n"
            "https://nas.example.lan:8787/status"
        )
    (ntfy,) = [m for m in served.messages if m["style"] == "ntfy"]
    assert ntfy["topic"] == "mamd-topic-4f1c9a"


async def test_one_import_reads_as_the_book_and_dry_run_says_so(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    async with receiver.receiving() as served:
        runtime = await make_runtime(notify=[{"url": served.ntfy()}], dry_run=True)
        event = await runtime.events.add(
            clock.now(), "import.would_link", "dry run: would import The Hero of Ages", None, book=HERO
        )
        clock.advance(BATCH_S)
        await runtime.notifications.run_once()
    (message,) = served.messages
    assert message["title"] == "[dry run] Would import: The Hero of Ages — Brandon Sanderson (Mistborn #3)"
    assert message["message"] == f"dry run: would import The Hero of Ages\nmamd event {event}"


async def test_a_guard_emergency_and_the_download_it_stops_are_one_message(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    async with receiver.receiving() as served:
        runtime = await make_runtime(
            notify=[{"url": served.ntfy(), "events": ["guard"], "min_level": "warning"}]
        )
        await runtime.events.add(
            clock.now(),
            "guard.changed",
            "account guard ok → emergency",
            "guard",
            previous="ok",
            level="emergency",
            grabs="none",
            reasons=["ratio 1.08 is below ratio.emergency_below (1.2)"],
        )
        await runtime.events.add(
            clock.now(), "guard.stopped", "stopped 1 download(s) for the account emergency: Dune", "guard"
        )
        await imported(runtime, HERO)  # not asked for here
        clock.advance(60)
        await runtime.events.add(
            clock.now(),
            "guard.changed",
            "account guard emergency → ok",
            "guard",
            previous="emergency",
            level="ok",
        )  # below min_level
        clock.advance(60)
        await runtime.notifications.run_once()
    (message,) = served.messages
    assert message["title"] == "Account guard: EMERGENCY"
    assert message["message"].startswith(
        "ratio 1.08 is below ratio.emergency_below (1.2)\nnothing is grabbed\n"
        "Stopped 1 download(s) for the account emergency: Dune\n"
    )
    assert message["type"] == "failure" or message["style"] == "ntfy"


async def test_a_target_answering_500_gets_the_message_once_it_answers_200(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    async with receiver.receiving() as served:
        served.receiver.plan([500])
        runtime = await make_runtime(notify=[{"url": served.json(), "events": ["import_failed"]}])
        await runtime.events.add(clock.now(), "import.failed", "cannot import Dune: a symbolic link", None)
        await runtime.notifications.run_once()
        assert served.messages == []
        (target,) = (await notify_status(runtime.notifications))[0]["targets"]
        assert (target["state"], target["last_error"], target["waiting"]) == (
            "retrying",
            "answered HTTP 500",
            1,
        )
        await runtime.notifications.run_once()
        assert served.messages == [], "the next try waits for the backoff"
        clock.advance(DELIVERY.delay(1))
        await runtime.notifications.run_once()
    assert [m["title"] for m in served.messages] == ["Import failed: cannot import Dune: a symbolic link"]
    assert [r["status"] for r in served.receiver.requests] == [500, 200]
    (target,) = (await notify_status(runtime.notifications))[0]["targets"]
    assert (target["state"], target["sent"], target["waiting"]) == ("ok", 1, 0)


async def test_a_hanging_target_times_out_while_another_target_is_served(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    async with receiver.receiving() as slow, receiver.receiving() as quick:
        slow.receiver.plan(hang=True)
        runtime = await make_runtime(
            notify=[{"url": slow.json("hook", rto="1", cto="1")}, {"url": quick.json()}],
        )
        await runtime.events.add(clock.now(), "import.failed", "cannot import Dune", None)
        waited = asyncio.get_running_loop().time()
        await runtime.notifications.round()  # starts each target's sender and returns
        for _ in range(200):
            if quick.messages:
                break
            await asyncio.sleep(0.01)
        assert len(quick.messages) == 1, "the quick target does not wait for the slow one"
        await runtime.notifications.run_once()
        elapsed = asyncio.get_running_loop().time() - waited
        slow.receiver.plan()  # release it
    assert slow.messages == []
    assert elapsed < 10
    slow_target, quick_target = (await notify_status(runtime.notifications))[0]["targets"]
    assert slow_target["state"] == "retrying"
    assert slow_target["last_error"] == "could not connect, or no answer in time"
    assert (quick_target["state"], quick_target["sent"]) == ("ok", 1)


async def test_a_dead_target_becomes_a_problem_told_to_the_others_and_resolved_when_it_works(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    port = free_port()  # nothing listens here yet
    async with receiver.receiving() as other:
        runtime = await make_runtime(
            notify=[
                {"url": f"json://127.0.0.1:{port}/hook", "events": ["import_failed", "problem"]},
                {"url": other.ntfy(), "events": ["problem"]},
            ]
        )
        await runtime.events.add(clock.now(), "import.failed", "cannot import Dune", None)
        for failure in range(1, FAILING_AFTER + 1):
            await runtime.notifications.run_once()
            clock.advance(DELIVERY.delay(failure))
        await runtime.notifications.run_once()
        section, problems = await notify_status(runtime.notifications)
        assert [p["id"] for p in problems] == ["notify[0]"]
        assert "notify[0] (json://) fails: could not connect" in problems[0]["summary"]
        assert section["targets"][0]["state"] == "failing"
        assert [m["title"] for m in other.messages] == ["Notification target [0] fails"]
        assert "notify[0]" in [p["id"] for p in runtime.readiness_problems()]
        async with receiver.receiving(port) as revived:
            clock.advance(DELIVERY.max_s)
            await runtime.notifications.run_once()  # delivers, and clears the problem
            await runtime.notifications.run_once()  # says it is resolved
        assert [m["title"] for m in revived.messages] == ["Import failed: cannot import Dune"]
        assert [m["title"] for m in other.messages] == [
            "Notification target [0] fails",
            "Resolved: Notification target [0] fails",
        ]
    assert (await notify_status(runtime.notifications))[1] == []


async def test_a_problem_is_said_once_and_resolved_once(make_runtime: MakeRuntime, clock: FakeClock) -> None:
    async with receiver.receiving() as served:
        runtime = await make_runtime(notify=[{"url": served.ntfy(), "events": ["problem", "session"]}])
        health = runtime.health
        health.report("audiobookshelf.scan", "warning", "Audiobookshelf answers 403 to a library scan")
        await runtime.notifications.run_once()
        health.report(
            "audiobookshelf.scan", "warning", "Audiobookshelf answers 403 to a library scan (again)"
        )
        await runtime.notifications.run_once()
        health.clear("audiobookshelf.scan")
        await runtime.notifications.run_once()
        health.clear("audiobookshelf.scan")
        await runtime.notifications.run_once()
    assert [(m["title"], m["message"].splitlines()[0]) for m in served.messages] == [
        ("Audiobookshelf refuses library scans", "Audiobookshelf answers 403 to a library scan"),
        (
            "Resolved: Audiobookshelf refuses library scans",
            "Was: Audiobookshelf answers 403 to a library scan",
        ),
    ]


async def test_a_service_down_for_a_moment_is_never_said_and_one_down_for_long_is_said_once(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    async with receiver.receiving() as served:
        runtime = await make_runtime(notify=[{"url": served.ntfy(), "events": ["problem"]}])
        runtime.health.service("qbittorrent", "down", "connection refused")
        await runtime.notifications.run_once()
        clock.advance(SERVICE_HOLD_S / 2)
        runtime.health.service("qbittorrent", "ok")
        await runtime.notifications.run_once()
        clock.advance(SERVICE_HOLD_S)
        await runtime.notifications.run_once()
        assert served.messages == [], "a restart of qBittorrent is not news"
        runtime.health.service("qbittorrent", "down", "connection refused")
        await runtime.notifications.run_once()
        clock.advance(SERVICE_HOLD_S)
        await runtime.notifications.run_once()
        clock.advance(SERVICE_HOLD_S)
        await runtime.notifications.run_once()
        runtime.health.service("qbittorrent", "ok")
        await runtime.notifications.run_once()
    assert [m["title"] for m in served.messages] == ["qBittorrent is down", "Resolved: qBittorrent is down"]


async def test_a_refused_mam_session_is_one_session_message_and_its_return_one_more(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    async with receiver.receiving() as served:
        runtime = await make_runtime(notify=[{"url": served.ntfy(), "events": ["session"]}])
        runtime.health.service("mam", "unauthorized", "MAM answered 403")
        await runtime._mam_session_rejected("MAM answered 403")  # the event the client records too
        await runtime.notifications.run_once()
        runtime.health.service("mam", "unauthorized", "MAM answered with its login page")
        await runtime.notifications.run_once()
        runtime.health.service("mam", "ok")
        await runtime.notifications.run_once()
    assert [m["title"] for m in served.messages] == [
        "MAM refused the session",
        "Resolved: MAM refused the session",
    ]
    assert served.messages[0]["message"].startswith("Paste a new mam_id into mam.session")


async def test_pending_messages_and_said_problems_survive_a_restart(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    port = free_port()
    url = f"json://127.0.0.1:{port}/hook"
    before = await make_runtime(notify=[{"url": url}])
    await imported(before, HERO)
    before.health.report("config", "warning", "configuration edit rejected: mamd.yaml:3: bad")
    before.health.report("audiobookshelf.scan", "warning", "Audiobookshelf answers 403 to a library scan")
    clock.advance(BATCH_S)
    await before.notifications.run_once()  # nobody listens: all three wait
    await before.store.close()
    async with receiver.receiving(port) as served:
        after = await make_runtime(notify=[{"url": url}])
        after.health.report("audiobookshelf.scan", "warning", "Audiobookshelf answers 403 to a library scan")
        clock.advance(DELIVERY.first_s * 2)  # the try that failed before the restart set the next one
        await after.notifications.run_once()
        assert sorted(m["title"] for m in served.messages) == [
            "Audiobookshelf refuses library scans",
            "Configuration edit refused",
            "Imported: The Hero of Ages — Brandon Sanderson (Mistborn #3)",
        ], "each once: the problem seen again is not said again"
        clock.advance(notice.CARRY_S)
        await after.notifications.run_once()
        await after.notifications.run_once()
    titles = [m["title"] for m in served.messages]
    assert titles[3:] == ["Resolved: Configuration edit refused"]
    assert "no longer seen since mamd restarted" in served.messages[3]["message"]


async def test_a_burst_of_thousands_of_events_is_bounded_with_the_drops_counted_as_one_problem(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    async with receiver.receiving() as served:
        runtime = await make_runtime(notify=[{"url": served.json(), "events": ["import_failed", "problem"]}])
        burst = 3000
        await runtime.events.add_many(
            clock.now(), [("import.failed", f"cannot import book {n}", None, {}) for n in range(burst)]
        )
        assert await runtime.notifications.outbox.size() == MAX_MESSAGES
        await runtime.notifications.run_once()
        section, problems = await notify_status(runtime.notifications)
        assert [p["id"] for p in problems] == ["notify.dropped"]
        assert problems[0]["summary"].startswith(f"{burst - MAX_MESSAGES} notification(s) were dropped")
        # and one more: the oldest made room for the message saying so
        assert section["outbox"]["dropped"] == burst - MAX_MESSAGES + 1
        await runtime.notifications.run_once()
        await runtime.notifications.run_once()
    titles = [m["title"] for m in served.messages]
    assert len(titles) == MAX_MESSAGES + 1
    assert titles[0] == f"Import failed: cannot import book {burst - MAX_MESSAGES + 1}"
    assert titles.count("Notifications dropped") == 1
    assert titles[-1] == "Resolved: Notifications dropped"


async def test_no_configured_secret_cookie_or_passkey_reaches_a_notification(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    async with receiver.receiving() as served:
        topic = "private-topic-7c1e0b"
        url = served.ntfy(topic)
        runtime = await make_runtime(notify=[{"url": url}])
        rotated = "rotated-mam-cookie-value-93b1"
        runtime.redactor.cookie(rotated)  # as the MAM client does with every cookie MAM rotates to
        passkey = "0123456789abcdefPASSKEYxyz"
        leaky = (
            f"cannot import Dune: key {API_KEY}, cookie {MAM_SESSION} then {rotated}, tracker "
            f"https://t.myanonamouse.net/tracker.php/{passkey}/announce, target {url}, "
            f"mam_id=cookie-in-a-query apikey=another-one"
        )
        await runtime.events.add(clock.now(), "import.failed", leaky, None)
        runtime.health.report("config", "warning", f"edit rejected: {leaky}")
        await runtime.notifications.run_once()
        await runtime.notifications.run_once()
    assert len(served.messages) == 2
    for message in served.messages:
        text = f"{message['title']}\n{message['message']}"
        for secret in (API_KEY, MAM_SESSION, rotated, passkey, topic, "cookie-in-a-query", "another-one"):
            assert secret not in text
        assert "***" in text
    stored = await runtime.store.fetchall("SELECT title, body FROM notify_messages")
    assert all(API_KEY not in row["body"] for row in stored)


async def test_the_daily_summary_tells_the_day(make_runtime: MakeRuntime, clock: FakeClock) -> None:
    async with receiver.receiving() as served:
        runtime = await make_runtime(notify=[{"url": served.ntfy(), "events": ["daily_summary"]}])
        await runtime.notifications.run_once()  # the first day starts
        await runtime.events.add(clock.now(), "grab.added", "grabbed Dune", None, book=HERO)
        await imported(runtime, HERO)
        runtime.health.report(
            "audiobookshelf.scan", "warning", "Audiobookshelf answers 403 to a library scan"
        )
        clock.advance(notifying.DAY_S - 1)
        await runtime.notifications.run_once()
        assert served.messages == []
        clock.advance(1)
        await runtime.notifications.run_once()
        clock.advance(3600)
        await runtime.notifications.run_once()
    (summary,) = served.messages
    assert summary["title"] == "mamd daily summary"
    assert summary["message"].splitlines() == [
        "Last 24 h: grabbed 1, imported 1",
        "Account guard: OK",
        "MAM: no account reading yet",
        "Failing:",
        "• Audiobookshelf answers 403 to a library scan",
        "mamd daily summary",
    ]


async def test_an_event_written_with_its_change_is_told_only_when_the_change_is_kept(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    """Grabs and imports write their event in their own transaction (`Events.insert`): the message is
    part of it, so a change undone leaves no event and nothing to send."""
    async with receiver.receiving() as served:
        runtime = await make_runtime(notify=[{"url": served.ntfy()}])

        async def undone() -> None:
            async with runtime.store.transaction() as db:
                await runtime.events.insert(db, clock.now(), "import.failed", "cannot import: gone", None)
                raise RuntimeError("the change the event belongs to fails")

        with pytest.raises(RuntimeError):
            await undone()
        assert await runtime.events.recent(5) == []
        assert await runtime.notifications.outbox.size() == 0
        async with runtime.store.transaction() as db:
            event = await runtime.events.insert(
                db, clock.now(), "import.failed", "cannot import The Hero of Ages: taken", None, book=HERO
            )
        await runtime.notifications.run_once()
    (message,) = served.messages
    assert message["title"] == "Import failed: The Hero of Ages — Brandon Sanderson (Mistborn #3)"
    assert message["message"].startswith(f"cannot import The Hero of Ages: taken\nmamd event {event}")


async def test_events_nobody_asked_for_store_nothing(make_runtime: MakeRuntime, clock: FakeClock) -> None:
    async with receiver.receiving() as served:
        runtime = await make_runtime(
            notify=[{"url": served.ntfy(), "events": ["bonus"], "min_level": "error"}]
        )
        await runtime.events.add(clock.now(), "wanted.added", "wanted: Dune", None)
        await runtime.events.add(clock.now(), "bonus.spent", "bought 50 GiB", "bonus")
        await imported(runtime, HERO)
        assert await runtime.notifications.outbox.size() == 0
        await runtime.events.add(clock.now(), "bonus.halted", "spending stopped", "bonus")
        assert await runtime.notifications.outbox.size() == 1


async def test_the_test_api_sends_to_every_target_and_says_how_each_went(
    make_runtime: MakeRuntime, aiohttp_client: Any
) -> None:
    from mamd.web import create_app

    down = free_port()
    async with receiver.receiving() as served:
        runtime = await make_runtime(
            notify=[{"url": served.ntfy(), "events": ["bonus"]}, {"url": f"json://127.0.0.1:{down}/x"}]
        )
        client = await aiohttp_client(create_app(runtime))
        response = await client.post("/api/v1/notify/test", headers={"X-Api-Key": API_KEY})
        body = await response.json()
        refused = await client.post("/api/v1/notify/test")
    assert response.status == 200
    assert [(r["target"], r["service"], r["ok"], r["error"]) for r in body["results"]] == [
        ("notify[0]", "ntfy", True, None),
        ("notify[1]", "JSON", False, "could not connect, or no answer in time"),
    ]
    assert (body["sent"], body["failed"]) == (1, 1)
    (message,) = served.messages
    assert message["title"] == "mamd test notification"
    assert f"A test from mamd on {socket.gethostname()} to notify[0] (ntfy)" in message["message"]
    assert refused.status == 401


async def test_an_emergency_and_the_recovery_soon_after_are_two_messages(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    async with receiver.receiving() as served:
        runtime = await make_runtime(notify=[{"url": served.ntfy(), "events": ["guard"]}])
        for level in ("emergency", "ok"):
            await runtime.events.add(clock.now(), "guard.changed", f"guard → {level}", "guard", level=level)
            clock.advance(1)
        await runtime.events.add(clock.now(), "guard.resumed", "resumed 1 download(s): Dune", "guard")
        await runtime.notifications.run_once()
        assert [m["title"] for m in served.messages] == ["Account guard: EMERGENCY"]
        await runtime.notifications.flush()  # what gathers is sent at shutdown
    assert [m["title"] for m in served.messages] == ["Account guard: EMERGENCY", "Account guard: OK again"]
    assert "Resumed 1 download(s): Dune" in served.messages[1]["message"]


async def test_the_status_page_shows_each_target_and_why_one_waits(
    make_runtime: MakeRuntime, clock: FakeClock, aiohttp_client: Any
) -> None:
    from mamd.web import create_app
    from tests.support.page import page_text

    async with receiver.receiving() as served:
        served.receiver.plan([500])
        runtime = await make_runtime(notify=[{"url": served.json(), "events": ["import_failed"]}])
        await runtime.events.add(clock.now(), "import.failed", "cannot import Dune", None)
        await runtime.notifications.run_once()
        client = await aiohttp_client(create_app(runtime))
        page = await client.get("/", headers={"Accept": "text/html"})
        text = page_text(await page.text())
    assert "Notifications 1 message(s) waiting in the outbox (it holds at most 500)" in text
    assert "notify[0] JSON retrying import_failed from info · 0 sent · 1 waiting answered HTTP 500" in text
