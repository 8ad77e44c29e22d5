"""A real Audiobookshelf 2.36.0 server for tests: built from the vendored source, on loopback, stopped by PID.

`contrib/dev/audiobookshelf.sh` builds it once into a cache outside the repository (the test command runs
it before pytest); `abs_build()` finds that build, building it when missing. `RealAbs` runs one server
with its own config and metadata folders, does the first-run setup (the root user, an active API key for
it, a non-admin user with its own key, one library over a folder) and talks to it as a test would.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.support.configs import free_port
from tests.support.daemon import wait_for

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "contrib" / "dev" / "audiobookshelf.sh"
BUILD_LIMIT_S = 900.0  # a cold npm build takes 1–2 minutes; a busy machine may need several
SOURCE_HINT = (
    "get the Audiobookshelf server source (https://github.com/advplyr/audiobookshelf, tag v2.36.0) as "
    "../shared/vendor/audiobookshelf-2.36.0-server.tar.gz beside the repository or set MAMD_ABS_TARBALL, "
    "then run sh contrib/dev/audiobookshelf.sh"
)
ROOT_USER, ROOT_PASSWORD = "root", "mamd-test-root-password"
READER_USER, READER_PASSWORD = "reader", "mamd-test-reader-password"
LIBRARY_NAME = "Audiobooks"

_built: list[Path] = []  # one lookup per test session


def unavailable(reason: str) -> NoReturn:
    """Skip with one line on how to get it; under CI (`CI` set) fail instead, since CI must run these."""
    if os.environ.get("CI"):
        pytest.fail(f"a real Audiobookshelf is needed under CI: {reason}")
    pytest.skip(reason)


def require_ffmpeg() -> None:
    """ffmpeg writes the test audiobooks and Audiobookshelf probes them with ffprobe (Debian's ffmpeg)."""
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed; sh tests/run.sh installs it (apt-get install ffmpeg)")


def abs_build() -> Path:
    """The folder of the built server (index.js, node_modules), building it when missing."""
    if _built:
        return _built[0]
    require_ffmpeg()
    try:
        done = subprocess.run(
            ["sh", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=BUILD_LIMIT_S, check=False
        )
    except subprocess.TimeoutExpired:
        unavailable(f"building Audiobookshelf took longer than {BUILD_LIMIT_S:g} s; run {BUILD_SCRIPT} alone")
    lines = done.stdout.strip().splitlines()
    folder = Path(lines[-1]) if lines else None
    if done.returncode != 0 or folder is None or not (folder / "index.js").is_file():
        said = done.stderr.strip().splitlines()
        if done.returncode == 0:
            unavailable(said[-1] if said else SOURCE_HINT)
        unavailable(f"building Audiobookshelf failed: {' '.join(said[-3:])}")
    _built.append(folder)
    return folder


@dataclass
class RealAbs:
    """One Audiobookshelf server in `home` serving the library folder `library`."""

    app: Path
    home: Path
    library: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    token: str = ""  # the root user's token (no expiry), for set-up calls
    api_key: str = ""  # an active API key of the root user: what mamd is given
    user_api_key: str = ""  # an active API key of a user who is not an admin
    library_id: str = ""
    library_name: str = LIBRARY_NAME

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / "audiobookshelf.log"

    # -- life ----------------------------------------------------------------------------------------

    def start(self) -> RealAbs:
        """Start the server (again: its database and keys survive) and wait until it answers."""
        for folder in ("config", "metadata"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "CONFIG_PATH": str(self.home / "config"),
            "METADATA_PATH": str(self.home / "metadata"),
            "NODE_ENV": "production",
            # Debian's ffmpeg; without these the server tries to download its own binaries
            "FFMPEG_PATH": shutil.which("ffmpeg") or "/usr/bin/ffmpeg",
            "FFPROBE_PATH": shutil.which("ffprobe") or "/usr/bin/ffprobe",
            "SKIP_BINARIES_CHECK": "1",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                ["node", "index.js"],
                cwd=self.app,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def healthy() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"Audiobookshelf exited at start:\n{self.log_tail()}")
            with urllib.request.urlopen(f"{self.url}/healthcheck", timeout=2) as answer:
                return bool(answer.status == 200)

        wait_for("Audiobookshelf to answer /healthcheck", healthy, timeout=60, interval=0.1)
        return self

    def stop(self) -> None:
        """SIGINT (its own clean shutdown), then SIGKILL: the process is gone when this returns."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # -- first run -----------------------------------------------------------------------------------

    def first_run(self, *, scan: bool = True) -> RealAbs:
        """The set-up a new user does: root user, API keys, a reader, the library (and its first scan)."""
        self.library.mkdir(parents=True, exist_ok=True)
        status, body = self.call(
            "POST", "/init", {"newRoot": {"username": ROOT_USER, "password": ROOT_PASSWORD}}
        )
        assert status == 200, (status, body)
        status, body = self.call("POST", "/login", {"username": ROOT_USER, "password": ROOT_PASSWORD})
        assert status == 200, (status, body)
        self.token = body["user"]["token"]
        root_id = body["user"]["id"]
        self.api_key = self._new_key("mamd", root_id)
        status, body = self.call(
            "POST",
            "/api/users",
            # like API keys, users are created inactive unless asked otherwise
            {"username": READER_USER, "password": READER_PASSWORD, "type": "user", "isActive": True},
        )
        assert status == 200, (status, body)
        self.user_api_key = self._new_key("mamd-reader", body["user"]["id"])
        status, body = self.call(
            "POST",
            "/api/libraries",
            {
                "name": self.library_name,
                "folders": [{"fullPath": str(self.library)}],
                "mediaType": "book",
                "provider": "audible",
            },
        )
        assert status == 200, (status, body)
        self.library_id = body["id"]
        if scan:
            self.scan()
        return self

    def _new_key(self, name: str, user_id: str) -> str:
        # keys are created inactive unless asked otherwise, and the key itself is shown only here
        status, body = self.call("POST", "/api/api-keys", {"name": name, "userId": user_id, "isActive": True})
        assert status == 200, (status, body)
        return str(body["apiKey"]["apiKey"])

    # -- talking to it -------------------------------------------------------------------------------

    def call(
        self, method: str, path: str, body: Any = None, *, key: str | None = None, timeout: float = 30
    ) -> tuple[int, Any]:
        """One request (with the root token unless `key` is given); the status and the decoded answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        credential = key if key is not None else self.token
        if credential:
            request.add_header("Authorization", f"Bearer {credential}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body

    def last_scan(self) -> int | None:
        value = self.get(f"/api/libraries/{self.library_id}").get("lastScan")
        return int(value) if value else None

    def scan(self, timeout: float = 120) -> None:
        """Scan the library and wait until the scan has finished (`lastScan` moved)."""
        before = self.last_scan()
        status, body = self.call("POST", f"/api/libraries/{self.library_id}/scan")
        assert status == 200, (status, body)
        wait_for("the library scan to finish", lambda: self.last_scan() != before, timeout, interval=0.1)

    def item_ids(self) -> list[str]:
        page = self.get(f"/api/libraries/{self.library_id}/items?limit=0")
        return [item["id"] for item in page["results"]]

    def items(self) -> list[dict[str, Any]]:
        """Every item of the library, expanded, with structured authors, narrators and series."""
        ids = self.item_ids()
        if not ids:
            return []
        status, body = self.call("POST", "/api/items/batch/get", {"libraryItemIds": ids})
        assert status == 200, (status, body)
        return list(body["libraryItems"])

    def item_at(self, rel_path: str) -> dict[str, Any] | None:
        """The item whose folder is `rel_path` (relative to the library), expanded; None when not listed."""
        return next((item for item in self.items() if item["relPath"] == rel_path), None)

    def wait_for_item(self, rel_path: str, timeout: float = 60) -> dict[str, Any]:
        found: dict[str, Any] = wait_for(
            f"{rel_path} in Audiobookshelf", lambda: self.item_at(rel_path), timeout, interval=0.2
        )
        return found


def book_facts(item: dict[str, Any]) -> dict[str, Any]:
    """What a person sees of an item: title, authors, narrators, series with positions, ASIN, ISBN."""
    metadata = item["media"]["metadata"]
    return {
        "title": metadata.get("title"),
        "authors": [author["name"] for author in metadata.get("authors") or []],
        "narrators": list(metadata.get("narrators") or []),
        "series": [(series["name"], series.get("sequence")) for series in metadata.get("series") or []],
        "asin": metadata.get("asin"),
        "isbn": metadata.get("isbn"),
    }


class RealAbsFactory:
    """Calling it starts one more server over a library folder, set up and ready."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.servers: list[RealAbs] = []

    def __call__(self, library: Path | None = None, *, scan: bool = True) -> RealAbs:
        home = self.root / f"abs{len(self.servers) + 1}"
        server = RealAbs(abs_build(), home, library or home / "library")
        self.servers.append(server)  # registered before start: a failed start is still stopped
        return server.start().first_run(scan=scan)

    def stop_all(self, dump_logs: bool) -> None:
        for server in self.servers:
            with contextlib.suppress(OSError):
                server.stop()
            if dump_logs:
                print(f"\n===== Audiobookshelf in {server.home} (port {server.port})")
                print(server.log_tail())
