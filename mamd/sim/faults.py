"""Fault injection for the simulators: latency, error statuses, garbage bodies, hangs, and "fail after K
successes" (a sync that breaks half-way).

Faults apply to every request except the simulator's own control endpoints (`/__sim/`) and any other
exempt paths, so a test can always reset them. Each rule may be limited to a path prefix; rules are
consumed in the order they were added.

- `status`: the next N requests answer that status; 429 carries `Retry-After` (1 s unless given).
- `garbage`: 200 with a reverse proxy's error page, labelled `application/json` though it is not JSON.
- `hang`: no answer for `seconds`, longer than any client timeout, then 504; released by `clear()` and at
  shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

Kind = Literal["status", "garbage", "empty", "refused", "hang"]  # `empty`, `refused`: the simulated MAM only
CONTROL_PREFIX = "/__sim/"
REASONS = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
# A reverse proxy's error page served as 200: not JSON, though it claims to be
GARBAGE = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@dataclass
class Rule:
    """The next `count` requests (under `path_prefix`, if set) get this fault."""

    kind: Kind
    count: int
    status: int = 500
    retry_after: int | None = None
    path_prefix: str | None = None
    seconds: float = 3600.0

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "count": self.count,
            "status": self.status,
            "retryAfter": self.retry_after,
            "pathPrefix": self.path_prefix,
            "seconds": self.seconds,
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
    """The faults a simulator injects; tests set them directly or through `POST /__sim/faults`.

    A simulator with faults of its own sets `exempt`, `garbage`, `rule_type` and `kinds`, and extends
    `answer` and `_add_kind`.
    """

    exempt: tuple[str, ...] = (CONTROL_PREFIX,)  # path prefixes never faulted
    garbage = GARBAGE
    rule_type: type[Rule] = Rule
    kinds = "status, garbage, hang or failAfter"  # what `POST /__sim/faults` accepts, for its error

    def __init__(self) -> None:
        self.latency = 0.0
        self.latency_prefix: str | None = None  # only requests under this path, when set
        self.rules: list[Rule] = []
        self.fail_after: FailAfter | None = None
        self.injected = 0
        self._release = asyncio.Event()

    def add_latency(self, seconds: float, *, path_prefix: str | None = None) -> None:
        """Delay every request (or those under `path_prefix`) by `seconds` (0 turns it off)."""
        self.latency = max(0.0, seconds)
        self.latency_prefix = path_prefix

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
        self.rules.append(self.rule_type("status", count, status, retry_after, path_prefix))

    def garbage_next(self, count: int = 1, *, path_prefix: str | None = None) -> None:
        """The next `count` requests answer 200 with an HTML error page instead of JSON."""
        self.rules.append(self.rule_type("garbage", count, 200, None, path_prefix))

    def hang_next(self, count: int = 1, *, seconds: float = 3600.0, path_prefix: str | None = None) -> None:
        """The next `count` requests answer nothing for `seconds`, then 504."""
        self.rules.append(self.rule_type("hang", count, 200, None, path_prefix, seconds))

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
        self.latency, self.latency_prefix = 0.0, None
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

    def add_json(self, body: dict[str, Any]) -> bool:
        """Add the fault a `POST /__sim/faults` body describes; False when it names none.

        Raises TypeError or ValueError for a value of the wrong type.
        """
        kind, prefix = body.get("kind"), body.get("pathPrefix")
        count = int(body.get("count") or 1)
        retry = None if body.get("retryAfter") is None else int(body["retryAfter"])
        if "latency" in body and kind is None:
            self.add_latency(float(body["latency"]))
        elif kind == "status":
            self.fail_next(count, int(body.get("status", 500)), path_prefix=prefix, retry_after=retry)
        elif kind == "hang":
            self.hang_next(count, seconds=float(body.get("seconds", 3600)), path_prefix=prefix)
        elif kind == "failAfter":
            self.fail_after_successes(
                int(body.get("successes", 0)),
                int(body.get("status", 500)),
                count=None if body.get("count") is None else int(body["count"]),
                path_prefix=prefix,
                retry_after=retry,
            )
        else:
            return self._add_kind(kind, count, prefix, body)
        return True

    def _add_kind(self, kind: Any, count: int, prefix: str | None, body: dict[str, Any]) -> bool:
        """Add a garbage fault (or, in a simulator that has more, a fault of its own `kind`)."""
        if kind != "garbage":
            return False
        self.garbage_next(count, path_prefix=prefix)
        return True

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
        return self.rule_type("status", 1, fail.status, fail.retry_after)

    async def apply(self, request: web.Request) -> web.StreamResponse | None:
        """Delay the request, then answer it with a fault, or return None to let it through."""
        if request.path.startswith(self.exempt):
            return None
        if self.latency and (self.latency_prefix is None or request.path.startswith(self.latency_prefix)):
            await asyncio.sleep(self.latency)
        rule = self._take(request.path)
        if rule is None:
            return None
        self.injected += 1
        return await self.answer(request, rule)

    async def answer(self, request: web.Request, rule: Rule) -> web.StreamResponse:
        """The answer of a request that got the fault `rule`."""
        if rule.kind == "hang":
            release = self._release
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), rule.seconds)
            return web.Response(status=504, text=REASONS[504])
        if rule.kind == "garbage":
            return web.Response(status=200, text=self.garbage, content_type="application/json")
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
        return web.Response(status=rule.status, text=REASONS.get(rule.status, "Error"), headers=headers)


def faults_middleware(faults: Faults) -> Middleware:
    """An aiohttp middleware that applies `faults` before the middlewares after it and the handler."""

    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = await faults.apply(request)
        return fault if fault is not None else await handler(request)

    return inject
