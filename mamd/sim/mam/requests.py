"""The simulated MAM's request log: every request to a MAM path, when it arrived and how it was answered.

Tests use it to prove what a client sent and how far apart (at least 2 s between searches and
between downloads). Each entry has the monotonic and the wall time of arrival (before any injected
latency), the method, path and query, the status, whether it was accepted (it reached a handler with a
valid cookie; a faulted request never gets as far as the cookie check) and the fault injected, if any.
The simulator's own `/__sim/` controls and `/announce` are not logged.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from mamd.sim.mam.faults import FAULT
from mamd.sim.mam.session import ACCEPTED

EXEMPT_PREFIXES = ("/__sim/", "/announce")


@dataclass
class LoggedRequest:
    monotonic: float
    wall: float
    method: str
    path: str
    query: str
    status: int | None = None  # None while the request is still being answered
    accepted: bool = False  # a handler got it with a valid cookie (False: rejected, or answered by a fault)
    fault: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "monotonic": self.monotonic,
            "wall": self.wall,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "accepted": self.accepted,
            "fault": self.fault,
        }


class RequestLog:
    """The log, oldest first, and the questions tests ask of it."""

    def __init__(self) -> None:
        self.entries: list[LoggedRequest] = []

    def __len__(self) -> int:
        return len(self.entries)

    def clear(self) -> None:
        self.entries.clear()

    def matching(self, path_prefix: str | None = None) -> list[LoggedRequest]:
        return [e for e in self.entries if path_prefix is None or e.path.startswith(path_prefix)]

    def gaps(self, path_prefix: str | None = None) -> list[float]:
        """Seconds between consecutive arrivals (monotonic), for the requests under `path_prefix`."""
        times = [entry.monotonic for entry in self.matching(path_prefix)]
        return [later - earlier for earlier, later in itertools.pairwise(times)]

    def min_gap(self, path_prefix: str | None = None) -> float | None:
        """The closest two requests came, or None with fewer than two."""
        gaps = self.gaps(path_prefix)
        return min(gaps) if gaps else None

    def to_json(self, path_prefix: str | None = None) -> dict[str, Any]:
        return {
            "requests": [entry.to_json() for entry in self.matching(path_prefix)],
            "minGap": self.min_gap(path_prefix),
        }


def request_log_middleware(
    log: RequestLog, monotonic: Callable[[], float], clock: Callable[[], float]
) -> Middleware:
    """The outermost middleware: logs arrival first, the outcome once the answer is ready."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(EXEMPT_PREFIXES):
            return await handler(request)
        entry = LoggedRequest(monotonic(), clock(), request.method, request.path, request.query_string)
        log.entries.append(entry)
        try:
            response = await handler(request)
        except web.HTTPException as error:
            entry.status = error.status
            raise
        finally:
            entry.accepted = request.get(ACCEPTED, False)
            entry.fault = request.get(FAULT)
        entry.status = response.status
        return response

    return record
