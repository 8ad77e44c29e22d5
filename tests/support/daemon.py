"""`mamd run` as a real process, a fake systemd notification socket, and plain HTTP to the daemon.

Every wait is bounded; every process is stopped by its PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.support.configs import API_KEY

T = Any


def wait_for(what: str, check: Callable[[], T], timeout: float = 10.0, interval: float = 0.01) -> T:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last_error, result = exc, None
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last_error})")


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self) -> None:
        # AF_UNIX paths are limited to 108 bytes: keep it short, outside pytest's deep tmp folders
        self.folder = tempfile.mkdtemp(prefix="mamd-n-", dir="/tmp")
        self.path = os.path.join(self.folder, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.messages: list[tuple[float, str]] = []

    def drain(self) -> list[str]:
        with contextlib.suppress(BlockingIOError):
            while True:
                data = self.sock.recv(65536)
                self.messages.append((time.monotonic(), data.decode()))
        return [m for _, m in self.messages]

    def lines(self) -> list[str]:
        return [line for message in self.drain() for line in message.split("\n")]

    def wait_line(self, line: str, after: int = 0, timeout: float = 10.0) -> int:
        """Wait until `line` arrives as message number `after` or later; return that message's index."""

        def found() -> int | None:
            messages = self.drain()
            for index in range(after, len(messages)):
                if line in messages[index].split("\n"):
                    return index + 1
            return None

        return int(wait_for(f"{line} on the notify socket", found, timeout)) - 1

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            os.rmdir(self.folder)


class DaemonProcess:
    def __init__(
        self, config: Path, env: dict[str, str] | None = None, notify: NotifySocket | None = None
    ) -> None:
        self.config = config
        self.notify = notify
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM")
        }
        if notify is not None:
            self.env["NOTIFY_SOCKET"] = notify.path
        self.env.update(env or {})
        self.log_path = config.parent / f"mamd-{int(time.time() * 1000)}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.user: str | None = None
        self.port: int | None = None  # read when started: the file may hold anything afterwards
        # the command as it is started, e.g. inside a mount namespace (it must exec, keeping the PID)
        self.wrap: Callable[[list[str]], list[str]] = list

    @property
    def http(self) -> dict[str, Any]:
        data = yaml.safe_load(self.config.read_text())
        return dict(data["http"])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port or self.http['port']}"

    def start(self) -> DaemonProcess:
        if self.config.is_file():
            try:
                self.port = int(self.http["port"])
            except (yaml.YAMLError, KeyError, TypeError, ValueError):
                self.port = None  # a file the daemon will refuse: it never listens
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.wrap([sys.executable, "-m", "mamd", "run", "-c", str(self.config)]),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
                user=self.user,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def wait_healthy(self, timeout: float = 10.0) -> None:
        def healthy() -> bool:
            self._check_alive()
            return self.get("/healthz")[0] == 200

        wait_for("the daemon to answer /healthz", healthy, timeout)

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"mamd exited with {self.process.returncode}:\n{self.log()[-3000:]}")

    def request(
        self, method: str, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                body = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            body, status = exc.read(), exc.code
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode(errors="replace")

    def get(self, path: str, key: bool = True) -> tuple[int, Any]:
        return self.request("GET", path, headers={"X-Api-Key": API_KEY} if key else {})

    def post_json(self, path: str, body: dict[str, Any], key: bool = True) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", **({"X-Api-Key": API_KEY} if key else {})}
        return self.request("POST", path, json.dumps(body).encode(), headers)

    def status(self) -> dict[str, Any]:
        code, body = self.get("/status")
        assert code == 200, body
        return dict(body)

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait_exit(self, timeout: float = 10.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, then SIGKILL: the process is gone when this returns."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
            return None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The daemon's audit log (`/api/v1/events`), of one kind or all."""
        code, body = self.get("/api/v1/events?limit=1000&since=0")
        assert code == 200, body
        return [e for e in body["events"] if kind is None or e["kind"] == kind]

    def log_events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log().splitlines():
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
        return events


def hook_program(config: Path) -> str:
    """qBittorrent's "run external program on torrent finished": `mamd hook %I` for this configuration."""
    return f"{sys.executable} -m mamd hook %I -c {config}"


@contextlib.contextmanager
def running_daemon(
    config: Path, notify: NotifySocket | None = None, env: dict[str, str] | None = None
) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(config, env=env, notify=notify).start()
    try:
        daemon.wait_healthy()
        yield daemon
    finally:
        daemon.stop()
