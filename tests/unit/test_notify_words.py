"""What becomes a notification, for whom, and in which words: the pure parts of `mamd.notify`."""

from __future__ import annotations

from pathlib import Path

import pytest

from mamd.config import ConfigError, load_config
from mamd.notify import routes
from mamd.notify.messages import (
    MAX_LISTED,
    DayFacts,
    Item,
    ProblemFacts,
    book_label,
    daily_summary,
    events_message,
    problem_message,
    with_link,
)
from tests.support.configs import write_config

HERO = {"title": "The Hero of Ages", "authors": ["Brandon Sanderson"], "series": "Mistborn", "position": "3"}


def test_a_book_reads_as_a_person_says_it() -> None:
    assert book_label(HERO) == "The Hero of Ages — Brandon Sanderson (Mistborn #3)"
    assert book_label({"title": "Dune", "authors": ["Frank Herbert"]}) == "Dune — Frank Herbert"
    assert book_label({"title": "Dune"}) == "Dune"


def test_one_import_is_titled_with_its_book_and_names_its_event() -> None:
    title, body = events_message([Item(7, "import.done", "in Audiobookshelf now", {"book": HERO})], 1, False)
    assert title == "Imported: The Hero of Ages — Brandon Sanderson (Mistborn #3)"
    assert body == "in Audiobookshelf now\nmamd event 7"


def test_a_search_held_and_a_grab_refused_for_good_say_what_happened() -> None:
    why = "MAM is not searched while nothing may be grabbed: 3 downloads running already"
    title, body = events_message([Item(8, "search.held", why, {"reason": "3 downloads running"})], 1, False)
    assert (title, body) == ("MAM is not searched", f"{why}\nmamd event 8")
    title, _ = events_message([Item(9, "search.resumed", "grabs may happen again", {})], 1, False)
    assert title == "MAM is searched again"
    refused = Item(10, "grab.failed", "could not grab it: 5 times in a row", {"book": HERO, "final": True})
    title, body = events_message([refused], 1, False)
    assert title == "Could not grab: The Hero of Ages — Brandon Sanderson (Mistborn #3)"
    assert body.startswith("could not grab it: 5 times in a row")


def test_a_long_batch_lists_ten_and_counts_the_rest() -> None:
    items = [Item(i, "grab.added", f"grabbed {i}", {"book": {"title": f"Book {i}"}}) for i in range(1, 16)]
    title, body = events_message(items[:12], 15, dry_run=True)
    assert title == "[dry run] Grabbed 15 books"
    lines = body.splitlines()
    assert lines[:MAX_LISTED] == [f"• Book {i}" for i in range(1, MAX_LISTED + 1)]
    assert lines[MAX_LISTED] == "… and 5 more"


def test_a_guard_change_and_what_it_did_read_as_one_message() -> None:
    items = [
        Item(
            1,
            "guard.changed",
            "account guard ok → emergency",
            {
                "level": "emergency",
                "grabs": "none",
                "reasons": ["ratio 1.08 is below ratio.emergency_below (1.2)"],
            },
        ),
        Item(2, "guard.stopped", "stopped 1 download(s) for the account emergency: Dune", {}),
    ]
    title, body = events_message(items, 2, False)
    assert title == "Account guard: EMERGENCY"
    assert body.splitlines() == [
        "ratio 1.08 is below ratio.emergency_below (1.2)",
        "nothing is grabbed",
        "Stopped 1 download(s) for the account emergency: Dune",
        "mamd events 1, 2",
    ]


def test_a_refused_session_says_what_to_do_and_its_resolution_what_it_was() -> None:
    said = ProblemFacts("service.mam", "MAM refused the session", "mam is unauthorized: MAM answered 403")
    title, body = problem_message(said, False)
    assert title == "MAM refused the session"
    assert body.startswith("Paste a new mam_id into mam.session")
    title, body = problem_message(
        ProblemFacts(said.problem_id, said.title, said.summary, resolved=True), False
    )
    assert title == "Resolved: MAM refused the session"
    assert body == "Was: mam is unauthorized: MAM answered 403\nmamd problem service.mam"


def test_the_link_goes_to_status_under_the_public_address() -> None:
    assert with_link("body", "https://nas.example.lan:8787/") == "body\nhttps://nas.example.lan:8787/status"
    assert with_link("body", None) == "body"


def test_the_daily_summary_counts_the_day_and_shows_what_changed() -> None:
    facts = DayFacts(
        since=0,
        grabbed=3,
        imported=2,
        import_failures=1,
        guard="caution",
        guard_reasons=["ratio 1.30 is below ratio.floor (1.5)"],
        ratio=1.3,
        ratio_before=1.25,
        bonus=62500,
        bonus_before=60000,
        failing=["qbittorrent is down: connection refused"],
        wanted={"wanted": 4, "skipped": 1, "imported": 9},
    )
    title, body = daily_summary(facts, False)
    assert title == "mamd daily summary"
    assert body.splitlines() == [
        "Last 24 h: grabbed 3, imported 2, 1 import(s) failed",
        "Account guard: CAUTION (ratio 1.30 is below ratio.floor (1.5))",
        "MAM: ratio 1.30 (+0.05), 62,500 bonus points (+2,500)",
        "Wanted: 1 skipped, 4 wanted",
        "Failing:",
        "• qbittorrent is down: connection refused",
        "mamd daily summary",
    ]


@pytest.mark.parametrize(
    ("kind", "data", "topic", "level", "batch"),
    [
        ("grab.added", {}, "grabbed", "info", "grab.added"),
        ("import.done", {}, "imported", "info", "import.done"),
        ("import.failed", {}, "import_failed", "error", None),
        ("guard.changed", {"level": "emergency"}, "guard", "error", "guard"),
        ("guard.changed", {"level": "caution"}, "guard", "warning", "guard"),
        ("guard.changed", {"level": "ok"}, "guard", "info", "guard"),
        ("account.counter_rose", {"counter": "inactHnr"}, "hit_and_run_risk", "warning", None),
        ("account.counter_rose", {"counter": "ite"}, "problem", "warning", None),
        ("torrent.at_risk", {}, "hit_and_run_risk", "warning", "torrent.at_risk"),
        ("bonus.halted", {}, "bonus", "error", None),
        # a grab refused now and then is batched; one refused for good is said louder, on its own
        ("grab.failed", {"final": False}, "grabbed", "warning", "grab.failed"),
        ("grab.failed", {"final": True}, "grabbed", "error", None),
        # MAM not searched while nothing may be grabbed, and searched again
        ("search.held", {"reason": "3 downloads running already"}, "grabbed", "warning", None),
        ("search.resumed", {}, "grabbed", "info", None),
        # what a dry run's guard would have stopped joins the guard's message
        ("guard.would_stop", {}, "guard", "warning", "guard"),
    ],
)
def test_events_go_to_their_name_at_their_level(
    kind: str, data: dict[str, str], topic: str, level: str, batch: str | None
) -> None:
    route = routes.event_route(kind, data)
    assert route is not None
    assert (route.topic, route.level, route.batch) == (topic, level, batch)


@pytest.mark.parametrize("kind", ["wanted.added", "config.reloaded", "job.failed", "mam.session_rejected"])
def test_events_said_elsewhere_or_of_no_interest_are_not_sent(kind: str) -> None:
    """A refused session, a failed job: the problem (said once, then resolved) or the daily summary tell."""
    assert routes.event_route(kind, {}) is None


def test_problems_go_to_their_name_and_a_passing_service_outage_is_held() -> None:
    session = routes.problem_route("service.mam", "warning", "unauthorized")
    assert session == routes.ProblemRoute("session", "error", "MAM refused the session", "unauthorized")
    down = routes.problem_route("service.qbittorrent", "warning", "down")
    assert down is not None
    assert (down.topic, down.title, down.hold_s) == ("problem", "qBittorrent is down", routes.SERVICE_HOLD_S)
    assert routes.problem_route("imports.not_in_library", "warning", None) is None  # each import says it
    probe = routes.problem_route("import.link", "error", None)
    assert probe is not None
    assert (probe.title, probe.level, probe.hold_s) == ("Imports cannot work", "error", 0.0)
    loop = routes.problem_route("loop.importer", "warning", None)  # started again by `Loops`
    assert loop == routes.ProblemRoute("problem", "warning", "mamd's importer loop failed")


def test_a_target_gets_what_it_asks_for_at_its_level_and_above() -> None:
    assert routes.wants(("all",), "info", "grabbed", "info")
    assert routes.wants(("guard",), "warning", "guard", "error")
    assert not routes.wants(("guard",), "warning", "guard", "info")
    assert not routes.wants(("imported",), "info", "guard", "error")
    assert routes.wants(("bonus",), "error", routes.TEST, "info")


# -- bad input in the configuration ---------------------------------------------------------------


def test_an_unknown_apprise_scheme_is_named_with_its_line_and_a_suggestion(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"notify": [{"url": "ntfi://ntfy.sh/s3cr3t-topic-1a2b"}]})
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    (problem,) = caught.value.problems
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "url: ntfi://" in text)
    assert (problem.key, problem.line) == ("notify[0].url", line)
    assert problem.message == (
        "unknown notification scheme `ntfi://`; did you mean `ntfy://`? (the value is a secret and not shown)"
    )
    assert "s3cr3t-topic-1a2b" not in str(caught.value)


def test_an_unknown_event_name_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, {"notify": [{"url": "json://127.0.0.1/hook", "events": ["imported", "imprted"]}]}
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    (problem,) = caught.value.problems
    assert problem.key == "notify[0].events[1]"
    assert problem.message.endswith("got 'imprted'; did you mean `imported`?")
    assert "daily_summary, all" in problem.message


def test_a_plain_web_address_is_refused_unless_apprise_knows_the_service(tmp_path: Path) -> None:
    accepted = write_config(tmp_path, {"notify": [{"url": "https://ntfy.sh/mamd-topic-0123"}]}, "ok.yaml")
    assert load_config(accepted, env={}).notify[0].url.reveal() == "https://ntfy.sh/mamd-topic-0123"
    refused = write_config(tmp_path, {"notify": [{"url": "https://example.com/hook-token-9"}]}, "bad.yaml")
    with pytest.raises(ConfigError) as caught:
        load_config(refused, env={})
    assert caught.value.problems[0].message.startswith(
        "a plain https:// address is no Apprise URL: write a webhook as jsons://HOST/PATH"
    )


def test_a_min_level_outside_the_three_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"notify": [{"url": "json://127.0.0.1/hook", "min_level": "warn"}]})
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.problems[0].message.endswith("got 'warn'; did you mean `warning`?")


def test_each_change_of_the_guard_starts_a_message_of_its_own() -> None:
    changed = routes.event_route("guard.changed", {"level": "ok"})
    stopped = routes.event_route("guard.stopped", {})
    assert changed is not None
    assert changed.opens
    assert stopped is not None
    assert not stopped.opens
    assert changed.batch == stopped.batch == "guard"
