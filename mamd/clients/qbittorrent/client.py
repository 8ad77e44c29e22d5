"""The qBittorrent client: an async facade over qbittorrent-api.

qbittorrent-api is synchronous (requests); every call runs in a worker thread, one at a
time behind a lock (its session is not thread-safe), with explicit connect and read
timeouts. It logs in again by itself when the session expired (a 403). Failures map onto
the shared error tree; results come back as mamd's own types. qBittorrent 4.5 to 5.3 look alike
from here: qbittorrent-api sends pause or stop, `paused` or `stopped`, and keeps the session cookie
whether it is `SID` or 5.2's `QBT_SID_<port>`; `paused*` and `stopped*` states read the same; the
answers to adding a torrent (text up to 5.1, JSON and 409 from 5.3) are read below. mamd asks
`torrents/info` only by hash, category and tag, never by a `filter=` state name (5.x lists every
torrent for a name it does not know), and sets no share limits (5.2 wants a `shareLimitAction`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import qbittorrentapi

from mamd.clients.errors import NotFound, Rejected, Unauthorized, Unavailable, UpstreamError
from mamd.clients.qbittorrent.answers import (
    AddResult,
    Conflict,
    Torrent,
    TorrentFile,
    Tracker,
    add_outcome,
    shown,
    torrent_from,
)
from mamd.clients.qbittorrent.failures import (
    connection_failure,
    host_header_refused,
    refuses_host_header,
    status_of,
)
from mamd.clients.upstream import StateReport
from mamd.config.model import QbittorrentConfig

SERVICE = "qbittorrent"
T = TypeVar("T")
TIMEOUTS = (3.0, 15.0)  # connect, read (seconds)


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
        self._server_error: tuple[int, str] | None = None  # the first 5xx answer of the current call

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
                REQUESTS_ARGS={"timeout": self._timeouts, "hooks": {"response": [self._note_server_error]}},
                DISABLE_LOGGING_DEBUG_OUTPUT=True,
                # plain JSON, not wrapped in objects: listing hundreds of torrents every few minutes on a
                # NAS costs a fraction of the CPU, and mamd reads the fields into its own types anyway
                SIMPLE_RESPONSES=True,
            )
            self._built_for = key
        self._server_error = None
        try:
            return action(self._client)
        except qbittorrentapi.LoginFailed as exc:
            # from 5.2 a refused Host header and a wrong password both end the login with 401
            if refuses_host_header(settings.url, self._timeouts):
                raise Unauthorized(SERVICE, host_header_refused(settings.url)) from exc
            raise Unauthorized(
                SERVICE,
                "qBittorrent refused qbittorrent.username and qbittorrent.password; after a few wrong "
                "tries it bans the address for a while (WebUI → Authentication)",
            ) from exc
        except qbittorrentapi.HTTP401Error as exc:
            # qBittorrent answers 401 to a Host header (or Origin, Referer) it does not expect
            raise Unauthorized(SERVICE, host_header_refused(settings.url)) from exc
        except qbittorrentapi.HTTP403Error as exc:
            first = self._first_server_error()
            if first is not None:
                # qbittorrent-api retries a 5xx on a new HTTP session, without the login cookie: the
                # retry's 403 hides what qBittorrent answered first
                code, text = first
                raise Unavailable(SERVICE, f"{what} failed ({code}): {text}", code) from exc
            raise Unauthorized(
                SERVICE, f"{what} was refused ({status_of(exc)}): not logged in or banned"
            ) from exc
        except qbittorrentapi.NotFound404Error as exc:
            raise NotFound(SERVICE, f"{what}: not found") from exc
        except qbittorrentapi.HTTP4XXError as exc:
            raise Rejected(SERVICE, f"{what} was refused ({status_of(exc)}): {exc}", status_of(exc)) from exc
        except qbittorrentapi.HTTP5XXError as exc:
            raise Unavailable(SERVICE, f"{what} failed ({status_of(exc)}): {exc}", status_of(exc)) from exc
        except qbittorrentapi.APIConnectionError as exc:
            self._client = None  # start afresh next time (a restarted qBittorrent has a new session)
            reason = self._redact(connection_failure(str(exc)))
            raise Unavailable(SERVICE, f"cannot reach qBittorrent at {settings.url}: {reason}") from exc
        except qbittorrentapi.APIError as exc:
            raise Unavailable(SERVICE, f"{what} failed: {self._redact(str(exc))}") from exc

    def _note_server_error(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """A requests response hook (worker thread, one call at a time): remember the first 5xx."""
        if response.status_code >= 500 and self._server_error is None:
            self._server_error = (int(response.status_code), self._redact(str(response.text)[:300]))

    def _first_server_error(self) -> tuple[int, str] | None:
        return self._server_error

    # -- reading ---------------------------------------------------------------------------

    async def version(self) -> str:
        return await self._call("app/version", lambda c: str(c.app_version()))

    async def torrent(self, torrent_hash: str) -> Torrent | None:
        """The torrent with this info-hash, or None when qBittorrent does not know it."""
        rows = await self._call("torrents/info", lambda c: list(c.torrents_info(torrent_hashes=torrent_hash)))
        found = [torrent_from(row) for row in rows]
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

        return [torrent_from(row) for row in await self._call("torrents/info", info)]

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
        """Add .torrent bytes; "present" when qBittorrent had it already.

        A torrent qBittorrent did not add ("Fails." up to 5.1, 409 Conflict or `failure_count` > 0
        from 5.3) counts as present once `torrents/info` lists its hash; otherwise the refusal is
        `Rejected`, naming qBittorrent's answer. An answer of another shape counts as added only
        when the torrent is listed.
        """
        tag_list = list(tags)

        def add(client: qbittorrentapi.Client) -> Any:
            try:
                return client.torrents_add(
                    torrent_files=data,
                    save_path=save_path,
                    category=category,
                    tags=tag_list,
                    is_paused=stopped,
                    is_stopped=stopped,
                    use_auto_torrent_management=False,
                )
            except qbittorrentapi.Conflict409Error as exc:
                return Conflict(str(exc).strip())
            except (TypeError, ValueError) as exc:  # JSON that qbittorrent-api cannot make a dict of
                return f"an answer qbittorrent-api cannot read ({exc})"

        answer = await self._call("torrents/add", add)
        outcome = add_outcome(answer)
        if outcome == "added":
            return "added"
        if await self.torrent(torrent_hash) is not None:
            return "present" if outcome == "not added" else "added"
        raise Rejected(
            SERVICE,
            f"qBittorrent did not add the torrent {torrent_hash} and does not list it; it answered "
            f"{shown(answer)}",
            409 if isinstance(answer, Conflict) else None,
        )

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
