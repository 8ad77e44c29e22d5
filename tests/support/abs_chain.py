"""The whole chain on loopback with a real Audiobookshelf: a real qbittorrent-nox that runs `mamd hook %I`
on completion, the daemon as a process, and Audiobookshelf 2.36 serving a library of real audiobooks.

`make_abs_chain()` builds it in a test's folder; `AbsChain.add_audiobook()` adds a torrent of tagged audio
files (written by ffmpeg) whose data is already in qBittorrent's save path, so it completes at once.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mamd.domain.torrentfile import parse_torrent
from mamd.sim.qbittorrent.launcher import QbittorrentNox
from mamd.sim.torrents import make_torrent
from tests.support.abs_real import RealAbs, RealAbsFactory
from tests.support.audiobooks import AudioWriter, GeneratedBook, write_book
from tests.support.configs import write_config
from tests.support.daemon import DaemonProcess, hook_program, wait_for
from tests.support.qbittorrent import QbittorrentFactory, api_client, qbittorrent_settings


@dataclass
class AbsChain:
    tmp: Path
    config: Path
    abs: RealAbs
    qbt: QbittorrentNox
    daemon: DaemonProcess
    writer: AudioWriter
    started: list[DaemonProcess]  # every daemon process started for this chain, stopped at the end

    @property
    def library(self) -> Path:
        return self.abs.library

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return self.daemon.events(kind)

    def wanted(self) -> list[dict[str, Any]]:
        code, body = self.daemon.get("/api/v1/wanted?limit=500")
        assert code == 200, body
        return list(body["wanted"])

    def run_job(self, name: str, timeout: float = 60) -> dict[str, Any]:
        """Run a job now and wait for that run to end; its `/status` entry."""
        before = self.daemon.status()["jobs"][name]["last_run_id"]
        code, body = self.daemon.post_json(f"/api/v1/jobs/{name}", {})
        assert code == 202, body
        return self.job_after(name, before, timeout)

    def job_after(self, name: str, run_id: int | None, timeout: float = 60) -> dict[str, Any]:
        """The job's `/status` entry once a run newer than `run_id` has finished."""

        def done() -> dict[str, Any] | None:
            job = self.daemon.status()["jobs"][name]
            finished = job["last_run_id"] != run_id and not job["running"] and job["last_result"]
            return dict(job) if finished else None

        result: dict[str, Any] = wait_for(f"a run of {name} to finish", done, timeout, interval=0.1)
        return result

    def add_audiobook(self, name: str, files: Mapping[str, Mapping[str, str]], audio: str = "m4b") -> str:
        """A torrent named `name` of these audio files (path inside the torrent → tags), complete in
        qBittorrent's save path; returns its info-hash."""
        staging = self.tmp / "staging" / name
        for relative, tags in files.items():
            self.writer.write(staging / relative, audio, tags)
        data = make_torrent(staging)
        shutil.copytree(staging, self.qbt.save_path / name)
        with api_client(self.qbt) as client:
            client.torrents_add(
                torrent_files=data, category="mamd", tags="mamd", save_path=str(self.qbt.save_path)
            )
        return parse_torrent(data).info_hash

    def restart_daemon(self) -> None:
        self.daemon.stop()
        self.daemon = DaemonProcess(self.config).start()
        self.started.append(self.daemon)
        self.daemon.wait_healthy()


class AbsChainFactory:
    def __init__(self, tmp: Path, qbittorrent_nox: QbittorrentFactory, real_abs: RealAbsFactory) -> None:
        self.tmp = tmp
        self.qbittorrent_nox = qbittorrent_nox
        self.real_abs = real_abs
        self.daemons: list[DaemonProcess] = []

    def __call__(
        self,
        books: Iterable[GeneratedBook] = (),
        *,
        key: str = "admin",
        changes: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> AbsChain:
        """Audiobookshelf over a library of `books`, qBittorrent, and the daemon configured for both
        (`key`: the admin's API key or the non-admin `reader`'s); `changes` are more configuration."""
        writer = AudioWriter(self.tmp / "audio")
        server = self.real_abs(scan=False)
        for book in books:
            write_book(server.library, book, writer)
        server.scan()
        config = self.tmp / "mamd.yaml"
        qbt = self.qbittorrent_nox(hook_program(config))
        settings: dict[str, Any] = {
            "qbittorrent": qbittorrent_settings(qbt),
            "audiobookshelf": {
                "url": server.url,
                "api_key": server.api_key if key == "admin" else server.user_api_key,
                "library": server.library_name,
                "path": str(server.library),
            },
            "logging": {"level": "info"},
        }
        for section, values in (changes or {}).items():
            settings.setdefault(section, {}).update(values)
        write_config(self.tmp, settings)
        daemon = DaemonProcess(config).start()
        self.daemons.append(daemon)
        daemon.wait_healthy()
        return AbsChain(self.tmp, config, server, qbt, daemon, writer, self.daemons)

    def stop_all(self) -> None:
        for daemon in self.daemons:
            daemon.stop()
