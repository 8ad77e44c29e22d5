"""`mamd demo`: the daemon at work on this machine, in a temporary folder, narrated step by step.

A small Audiobookshelf library is written to disk and served by the simulator; `mamd run`
starts as a real process on a demo configuration and is driven the way qBittorrent, an
editor and a user with curl would. Nothing outside the folder is touched.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import aiohttp

from mamd.demo import downloads
from mamd.demo.daemon import DemoDaemon
from mamd.demo.library import DemoAudiobookshelf, start_audiobookshelf, write_library
from mamd.sim.qbittorrent import QbittorrentNox

REASONS = {"series_gap": "a gap in an owned series", "manual": "asked for in mamd.yaml", "follow": "followed"}


DOWNLOAD = "Brandon Sanderson - Mistborn 03 - The Hero of Ages"
DOWNLOAD_FOLDER = "Brandon Sanderson/Mistborn/3 - The Hero of Ages"


class Story:
    def __init__(
        self,
        folder: Path,
        daemon: DemoDaemon,
        audiobookshelf: DemoAudiobookshelf,
        qbittorrent: QbittorrentNox | None,
    ) -> None:
        self.folder, self.daemon, self.audiobookshelf = folder, daemon, audiobookshelf
        self.qbittorrent = qbittorrent
        self.step = 0

    def say(self, text: str) -> None:
        self.step += 1
        print(f"{self.step}. {text}", flush=True)

    def config_text(self) -> str:
        folder, daemon, qbt = self.folder, self.daemon, self.qbittorrent
        if qbt is not None:
            qbittorrent = (
                f"{{url: {qbt.url}, username: {qbt.username}, password: {qbt.password}, "
                f"save_path: {qbt.save_path}}}"
            )
        else:
            qbittorrent = f"{{save_path: {folder / 'torrents'}}}"
        return f"""\
# written by `mamd demo`
http: {{host: 127.0.0.1, port: {daemon.port}, api_key: {daemon.api_key}}}
state: {{database: {folder / "state" / "mamd.db"}, backups: 2}}
logging: {{level: info, format: json}}
mam: {{session: demo-{secrets.token_hex(16)}}}
qbittorrent: {qbittorrent}
audiobookshelf:
  url: {self.audiobookshelf.url}
  api_key: {self.audiobookshelf.simulator.api_key}
  library: Audiobooks
  path: {folder / "library"}
schedule: {{library_sync: 6h, discover: 12h, search: 0, account: 0, reconcile: 0, retention: 1d}}
wanted:
  manual:
    - {{title: Warbreaker, author: Brandon Sanderson}}
"""

    async def start(self) -> None:
        self.daemon.config.write_text(self.config_text())
        seconds = await self.daemon.start()
        self.say(
            f"`mamd run` started (pid {self.daemon.pid}) with a demo configuration and answered after "
            f"{seconds:.2f} s. Its status: {self.daemon.base}/status"
        )

    async def library(self) -> None:
        job = await self.daemon.run_job("library_sync")
        library = (await self.daemon.status())["library"]
        self.say(
            f"library_sync read Audiobookshelf ({job['last_result']}): {library['items']} books, "
            f"{library['series']} series, {library['authors']} authors."
        )
        await self.daemon.job_finished("discover", None)  # the sync asks for a discovery when it changed
        _, body = await self.daemon.get("/api/v1/wanted")
        self.say(f"discover worked out what is wanted ({len(body['wanted'])} books):")
        for book in body["wanted"]:
            print(f"     - {book['label']}  ({REASONS.get(book['reason'], book['reason'])})")

    async def download_finishes(self) -> None:
        if self.qbittorrent is None:
            print(
                "   (The import step needs a real qBittorrent and qbittorrent-nox is not installed: "
                f"{downloads.INSTALL_HINT}. A completion hook is sent by hand instead.)"
            )
            await self.completion_hook()
            return
        files = {f"{DOWNLOAD}/The Hero of Ages - Part {n}.mp3": 1_500_000 + n for n in (1, 2)}
        started = asyncio.get_running_loop().time()
        torrent_hash = await downloads.finish_download(
            self.qbittorrent, self.folder / "staging", DOWNLOAD, files
        )
        self.say(
            f"A download finishes in qBittorrent (pid {self.qbittorrent.pid}): {DOWNLOAD}. qBittorrent runs "
            "`mamd hook %I`."
        )
        target = self.folder / "library" / DOWNLOAD_FOLDER

        async def confirmed() -> bool:
            _, body = await self.daemon.get("/api/v1/events?limit=1000")
            return any(e["kind"] == "import.done" for e in body["events"])

        await self.daemon.until("the import", confirmed)
        elapsed = asyncio.get_running_loop().time() - started
        seeding = self.qbittorrent.save_path / next(iter(files))
        linked = target / Path(next(iter(files))).name
        same = (
            "the same inode as" if linked.stat().st_ino == seeding.stat().st_ino else "NOT the same file as"
        )
        print(
            f"   mamd re-read it from qBittorrent, hardlinked it into library/{DOWNLOAD_FOLDER} ({same} the "
            f"seeding file) and Audiobookshelf scanned it: {elapsed:.2f} s after the torrent was added "
            f"(hash {torrent_hash[:12]}…)."
        )
        discovered_before = (await self.daemon.status())["jobs"]["discover"]["last_started_at"]
        await self.daemon.run_job("library_sync")
        await self.daemon.job_finished("discover", discovered_before)  # the sync asks for it
        _, body = await self.daemon.get("/api/v1/wanted")
        left = ", ".join(book["label"] for book in body["wanted"])
        print(f"   After the next library_sync, Mistborn #3 is no longer wanted. Still wanted: {left}.")

    async def completion_hook(self) -> None:
        code, body = await self.daemon.post(
            "/hooks/qbittorrent",
            data={"hash": secrets.token_hex(20), "name": "Demo Author - Demo Book (2026)"},
        )
        status = await self.daemon.status()
        self.say(
            f"qBittorrent reports a finished torrent: POST /hooks/qbittorrent → {code} {body}; "
            f"stored durably, {status['inbox']['pending']} completion(s) waiting in the inbox."
        )

    async def hot_reload(self) -> None:
        daemon = self.daemon
        before = (await daemon.status())["config"]["generation"]
        started = asyncio.get_running_loop().time()
        daemon.config.write_text(daemon.config.read_text().replace("retention: 1d", "retention: 2d"))

        async def moved() -> bool:
            return bool((await daemon.status())["config"]["generation"] > before)

        await daemon.until("the edit to apply", moved)
        elapsed_ms = (asyncio.get_running_loop().time() - started) * 1000
        self.say(
            f"The YAML is edited (schedule.retention 1d → 2d): applied in {elapsed_ms:.0f} ms, "
            f"generation {before} → {before + 1}."
        )
        good = daemon.config.read_text()
        daemon.config.write_text(good + "rules: {freeleech: sometimes}\n")

        async def rejected() -> str | None:
            error = (await daemon.status())["config"]["last_error"]
            return str(error) if error else None

        error = await daemon.until("the broken edit to be rejected", rejected)
        self.say(f"A broken edit is refused and the running configuration kept:\n     {error}")
        daemon.config.write_text(good)

        async def cleared() -> bool:
            return (await daemon.status())["config"]["last_error"] is None

        await daemon.until("the fixed file to load", cleared)
        print("   The file is fixed again; the error clears.")

    async def retention(self) -> None:
        job = await self.daemon.run_job("retention")
        backups = sorted((self.folder / "state" / "backups").glob("*.db"))
        self.say(
            f"POST /api/v1/jobs/retention: the job finished ({job['last_result']}), "
            f"database backup {backups[-1].name if backups else 'none'}."
        )

    async def stop(self) -> int:
        code, seconds = await self.daemon.stop()
        self.say(f"SIGTERM: the daemon stopped in {seconds:.2f} s with exit status {code}.")
        return code


async def _serve_until_interrupted(story: Story) -> None:
    print(
        f"\nServing until Ctrl-C. Try: curl -s {story.daemon.base}/status | python3 -m json.tool", flush=True
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _demo(folder: Path, serve: bool) -> int:
    library = folder / "library"
    books = write_library(library)
    print(f"A demo Audiobookshelf library of {books} books is written to {library}.\n")
    audiobookshelf = await start_audiobookshelf(library)
    qbittorrent: QbittorrentNox | None = None
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            daemon = DemoDaemon(folder, session)
            if downloads.available():
                qbittorrent = await downloads.start_qbittorrent(folder / "qbittorrent", daemon.config)
                print(
                    f"A real qbittorrent-nox runs on {qbittorrent.url} with its own profile in the folder.\n"
                )
            story = Story(folder, daemon, audiobookshelf, qbittorrent)
            try:
                await story.start()
                await story.library()
                await story.download_finishes()
                await story.hot_reload()
                await story.retention()
                if serve:
                    await _serve_until_interrupted(story)
                code = await story.stop()
            except (TimeoutError, RuntimeError, aiohttp.ClientError) as exc:
                _explain_failure(folder, exc)
                return 1
            finally:
                await story.daemon.kill()
    finally:
        if qbittorrent is not None:
            await asyncio.to_thread(qbittorrent.stop)
        await audiobookshelf.close()
    imported = "imported a finished download, " if qbittorrent is not None else "stored a completion hook, "
    print(
        "\nSummary: the daemon read the library and worked out the wanted books, "
        f"{imported}applied an edit, refused a broken one, ran a job and stopped cleanly."
    )
    return 0 if code == 0 else 1


def _explain_failure(folder: Path, exc: BaseException) -> None:
    print(f"mamd demo failed: {exc}", file=sys.stderr)
    log = folder / "mamd.log"
    if log.exists():
        print("last lines of the daemon log:", file=sys.stderr)
        for line in log.read_text(errors="replace").splitlines()[-15:]:
            print(f"  {line}", file=sys.stderr)


def run_demo(serve: bool = False, keep: bool = False) -> int:
    folder = Path(tempfile.mkdtemp(prefix="mamd-demo-"))
    print(f"mamd demo — everything happens in {folder}\n")
    try:
        return asyncio.run(_demo(folder, serve))
    finally:
        if keep:
            print(f"\nThe demo folder is kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
