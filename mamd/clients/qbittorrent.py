"""The qBittorrent client: an async facade over qbittorrent-api.

qbittorrent-api is synchronous (requests); every call runs in a worker thread, one at a
time behind a lock (its session is not thread-safe), with explicit connect and read
timeouts. It logs in again by itself when the session expired (a 403). Failures map onto
the shared error tree; results come back as mamd's own types. qBittorrent 4.x (pause,
`paused*` states) and 5.x (stop, `stopped*` states) look alike from here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import qbittorrentapi

from mamd.clients.errors import NotFound, Rejected, Unauthorized, Unavailable, UpstreamError
from mamd.clients.upstream import StateReport
from mamd.config.model import QbittorrentConfig
from mamd.domain import seeding

SERVICE = "qbittorrent"
T = TypeVar("T")
TIMEOUTS = (3.0, 15.0)  # connect, read (seconds)

DOWNLOADING = seeding.DOWNLOADING | {"checkingDL"}
SEEDING = frozenset({"uploading", "stalledUP", "queuedUP", "forcedUP"})
# states in which the torrent's paths and progress are not yet to be trusted
UNSETTLED = frozenset({"checkingResumeData", "checkingUP", "checkingDL", "metaDL", "allocating", "moving"})
STOPPED, TROUBLED = seeding.STOPPED, seeding.TROUBLED


@dataclass(frozen=True)
class Torrent:
    hash: str
    name: str
    state: str
    progress: float
    amount_left: int
    completion_on: int | None
    save_path: str
    content_path: str
    category: str
    tags: tuple[str, ...]
    size: int
    ratio: float
    uploaded: int
    downloaded: int
    seeding_time: int
    num_seeds: int
    tracker: str
    added_on: int

    @property
    def complete(self) -> bool:
        """Every wanted byte is on disk (by progress, not by state name)."""
        return (self.progress >= 1.0 or self.amount_left == 0) and self.state not in UNSETTLED

    @property
    def stopped(self) -> bool:
        return self.state in STOPPED

    @property
    def downloading(self) -> bool:
        return self.state in DOWNLOADING and not self.complete

    @property
    def troubled(self) -> bool:
        return self.state in TROUBLED

    def belongs_to(self, category: str, tags: Iterable[str]) -> bool:
        """In mamd's category, or carrying one of mamd's tags."""
        return self.category == category or bool(set(self.tags) & set(tags))


@dataclass(frozen=True)
class TorrentFile:
    name: str  # the path inside the torrent, `/`-separated, as qBittorrent reports it
    size: int
    progress: float


@dataclass(frozen=True)
class Tracker:
    url: str
    status: int  # 2: working
    message: str

    @property
    def working(self) -> bool:
        return self.status == 2


AddResult = Literal["added", "present"]


def _torrent(raw: Any) -> Torrent:
    # `tags` is "a, b" in torrents/info (comma and space): split on commas, strip
    tags = tuple(t.strip() for t in str(raw.get("tags") or "").split(",") if t.strip())
    completion = int(raw.get("completion_on") or 0)
    return Torrent(
        hash=str(raw.get("hash", "")).lower(),
        name=str(raw.get("name", "")),
        state=str(raw.get("state", "unknown")),
        progress=float(raw.get("progress") or 0.0),
        amount_left=int(raw.get("amount_left") or 0),
        completion_on=completion if completion > 0 else None,
        save_path=str(raw.get("save_path") or ""),
        content_path=str(raw.get("content_path") or ""),
        category=str(raw.get("category") or ""),
        tags=tags,
        size=int(raw.get("size") or raw.get("total_size") or 0),
        ratio=float(raw.get("ratio") or 0.0),
        uploaded=int(raw.get("uploaded") or 0),
        downloaded=int(raw.get("downloaded") or 0),
        seeding_time=int(raw.get("seeding_time") or 0),
        num_seeds=int(raw.get("num_seeds") or 0),
        tracker=str(raw.get("tracker") or ""),
        added_on=int(raw.get("added_on") or 0),
    )


class QbittorrentClient:
    def __init__(
        self,
        settings: Callable[[], QbittorrentConfig],
        *,
        on_state: StateReport = lambda state, error: None,
        redact: Callable[[str], str] = str,
        timeouts: tuple[float, float] = TIMEOUTS,
    ) -> None:
        self._settings = settings
        self._on_state = on_state
        self._redact = redact
        self._timeouts = timeouts
        self._lock = asyncio.Lock()
        self._client: qbittorrentapi.Client | None = None
        self._built_for: tuple[str, str, str] | None = None

    # -- the chokepoint --------------------------------------------------------------------

    async def _call(self, what: str, action: Callable[[qbittorrentapi.Client], T]) -> T:
        async with self._lock:
            try:
                result = await asyncio.to_thread(self._invoke, what, action)
            except Unauthorized as exc:
                self._on_state("unauthorized", exc.message)
                raise
            except Rejected:
                self._on_state("ok", None)  # a refused request still means the service answers
                raise
            except UpstreamError as exc:
                self._on_state("down", exc.message)
                raise
        self._on_state("ok", None)
        return result

    def _invoke(self, what: str, action: Callable[[qbittorrentapi.Client], T]) -> T:
        """Runs in the worker thread: build the client for the current settings, call, map errors."""
        # qbittorrentapi is imported with this module, at start-up: importing it here, in the worker
        # thread, held the interpreter lock for a tenth of a second while the daemon answered hooks
        settings = self._settings()
        password = settings.password.reveal() if settings.password else ""
        key = (settings.url, settings.username, password)
        if self._client is None or self._built_for != key:
            self._client = qbittorrentapi.Client(
                host=settings.url,
                username=settings.username if settings.password else None,
                password=password or None,
                REQUESTS_ARGS={"timeout": self._timeouts},
                DISABLE_LOGGING_DEBUG_OUTPUT=True,
                # plain JSON, not wrapped in objects: listing hundreds of torrents every few minutes on a
                # NAS costs a fraction of the CPU, and mamd reads the fields into its own types anyway
                SIMPLE_RESPONSES=True,
            )
            self._built_for = key
        try:
            return action(self._client)
        except qbittorrentapi.LoginFailed as exc:
            raise Unauthorized(
                SERVICE,
                "qBittorrent refused qbittorrent.username and qbittorrent.password; after a few wrong "
                "tries it bans the address for a while (WebUI → Authentication)",
            ) from exc
        except (qbittorrentapi.HTTP401Error, qbittorrentapi.HTTP403Error) as exc:
            raise Unauthorized(
                SERVICE, f"{what} was refused ({_status(exc)}): not logged in or banned"
            ) from exc
        except qbittorrentapi.NotFound404Error as exc:
            raise NotFound(SERVICE, f"{what}: not found") from exc
        except qbittorrentapi.HTTP4XXError as exc:
            raise Rejected(SERVICE, f"{what} was refused ({_status(exc)}): {exc}", _status(exc)) from exc
        except qbittorrentapi.HTTP5XXError as exc:
            raise Unavailable(SERVICE, f"{what} failed ({_status(exc)}): {exc}", _status(exc)) from exc
        except qbittorrentapi.APIConnectionError as exc:
            self._client = None  # start afresh next time (a restarted qBittorrent has a new session)
            reason = self._redact(str(exc))
            raise Unavailable(SERVICE, f"cannot reach qBittorrent at {settings.url}: {reason}") from exc
        except qbittorrentapi.APIError as exc:
            raise Unavailable(SERVICE, f"{what} failed: {self._redact(str(exc))}") from exc

    # -- reading ---------------------------------------------------------------------------

    async def version(self) -> str:
        return await self._call("app/version", lambda c: str(c.app_version()))

    async def torrent(self, torrent_hash: str) -> Torrent | None:
        """The torrent with this info-hash, or None when qBittorrent does not know it."""
        rows = await self._call("torrents/info", lambda c: list(c.torrents_info(torrent_hashes=torrent_hash)))
        found = [_torrent(row) for row in rows]
        return next((t for t in found if t.hash == torrent_hash.lower()), None)

    async def torrents(
        self, *, category: str | None = None, tag: str | None = None, hashes: Iterable[str] | None = None
    ) -> list[Torrent]:
        """The torrents in `category`, with `tag`, among `hashes` (all given must hold; none: every one)."""
        chosen = None if hashes is None else "|".join(hashes)
        if chosen == "":
            return []  # torrents/info without hashes would list every torrent

        def info(client: qbittorrentapi.Client) -> list[Any]:
            return list(client.torrents_info(category=category, tag=tag, torrent_hashes=chosen))

        return [_torrent(row) for row in await self._call("torrents/info", info)]

    async def files(self, torrent_hash: str) -> list[TorrentFile]:
        rows: list[Any] = await self._call(
            "torrents/files", lambda c: list(c.torrents_files(torrent_hash=torrent_hash))
        )
        return [
            TorrentFile(
                name=str(r.get("name", "")),
                size=int(r.get("size") or 0),
                progress=float(r.get("progress") or 0),
            )
            for r in rows
        ]

    async def trackers(self, torrent_hash: str) -> list[Tracker]:
        rows: list[Any] = await self._call(
            "torrents/trackers", lambda c: list(c.torrents_trackers(torrent_hash=torrent_hash))
        )
        # DHT, PeX and LSD appear as pseudo-trackers "** [DHT] **"
        return [
            Tracker(str(r.get("url")), int(r.get("status") or 0), str(r.get("msg") or ""))
            for r in rows
            if not str(r.get("url", "")).startswith("**")
        ]

    # -- changing --------------------------------------------------------------------------

    async def add(
        self,
        data: bytes,
        torrent_hash: str,
        *,
        save_path: str,
        category: str,
        tags: Iterable[str],
        stopped: bool = False,
    ) -> AddResult:
        """Add .torrent bytes; "present" when qBittorrent had it already (4.x answers "Fails.")."""
        tag_list = list(tags)

        def add(client: qbittorrentapi.Client) -> Any:
            return client.torrents_add(
                torrent_files=data,
                save_path=save_path,
                category=category,
                tags=tag_list,
                is_paused=stopped,
                is_stopped=stopped,
                use_auto_torrent_management=False,
            )

        answer = await self._call("torrents/add", add)
        if isinstance(answer, str) and answer.strip() != "Ok.":
            if await self.torrent(torrent_hash) is not None:
                return "present"
            raise Rejected(SERVICE, f"qBittorrent did not add the torrent: {answer.strip()!r}")
        return "added"

    async def stop(self, hashes: Iterable[str]) -> None:
        """Stop (4.x: pause) these torrents; qbittorrent-api picks the verb the server knows."""
        chosen = list(hashes)
        await self._call("torrents/stop", lambda c: c.torrents_stop(torrent_hashes=chosen))

    async def start(self, hashes: Iterable[str]) -> None:
        chosen = list(hashes)
        await self._call("torrents/start", lambda c: c.torrents_start(torrent_hashes=chosen))

    async def ensure_category(self, name: str, save_path: str) -> bool:
        """Create the category when it is missing; an existing one is left as the user set it."""

        def ensure(client: qbittorrentapi.Client) -> bool:
            if name in dict(client.torrents_categories()):
                return False
            client.torrents_create_category(name=name, save_path=save_path)
            return True

        return await self._call("torrents/createCategory", ensure)

    async def ensure_tags(self, tags: Iterable[str]) -> None:
        wanted = list(tags)
        if wanted:
            await self._call("torrents/createTags", lambda c: c.torrents_create_tags(tags=wanted))

    async def set_completion_program(self, program: str) -> None:
        """Point "Run external program on torrent finished" at `program` (the demo and tests use it)."""
        prefs = {"autorun_enabled": True, "autorun_program": program}
        await self._call("app/setPreferences", lambda c: c.app_set_preferences(prefs))


def _status(exc: Any) -> int | None:
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return int(code) if isinstance(code, int) else None
