"""Fault injection for the simulated MAM: latency, error statuses, garbage, empty bodies, hangs, and
"fail after K successes".

Faults apply before the session check, to every path except `/__sim/` and `/announce`, so a test can
always reset them. Each rule may be limited to a path prefix (`/tor/download.php`, `/json/`, …) and rules
are consumed in the order they were added. `request[FAULT]` names the fault a request got, for the
request log.

- `status`: the next N requests answer that status; 429 carries `Retry-After` (1 s unless given), as MAM's
  download limiter does (§4.2).
- `garbage`: 200 with an nginx error page (HTML instead of JSON; `as_json=True` labels it
  `application/json`, the worse case for a client that trusts the header).
- `empty`: 200 with an empty body, which a client cannot tell from a dead cookie (§2.3).
- `hang`: no answer for `seconds`, longer than any client timeout; released by `clear()` and at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

Kind = Literal["status", "garbage", "empty", "hang"]
EXEMPT_PREFIXES = ("/__sim/", "/announce")
FAULT = web.RequestKey("mam_fault", str)
_REASONS = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
GARBAGE = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>\n"


@dataclass
class Rule:
    """The next `count` requests (under `path_prefix`, if set) get this fault."""

    kind: Kind
    count: int
    status: int = 500
    retry_after: int | None = None
    path_prefix: str | None = None
    seconds: float = 3600.0
    as_json: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "count": self.count,
            "status": self.status,
            "retryAfter": self.retry_after,
            "pathPrefix": self.path_prefix,
            "seconds": self.seconds,
            "asJson": self.as_json,
        }


@dataclass
class FailAfter:
    """After `successes` requests answered normally, fail the next `count` (None: all) with `status`."""

    successes: int
    status: int = 500
    count: int | None = None
    path_prefix: str | None = None
    retry_after: int | None = None
    seen: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "successes": self.successes,
            "status": self.status,
            "count": self.count,
            "pathPrefix": self.path_prefix,
            "retryAfter": self.retry_after,
            "seen": self.seen,
        }


class Faults:
    """The faults the simulator injects; tests set them directly or through `POST /__sim/faults`."""

    def __init__(self) -> None:
        self.latency = 0.0
        self.rules: list[Rule] = []
        self.fail_after: FailAfter | None = None
        self.injected = 0
        self._release = asyncio.Event()

    def add_latency(self, seconds: float) -> None:
        """Delay every request by `seconds` (0 turns it off)."""
        self.latency = max(0.0, seconds)

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        *,
        path_prefix: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """The next `count` requests answer `status` (429 carries `Retry-After: 1` unless given)."""
        if retry_after is None and status == 429:
            retry_after = 1
        self.rules.append(Rule("status", count, status, retry_after, path_prefix))

    def garbage_next(self, count: int = 1, *, path_prefix: str | None = None, as_json: bool = False) -> None:
        """The next `count` requests answer 200 with an HTML error page instead of JSON."""
        self.rules.append(Rule("garbage", count, 200, None, path_prefix, as_json=as_json))

    def empty_next(self, count: int = 1, *, path_prefix: str | None = None) -> None:
        """The next `count` requests answer 200 with an empty body."""
        self.rules.append(Rule("empty", count, 200, None, path_prefix))

    def hang_next(self, count: int = 1, *, seconds: float = 3600.0, path_prefix: str | None = None) -> None:
        """The next `count` requests answer nothing for `seconds`, then 504."""
        self.rules.append(Rule("hang", count, 200, None, path_prefix, seconds))

    def fail_after_successes(
        self,
        successes: int,
        status: int = 500,
        *,
        count: int | None = None,
        path_prefix: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Let `successes` requests through, then fail `count` of them (None: every one after)."""
        self.fail_after = FailAfter(successes, status, count, path_prefix, retry_after)

    def clear(self) -> None:
        """Remove every fault and let hanging requests go."""
        self.latency = 0.0
        self.rules.clear()
        self.fail_after = None
        self.release_hangs()

    def release_hangs(self) -> None:
        self._release.set()
        self._release = asyncio.Event()

    def to_json(self) -> dict[str, Any]:
        return {
            "latency": self.latency,
            "rules": [rule.to_json() for rule in self.rules],
            "failAfter": self.fail_after.to_json() if self.fail_after else None,
            "injected": self.injected,
        }

    def _take(self, path: str) -> Rule | None:
        for rule in self.rules:
            if rule.path_prefix is None or path.startswith(rule.path_prefix):
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)
                return rule
        fail = self.fail_after
        if fail is None or (fail.path_prefix is not None and not path.startswith(fail.path_prefix)):
            return None
        if fail.seen < fail.successes:
            fail.seen += 1
            return None
        if fail.count is not None:
            fail.count -= 1
            if fail.count <= 0:
                self.fail_after = None
        return Rule("status", 1, fail.status, fail.retry_after)

    async def apply(self, request: web.Request) -> web.StreamResponse | None:
        """Delay the request, then answer it with a fault, or return None to let it through."""
        if request.path.startswith(EXEMPT_PREFIXES):
            return None
        if self.latency:
            await asyncio.sleep(self.latency)
        rule = self._take(request.path)
        if rule is None:
            return None
        self.injected += 1
        request[FAULT] = rule.kind
        if rule.kind == "hang":
            release = self._release
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), rule.seconds)
            return web.Response(status=504, text=_REASONS[504])
        if rule.kind == "garbage":
            content_type = "application/json" if rule.as_json else "text/html"
            return web.Response(status=200, text=GARBAGE, content_type=content_type)
        if rule.kind == "empty":
            return web.Response(status=200, body=b"", content_type="text/html")
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
        return web.Response(status=rule.status, text=_REASONS.get(rule.status, "Error"), headers=headers)


def faults_middleware(faults: Faults) -> Middleware:
    """An aiohttp middleware that applies `faults` before the session check and the handler."""

    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = await faults.apply(request)
        return fault if fault is not None else await handler(request)

    return inject
