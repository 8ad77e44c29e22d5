"""The MyAnonamouse client: the JSON API with the session cookie only, politely.

- Only the `mam_id` cookie authenticates; there is no password login, ever.
- MAM rotates the cookie on every answer; each new value is saved before the next request
  and used from then on, across restarts. A value the user pastes into
  `mam.session` replaces the rotated one.
- Requests of one kind (search, download, account, …) are at least `mam.search_interval`
  apart; a 429 waits out `Retry-After`; repeated failures open a circuit for a while.
- 401/403, an empty body or MAM's login page mean the session is dead: no further request
  is sent until the cookie changes, so a dead session is never hammered.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any

import aiohttp

from mamd.clients.errors import Rejected, Throttled, Unauthorized, Unavailable, UpstreamError
from mamd.clients.mam_rows import LANGUAGE_IDS, parse_account, parse_row
from mamd.clients.upstream import Reply, RetryPolicy, StateReport, Upstream
from mamd.clock import Clock
from mamd.config.model import MamConfig
from mamd.domain.account import AccountSnapshot
from mamd.domain.release import Release
from mamd.domain.torrentfile import TorrentError, TorrentMeta, parse_torrent

SERVICE = "mam"
SEARCH_PATH = "/tor/js/loadSearchJSONbasic.php"
NOTHING = "Nothing returned, out of"
FAILURES_BEFORE_PAUSE = 5
LONGEST_WAIT_S = 120.0  # a longer wait for MAM's permission is not slept through: the request fails
RETRY = RetryPolicy(attempts=2, base_s=5.0, max_s=30.0, max_retry_after_s=LONGEST_WAIT_S)
PAUSE_S = (300.0, 600.0, 1200.0, 2400.0, 3600.0)


@dataclass(frozen=True)
class SearchPage:
    releases: list[Release]
    found: int  # matches of the whole query
    start: int
    rows: int  # rows on this page, read or not
    unreadable: int


class CookieStore:
    """Where the current `mam_id` lives between requests and restarts (the state database)."""

    def __init__(
        self, load: Callable[[], Awaitable[dict[str, Any]]], save: Callable[[dict[str, Any]], Awaitable[None]]
    ):
        self.load, self.save = load, save


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def new_cookie(headers: Any) -> str | None:
    """The rotated `mam_id` in these answer headers; deletions and expired cookies are ignored."""
    values = headers.getall("Set-Cookie", []) if hasattr(headers, "getall") else []
    found = None
    for header in values:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            continue
        morsel = jar.get("mam_id")
        if morsel is None or not morsel.value or morsel.value == "deleted":
            continue
        if morsel["max-age"] in ("0", "-1") or _expired(morsel["expires"]):
            continue
        found = morsel.value
    return found


def _expired(expires: str) -> bool:
    if not expires:
        return False
    try:
        when = parsedate_to_datetime(expires)
    except (TypeError, ValueError):
        return False
    return when.timestamp() < time.time()


class MamClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: Callable[[], MamConfig],
        cookies: CookieStore,
        *,
        clock: Clock,
        on_state: StateReport = lambda state, error: None,
        on_cookie: Callable[[str], None] = lambda value: None,
        on_rejected: Callable[[str], Awaitable[None]] | None = None,
        redact: Callable[[str], str] = str,
        spacing_s: float | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self._settings = settings
        self._cookies = cookies
        self._clock = clock
        self._on_state = on_state
        self._on_cookie = on_cookie
        self._on_rejected = on_rejected
        self._spacing = spacing_s
        self._state: dict[str, Any] | None = None
        self._rejected: str | None = None  # the cookie MAM refused; nothing is sent while it is current
        self._last: dict[str, float] = {}
        self._not_before: dict[str, float] = {}  # a 429's Retry-After, per kind
        self._locks: dict[str, asyncio.Lock] = {}  # one per kind: its requests wait their turn in order
        self._sending = asyncio.Lock()
        self._failures = 0
        self._paused_until = 0.0
        self.requests: list[tuple[str, float]] = []  # (kind, time) of every request sent, for /status
        self._upstream = Upstream(
            session=session,
            service=SERVICE,
            base_url=lambda: settings().base_url,
            timeout_s=timeout_s,
            retry=RETRY,
            sleep=clock.sleep,
            on_state=on_state,
            explain_unauthorized=lambda status: (
                f"MAM refused the session ({status}): create a new session under Preferences → Security "
                "and put its mam_id in mam.session"
            ),
            redact=redact,
        )

    # -- the session cookie ----------------------------------------------------------------

    async def cookie(self) -> str:
        """The value to send: the configured one, or the newest rotation of it."""
        configured = self._settings().session.reveal()
        if self._state is None:
            self._state = await self._cookies.load()
            if self._state.get("current"):
                self._on_cookie(str(self._state["current"]))  # a rotated value from before a restart
        if self._state.get("configured") != fingerprint(configured):
            self._state = {"configured": fingerprint(configured), "current": configured}
            self._rejected = None
            await self._cookies.save(self._state)
        return str(self._state["current"])

    async def _rotate(self, reply: Reply) -> None:
        value = new_cookie(reply.headers)
        if value is None or self._state is None or value == self._state.get("current"):
            return
        self._on_cookie(value)  # known to the redactor before anything could log it
        self._state = {**self._state, "current": value, "rotated_at": self._clock.now()}
        await self._cookies.save(self._state)

    # -- the chokepoint --------------------------------------------------------------------

    async def _request(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        expect: str = "json",
    ) -> Reply:
        lock = self._locks.setdefault(kind, asyncio.Lock())
        async with lock:
            spacing = self._spacing if self._spacing is not None else self._settings().search_interval.seconds
            self._check_may_send(await self.cookie())
            await self._wait_turn(kind, spacing)
            # one request in flight at a time: each carries the cookie the previous answer rotated to
            async with self._sending:
                cookie = await self.cookie()
                self._check_may_send(cookie)
                self._last[kind] = self._clock.now()
                self.requests.append((kind, self._last[kind]))
                del self.requests[:-1000]
                try:
                    reply = await self._upstream.request(
                        method,
                        path,
                        params=params,
                        data=data,
                        headers={"Cookie": f"mam_id={cookie}", **(headers or {})},
                        expect="bytes",
                        retry=replace(RETRY, min_wait_s=spacing),  # a retry is spaced like any request
                    )
                    self._last[kind] = self._clock.now()
                    await self._rotate(reply)
                    self._check_logged_in(reply, expect)
                except Unauthorized as exc:
                    await self._refused(cookie, exc)
                    raise
                except Throttled as exc:
                    self._last[kind] = self._clock.now()
                    self._not_before[kind] = self._last[kind] + (exc.retry_after or 0.0)
                    raise
                except Unavailable:
                    self._last[kind] = self._clock.now()
                    self._failed()
                    raise
        self._failures = 0
        return reply

    def _check_may_send(self, cookie: str) -> None:
        if self._rejected is not None and self._rejected == cookie:
            raise Unauthorized(
                SERVICE, "the session was refused; waiting for a new mam.session (nothing sent)"
            )
        now = self._clock.now()
        if now < self._paused_until:
            raise Unavailable(SERVICE, f"paused for {self._paused_until - now:.0f} s after repeated failures")

    async def _wait_turn(self, kind: str, spacing: float) -> None:
        """Wait until `spacing` has passed since the last request of this kind, and any Retry-After."""
        now = self._clock.now()
        turn = max(self._last.get(kind, float("-inf")) + spacing, self._not_before.get(kind, float("-inf")))
        if turn - now > LONGEST_WAIT_S:
            raise Throttled(SERVICE, f"MAM asked for a pause: {turn - now:.0f} s left", turn - now)
        if turn > now:
            await self._clock.sleep(turn - now)

    def _check_logged_in(self, reply: Reply, expect: str) -> None:
        body = reply.body.lstrip()
        head = body[:2000].lower()
        if not body or b"<html" in head or b"not logged in" in head:
            # an empty body or the login page is how MAM says the session is gone
            self._on_state("unauthorized", "MAM answered with its login page")
            raise Unauthorized(
                SERVICE,
                "MAM answered with its login page or nothing: the session (mam.session) is no longer valid; "
                "create a new one under Preferences → Security",
            )
        if expect == "json":
            try:
                reply.data = json.loads(body)
            except ValueError as exc:
                raise Unavailable(
                    SERVICE, f"MAM answered with something that is not JSON: {body[:60]!r}"
                ) from exc

    async def _refused(self, cookie: str, exc: UpstreamError) -> None:
        first = self._rejected != cookie
        self._rejected = cookie
        if first and self._on_rejected is not None:
            await self._on_rejected(exc.message)

    def _failed(self) -> None:
        self._failures += 1
        if self._failures >= FAILURES_BEFORE_PAUSE:
            step = min(self._failures - FAILURES_BEFORE_PAUSE, len(PAUSE_S) - 1)
            self._paused_until = self._clock.now() + PAUSE_S[step]

    # -- search ----------------------------------------------------------------------------

    async def search(
        self,
        text: str,
        *,
        fields: Sequence[str] = ("title", "author"),
        languages: Iterable[str] = (),
        sort: str = "default",
        active_only: bool = True,
        start: int = 0,
        perpage: int = 100,
    ) -> SearchPage:
        """One page of audiobook search results (main category 13)."""
        ids = sorted({LANGUAGE_IDS[c] for c in (x.upper() for x in languages) if c in LANGUAGE_IDS})
        body = {
            "tor": {
                "text": text,
                "srchIn": dict.fromkeys(fields, "true"),
                "searchType": "active" if active_only else "all",
                "searchIn": "torrents",
                "main_cat": ["13"],
                "cat": ["0"],
                "browse_lang": ids,
                "browseFlagsHideVsShow": "0",
                "browseFlags": [],
                "startDate": "",
                "endDate": "",
                "hash": "",
                "sortType": sort,
                "startNumber": str(start),  # a string, not a number
                "id": 0,
            },
            "perpage": perpage,  # at the top level: inside `tor` MAM ignores it
            "isbn": True,
            "description": False,
            "dlLink": False,
        }
        raw = json.dumps(body).encode()  # the exact bytes: a re-encoded body gets an empty answer
        reply = await self._request(
            "search", "POST", SEARCH_PATH, data=raw, headers={"Content-Type": "application/json"}
        )
        data = reply.data
        if isinstance(data, dict) and "error" in data:
            message = str(data.get("error"))
            if message.startswith(NOTHING):
                return SearchPage([], _found(message), start, 0, 0)
            raise Rejected(SERVICE, f"the search was refused: {message}")
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise Unavailable(SERVICE, "the search answer has no `data` list")
        rows = data["data"]
        releases = [release for release in (parse_row(row) for row in rows) if release is not None]
        found = data.get("found")
        return SearchPage(
            releases,
            found if isinstance(found, int) else len(rows),
            start,
            len(rows),
            len(rows) - len(releases),
        )

    async def search_all(
        self, text: str, *, pages: int = 3, perpage: int = 100, **options: Any
    ) -> list[Release]:
        """Up to `pages` pages; `startNumber` moves by the rows actually returned."""
        releases: list[Release] = []
        start = 0
        for _ in range(pages):
            page = await self.search(text, start=start, perpage=perpage, **options)
            releases.extend(page.releases)
            start += page.rows
            if page.rows == 0 or start >= page.found:
                break
        return releases

    # -- download, account -----------------------------------------------------------------

    async def download(self, mam_id: int, *, wedge: bool = False) -> tuple[bytes, TorrentMeta]:
        """The .torrent bytes, checked as bencode, with their v1 info-hash.

        `wedge` adds `fl=1`, which spends a freeleech wedge whatever the torrent is (even a free one): the
        rules decide it, never this client.
        """
        params = {"tid": str(mam_id), **({"fl": "1"} if wedge else {})}
        reply = await self._request("download", "GET", "/tor/download.php", params=params, expect="bytes")
        try:
            return reply.body, parse_torrent(reply.body)
        except TorrentError as exc:
            raise Rejected(SERVICE, f"MAM's torrent {mam_id} is not a valid .torrent: {exc}") from exc

    async def account(self) -> AccountSnapshot:
        reply = await self._request("account", "GET", "/jsonLoad.php", params={"snatch_summary": ""})
        if not isinstance(reply.data, dict):
            raise Unavailable(SERVICE, "the account answer is not a JSON object")
        return parse_account(reply.data, self._clock.now())


def _found(message: str) -> int:
    digits = "".join(c for c in message[len(NOTHING) :] if c.isdigit())
    return int(digits) if digits else 0
