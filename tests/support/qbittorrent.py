"""Real `qbittorrent-nox` instances for tests: a factory that stops them all, an API client, bounded waits.

Every instance lives in the test's temporary folder and is stopped by its PID at the end of the test; when
the test failed, the end of each instance's logs is printed (pytest shows it under "Captured stdout
teardown").
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qbittorrentapi

from mamd.sim.qbittorrent import binary as qbittorrent_binary
from mamd.sim.qbittorrent.launcher import QbittorrentNox
from tests.support.daemon import wait_for

INSTALL = "sh tests/run.sh installs it (apt-get install --no-install-recommends qbittorrent-nox)"


def require_qbittorrent(binary: str | None = None) -> None:
    """Skip the test when the chosen binary (`MAMD_QBITTORRENT`, else `qbittorrent-nox`) is not there;
    under CI (`CI` set) fail instead, loudly."""
    binary = binary or qbittorrent_binary.chosen()
    if qbittorrent_binary.locate(binary) is not None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{binary} is not installed, and CI must run the real-qBittorrent tests: {INSTALL}")
    pytest.skip(f"{binary} is not installed; {INSTALL}")


class QbittorrentFactory:
    """Calling it starts one more instance under `root` and returns it, ready."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.instances: list[QbittorrentNox] = []

    def __call__(
        self, autorun_program: str | None = None, *, folder: Path | None = None, **options: Any
    ) -> QbittorrentNox:
        folder = folder or self.root / f"qbt{len(self.instances) + 1}"
        instance = QbittorrentNox(folder, autorun_program=autorun_program, **options)
        # registered before start(): a start that fails half-way is still stopped at teardown
        self.instances.append(instance)
        return instance.start()

    def stop_all(self, dump_logs: bool) -> None:
        for instance in self.instances:
            instance.stop()
            if dump_logs:
                print(f"\n===== qbittorrent-nox in {instance.folder} (PID {instance.pid})")
                print(instance.log_tail())


@contextlib.contextmanager
def api_client(qbt: QbittorrentNox, password: str | None = None) -> Iterator[qbittorrentapi.Client]:
    """A logged-in qbittorrent-api client for `qbt`; logs out and closes its HTTP session afterwards."""
    client = qbittorrentapi.Client(
        host=qbt.url,
        username=qbt.username,
        password=qbt.password if password is None else password,
        REQUESTS_ARGS={"timeout": (3, 15)},
    )
    try:
        client.auth_log_in()
        yield client
    finally:
        with contextlib.suppress(qbittorrentapi.APIError):
            client.auth_log_out()
        client._trigger_session_initialization()  # closes the requests session: no ResourceWarning


def added(answer: Any) -> bool:
    """qbittorrent-api's answer to adding one torrent says it was added: "Ok." up to 5.1, JSON from 5.3."""
    if isinstance(answer, str):
        return answer == "Ok."
    return dict(answer) == {**dict(answer), "success_count": 1, "failure_count": 0}


def qbittorrent_settings(qbt: QbittorrentNox) -> dict[str, Any]:
    """The `qbittorrent:` section of mamd's configuration for this instance."""
    return {
        "url": qbt.url,
        "username": qbt.username,
        "password": qbt.password,
        "save_path": str(qbt.save_path),
    }


def wait_complete(client: qbittorrentapi.Client, info_hash: str, timeout: float = 30.0) -> Any:
    """The torrent's `torrents/info` entry once its progress is 1 (not by state name)."""

    def complete() -> Any:
        found = client.torrents_info(torrent_hashes=info_hash)
        return found[0] if found and found[0].progress == 1 else None

    return wait_for(f"torrent {info_hash} to complete", complete, timeout, interval=0.05)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
