"""The MAM session and its request chokepoint: the cookie, spacing, retries, the pause after failures.

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
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from mamd.backoff import Backoff
from mamd.clients.errors import Throttled, Unauthorized, Unavailable, UpstreamError
from mamd.clients.mam.cookies import CookieStore, fingerprint, new_cookie
from mamd.clients.upstream import NO_RETRY, Reply, RetryPolicy, StateReport, Upstream, retry_after_seconds
from mamd.clock import Clock
from mamd.config.model import MamConfig

SERVICE = "mam"
FAILURES_BEFORE_PAUSE = 5
LONGEST_WAIT_S = 120.0  # a longer wait for MAM's permission is not slept through: the request fails
RETRY = Backoff(first_s=5.0, max_s=30.0, give_up_after=2, jitter=0.5)  # tries of one request in all
PAUSE = Backoff(first_s=300.0, max_s=3600.0)  # MAM traffic stops this long after repeated failures
WWW_URL = "https://www.myanonamouse.net"  # the store answers only here
T_URL = "https://t.myanonamouse.net"  # the dynamic seedbox lives here


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def store_url(base_url: str) -> str:
    """Where the bonus store is: MAM's `www.` host for real MAM, else (a simulator) `base_url` itself."""
    return WWW_URL if _host(base_url) in ("myanonamouse.net", "t.myanonamouse.net") else base_url


def seedbox_url(base_url: str) -> str:
    """Where the dynamic seedbox is: MAM's `t.` host for real MAM, else (a simulator) `base_url` itself."""
    return T_URL if _host(base_url) in ("myanonamouse.net", "www.myanonamouse.net") else base_url


def explain_unauthorized(status: int | str) -> str:
    return (
        f"MAM refused the session ({status}): create a new session under Preferences → Security "
        "and put its mam_id in mam.session"
    )


def lower_keys(data: Mapping[Any, Any]) -> dict[str, Any]:
    """The keys in lower case: MAM writes `success` or `Success`, `error` or `Error`."""
    return {str(key).lower(): value for key, value in data.items()}


class MamSession:
    """The session cookie and the one request chokepoint every MAM request goes through."""

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
        self._dead_cookie = False  # MAM's seedbox page itself called it invalid: no address will help
        self._last: dict[str, float] = {}
        self._not_before: dict[str, tuple[float, float]] = {}  # a 429's (when, Retry-After), per kind
        self._locks: dict[str, asyncio.Lock] = {}  # one per kind: its requests wait their turn in order
        self._sending = asyncio.Lock()
        self._failures = 0
        self._paused: tuple[float, float] = (0.0, 0.0)  # (since, seconds) of the pause after failures
        self._last_stamp = 0  # the last `_` cache-buster sent, in epoch milliseconds
        self.requests: list[tuple[str, float]] = []  # (kind, time) of every request sent, for /status
        self.sent: dict[
            str, int
        ] = {}  # requests sent since start, by kind: what a job spent is the difference

        def upstream(base_url: Callable[[], str]) -> Upstream:
            return Upstream(
                session=session,
                service=SERVICE,
                base_url=base_url,
                timeout_s=timeout_s,
                retry=NO_RETRY,
                sleep=clock.sleep,
                on_state=on_state,
                explain_unauthorized=explain_unauthorized,
                redact=redact,
            )

        self._upstream = upstream(lambda: settings().base_url)
        self._store = upstream(lambda: store_url(settings().base_url))
        self._seedbox = upstream(lambda: seedbox_url(settings().base_url))

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
            self._rejected, self._dead_cookie = None, False
            await self._cookies.save(self._state)
        return str(self._state["current"])

    async def _rotate(self, headers: Any) -> None:
        value = new_cookie(headers)
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
        retry: bool = True,
        upstream: Upstream | None = None,
        stamp: bool = False,
        answers: tuple[int, ...] = (),
        refused_by: Callable[[Reply], str | None] | None = None,
        despite_refusal: bool = False,
    ) -> Reply:
        """One request to MAM, in its turn, with the current cookie; failures as `errors` kinds.

        - `retry=False` sends it exactly once: for requests that must not happen twice. Otherwise a
          request that found MAM unavailable or busy is tried again (`RETRY`), in its turn and with the
          cookie the failed answer may have rotated to.
        - `upstream`: another of MAM's hosts (the store's, the seedbox's); the main one by default.
        - `stamp` adds `_=<epoch ms>`, the cache-buster MAM's pages send, taken when the request is sent.
        - `answers`: statuses besides 200 whose JSON object body is an answer, not a failure; without
          one they fail as their status says.
        - `refused_by` reads an answer and returns why the session is dead, if it says so: the cookie is
          then treated as refused, as after a 401, though the answer is returned.
        - `despite_refusal` sends it even while the cookie stands refused (the seedbox update, which is
          what mends a session MAM refused because the IP changed).
        """
        lock = self._locks.setdefault(kind, asyncio.Lock())

        async def one_try(cookie: str) -> Reply:
            sent_params = {**(params or {}), "_": self._stamp()} if stamp else params
            return await (upstream or self._upstream).request(
                method,
                path,
                params=sent_params,
                data=data,
                headers={"Cookie": f"mam_id={cookie}", **(headers or {})},
                expect="bytes",
                ok=(200, *answers),
                retry=NO_RETRY,  # retried here, where the next try can carry a rotated cookie
            )

        async with lock:
            spacing = self._spacing if self._spacing is not None else self._settings().search_interval.seconds
            policy = RetryPolicy(RETRY if retry else NO_RETRY.backoff, LONGEST_WAIT_S, min_wait_s=spacing)
            failures = 0
            while True:
                self._check_may_send(await self.cookie(), despite_refusal)
                await self._wait_turn(kind, spacing)
                try:
                    reply = await self._send(kind, one_try, despite_refusal)
                except Unauthorized as exc:
                    await self._refused(exc)
                    raise
                except (Throttled, Unavailable) as exc:
                    if isinstance(exc, Throttled):
                        self._not_before[kind] = (self._last[kind], exc.retry_after or 0.0)
                    if await self._gives_up(policy, failures := failures + 1, exc):
                        raise
                    continue
                await self._check_reply(kind, reply, method, path, expect, refused_by)
                self._failures = 0
                return reply

    async def _check_reply(
        self,
        kind: str,
        reply: Reply,
        method: str,
        path: str,
        expect: str,
        refused_by: Callable[[Reply], str | None] | None,
    ) -> None:
        """What an answer that arrived says: a refusal, a pause, or something unreadable (not retried)."""
        try:
            if reply.status != 200:
                self._check_answer(reply, method, path)
            self._check_logged_in(reply, expect)
            reason = refused_by(reply) if refused_by is not None else None
            if reason is not None:
                self._on_state("unauthorized", reason)
                await self._refused(Unauthorized(SERVICE, reason), dead=True)
        except Unauthorized as exc:
            await self._refused(exc)
            raise
        except Throttled as exc:
            self._not_before[kind] = (self._last[kind], exc.retry_after or 0.0)
            raise
        except Unavailable:
            self._failed()
            raise

    async def _gives_up(self, policy: RetryPolicy, failures: int, exc: UpstreamError) -> bool:
        """After a failed try: True when it is the last (a failure that opens the circuit counts), else
        the wait before the next one has passed."""
        wait = policy.wait(failures, exc) if exc.sent else None
        if wait is None:
            if isinstance(exc, Unavailable) and exc.sent:
                self._failed()
            return True
        await self._clock.sleep(wait)
        return False

    async def _send(
        self, kind: str, one_try: Callable[[str], Awaitable[Reply]], despite_refusal: bool
    ) -> Reply:
        """One try, one request in flight at a time: each carries the cookie the previous answer rotated to,
        and every answer's new cookie, an error answer's too, is saved before the next request."""
        async with self._sending:
            cookie = await self.cookie()
            self._check_may_send(cookie, despite_refusal)
            self._last[kind] = self._clock.now()
            self.requests.append((kind, self._last[kind]))
            del self.requests[:-1000]
            self.sent[kind] = self.sent.get(kind, 0) + 1
            try:
                reply = await one_try(cookie)
            except UpstreamError as exc:
                self._last[kind] = self._clock.now()
                if exc.headers is not None:
                    await self._rotate(exc.headers)
                raise
            self._last[kind] = self._clock.now()
            await self._rotate(reply.headers)
        return reply

    def _stamp(self) -> str:
        """Epoch milliseconds by the client's clock, never the same twice."""
        self._last_stamp = max(int(self._clock.now() * 1000), self._last_stamp + 1)
        return str(self._last_stamp)

    def _check_answer(self, reply: Reply, method: str, path: str) -> None:
        """A non-200 status let through as an answer must carry a JSON object; else it is what it says."""
        try:
            data = json.loads(reply.body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return
        if reply.status == 429:
            after = retry_after_seconds(reply.headers.get("Retry-After"))
            shown = f"; asked to wait {after:g} s" if after is not None else ""
            exc: UpstreamError = Throttled(SERVICE, f"{method} {path} was throttled (429){shown}", after)
            self._on_state("throttled", exc.message)
        else:
            exc = Unauthorized(SERVICE, explain_unauthorized(reply.status), reply.status)
            self._on_state("unauthorized", exc.message)
        raise exc

    def _check_may_send(self, cookie: str, despite_refusal: bool = False) -> None:
        refused = self._rejected is not None and self._rejected == cookie
        if refused and (not despite_refusal or self._dead_cookie):
            raise Unauthorized(
                SERVICE, "the session was refused; waiting for a new mam.session (nothing sent)"
            ).unsent()
        now = self._clock.now()
        left = _until(self._paused, now) - now
        if left > 0:
            raise Unavailable(SERVICE, f"paused for {left:.0f} s after repeated failures").unsent()

    async def _wait_turn(self, kind: str, spacing: float) -> None:
        """Wait until `spacing` has passed since the last request of this kind, and any Retry-After.

        Every wait counts from when it began, or from now if the clock has since moved back before
        that: a clock set back a day must not hold MAM traffic for a day.
        """
        now = self._clock.now()
        last = self._last.get(kind)
        turn = max(
            _until((last, spacing), now) if last is not None else float("-inf"),
            _until(self._not_before.get(kind, (float("-inf"), 0.0)), now),
        )
        if turn - now > LONGEST_WAIT_S:
            raise Throttled(SERVICE, f"MAM asked for a pause: {turn - now:.0f} s left", turn - now).unsent()
        if turn > now:
            await self._clock.sleep(turn - now)

    def _check_logged_in(self, reply: Reply, expect: str) -> None:
        """An empty body, or MAM's login page where JSON or a `.torrent` was expected, means the session is
        gone. Only a body that is not what was asked for is read for it: a search result or a `.torrent`
        may well hold "not logged in" or "<html" in a title or a file name."""
        body = reply.body.lstrip()
        if expect == "json" and body:
            try:
                reply.data = json.loads(body)
                return
            except ValueError as exc:
                if not _login_page(reply, body):
                    raise Unavailable(
                        SERVICE, f"MAM answered with something that is not JSON: {body[:60]!r}"
                    ) from exc
        elif body and (body.startswith(b"d") or not _login_page(reply, body)):
            return  # a .torrent is a bencoded dictionary; anything else is judged by the caller
        self._on_state("unauthorized", "MAM answered with its login page")
        raise Unauthorized(
            SERVICE,
            "MAM answered with its login page or nothing: the session (mam.session) is no longer valid; "
            "create a new one under Preferences → Security",
        )

    async def _refused(self, exc: UpstreamError, dead: bool = False) -> None:
        # the value held now is the one refused, even when the refusing answer rotated it
        cookie = str(self._state["current"]) if self._state else await self.cookie()
        first = self._rejected != cookie
        self._dead_cookie = dead or (self._dead_cookie and not first)
        self._rejected = cookie
        if first and self._on_rejected is not None:
            await self._on_rejected(exc.message)

    def _failed(self) -> None:
        self._failures += 1
        if self._failures >= FAILURES_BEFORE_PAUSE:
            pause = PAUSE.delay(self._failures - FAILURES_BEFORE_PAUSE + 1)
            self._paused = (self._clock.now(), pause)


def _login_page(reply: Reply, body: bytes) -> bool:
    """Whether an answer that is not the JSON or `.torrent` asked for is a web page: MAM's login page."""
    kind = str(reply.headers.get("Content-Type", "")).lower()
    return "html" in kind or body.startswith(b"<") or b"not logged in" in body[:2000].lower()


def _until(wait: tuple[float, float], now: float) -> float:
    """The end of a wait of `seconds` begun at `since`, counted from now if the clock went back."""
    since, seconds = wait
    return min(since, now) + seconds
