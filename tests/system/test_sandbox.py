"""mamd inside the mount layout of its systemd unit: the shipped one imports by hardlink, two entries cannot.

systemd cannot run here, so the layout is rebuilt in a private mount namespace from the unit's own
lines: `ProtectSystem=strict` makes the tree read-only, and every `ReadWritePaths=` entry (and the
`StateDirectory=`) becomes a writable bind mount of its own. The unit's paths are placed under the
test's folder (`/srv` becomes `<tmp>/root/srv`), the example configuration's folders likewise. The
daemon, `mamd check-config` and nothing else run inside; qBittorrent and the Audiobookshelf simulator
run outside, on the same folders, as they do beside a real unit.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from mamd.domain.torrentfile import parse_torrent
from mamd.sim.torrents import make_torrent, write_payload
from tests.support.abs_sim import AbsSimProcess, abs_simulator
from tests.support.configs import write_config
from tests.support.daemon import DaemonProcess, wait_for
from tests.support.qbittorrent import QbittorrentFactory, api_client, wait_complete
from tests.support.sandbox import require_mount_namespaces, sandboxed
from tests.support.unit_file import EXAMPLE, directives

pytestmark = [pytest.mark.system, pytest.mark.qbittorrent]

BOOK = "Brandon Sanderson - Mistborn 03 - The Hero of Ages"
PARTS = {f"{BOOK}/Part {n}.mp3": 200_000 + n for n in (1, 2)}
STATE = PurePosixPath("/var/lib/mamd")  # StateDirectory=mamd


@dataclass
class Layout:
    root: Path
    save_path: Path
    library: Path
    state: Path
    config: Path
    writable: list[Path]

    def wrap(self, command: list[str]) -> list[str]:
        return sandboxed(command, writable=self.writable, read_only=[self.root])

    def check_config(self) -> subprocess.CompletedProcess[str]:
        command = self.wrap([sys.executable, "-m", "mamd", "check-config", "-c", str(self.config)])
        return subprocess.run(command, capture_output=True, text=True, timeout=60)


@pytest.fixture
def make_layout(
    tmp_path: Path, qbittorrent_nox: QbittorrentFactory
) -> Iterator[Callable[[list[PurePosixPath]], tuple[Layout, DaemonProcess, Any]]]:
    """`make_layout(read_write_paths)`: the tree, a real qBittorrent saving into it, the Audiobookshelf
    simulator over its library, and the daemon started in the sandbox those entries make."""
    require_mount_namespaces()
    example = yaml.safe_load(EXAMPLE.read_text())
    root = tmp_path / "root"
    inside = {
        "save": PurePosixPath(example["qbittorrent"]["save_path"]),
        "library": PurePosixPath(example["audiobookshelf"]["path"]),
    }
    placed = {key: root / path.relative_to("/") for key, path in inside.items()}
    for folder in (*placed.values(), root / STATE.relative_to("/")):
        folder.mkdir(parents=True)
    daemons: list[DaemonProcess] = []
    simulators: list[Any] = []

    def make(entries: list[PurePosixPath]) -> tuple[Layout, DaemonProcess, Any]:
        qbt = qbittorrent_nox()
        context = abs_simulator(folder=placed["library"])
        simulator: AbsSimProcess = context.__enter__()
        simulators.append(context)
        config = write_config(
            tmp_path,
            {
                "state": {"database": str(root / STATE.relative_to("/") / "mamd.db")},
                "qbittorrent": {
                    "url": qbt.url,
                    "username": qbt.username,
                    "password": qbt.password,
                    "save_path": str(placed["save"]),
                },
                "audiobookshelf": {
                    "url": simulator.url,
                    "api_key": simulator.api_key,
                    "path": str(placed["library"]),
                },
                "logging": {"level": "info"},
                # the torrent's files are untagged: its name's author is believed once a want confirms it
                "wanted": {
                    "manual": [
                        {
                            "title": "The Hero of Ages",
                            "author": "Brandon Sanderson",
                            "series": "Mistborn",
                            "position": 3,
                        }
                    ]
                },
            },
        )
        writable = [root / entry.relative_to("/") for entry in [*entries, STATE]]
        layout = Layout(root, placed["save"], placed["library"], root / "var/lib/mamd", config, writable)
        daemon = DaemonProcess(config)
        daemon.wrap = layout.wrap
        daemons.append(daemon)
        daemon.start().wait_healthy(timeout=20)
        assert daemon.post_json("/api/v1/jobs/discover", {})[0] in (202, 409)
        wait_for("the wanted book", lambda: daemon.status()["jobs"]["discover"]["last_result"], timeout=30)
        return layout, daemon, qbt

    yield make
    for daemon in daemons:
        daemon.stop()
    for context in simulators:
        context.__exit__(None, None, None)


def add_finished_book(layout: Layout, qbt: Any) -> tuple[str, Path]:
    """A complete torrent in qBittorrent (mamd's category, saved in the save path): its hash and a file."""
    staging = layout.root.parent / "staging"
    write_payload(staging, PARTS, seed="sandbox")
    data = make_torrent(staging / BOOK)
    write_payload(layout.save_path, PARTS, seed="sandbox")
    info_hash = parse_torrent(data).info_hash
    with api_client(qbt) as client:
        client.torrents_add(torrent_files=data, save_path=str(layout.save_path), category="mamd", tags="mamd")
        wait_complete(client, info_hash)
    return info_hash, layout.save_path / next(iter(PARTS))


def link_problems(daemon: DaemonProcess) -> tuple[int, list[str]]:
    code, ready = daemon.get("/readyz", key=False)
    return code, [p["summary"] for p in ready["problems"] if p["id"] == "import.link"]


def test_the_shipped_units_layout_imports_by_hardlink(make_layout: Any) -> None:
    entries = [PurePosixPath(path) for line in directives()["ReadWritePaths"] for path in line.split()]
    layout, daemon, qbt = make_layout(entries)
    assert link_problems(daemon) == (200, [])
    checked = layout.check_config()
    assert checked.returncode == 0, checked.stderr
    assert f"imports: hardlinked from {layout.save_path} into {layout.library} (tried)" in checked.stdout

    info_hash, seeded = add_finished_book(layout, qbt)
    assert daemon.post_json("/hooks/qbittorrent", {"hash": info_hash})[0] == 202
    book = layout.library / "Brandon Sanderson" / "Mistborn" / "3 - The Hero of Ages"
    linked = wait_for("the book in the library", lambda: (book / seeded.name).exists() and book, timeout=30)
    assert (linked / seeded.name).stat().st_ino == seeded.stat().st_ino  # a hard link, not a copy
    assert seeded.stat().st_nlink == 2
    assert not list(layout.save_path.glob(".mamd-probe-*"))
    assert not list(layout.library.glob(".mamd-probe-*"))


def test_two_read_write_paths_are_reported_at_start_and_the_import_is_refused_with_nothing_made(
    make_layout: Any,
) -> None:
    example = yaml.safe_load(EXAMPLE.read_text())
    entries = [
        PurePosixPath(example["qbittorrent"]["save_path"]),
        PurePosixPath(example["audiobookshelf"]["path"]),
    ]
    layout, daemon, qbt = make_layout(entries)

    code, [problem] = link_problems(daemon)
    assert code == 503
    assert (
        f"cannot hardlink from qbittorrent.save_path {layout.save_path} into audiobookshelf.path "
        f"{layout.library}: EXDEV (Invalid cross-device link)"
    ) in problem
    assert f"one filesystem but on two mounts ({layout.save_path} and {layout.library})" in problem
    assert (
        f"one ReadWritePaths= over a folder that holds both (ReadWritePaths={layout.root / 'srv'})" in problem
    )
    assert "import.method: copy" in problem
    assert [p["summary"] for p in daemon.status()["problems"] if p["id"] == "import.link"] == [problem]
    checked = layout.check_config()
    assert checked.returncode == 2
    assert problem in checked.stderr

    info_hash, seeded = add_finished_book(layout, qbt)
    assert daemon.post_json("/hooks/qbittorrent", {"hash": info_hash})[0] == 202

    def refusal() -> list[dict[str, Any]]:
        code, body = daemon.get("/api/v1/events?limit=100")
        assert code == 200, body
        return [e for e in body["events"] if e["kind"] == "import.blocked"]

    [blocked] = wait_for("the import to be refused", refusal, timeout=30)
    assert "EXDEV" in blocked["message"]
    assert "two mounts" in blocked["message"]
    assert f"ReadWritePaths={layout.root / 'srv'}" in blocked["message"]
    assert list(layout.library.iterdir()) == []  # no book, no author folder, no temporary folder
    assert seeded.stat().st_nlink == 1
