"""What a reload changes, key by key; secrets show as `***`; restart-only keys wait for a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mamd.config import Change, Config, diff, iter_secrets, keep_restart_keys, load_config
from tests.support.configs import ABS_KEY, API_KEY, MAM_SESSION, QBT_PASSWORD

ConfigFile = Callable[..., Path]
NEW_KEY = "a-brand-new-api-key-0123456789"


@pytest.fixture
def load(config_file: ConfigFile) -> Callable[..., Config]:
    """Load a valid file with `changes`; the port is pinned so that two files differ only as asked."""
    count = 0

    def make(changes: dict[str, Any] | None = None) -> Config:
        nonlocal count
        count += 1
        pinned: dict[str, Any] = {"http": {"port": 8787}}
        for section, values in (changes or {}).items():
            pinned[section] = {**pinned.get(section, {}), **values} if isinstance(values, dict) else values
        return load_config(config_file(pinned, name=f"mamd-{count}.yaml"), env={})

    return make


def test_identical_configurations_have_no_changes(load: Callable[..., Config]) -> None:
    assert diff(load(), load()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"schedule": {"search": "2h"}}, Change("schedule.search", "0", "2h", restart=False)),
        ({"http": {"port": 9000}}, Change("http.port", "8787", "9000", restart=True)),
        ({"http": {"host": "0.0.0.0"}}, Change("http.host", "127.0.0.1", "0.0.0.0", restart=True)),
        ({"dry_run": True}, Change("dry_run", "false", "true", restart=False)),
        ({"rules": {"formats": ["mp3"]}}, Change("rules.formats", "[m4b, mp3]", "[mp3]", restart=False)),
        ({"rules": {"max_size": "2GiB"}}, Change("rules.max_size", "4GiB", "2GiB", restart=False)),
        ({"rules": {"wedges": {"keep": 2}}}, Change("rules.wedges.keep", "5", "2", restart=False)),
        ({"import": {"method": "copy"}}, Change("import.method", "hardlink", "copy", restart=False)),
        ({"qbittorrent": {"password": None}}, Change("qbittorrent.password", "***", "null", restart=False)),
    ],
)
def test_a_changed_value_is_listed_under_its_dotted_key(
    load: Callable[..., Config], changes: dict[str, Any], expected: Change
) -> None:
    assert diff(load(), load(changes)) == [expected]


def test_every_changed_key_is_listed_in_the_order_of_the_example_file(load: Callable[..., Config]) -> None:
    new = load(
        {"http": {"port": 9000}, "schedule": {"search": "2h"}, "ratio": {"floor": 2.0}, "dry_run": True}
    )
    assert [c.key for c in diff(load(), new)] == ["http.port", "dry_run", "schedule.search", "ratio.floor"]


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"http": {"api_key": NEW_KEY}}, "http.api_key"),
        ({"mam": {"session": NEW_KEY}}, "mam.session"),
        ({"qbittorrent": {"password": NEW_KEY}}, "qbittorrent.password"),
        ({"audiobookshelf": {"api_key": NEW_KEY}}, "audiobookshelf.api_key"),
    ],
)
def test_a_changed_secret_shows_as_stars_on_both_sides(
    load: Callable[..., Config], changes: dict[str, Any], key: str
) -> None:
    changes_ = diff(load(), load(changes))
    assert changes_ == [Change(key, "***", "***", restart=False)]
    shown = repr(changes_)
    for secret in (NEW_KEY, API_KEY, MAM_SESSION, QBT_PASSWORD, ABS_KEY):
        assert secret not in shown


def test_a_changed_notify_list_hides_its_urls(load: Callable[..., Config]) -> None:
    """A notify url often holds a token; the logged diff of the list must not show it."""
    old = load({"notify": [{"url": "ntfys://ntfy.sh/old-topic-token-123", "events": ["grabbed"]}]})
    new = load({"notify": [{"url": "ntfys://ntfy.sh/new-topic-token-456", "events": ["grabbed", "guard"]}]})
    (change,) = diff(old, new)
    assert change == Change(
        "notify",
        "[{url: ***, events: [grabbed], min_level: info}]",
        "[{url: ***, events: [grabbed, guard], min_level: info}]",
        restart=False,
    )


def test_a_changed_manual_want_shows_the_whole_list(load: Callable[..., Config]) -> None:
    new = load({"wanted": {"manual": [{"title": "Dune", "author": "Frank Herbert", "position": 1}]}})
    assert diff(load(), new) == [
        Change(
            "wanted.manual", "[]", "[{title: Dune, author: Frank Herbert, series: null, position: 1}]", False
        )
    ]


def test_keep_restart_keys_holds_host_port_and_database_and_lists_them(
    load: Callable[..., Config], tmp_path: Path
) -> None:
    running = load()
    new = load(
        {
            "http": {"host": "0.0.0.0", "port": 9000, "api_key": NEW_KEY},
            "state": {"database": str(tmp_path / "moved.db"), "backups": 3},
            "schedule": {"search": "2h"},
        }
    )

    held, pending = keep_restart_keys(running, new)

    assert pending == ["http.host", "http.port", "state.database"]
    assert (held.http.host, held.http.port, held.state.database) == (
        running.http.host,
        running.http.port,
        running.state.database,
    )
    # everything else takes the new value, in the same sections as the held keys too
    assert held.http.api_key.reveal() == NEW_KEY
    assert held.state.backups == 3
    assert held.schedule.search == new.schedule.search
    assert [c.key for c in diff(running, held)] == ["http.api_key", "state.backups", "schedule.search"]


def test_keep_restart_keys_without_restart_changes_returns_the_new_configuration(
    load: Callable[..., Config],
) -> None:
    running, new = load(), load({"schedule": {"search": "2h"}, "rules": {"min_seeders": 3}})
    held, pending = keep_restart_keys(running, new)
    assert pending == []
    assert held == new


def test_keep_restart_keys_changes_nothing_in_the_running_configuration(load: Callable[..., Config]) -> None:
    running, copy = load(), load()
    keep_restart_keys(running, load({"http": {"port": 9000}, "schedule": {"search": "2h"}}))
    assert running == copy


def test_iter_secrets_finds_every_secret_including_notify_urls(load: Callable[..., Config]) -> None:
    """The log redactor relies on this list; a secret missing here could end up in the journal."""
    config = load(
        {
            "notify": [
                {"url": "https://ntfy.sh/first-topic-token"},
                {"url": "https://discord.com/api/webhooks/1/second-token"},
            ]
        }
    )
    assert sorted(iter_secrets(config)) == sorted(
        [
            API_KEY,
            MAM_SESSION,
            QBT_PASSWORD,
            ABS_KEY,
            "https://ntfy.sh/first-topic-token",
            "https://discord.com/api/webhooks/1/second-token",
        ]
    )


def test_iter_secrets_skips_a_secret_that_is_not_set(load: Callable[..., Config]) -> None:
    config = load({"qbittorrent": {"password": None}})
    assert sorted(iter_secrets(config)) == sorted([API_KEY, MAM_SESSION, ABS_KEY])
