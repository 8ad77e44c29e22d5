"""A real `qbittorrent-nox` on loopback, for tests, the demo and the benchmarks.

`QbittorrentNox` owns one instance: a profile folder whose `qBittorrent.conf` is written before the first
start (loopback only, no DHT/PeX/LSD/UPnP/GeoIP, known credentials), free ports
chosen with retries, a readiness poll with a deadline, and a stop by PID. Nothing here
talks to qBittorrent beyond "is the WebUI up"; callers use qbittorrent-api or mamd's own client.
The binary is `MAMD_QBITTORRENT` or `qbittorrent-nox` (see `binary`); 4.5 to 5.3 behave
alike here.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from mamd.sim.qbittorrent import binary as qbittorrent_binary
from mamd.sim.qbittorrent.profile import ini, pbkdf2_password

START_ATTEMPTS = 4  # the first try and up to three retries with new ports
POLL_INTERVAL = 0.05  # seconds between checks that the WebUI is up
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# a taken WebUI port: 4.x prints "Web UI: Unable to bind …" and exits with status 1, 5.x logs
# "WebUI: Unable to bind …" and keeps running without a WebUI
WEBUI_BUSY = "Unable to bind to IP"
# the WebUI is up: "Web UI: Now listening on IP: …" (4.x), "WebUI: Now listening on IP: …" (5.x)
WEBUI_LISTENING = re.compile(r"Web ?UI: Now listening on IP: (\S+), port: (\d+)")


class QbittorrentError(RuntimeError):
    """qbittorrent-nox did not start or stop as expected; the message carries the end of its logs."""


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports that are free for TCP and UDP at the moment of asking.

    The torrent port needs both: libtorrent listens for TCP and uTP on the same number.
    """
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(tcp)
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            held.append(udp)
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            ports.append(port)
    finally:
        for sock in held:
            sock.close()
    return ports


def _parent_death_hook() -> Callable[[], None] | None:
    """A pre-exec hook that makes the child get SIGTERM when the spawning thread dies.

    Only for the main thread: Linux sends the signal when the *thread* that forked exits, so a child
    started from a worker thread (e.g. `asyncio.to_thread`) would be killed as soon as that thread ends.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


class QbittorrentNox:
    """One `qbittorrent-nox` process with its own profile, ports and credentials, bound to 127.0.0.1.

    Layout under `folder`: `profile/` (the `--profile`), `downloads/` (the default save path) and
    `qbittorrent.out` (stdout and stderr of every run). The configuration is written on the first
    `start()` only; later starts (`restart()`) keep the profile, the ports and any preferences set
    through the API.
    """

    def __init__(
        self,
        folder: Path,
        *,
        username: str = "mamd",
        password: str | None = None,
        refresh_interval_ms: int = 250,
        autorun_program: str | None = None,
        binary: str | None = None,
    ) -> None:
        self.folder = folder
        self.profile = folder / "profile"
        self._username = username
        self._password = password if password is not None else secrets.token_urlsafe(18)
        self.refresh_interval_ms = refresh_interval_ms
        self.autorun_program = autorun_program
        self.binary = binary or qbittorrent_binary.chosen()
        self._ports: tuple[int, int] | None = None  # (WebUI, torrent), fixed by the first good start
        self._process: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []  # every process started, in order (each is stopped by its PID)

    # --- where things are

    @property
    def save_path(self) -> Path:
        return self.folder / "downloads"

    @property
    def config_path(self) -> Path:
        return self.profile / "qBittorrent" / "config" / "qBittorrent.conf"

    @property
    def log_path(self) -> Path:
        return self.profile / "qBittorrent" / "data" / "logs" / "qbittorrent.log"

    @property
    def stdout_path(self) -> Path:
        return self.folder / "qbittorrent.out"

    @property
    def autorun_command(self) -> str | None:
        """The completion program as written into qBittorrent's settings (a chroot runs it on this host)."""
        if self.autorun_program is None:
            return None
        return qbittorrent_binary.host_program(self.binary, self.autorun_program)

    @property
    def username(self) -> str:
        return self._username

    @property
    def password(self) -> str:
        return self._password

    @property
    def webui_port(self) -> int:
        return self._started_ports()[0]

    @property
    def torrent_port(self) -> int:
        return self._started_ports()[1]

    @property
    def url(self) -> str:
        # 127.0.0.1, not localhost: the WebUI is bound to IPv4 only
        return f"http://127.0.0.1:{self.webui_port}"

    @property
    def pid(self) -> int | None:
        """The PID of the latest process, kept after it stopped (None before the first start)."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _started_ports(self) -> tuple[int, int]:
        if self._ports is None:
            raise QbittorrentError("qbittorrent-nox has not been started yet: its ports are not chosen")
        return self._ports

    # --- life cycle

    def start(self, timeout: float = 20.0) -> Self:
        """Start the process and return once the WebUI answers and the torrent port is listening.

        The first start writes the configuration and picks free ports, retrying at once with new ports
        when the WebUI port is taken or the torrent port failed to bind (both read from the logs). Raises
        `QbittorrentError` with the end of the logs when it cannot start within `timeout` seconds.
        """
        if self.running:
            raise QbittorrentError(f"qbittorrent-nox is already running (PID {self.pid})")
        deadline = time.monotonic() + timeout
        if self._ports is not None:
            problem = self._launch(self._ports, deadline)
            if problem:
                self.stop()
                raise QbittorrentError(f"qbittorrent-nox did not restart: {problem}\n{self.log_tail()}")
            return self
        problems: list[str] = []
        for _ in range(START_ATTEMPTS):
            webui, torrent = free_ports(2)
            self._write_config(webui, torrent)
            problem = self._launch((webui, torrent), deadline)
            if not problem:
                self._ports = (webui, torrent)
                return self
            problems.append(problem)
            self.stop()
        raise QbittorrentError(
            f"qbittorrent-nox did not start in {START_ATTEMPTS} attempts: {'; '.join(problems)}\n"
            + self.log_tail()
        )

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to `timeout` seconds, then SIGKILL: the process is gone when this returns.

        Returns its exit status (negative for a signal), or None if it was never started.
        """
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # by PID, never by name
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        return process.returncode

    def restart(self, timeout: float = 20.0) -> Self:
        """Stop, then start again with the same profile and ports (torrents come back from BT_backup)."""
        self.stop()
        if self._ports is None:
            raise QbittorrentError("restart() needs a first start()")
        return self.start(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    # --- diagnostics

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines of the profile's qbittorrent.log and of the captured stdout/stderr."""
        parts = []
        for label, path in (("qbittorrent.log", self.log_path), ("stdout/stderr", self.stdout_path)):
            try:
                tail = path.read_text(errors="replace").splitlines()[-lines:]
            except FileNotFoundError:
                tail = ["(no file)"]
            parts.append(f"--- {label}: {path}\n" + "\n".join(tail))
        return "\n".join(parts)

    # --- internals

    def _write_config(self, webui_port: int, torrent_port: int) -> None:
        """The whole configuration: loopback only, the PBKDF2 credentials and mamd's completion program."""
        self.save_path.mkdir(parents=True, exist_ok=True)
        sections: dict[str, dict[str, str | int | bool]] = {
            "LegalNotice": {"Accepted": True},  # 5.x refuses to start without it
            "Application": {"FileLogger\\Enabled": True},  # log_tail() and the port check read it
            "BitTorrent": {
                "Session\\Port": torrent_port,
                "Session\\Interface": "lo",
                "Session\\InterfaceName": "lo",
                "Session\\InterfaceAddress": "127.0.0.1",
                "Session\\DHTEnabled": False,
                "Session\\PeXEnabled": False,
                "Session\\LSDEnabled": False,
                "Session\\QueueingSystemEnabled": False,
                "Session\\DefaultSavePath": str(self.save_path),
                "Session\\TempPathEnabled": False,
                "Session\\AddTorrentPaused": False,
                "Session\\RefreshInterval": self.refresh_interval_ms,
            },
            "Network": {"PortForwardingEnabled": False},
            "Preferences": {
                "WebUI\\Address": "127.0.0.1",
                "WebUI\\Port": webui_port,
                "WebUI\\UseUPnP": False,  # defaults to true in qbittorrent-nox
                "WebUI\\Username": self._username,
                "WebUI\\Password_PBKDF2": pbkdf2_password(self._password),
                # a test trying wrong passwords must not ban 127.0.0.1 for an hour
                "WebUI\\MaxAuthenticationFailCount": 1000,
                "WebUI\\BanDuration": 1,
                "Connection\\ResolvePeerCountries": False,  # else a GeoIP download at start
                "Connection\\ResolvePeerHostNames": False,
                "General\\Locale": "en",  # the port check below matches English log lines
                "Advanced\\RecheckOnCompletion": False,
            },
            "AutoRun": {"enabled": self.autorun_program is not None, "program": self.autorun_command or ""},
        }
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.config_path.with_name(self.config_path.name + ".partial")
        partial.write_text(ini(sections), encoding="latin-1")
        partial.replace(self.config_path)

    def _launch(self, ports: tuple[int, int], deadline: float) -> str | None:
        """Start one process on `ports`; None once it is ready, else why a new set of ports may help.

        Raises `QbittorrentError` for failures that new ports would not cure.
        """
        log_offset = _size(self.log_path)
        out_offset = _size(self.stdout_path)
        # options may also come from QBT_* variables: none may leak in from the caller
        env = {key: value for key, value in os.environ.items() if not key.startswith("QBT_")}
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.stdout_path.open("ab") as out:
            try:
                # never -d: it forks and the PID to stop would be lost; a new session keeps
                # signals meant for the test runner away from it
                self._process = subprocess.Popen(
                    [self.binary, f"--profile={self.profile}"],
                    stdin=subprocess.DEVNULL,  # also skips the legal notice prompt
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                    preexec_fn=_parent_death_hook(),  # only prctl; see the hook
                )
            except FileNotFoundError as exc:
                raise QbittorrentError(f"cannot run {self.binary!r}: {exc}") from exc
        self.pids.append(self._process.pid)
        webui, torrent = ports
        webui_up = False
        polls = int((deadline - time.monotonic()) / POLL_INTERVAL) + 2
        for _ in range(max(polls, 2)):
            code = self._process.poll()
            log = _read_from(self.log_path, log_offset)
            if WEBUI_BUSY in log or WEBUI_BUSY in _read_from(self.stdout_path, out_offset):
                return f"WebUI port {webui} was taken"  # the caller stops a 5.x that kept running
            if code is not None:
                raise QbittorrentError(f"qbittorrent-nox exited with status {code}\n{self.log_tail()}")
            webui_up = webui_up or _webui_answers(webui)
            if webui_up:
                # libtorrent logs the listen result before the WebUI comes up; a failed torrent port
                # leaves the process running and transfers failing silently
                if "Failed to listen on IP" in log:
                    return f"torrent port {torrent} was taken"
                if all(
                    f'Successfully listening on IP. IP: "127.0.0.1". Port: "{kind}/{torrent}"' in log
                    for kind in ("TCP", "UTP")
                ):
                    return None
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_INTERVAL)
        self.stop()
        what = "the torrent port to listen" if webui_up else "the WebUI to answer"
        raise QbittorrentError(f"timed out waiting for {what}\n{self.log_tail()}")


def _webui_answers(port: int) -> bool:
    """`GET /api/v2/app/version` gives 403 before login and 200 after: either means the WebUI is up."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", "/api/v2/app/version")
        return connection.getresponse().status in (200, 403)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    """The text appended to `path` since `offset` (all of it if the file was rotated or replaced)."""
    with contextlib.suppress(FileNotFoundError), path.open("rb") as handle:
        if _size(path) >= offset:
            handle.seek(offset)
        return handle.read().decode(errors="replace")
    return ""
