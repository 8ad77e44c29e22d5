"""`mamd demo`: the daemon at work on this machine, in a temporary folder, narrated step by step.

A small Audiobookshelf library with gaps is written to disk and served by the simulator, the
MAM simulator serves a catalogue that holds the missing books, and a real `qbittorrent-nox`
downloads into the folder. `mamd run` starts as a real process on a demo configuration and
is driven the way qBittorrent, an editor and a user with curl would: it reads the library,
works out what is missing, searches MAM, grabs, and imports what finishes; its notifications go to
an ntfy receiver the demo runs, and the demo shows what arrived. Nothing outside the folder is
touched.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from mamd.demo import downloads
from mamd.demo.continuation import series_continuation
from mamd.demo.daemon import DemoDaemon
from mamd.demo.library import DemoAudiobookshelf, start_audiobookshelf, write_library
from mamd.demo.mam import DemoMam, start_mam
from mamd.demo.notices import DemoReceiver, start_receiver
from mamd.sim.qbittorrent import QbittorrentNox

REASONS = {"series_gap": "a gap in an owned series", "manual": "asked for in mamd.yaml", "follow": "followed"}
IMPORT_TIMEOUT_S = 90.0


class Story:
    def __init__(
        self,
        folder: Path,
        daemon: DemoDaemon,
        audiobookshelf: DemoAudiobookshelf,
        mam: DemoMam,
        qbittorrent: QbittorrentNox | None,
        notices: DemoReceiver,
    ) -> None:
        self.folder, self.daemon, self.audiobookshelf, self.mam = folder, daemon, audiobookshelf, mam
        self.qbittorrent = qbittorrent
        self.notices = notices
        self.sessions = [mam.session]  # every mam_id the demo hands mamd: none may reach a notification
        self.step = 0
        self.grabbed: list[dict[str, Any]] = []
        self.imported: list[dict[str, Any]] = []

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
dry_run: {"false" if qbt is not None else "true"}
mam: {{base_url: {self.mam.url}, session: {self.mam.session}, search_interval: 1s}}
qbittorrent: {qbittorrent}
audiobookshelf:
  url: {self.audiobookshelf.url}
  api_key: {self.audiobookshelf.simulator.api_key}
  library: Audiobooks
  path: {folder / "library"}
schedule: {{library_sync: 6h, discover: 12h, search: 0, account: 0, reconcile: 0, retention: 1d}}
limits: {{active_downloads: 5, min_free_space: 512MiB}}
wanted:
  manual:
    - {{title: Warbreaker, author: Brandon Sanderson}}
notify:
  - {{url: {self.notices.url}, events: [imported, guard, session]}}
"""

    async def start(self) -> None:
        (self.folder / "torrents").mkdir(exist_ok=True)
        self.daemon.config.write_text(self.config_text())
        seconds = await self.daemon.start()
        self.say(
            f"`mamd run` started (pid {self.daemon.pid}) with a demo configuration and answered after "
            f"{seconds:.2f} s. Its status page: {self.daemon.base}/ (open it in a browser; "
            f"{self.daemon.base}/status answers curl with JSON)"
        )

    async def library(self) -> None:
        job = await self.daemon.run_job("library_sync")
        library = (await self.daemon.status())["library"]
        self.say(
            f"library_sync read Audiobookshelf ({job['last_result']}): {library['items']} books, "
            f"{library['series']} series, {library['authors']} authors."
        )
        await self.daemon.job_finished("discover", None)  # the sync asks for a discovery when it changed
        wanted = await self.wanted()
        self.say(f"discover worked out what is wanted ({len(wanted)} books):")
        for book in wanted:
            print(f"     - {book['label']}  ({REASONS.get(book['reason'], book['reason'])})")

    async def wanted(self) -> list[dict[str, Any]]:
        _, body = await self.daemon.get("/api/v1/wanted?limit=500")
        return list(body["wanted"])

    async def account(self) -> None:
        await self.daemon.run_job("account")
        account = (await self.daemon.status())["account"]
        self.say(
            f"account read the MAM account (the simulator's): {account['classname']}, ratio "
            f"{account['ratio']:.2f}, {account['unsatisfied']} of {account['unsatisfied_limit']} unsatisfied "
            f"torrents, {account['seedbonus']:,.0f} bonus points, {account['wedges']} wedges. The account "
            f"guard says {account['guard'].upper()} ({account['next_decisions'][0]}); the budgets check "
            "this before every grab."
        )

    async def search(self) -> None:
        job = await self.daemon.run_job("search")
        requests = len(self.mam.simulator.requests)
        catalogue = len(self.mam.simulator.rows)
        self.say(
            f"search looked for each wanted book in MAM's catalogue ({catalogue} torrents; {requests} "
            f"requests, at least mam.search_interval apart) and decided ({job['last_result']}):"
        )
        _, body = await self.daemon.get("/api/v1/events?limit=1000")
        grabs = {e["subject"]: e["message"] for e in body["events"] if e["kind"] == "grab.added"}
        for book in await self.wanted():
            _, detail = await self.daemon.get(f"/api/v1/wanted/{book['id']}")
            grab = grabs.get(f"wanted:{book['id']}")
            shown = (
                grab.replace(f" for {book['label']}", "")
                if grab
                else f"{book['state']}: {book['state_reason']}"
            )
            print(f"     - {book['label']}: {shown}")
            for candidate in detail["candidates"][:4]:
                if candidate["decision"] == "chosen":
                    continue
                why = candidate["reasons"][-1] if candidate["reasons"] else ""
                print(f"         left: {candidate['title']!r} [MAM {candidate['torrent_id']}]: {why}")
            if grab is not None:
                self.grabbed.append(book)

    async def downloads_complete(self) -> None:
        if self.qbittorrent is None:
            print(
                "   (Grabbing and importing need a real qBittorrent and qbittorrent-nox is not installed: "
                f"{downloads.INSTALL_HINT}. The search ran as a dry run instead.)"
            )
            return
        if not self.grabbed:
            raise RuntimeError("the search grabbed nothing")
        started = asyncio.get_running_loop().time()
        self.say(
            f"The grabs download in qBittorrent (pid {self.qbittorrent.pid}); each finished torrent runs "
            "`mamd hook %I`, and mamd imports it."
        )
        grabbed = {book["id"] for book in self.grabbed}

        async def all_imported() -> list[dict[str, Any]] | None:
            books = [book for book in await self.wanted() if book["id"] in grabbed]
            done = [book for book in books if book["state"] == "imported"]
            return done if len(done) == len(grabbed) else None

        self.imported = await self.daemon.until("the imports", all_imported, limit_s=IMPORT_TIMEOUT_S)
        elapsed = asyncio.get_running_loop().time() - started
        for book in self.imported:
            print(f"     - {book['label']}: {book['state_reason']}")
        print(f"   All {len(self.imported)} imported and scanned by Audiobookshelf within {elapsed:.1f} s.")
        print(f"   {self._same_inode()}")

    def _same_inode(self) -> str:
        """Whether a linked file is the very file qBittorrent seeds (a hardlink, no copy)."""
        assert self.qbittorrent is not None
        library = self.folder / "library"
        seeding = {p.name: p for p in self.qbittorrent.save_path.rglob("*") if p.is_file()}
        for linked in sorted(library.rglob("*")):
            twin = seeding.get(linked.name)
            if linked.is_file() and twin is not None and linked.stat().st_size == twin.stat().st_size:
                same = linked.stat().st_ino == twin.stat().st_ino
                shown = linked.relative_to(library)
                verdict = "the same inode as" if same else "NOT the same file as"
                return f"library/{shown} is {verdict} the file qBittorrent seeds."
        return "No linked file was found beside its seeding twin."

    async def library_again(self) -> None:
        # the imported books were owned the moment Audiobookshelf listed them (and discover ran then):
        # the next sync finds nothing new to fetch
        job = await self.daemon.run_job("library_sync")
        library = (await self.daemon.status())["library"]
        left = [book["label"] for book in await self.wanted() if book["state"] != "imported"]
        self.say(
            f"The next library_sync ({job['last_result']}) finds {library['items']} books; "
            f"still wanted: {', '.join(left) or 'nothing'}."
        )

    async def ratio_drop(self) -> None:
        """A download in progress, a ratio that falls below ratio.emergency_below, and back."""
        qbt = self.qbittorrent
        assert qbt is not None
        simulator = self.mam.simulator
        simulator.complete_into = None  # this one stays downloading: nobody seeds it on loopback
        before = (await self.daemon.status())["config"]["generation"]
        text = self.daemon.config.read_text()
        self.daemon.config.write_text(
            text.replace(
                "    - {title: Warbreaker, author: Brandon Sanderson}\n",
                "    - {title: Warbreaker, author: Brandon Sanderson}\n"
                "    - {title: Abaddon's Gate, author: James S. A. Corey}\n",
            )
        )

        async def reloaded() -> bool:
            return bool((await self.daemon.status())["config"]["generation"] > before)

        await self.daemon.until("the new want to load", reloaded)
        await self.daemon.run_job("discover")
        await self.daemon.run_job("search")
        name = "Abaddon's Gate"
        state = await self.daemon.until("the download to start", lambda: downloads.state_of(qbt, name))
        self.say(f"A new want, {name}, is grabbed; in qBittorrent it is downloading ({state}).")
        account = simulator.account
        uploaded, downloaded = account.uploaded_bytes, account.downloaded_bytes
        account.downloaded_bytes = uploaded  # ratio 1.00
        await self.daemon.run_job("account")
        status = (await self.daemon.status())["account"]
        stopped = await self.daemon.until(
            "the download to stop", lambda: downloads.state_of(qbt, name, stopped=True)
        )
        seeding = await downloads.seeding_count(qbt)
        self.say(
            f"MAM's ratio falls to {status['ratio']:.2f}: the account guard says {status['guard'].upper()} "
            f"({status['guard_detail']['reasons'][0]}). It stops mamd's one download ({name}: {stopped}) and "
            f"leaves the {seeding} seeding torrents alone; nothing is grabbed until the ratio is back above "
            "ratio.recover_above."
        )
        account.downloaded_bytes = downloaded
        await self.daemon.run_job("account")
        status = (await self.daemon.status())["account"]
        resumed = await self.daemon.until(
            "the download to resume", lambda: downloads.state_of(qbt, name, stopped=False)
        )
        print(
            f"   The ratio is back at {status['ratio']:.2f}: guard {status['guard'].upper()}, and exactly "
            f"that download is started again ({resumed})."
        )

    async def session_refused(self) -> None:
        """MAM stops taking the session; a new one pasted into mam.session mends it."""
        simulator = self.mam.simulator
        simulator.expire_session()
        await self.daemon.run_job("account", must_succeed=False)
        mam = (await self.daemon.status())["services"]["mam"]["state"]
        self.say(
            f"MAM stops taking mamd's session (it expired): the next account reading is refused, MAM is "
            f"{mam} in /status, mamd sends it nothing more, and says so once."
        )
        fresh = simulator.new_session()  # as a user gets it from MAM's Preferences → Security
        self.sessions.append(fresh)
        before = (await self.daemon.status())["config"]["generation"]
        self.daemon.config.write_text(self.daemon.config.read_text().replace(self.mam.session, fresh))
        self.mam.session = fresh

        async def reloaded() -> bool:
            return bool((await self.daemon.status())["config"]["generation"] > before)

        await self.daemon.until("the new session to load", reloaded)
        await self.daemon.run_job("account")
        mam = (await self.daemon.status())["services"]["mam"]["state"]
        print(
            f"   A new session pasted into mam.session is applied within a second; the next account reading "
            f"works (MAM is {mam}), and mamd says the problem is resolved."
        )

    def arrivals(self) -> None:
        """What reached the demo's ntfy receiver, and that no secret did."""
        messages = self.notices.messages
        self.say(f"The demo's ntfy receiver ({self.notices.url}) got {len(messages)} notifications:")
        for message in messages:
            print(f"     - {message['title']}")
            for line in str(message.get("message") or "").splitlines():
                print(f"         {line}")
        simulator = self.mam.simulator
        secrets = [
            self.daemon.api_key,
            self.audiobookshelf.simulator.api_key,
            *self.sessions,
            simulator.session.current,
            simulator.session.previous or "",
            self.qbittorrent.password if self.qbittorrent is not None else "",
        ]
        leaked = self.notices.leaked(secrets)
        if leaked:
            raise RuntimeError(f"{len(leaked)} secret(s) reached a notification")
        print("   None of them holds the API key, a MAM session or cookie, or a password.")

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
        self.say(
            f"SIGTERM: the daemon sent the notifications it was still gathering and stopped in "
            f"{seconds:.2f} s with exit status {code}."
        )
        return code


async def _serve_until_interrupted(story: Story) -> None:
    print(
        f"\nServing until Ctrl-C. Open the status page {story.daemon.base}/ in a browser, or try: "
        f"curl -s {story.daemon.base}/status | python3 -m json.tool",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _demo(folder: Path, serve: bool) -> int:
    library = folder / "library"
    books = write_library(library)
    print(f"A demo Audiobookshelf library of {books} books, with gaps, is written to {library}.\n")
    audiobookshelf = await start_audiobookshelf(library)
    qbittorrent: QbittorrentNox | None = None
    mam: DemoMam | None = None
    notices = await start_receiver()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            daemon = DemoDaemon(folder, session)
            if downloads.available():
                qbittorrent, found = await downloads.start_qbittorrent(folder / "qbittorrent", daemon.config)
                print(
                    f"A real qbittorrent-nox, qBittorrent {found} ({qbittorrent.binary}), runs on "
                    f"{qbittorrent.url} with its own profile in the folder.\n"
                )
            mam = await start_mam(qbittorrent.save_path if qbittorrent is not None else None)
            print(f"The MAM simulator runs on {mam.url} with {len(mam.simulator.rows)} torrents.\n")
            story = Story(folder, daemon, audiobookshelf, mam, qbittorrent, notices)
            try:
                await story.start()
                await story.library()
                await story.account()
                await story.search()
                await story.downloads_complete()
                if qbittorrent is not None:
                    await story.library_again()
                    await story.ratio_drop()
                    await series_continuation(story.daemon, story.say)
                await story.session_refused()
                await story.hot_reload()
                await story.retention()
                if serve:
                    await _serve_until_interrupted(story)
                code = await story.stop()
                story.arrivals()
            except (TimeoutError, RuntimeError, aiohttp.ClientError) as exc:
                _explain_failure(folder, exc)
                return 1
            finally:
                await story.daemon.kill()
    finally:
        if qbittorrent is not None:
            await asyncio.to_thread(qbittorrent.stop)
        if mam is not None:
            await mam.close()
        await notices.close()
        await audiobookshelf.close()
    if qbittorrent is not None:
        done = (
            f"searched MAM, grabbed {len(story.grabbed)} books into qBittorrent and imported "
            f"{len(story.imported)} of them into the library, stopped a download in a ratio emergency "
            "and started it again on recovery, found the next book of a series and grabbed its second-best "
            "release by hand"
        )
    else:
        done = "searched MAM and decided what it would grab (a dry run, without qBittorrent)"
    print(
        f"\nSummary: the daemon read the library, worked out the wanted books, {done}; it told of a "
        "refused MAM session and its mending, applied an edit, refused a broken one, ran a job, stopped "
        "cleanly, and its notifications arrived with no secret in them."
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
