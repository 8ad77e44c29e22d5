"""The one request chokepoint every HTTP client goes through.

It puts a timeout on each request, retries what is worth retrying with exponential
backoff (honouring `Retry-After`), maps every failure onto the four kinds in
`mamd.clients.errors`, and reports the service's state (ok, down, unauthorized,
throttled) after every request, so `/status` and the log see each transition once.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

from mamd.backoff import Backoff
from mamd.clients.errors import NotFound, Rejected, Throttled, Unauthorized, Unavailable, UpstreamError

ServiceState = Literal["ok", "down", "unauthorized", "throttled"]
StateReport = Callable[[ServiceState, str | None], None]
Sleep = Callable[[float], Awaitable[None]]
Expect = Literal["json", "bytes", "text", "none"]


REQUEST_BACKOFF = Backoff(first_s=0.5, max_s=8.0, give_up_after=3, jitter=0.5)


@dataclass(frozen=True)
class RetryPolicy:
    """How one request is retried: `backoff.give_up_after` is the number of tries in all."""

    backoff: Backoff = REQUEST_BACKOFF
    max_retry_after_s: float = 60.0  # a longer Retry-After is not waited out here: the caller reschedules
    min_wait_s: float = 0.0  # never retry sooner than this (a service's own request spacing)

    def wait(self, failures: int, exc: UpstreamError) -> float | None:
        """Seconds before the next try after `failures` failed tries ending in `exc`; None: no more tries."""
        if not isinstance(exc, Unavailable | Throttled) or self.backoff.gives_up(failures):
            return None
        # random jitter, so clients that failed together do not retry together
        delay = self.backoff.delay(failures, random.random())
        if isinstance(exc, Throttled):
            if exc.retry_after is not None and exc.retry_after > self.max_retry_after_s:
                return None
            return max(exc.retry_after or 0.0, delay, self.min_wait_s)
        return max(delay, self.min_wait_s)


NO_RETRY = RetryPolicy(Backoff(0.0, 0.0, give_up_after=1))


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes
    data: Any = None  # the decoded JSON, when JSON was expected


@dataclass
class Upstream:
    """One service: its name, where it is, how to authenticate, and how patient to be."""

    session: aiohttp.ClientSession
    service: str
    base_url: Callable[[], str]
    headers: Callable[[], Mapping[str, str]] = dict
    timeout_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = asyncio.sleep
    on_state: StateReport = lambda state, error: None
    explain_unauthorized: Callable[[int], str] = lambda status: f"the credential was refused ({status})"
    redact: Callable[[str], str] = str

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: Any = None,
        expect: Expect = "json",
        ok: tuple[int, ...] = (200,),
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        policy = retry or self.retry
        attempt = 0
        while True:
            attempt += 1
            try:
                reply = await self._once(method, path, params, json_body, data, expect, ok, headers)
            except UpstreamError as exc:
                wait = policy.wait(attempt, exc)
                if wait is None:
                    self._report(exc)
                    raise
                await self.sleep(wait)
                continue
            self.on_state("ok", None)
            return reply

    def _report(self, exc: UpstreamError) -> None:
        if isinstance(exc, Unauthorized):
            self.on_state("unauthorized", exc.message)
        elif isinstance(exc, Throttled):
            self.on_state("throttled", exc.message)
        elif isinstance(exc, Unavailable):
            self.on_state("down", exc.message)
        else:
            self.on_state("ok", None)  # a refused request still means the service answers

    async def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        json_body: Any,
        data: Any,
        expect: Expect,
        ok: tuple[int, ...],
        headers: Mapping[str, str] | None,
    ) -> Reply:
        url = self.base_url().rstrip("/") + path
        all_headers = {**self.headers(), **(headers or {})}
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        started = time.monotonic()
        try:
            async with self.session.request(
                method, url, params=params, json=json_body, data=data, headers=all_headers, timeout=timeout
            ) as response:
                body = await response.read()
                status, response_headers = response.status, response.headers
        except TimeoutError as exc:
            raise Unavailable(
                self.service, f"no answer within {self.timeout_s:g} s ({method} {path})"
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise Unavailable(self.service, f"cannot connect to {self.redact(url)}: {exc.os_error}") from exc
        except aiohttp.ClientError as exc:
            raise Unavailable(self.service, f"{method} {path} failed: {type(exc).__name__} {exc}") from exc
        if status not in ok:
            elapsed = time.monotonic() - started
            error = self._status_error(status, response_headers, body, method, path, elapsed)
            error.headers = response_headers  # an error answer can still carry something (MAM's new cookie)
            raise error
        reply = Reply(status, response_headers, body)
        if expect == "json":
            reply.data = self._decode(body, method, path)
        return reply

    def _decode(self, body: bytes, method: str, path: str) -> Any:
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            sample = body[:60].decode("utf-8", "replace").replace("\n", " ")
            raise Unavailable(
                self.service, f"{method} {path} answered with something that is not JSON: {sample!r}"
            ) from exc

    def _status_error(
        self, status: int, headers: Mapping[str, str], body: bytes, method: str, path: str, elapsed: float
    ) -> UpstreamError:
        text = body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
        where = f"{method} {path}"
        if status in (401, 403):
            return Unauthorized(self.service, self.explain_unauthorized(status), status)
        if status == 429:
            after = retry_after_seconds(headers.get("Retry-After"))
            shown = f"; asked to wait {after:g} s" if after is not None else ""
            return Throttled(self.service, f"{where} was throttled (429){shown}", after)
        if status >= 500:
            return Unavailable(
                self.service, f"{where} failed with {status} after {elapsed:.1f} s: {text}", status
            )
        if status == 404:
            return NotFound(self.service, f"{where} found nothing (404): {text}", status)
        return Rejected(self.service, f"{where} was refused ({status}): {text}", status)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
