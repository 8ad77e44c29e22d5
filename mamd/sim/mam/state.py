"""The live state of one simulated MAM server, held by its aiohttp app under one typed key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from mamd.sim.mam.account import Account
from mamd.sim.mam.downloads import Downloads
from mamd.sim.mam.faults import MamFaults
from mamd.sim.mam.requests import RequestLog
from mamd.sim.mam.rows import Row
from mamd.sim.mam.search import SearchQuery, WordIndex
from mamd.sim.mam.seedbox import Seedbox
from mamd.sim.mam.session import Session
from mamd.sim.mam.store import Store


@dataclass
class MamState:
    rows: dict[int, Row]
    session: Session
    account: Account
    faults: MamFaults
    requests: RequestLog
    downloads: Downloads
    store: Store
    seedbox: Seedbox
    clock: Callable[[], float]  # wall time: `added` dates, VIP expiry, the seedbox's hourly limit
    monotonic: Callable[[], float]  # the download limiter and the request log
    old_unsat_shape: bool = False
    string_start_number: bool = True
    announces: int = 0
    words: WordIndex = field(default_factory=WordIndex)  # which rows hold each word
    searches: list[tuple[SearchQuery, int]] = field(default_factory=list)  # each search and its matches


STATE = web.AppKey("mam_state", MamState)


def state_of(request: web.Request) -> MamState:
    return request.app[STATE]
