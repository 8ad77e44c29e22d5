"""`mamd status` as text: the library and the wanted books are counted where a person looks."""

from __future__ import annotations

from typing import Any

from mamd.status_text import render_status


def status(**sections: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": "0.1.0",
        "uptime_s": 90,
        "started_at": "2026-11-22T04:30:00Z",
        "ready": True,
        "config": {"path": "/etc/mamd/mamd.yaml", "generation": 1, "loaded_at": "2026-11-22T04:30:00Z"},
        "jobs": {},
        "services": {},
        "inbox": {"pending": 0},
        "imports": {"waiting_for_library": 0, "not_in_library": []},
        "problems": [],
        "recent": [],
        "library": {"library": None, "items": 0, "series": 0, "authors": 0, "last_sync_at": None},
        "wanted": {"wanted": 0, "searching": 0, "grabbed": 0, "imported": 0},
    }
    return {**base, **sections}


def test_the_library_and_wanted_counts_are_shown() -> None:
    text = render_status(
        status(
            library={
                "library": "Audiobooks",
                "items": 1204,
                "series": 87,
                "authors": 301,
                "last_sync_at": "2026-11-22T04:31:00Z",
            },
            wanted={"wanted": 18, "searching": 0, "grabbed": 2, "imported": 5},
        )
    )
    assert "library   'Audiobooks': 1,204 books, 87 series, 301 authors (read 2026-11-22T04:31:00Z)" in text
    assert "wanted    25 book(s): 18 wanted, 2 grabbed, 5 imported" in text


def test_a_library_never_read_says_so_rather_than_showing_zero_books() -> None:
    text = render_status(status())
    assert "library   not read yet" in text
    assert "0 books" not in text


def test_imports_audiobookshelf_never_listed_are_shown_with_why() -> None:
    failed = {
        "folder": "Naomi Novik/Temeraire/2 - Throne of Jade",
        "reason": "Audiobookshelf did not list it",
    }
    text = render_status(status(imports={"waiting_for_library": 1, "not_in_library": [failed]}))
    assert "imports   1 waiting for Audiobookshelf to list them" in text
    assert (
        "not in the library: Naomi Novik/Temeraire/2 - Throne of Jade — Audiobookshelf did not list it"
        in text
    )


def test_each_notification_target_is_shown_with_its_state_and_a_failing_one_with_why() -> None:
    notify = {
        "targets": [
            {
                "target": "notify[0]",
                "service": "ntfy",
                "events": ["all"],
                "state": "ok",
                "sent": 12,
                "waiting": 0,
            },
            {
                "target": "notify[1]",
                "service": "JSON",
                "events": ["guard", "session"],
                "state": "failing",
                "sent": 0,
                "waiting": 3,
                "last_error": "answered HTTP 500",
                "next_try_at": "2026-11-22T04:40:00Z",
            },
        ],
        "outbox": {"waiting": 3, "limit": 500, "dropped": 0},
    }
    text = render_status(status(notify=notify))
    assert "notify    3 message(s) waiting, 0 dropped" in text
    assert "  notify[0] ntfy (all): ok, 12 sent, 0 waiting" in text
    assert (
        "  notify[1] JSON (guard, session): failing, 0 sent, 3 waiting — answered HTTP 500; next try "
        "2026-11-22T04:40:00Z"
    ) in text
    assert "notify " not in render_status(status(notify={"targets": [], "outbox": {}}))
