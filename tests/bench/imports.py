"""Import figures: from the completion hook to the files linked, and to Audiobookshelf's scan request.

A real qbittorrent-nox runs the README's curl line on completion; the daemon and the Audiobookshelf
simulator (whose scans take half a second, like a real incremental scan) run as processes. Completions
come one after another, as downloads finish on a NAS; times are the daemon's own log timestamps and the
simulator's record of each scan request.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from mamd.domain.torrentfile import parse_torrent
from mamd.sim.qbittorrent.launcher import QbittorrentNox
from mamd.sim.torrents import make_torrent, write_payload
from tests.bench.figures import Figure, median, percentile
from tests.support.abs_sim import abs_simulator
from tests.support.configs import API_KEY, write_config
from tests.support.daemon import DaemonProcess, wait_for
from tests.support.qbittorrent import api_client, qbittorrent_settings

COMPLETIONS = 50
SPACING_S = 0.7
AUTHORS = ("Ada Bench", "Bo Bench", "Cy Bench", "Di Bench", "Ed Bench", "Flo Bench", "Gus Bench")
SCAN_S = 0.5  # in ABS, an incremental scan that finds one new book takes 0.5–0.6 s


def hook_program(port: int) -> str:
    curl = shutil.which("curl") or "/usr/bin/curl"
    return (
        f'{curl} -fsS -m 10 -X POST "http://127.0.0.1:{port}/hooks/qbittorrent?apikey={API_KEY}" '
        '--data-urlencode "hash=%I" --data-urlencode "name=%N" --data-urlencode "category=%L"'
    )


def at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["at"]).replace("Z", "+00:00")).timestamp()


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def run(quick: bool) -> list[Figure]:
    count = 10 if quick else COMPLETIONS
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        library = folder / "library"
        # the library holds a book by each author the completions name (untagged files): an author
        # read from a torrent's name is believed only when something confirms it
        owned = {f"{author}/Owned Book/Owned Book.mp3": 4096 for author in AUTHORS}
        write_payload(library, owned, seed="owned")
        config_path = folder / "mamd.yaml"
        port = 0
        with abs_simulator(folder=library, scan_delay=SCAN_S) as simulator:
            config_path = write_config(folder, {"logging": {"level": "info"}})
            port = int(DaemonProcess(config_path).http["port"])
            qbt = QbittorrentNox(folder / "qbt", autorun_program=hook_program(port)).start()
            try:
                write_config(
                    folder,
                    {
                        "http": {"port": port},
                        "logging": {"level": "info"},
                        "qbittorrent": qbittorrent_settings(qbt),
                        "audiobookshelf": {
                            "url": simulator.url,
                            "api_key": simulator.api_key,
                            "path": str(library),
                        },
                    },
                )
                daemon = DaemonProcess(config_path).start()
                try:
                    daemon.wait_healthy()
                    assert daemon.post_json("/api/v1/jobs/library_sync", {})[0] == 202
                    wait_for(
                        "the library to be read",
                        lambda: daemon.status()["jobs"]["library_sync"]["last_result"] == "ok",
                    )
                    hashes = _complete_books(qbt, folder, count)
                    wait_for(
                        "every import",
                        lambda: len(daemon.events("import.linked")) >= count,
                        timeout=120,
                        interval=0.2,
                    )
                    rss = peak_rss_mib(daemon.pid)
                    events = daemon.log_events()
                finally:
                    daemon.stop()
            finally:
                qbt.stop()
            scans = sorted(s["requestedAt"] / 1000 for s in simulator.scans())
    hooked = {
        e["hash"]: at(e) for e in events if e.get("event") == "hook.accepted" and not e.get("duplicate")
    }
    linked = {e["hash"]: at(e) for e in events if e.get("event") == "import.linked"}
    to_linked = [(linked[h] - hooked[h]) * 1000 for h in hashes]
    to_scan = [(next(s for s in scans if s >= linked[h]) - hooked[h]) * 1000 for h in hashes]
    note = f"{count} completions, one every {SPACING_S} s"
    return [
        Figure("hook_to_linked_ms_p50", median(to_linked), note=note),
        Figure("hook_to_linked_ms_p99", percentile(to_linked, 0.99), 250),
        Figure("hook_to_abs_scan_ms_p50", median(to_scan)),
        Figure("hook_to_abs_scan_ms_p99", percentile(to_scan, 0.99), 500),
        Figure("import_peak_rss_mib", rss, 80, note="the daemon's peak, start-up included"),
    ]


def _complete_books(qbt: QbittorrentNox, folder: Path, count: int) -> list[str]:
    """Add `count` books whose data is already on disk, one every SPACING_S: each completes and hooks."""
    hashes = []
    with api_client(qbt) as client:
        for number in range(count):
            author, series = AUTHORS[number % len(AUTHORS)], f"Bench Series {number % 5}"
            name = f"{author} - {series} {number + 1:02d} - Book {number}"
            files = {f"{name}/Part {part}.mp3": 200_000 + part for part in (1, 2)}
            write_payload(folder / "staging", files, seed=name)
            data = make_torrent(folder / "staging" / name)
            write_payload(qbt.save_path, files, seed=name)
            client.torrents_add(torrent_files=data, category="mamd", save_path=str(qbt.save_path))
            hashes.append(parse_torrent(data).info_hash)
            time.sleep(SPACING_S)
    return hashes
