"""The live state of one simulated ABS server, held by its aiohttp app under one typed key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from mamd.sim.abs.auth import Users
from mamd.sim.abs.model import Library
from mamd.sim.abs.query import OrderCache
from mamd.sim.abs.scanner import Scanner
from mamd.sim.faults import Faults


@dataclass
class AbsState:
    library: Library
    users: Users
    faults: Faults
    scanner: Scanner
    clock: Callable[[], float]
    folder: Path | None = None
    cache: OrderCache = field(default_factory=OrderCache)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)


STATE = web.AppKey("abs_state", AbsState)


def state_of(request: web.Request) -> AbsState:
    return request.app[STATE]
