"""The one holder of live state: configuration, database, scheduler, health, counters.

The web app reaches it through one `AppKey`; a reload swaps `runtime.config` whole and
nothing else is ever reassigned after start-up.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from mamd.clients.audiobookshelf import AudiobookshelfClient
from mamd.clients.errors import NotFound
from mamd.clients.mam import CookieStore, MamClient
from mamd.clients.qbittorrent import QbittorrentClient
from mamd.clock import Clock, iso
from mamd.config import Config, ConfigError, iter_secrets
from mamd.domain.library import Library
from mamd.guarding.records import GuardRecords
from mamd.health import Health
from mamd.importing.probe import ImportProbe
from mamd.importing.scans import LibraryScans
from mamd.importing.worker import Importer
from mamd.logs import Redactor, get_logger
from mamd.notify.notifications import Notifications
from mamd.probes import ServiceProbes
from mamd.schedule import AlreadyRunning, JobFn, JobState, Scheduler, UnknownJob
from mamd.spending.records import Spends
from mamd.store import Events, Inbox, JobRuns, Store
from mamd.store.account import AccountHistory
from mamd.store.candidates import Candidates
from mamd.store.grabs import Grabs
from mamd.store.library import LibraryItems
from mamd.store.outbox import Outbox
from mamd.store.torrents import Torrents
from mamd.store.wanted import Wanted
from mamd.systemd import Notifier
from mamd.tasks import Loops, TaskOwner

# jobs without a key of their own in `schedule:`: they run on the search job's timer (and off with it), and
# only while the `wanted:` setting they serve is on
RUNS_WITH = {"series_next": "search", "top": "search"}

log = get_logger(__name__)

LIBRARY_PROBLEM = "audiobookshelf.library"


@dataclass
class ConfigState:
    path: Path
    generation: int = 1
    loaded_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)
    pending_restart: list[str] = field(default_factory=list)

    def rejected(self, error: ConfigError, at: float) -> None:
        self.last_error, self.last_error_at = error.summary(), at
        self.problems = [p.as_dict() for p in error.problems]

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "generation": self.generation,
            "loaded_at": iso(self.loaded_at),
            "last_error": self.last_error,
            "last_error_at": iso(self.last_error_at),
            "problems": self.problems,
            "pending_restart": self.pending_restart,
        }


class Runtime:
    def __init__(
        self,
        config: Config,
        config_path: Path,
        *,
        clock: Clock,
        redactor: Redactor | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.config = config
        self.config_state = ConfigState(config_path, loaded_at=clock.now())
        self.clock = clock
        self.redactor = redactor or Redactor()
        self.redactor.update(iter_secrets(config))
        self.notifier = notifier or Notifier(enabled=False)
        self.store = Store(config.state.database)
        self.events = Events(self.store, self.redactor.value)
        self.inbox = Inbox(self.store)
        self.job_runs = JobRuns(self.store)
        self.library = LibraryItems(self.store)
        self.wanted = Wanted(self.store)
        self.torrents = Torrents(self.store)
        self.account = AccountHistory(self.store)
        self.candidates = Candidates(self.store)
        self.guard = GuardRecords(self.store)
        self.spends = Spends(self.store)
        self.grabs = Grabs(self.store, self.events)
        self.audiobookshelf: AudiobookshelfClient | None = None
        self.qbittorrent: QbittorrentClient | None = None
        self.mam: MamClient | None = None
        self.importer = Importer(self)
        self.import_probe = ImportProbe(self)
        self.scans = LibraryScans(self)
        self.health = Health(clock)
        self.probes = ServiceProbes(self)
        self.health.listen(self.probes.changed)
        # events and problems flow to the notifications here, and nowhere else
        self.notifications = Notifications(self, Outbox(self.store))
        self.events.subscribe(self.notifications)
        self.health.watch(self.notifications.problem_changed)
        self.tasks = TaskOwner()
        # one grabber at a time, the search job or a grab by hand: each judges the budgets, then spends them
        self.grabbing = asyncio.Lock()
        self.loops = Loops(self.health, redact=self.redactor.text)
        self.started_at = clock.now()
        self.stopping = False
        self.counters: Counter[str] = Counter()
        self.scheduler = Scheduler(
            {},
            self.job_runs,
            self.events,
            clock,
            self.job_intervals,
            self.tasks,
            redact=self.redactor.text,
            may_run=lambda: self.store.problem is None and not self.stopping,
            on_change=self.publish_status,
        )

    def connect(self, session: aiohttp.ClientSession) -> None:
        """Create the upstream clients on the daemon's one HTTP session (called once at start-up)."""
        self.audiobookshelf = AudiobookshelfClient.create(
            session,
            lambda: self.config.audiobookshelf,
            on_state=lambda state, error: self.health.service("audiobookshelf", state, error),
            sleep=self.clock.sleep,
            redact=self.redactor.text,
        )
        self.qbittorrent = QbittorrentClient(
            lambda: self.config.qbittorrent,
            on_state=lambda state, error: self.health.service("qbittorrent", state, error),
            redact=self.redactor.text,
        )
        self.mam = self.mam_client(session)

    def mam_client(self, session: aiohttp.ClientSession, **options: Any) -> MamClient:
        """The MAM client wired to this runtime (cookie store, health, redactor); `options` are the
        client's own (benchmarks turn the spacing off, tests shorten the timeout)."""
        return MamClient(
            session,
            lambda: self.config.mam,
            CookieStore(self.account.cookie_state, self.account.save_cookie_state),
            clock=self.clock,
            on_state=lambda state, error: self.health.service("mam", state, error),
            on_cookie=self.redactor.cookie,
            on_rejected=self._mam_session_rejected,
            redact=self.redactor.text,
            **options,
        )

    async def _mam_session_rejected(self, reason: str) -> None:
        """Said once per refused cookie: mamd sends nothing more to MAM until mam.session changes."""
        await self.events.add(
            self.clock.now(),
            "mam.session_rejected",
            f"MAM refused the session: {reason}. Nothing more is sent to MAM until mam.session is replaced "
            "(edit the file; mamd picks it up within a second).",
            "mam",
        )

    def require_mam(self) -> MamClient:
        if self.mam is None:
            raise RuntimeError("the MAM client is not connected")
        return self.mam

    def require_qbittorrent(self) -> QbittorrentClient:
        if self.qbittorrent is None:
            raise RuntimeError("the qBittorrent client is not connected")
        return self.qbittorrent

    def require_audiobookshelf(self) -> AudiobookshelfClient:
        if self.audiobookshelf is None:
            raise RuntimeError("the Audiobookshelf client is not connected")
        return self.audiobookshelf

    async def abs_library(self) -> Library:
        """The configured Audiobookshelf library. A name or id that matches none is a problem in
        `/readyz` and `/status` until it does: a misspelt library must not pass for an empty one."""
        try:
            library = await self.require_audiobookshelf().find_library(self.config.audiobookshelf.library)
        except NotFound as exc:
            self.health.report(LIBRARY_PROBLEM, "error", exc.message)
            self.probes.library_missing()
            raise
        self.health.clear(LIBRARY_PROBLEM)
        return library

    def request_job(self, name: str) -> bool:
        """Run a job soon, for mamd's own reasons, unless it is running already; False when not started."""
        try:
            self.scheduler.run_now(name, by_hand=False)
        except (UnknownJob, AlreadyRunning):
            return False
        return True

    async def config_changed(self, old: Config, new: Config) -> None:
        """What a reload that changed something sets going: books whose grab failed for good, imports
        that failed for good and imports Audiobookshelf never listed are tried again (the edit may be what
        they needed)."""
        now = self.clock.now()
        books = await self.wanted.retry_failed(now)
        imports = 0
        for torrent_hash in await self.torrents.failed_imports():
            accepted = await self.inbox.add(torrent_hash, {}, "reload", now)
            imports += not accepted.duplicate
        if imports:
            self.importer.wake()
        await self.scans.scan_again()
        if books or imports:
            log.info("config.retrying_failed", books=books, imports=imports)

    def use_jobs(self, jobs: Mapping[str, JobFn]) -> None:
        """Register the jobs this build of mamd has (called once, before the scheduler starts)."""
        for name, job in jobs.items():
            self.scheduler.jobs[name] = job
            self.scheduler.states.setdefault(name, JobState(name))

    def job_intervals(self) -> dict[str, float]:
        schedule = self.config.schedule
        wanted = self.config.wanted
        off = {
            name for name, on in (("series_next", wanted.series_next), ("top", bool(wanted.top))) if not on
        }
        timers = {name: RUNS_WITH.get(name, name) for name in self.scheduler.jobs}
        return {
            name: 0.0 if name in off else getattr(schedule, key).seconds
            for name, key in timers.items()
            if hasattr(schedule, key)
        }

    @property
    def ready(self) -> bool:
        return self.store.problem is None and not self.stopping and self.health.ready

    def readiness_problems(self) -> list[dict[str, Any]]:
        problems = [p.as_dict() for p in self.health.problems()]
        if self.store.problem is not None:
            problems.insert(0, {"id": "database", "severity": "error", "summary": self.store.problem})
        if self.stopping:
            problems.insert(0, {"id": "stopping", "severity": "error", "summary": "mamd is shutting down"})
        return problems

    def status_line(self) -> str:
        """The one-line summary systemd shows as STATUS=."""
        parts = [f"config generation {self.config_state.generation}"]
        running = self.scheduler.running()
        parts.append(f"running {', '.join(running)}" if running else "idle")
        if self.store.problem is not None:
            parts.append("database unavailable")
        if self.config_state.last_error:
            parts.append("last config edit rejected")
        problems = len(self.health.problems())
        if problems:
            parts.append(f"{problems} problem{'s' if problems > 1 else ''}")
        if self.config.dry_run:
            parts.append("dry run")
        return "; ".join(parts)

    def publish_status(self) -> None:
        self.notifier.status(self.status_line())
