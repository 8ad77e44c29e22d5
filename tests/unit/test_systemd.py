"""mamd/systemd.py: sd_notify messages on a real AF_UNIX datagram socket, and the watchdog interval."""

from __future__ import annotations

import gc
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator

import pytest

from mamd.systemd import Notifier


def receive(server: socket.socket) -> list[str]:
    """One datagram, as the lines of an sd_notify message."""
    return server.recv(4096).decode().split("\n")


def nothing_arrives(server: socket.socket) -> bool:
    server.settimeout(0.1)
    try:
        server.recv(4096)
    except TimeoutError:
        return True
    return False


@pytest.fixture
def notify_path() -> Iterator[str]:
    # AF_UNIX paths are limited to 108 bytes: pytest's tmp_path can be longer
    folder = tempfile.mkdtemp(dir="/tmp")
    try:
        yield os.path.join(folder, "notify")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server(notify_path: str) -> Iterator[socket.socket]:
    """What systemd listens on: a datagram socket bound at `notify_path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(notify_path)
        sock.settimeout(2.0)
        yield sock


@pytest.fixture
def notifier(server: socket.socket, notify_path: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Notifier]:
    """A Notifier built as the daemon builds it: from the environment, here naming `server`."""
    monkeypatch.setenv("NOTIFY_SOCKET", notify_path)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    made = Notifier()
    yield made
    made.close()


def resource_warnings_while(action: Callable[[], None]) -> list[str]:
    """The ResourceWarnings raised by `action` and by the garbage it leaves."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        action()
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_without_notify_socket_every_call_is_a_silent_no_op(
    server: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    notifier = Notifier()
    assert notifier.enabled is False
    for call in (notifier.ready, notifier.reloading, notifier.watchdog, notifier.stopping):
        call()
    notifier.status("config generation 1; idle")
    assert notifier.watchdog_interval is None  # no socket to kick
    assert nothing_arrives(server)


@pytest.mark.parametrize("value", ["", "/nonexistent/mamd/notify"])
def test_an_empty_or_missing_socket_path_disables_notification_without_leaking(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", value)

    def build() -> None:
        notifier = Notifier()
        assert notifier.enabled is False
        notifier.ready()

    assert resource_warnings_while(build) == []


def test_enabled_false_ignores_the_environment(
    server: socket.socket, notify_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", notify_path)
    notifier = Notifier(enabled=False)
    notifier.ready()
    assert notifier.enabled is False
    assert nothing_arrives(server)


def test_ready_sends_ready_with_the_status_line(notifier: Notifier, server: socket.socket) -> None:
    assert notifier.enabled is True
    notifier.ready("config generation 1; idle")
    assert receive(server) == ["READY=1", "STATUS=config generation 1; idle"]
    notifier.ready()
    assert receive(server) == ["READY=1"]


def test_reloading_sends_the_current_monotonic_time_in_microseconds(
    notifier: Notifier, server: socket.socket
) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notifier.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    lines = receive(server)
    assert lines[0] == "RELOADING=1"
    assert lines[1].startswith("MONOTONIC_USEC=")
    assert before <= int(lines[1].removeprefix("MONOTONIC_USEC=")) <= after


def test_stopping_status_and_watchdog_each_send_one_datagram_in_order(
    notifier: Notifier, server: socket.socket
) -> None:
    notifier.status("running library_sync")
    notifier.watchdog()
    notifier.stopping()
    assert [receive(server) for _ in range(3)] == [
        ["STATUS=running library_sync"],
        ["WATCHDOG=1"],
        ["STOPPING=1"],
    ]


def test_an_abstract_socket_name_starting_with_at_works(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"mamd-test-{secrets.token_hex(8)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        listener.settimeout(2.0)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        notifier = Notifier()
        try:
            notifier.ready()
            assert receive(listener) == ["READY=1"]
        finally:
            notifier.close()


def test_close_releases_the_socket_and_later_calls_do_nothing(
    notifier: Notifier, server: socket.socket
) -> None:
    assert resource_warnings_while(notifier.close) == []
    assert notifier.enabled is False
    notifier.ready()
    assert nothing_arrives(server)


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("30000000", None, 15.0),
        ("1500000", None, 0.75),
        ("1000000", "self", 0.5),
        ("1000000", "1", None),  # the watchdog is meant for another process
        ("0", None, None),
        ("-5", None, None),
        ("soon", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec_when_meant_for_this_process(
    usec: str | None,
    pid: str | None,
    expected: float | None,
    server: socket.socket,
    notify_path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", notify_path)
    for name, value in (
        ("WATCHDOG_USEC", usec),
        ("WATCHDOG_PID", str(os.getpid()) if pid == "self" else pid),
    ):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    notifier = Notifier()
    try:
        assert notifier.watchdog_interval == expected
    finally:
        notifier.close()


def test_a_notification_socket_nobody_reads_never_holds_mamd_up(notifier: Notifier) -> None:
    """systemd busy elsewhere: its queue fills, and mamd carries on rather than wait (a blocking send
    would stop the event loop, the watchdog with it)."""
    sender = threading.Thread(
        target=lambda: [notifier.status(f"line {n}") for n in range(20_000)], daemon=True
    )
    sender.start()
    sender.join(10)
    assert not sender.is_alive(), "a send blocked on the full queue"
