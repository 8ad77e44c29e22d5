"""Kill -9 anywhere: mamd is SIGKILLed at every step boundary of what it changes, and loses nothing.

The daemon runs as a process against the MAM simulator (its own process, writing each downloaded
torrent's files where qBittorrent saves), a real qbittorrent-nox and the Audiobookshelf simulator
over the library folder. `MAMD_CRASHPOINT` names the boundary at which the daemon kills itself; it
is then started again without it, or with the next boundary, as a power cut and a reboot would.
One set-up serves four paths, each taken through all its boundaries in turn:

- a grab: decided → `.torrent` fetched → added to qBittorrent → recorded;
- its import: hook stored → torrent re-read → links made → folder renamed → scan asked → confirmed;
- the account guard: a stop recorded → downloads stopped → resumed;
- a bonus purchase: intent recorded → sent (MAM answered) → settled.

At the end: nothing imported twice, nothing lost, no torrent fetched or added twice, no double
spend, no stopped download forgotten, no half-made folder in the library.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from mamd.domain.torrentfile import parse_torrent
from mamd.sim.mam.catalogue import GOOD
from mamd.sim.qbittorrent.launcher import QbittorrentNox
from mamd.sim.torrents import make_torrent, write_payload
from tests.support.abs_sim import AbsSimProcess, abs_simulator
from tests.support.configs import write_config
from tests.support.daemon import DaemonProcess, wait_for
from tests.support.mam_sim import SIM_COOKIE, mam_simulator
from tests.support.qbittorrent import QbittorrentFactory, api_client, qbittorrent_settings, wait_complete
from tests.support.sim_process import SimProcess

pytestmark = [pytest.mark.system, pytest.mark.qbittorrent]

HERO = {"title": "The Hero of Ages", "author": "Brandon Sanderson", "series": "Mistborn", "position": "3"}
HERO_FOLDER = Path("Brandon Sanderson/Mistborn/3 - The Hero of Ages")
GIB = 1024**3
UPLOADED = 300 * GIB  # the simulated account's upload
GRAB = ["grab.decided", "grab.fetched", "grab.added", "grab.recorded"]
IMPORT = [
    "import.hook_stored",
    "import.torrent_read",
    "import.linked",
    "import.renamed",
    "import.scan_requested",
    "import.confirmed",
]
GUARD = ["guard.stop_recorded", "guard.stopped", "guard.resumed"]
SPEND = ["spend.intended", "spend.sent", "spend.settled"]


@dataclass
class Rig:
    tmp: Path
    config: Path
    library: Path
    qbt: QbittorrentNox
    mam: SimProcess
    abs: AbsSimProcess
    crashed: list[str] = field(default_factory=list)

    def crash(self, point: str, action: Callable[[DaemonProcess], None] | None = None) -> None:
        """Start the daemon to die at `point`, doing `action` to lead it there (or nothing: it goes there
        by itself at start); it must die by SIGKILL there."""
        daemon = DaemonProcess(self.config, env={"MAMD_CRASHPOINT": point}).start()
        try:
            if action is not None:
                with contextlib.suppress(AssertionError, OSError):  # it may die while answering
                    daemon.wait_healthy(timeout=20)
                    action(daemon)
            try:
                code: int | None = daemon.wait_exit(timeout=60)
            except subprocess.TimeoutExpired:
                code = None  # it never reached the point
        finally:
            daemon.kill()
        assert code == -signal.SIGKILL, f"mamd did not die at {point} ({code}):\n{daemon.log()[-3000:]}"
        self.crashed.append(point)

    @contextlib.contextmanager
    def running(self) -> Iterator[DaemonProcess]:
        daemon = DaemonProcess(self.config).start()
        try:
            daemon.wait_healthy(timeout=20)
            yield daemon
        finally:
            assert daemon.stop() == 0, daemon.log()[-3000:]

    def configure(self, **sections: dict[str, Any]) -> None:
        data = yaml.safe_load(self.config.read_text())
        for name, values in sections.items():
            data.setdefault(name, {}).update(values)
        self.config.write_text(yaml.safe_dump(data, sort_keys=False))

    def account(self, **changes: Any) -> None:
        self.mam.control("account", "PATCH", changes)

    def db(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        database = yaml.safe_load(self.config.read_text())["state"]["database"]
        with contextlib.closing(sqlite3.connect(database)) as connection:
            return list(connection.execute(sql, params).fetchall())

    def events(self, kind: str) -> list[tuple[Any, ...]]:
        return self.db("SELECT message FROM events WHERE kind = ?", (kind,))


def ask(job: str) -> Callable[[DaemonProcess], None]:
    """Ask the daemon to run `job` now (it may be running already)."""

    def action(daemon: DaemonProcess) -> None:
        code, body = daemon.post_json(f"/api/v1/jobs/{job}", {})
        assert code in (202, 409), body

    return action


def run(daemon: DaemonProcess, job: str) -> dict[str, Any]:
    """Run `job` and wait for it to end; a run mamd started itself just before (a library sync asks for a
    discovery) counts as well."""
    before = daemon.status()["jobs"][job]
    ask(job)(daemon)

    def done() -> dict[str, Any] | None:
        state = daemon.status()["jobs"][job]
        ran = state["last_run_id"] != before["last_run_id"] or before["running"]
        finished = ran and not state["running"] and state["last_result"]
        return dict(state) if finished else None

    result = wait_for(f"the {job} job", done, timeout=60)
    assert result["last_result"] == "ok", daemon.log()[-3000:]
    return result


def then(*actions: Callable[[DaemonProcess], Any]) -> Callable[[DaemonProcess], None]:
    def all_of(daemon: DaemonProcess) -> None:
        for action in actions:
            action(daemon)

    return all_of


@pytest.fixture
def rig(tmp_path: Path, qbittorrent_nox: QbittorrentFactory) -> Iterator[Rig]:
    qbt = qbittorrent_nox()  # no completion program: the hook is sent by the test, at its boundary
    library = tmp_path / "library"
    library.mkdir()
    with (
        mam_simulator(count=50, complete_into=qbt.save_path) as mam,
        abs_simulator(folder=library) as abs_sim,
    ):
        config = write_config(
            tmp_path,
            {
                "logging": {"level": "info"},
                "mam": {"base_url": mam.url, "session": SIM_COOKIE, "search_interval": "1s"},
                "qbittorrent": qbittorrent_settings(qbt),
                "audiobookshelf": {"url": abs_sim.url, "api_key": abs_sim.api_key, "path": str(library)},
                "wanted": {"manual": [HERO]},
                "limits": {"min_free_space": "1MiB"},
            },
        )
        yield Rig(tmp_path, config, library, qbt, mam, abs_sim)


@pytest.mark.timeout(600)
def test_kill_9_at_every_step_boundary_loses_nothing_and_does_nothing_twice(rig: Rig) -> None:
    # -- a grab: decided → fetched → added → recorded ---------------------------------------------
    # discover works only from a library that was read
    ready = then(*(lambda d, job=job: run(d, job) for job in ("account", "library_sync", "discover")))
    rig.crash("grab.decided", then(ready, ask("search")))
    rig.crash("grab.fetched", then(lambda d: run(d, "account"), ask("search")))
    rig.crash("grab.added", ask("search"))
    rig.crash("grab.recorded", ask("search"))
    [(torrent_hash,)] = rig.db("SELECT hash FROM torrents WHERE mam_id = ?", (GOOD["The Hero of Ages"],))
    with api_client(rig.qbt) as client:
        wait_complete(client, torrent_hash)

    # -- its import: hook stored → re-read → linked → renamed → scan asked → confirmed -------------
    def hook(daemon: DaemonProcess) -> None:
        daemon.post_json("/hooks/qbittorrent", {"hash": torrent_hash})

    rig.crash("import.hook_stored", hook)
    for point in IMPORT[1:]:
        rig.crash(point)  # the stored hook, and then the scan, are taken up again at start

    # -- the account guard: stop recorded → stopped → resumed --------------------------------------
    downloading = add_download(rig)
    rig.account(downloadedBytes=UPLOADED)  # ratio 1.0: an emergency
    rig.crash("guard.stop_recorded", ask("account"))
    rig.crash("guard.stopped", ask("account"))
    with rig.running() as daemon:
        assert run(daemon, "account")
        assert daemon.status()["account"]["guard"] == "emergency"
    rig.account(downloadedBytes=int(UPLOADED / 1.6))  # recovered
    rig.crash("guard.resumed", ask("account"))

    # -- a bonus purchase: intent → sent → settled --------------------------------------------------
    rig.configure(bonus={"enabled": True, "upload_credit": {"when_ratio_below": 1.8, "gib_per_buy": 50}})
    rig.account(downloadedBytes=int(UPLOADED / 1.7))  # below 1.8: upload credit is bought
    for point in SPEND:
        rig.crash(point, ask("account"))

    # -- after a last, clean start ------------------------------------------------------------------
    with rig.running() as daemon:
        run(daemon, "account")
        run(daemon, "reconcile")
        status = daemon.status()
    assert rig.crashed == GRAB + IMPORT + GUARD + SPEND

    # the grab: the .torrent fetched once, in qBittorrent once, recorded once
    sim = rig.mam.control("downloads")
    assert [d["tid"] for d in sim["downloads"]] == [GOOD["The Hero of Ages"]]
    with api_client(rig.qbt) as client:
        in_qbittorrent = [t.hash for t in client.torrents_info()]
        resumed = client.torrents_info(torrent_hashes=downloading)[0]
    assert sorted(in_qbittorrent) == sorted([torrent_hash, downloading])
    assert rig.db("SELECT state, last_error FROM grabs ORDER BY id") == [
        ("failed", "mamd stopped before the .torrent was fetched"),  # the first decision did nothing
        ("done", None),
    ]
    assert len(rig.events("grab.added")) == 1

    # the import: imported once, confirmed, nothing half-made left in the library
    books = sorted(p.relative_to(rig.library) for p in rig.library.rglob("*") if p.is_dir())
    assert HERO_FOLDER in books
    assert not list(rig.library.rglob(".mamd-import-*"))
    assert len([b for b in books if len(b.parts) == 3]) == 1
    assert len(rig.events("import.linked")) == 1
    assert rig.db(
        "SELECT state, abs_confirmed_at IS NOT NULL FROM torrents WHERE hash = ?", (torrent_hash,)
    ) == [("imported", 1)]
    assert rig.db("SELECT state FROM wanted") == [("imported",)]
    assert rig.db("SELECT state FROM hook_inbox WHERE hash = ?", (torrent_hash,)) == [("done",)]

    # the guard: the stopped download was not forgotten; it runs again
    assert status["account"]["guard"] == "ok"
    assert status["account"]["stopped_by_guard"] == []
    assert resumed.state not in ("pausedDL", "stoppedDL")

    # the purchase: bought once, settled, the intent that never left settled as not bought
    assert len(sim["purchases"]) == 1
    assert sorted(rig.db("SELECT state FROM spends")) == [("done",), ("failed",)]
    assert status["account"]["seedbonus"] == 62_500 - 25_000


def add_download(rig: Rig) -> str:
    """A torrent in mamd's category whose data is nowhere: it stays downloading."""
    files = {"Nobody - Unseeded/Unseeded.m4b": 300_000}
    write_payload(rig.tmp / "staging", files, seed="unseeded")
    data = make_torrent(rig.tmp / "staging" / "Nobody - Unseeded")
    with api_client(rig.qbt) as client:
        client.torrents_add(
            torrent_files=data, save_path=str(rig.qbt.save_path), category="mamd", tags="mamd"
        )
    info_hash = parse_torrent(data).info_hash
    with api_client(rig.qbt) as client:
        wait_for(
            "the download to start",
            lambda: (
                client.torrents_info(torrent_hashes=info_hash)[0].state
                in ("stalledDL", "downloading", "metaDL")
            ),
            timeout=30,
        )
    return info_hash
