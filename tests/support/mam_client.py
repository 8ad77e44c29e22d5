"""A `MamClient` against an in-process MAM simulator on 127.0.0.1, for the MAM client's tests.

The client and the simulator's request log share an `InstantClock`: the client's waits pass at once
but are measured in the same time the simulator logs arrivals in, so spacing and Retry-After are
checked exactly.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from mamd.clients.mam import CookieStore, MamClient
from mamd.config.model import MamConfig
from mamd.config.units import Duration, Secret
from mamd.sim.mam.app import MamSimulator
from tests.support.clock import InstantClock

COOKIE = "test-mam-cookie-first"


@dataclass
class Memory:
    """A cookie store in memory, standing in for the state database where that is not the point."""

    state: dict[str, Any] = field(default_factory=dict)
    saves: int = 0

    async def load(self) -> dict[str, Any]:
        return dict(self.state)

    async def save(self, state: dict[str, Any]) -> None:
        self.state = dict(state)
        self.saves += 1


@dataclass
class Harness:
    sim: MamSimulator
    url: str
    session: aiohttp.ClientSession
    clock: InstantClock
    settings: MamConfig
    states: list[tuple[str, str | None]] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)

    def client(self, cookies: CookieStore | None = None, **options: Any) -> MamClient:
        async def rejected(reason: str) -> None:
            self.rejections.append(reason)

        store = cookies or CookieStore(Memory().load, Memory().save)
        return MamClient(
            self.session,
            lambda: self.settings,
            store,
            clock=self.clock,
            on_state=lambda state, error: self.states.append((state, error)),
            on_rejected=rejected,
            **options,
        )

    def configure(self, **changes: Any) -> None:
        self.settings = replace(self.settings, **changes)


def settings(url: str, cookie: str = COOKIE, interval: str = "2s") -> MamConfig:
    return MamConfig(base_url=url, session=Secret(cookie), search_interval=Duration.parse(interval))


@contextlib.asynccontextmanager
async def serving(app: web.Application, *, cancel_handlers: bool = True) -> AsyncIterator[str]:
    """`app` on a free port of 127.0.0.1; yields its URL.

    aiohttp's `TestServer` cancels a handler when its client goes away; `cancel_handlers=False` serves as
    aiohttp does by default (and as the simulator's own process does), where the handler runs to its end
    even after the client gave up waiting.
    """
    if cancel_handlers:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            yield f"http://127.0.0.1:{server.port}"
        finally:
            await server.close()
        return
    runner = web.AppRunner(app, handler_cancellation=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def mam_harness(*, cancel_handlers: bool = True, **sim_options: Any) -> AsyncIterator[Harness]:
    """The hand-written catalogue served on 127.0.0.1, a client session and the shared clock."""
    clock = InstantClock()
    sim = MamSimulator.handwritten(cookie=COOKIE, clock=clock.now, monotonic=clock.now, **sim_options)
    async with serving(sim.app, cancel_handlers=cancel_handlers) as url, aiohttp.ClientSession() as session:
        yield Harness(sim, url, session, clock, settings(url))


class stub:
    """A throwaway server on 127.0.0.1 answering the given paths."""

    def __init__(self, routes: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]) -> None:
        self.app = web.Application()
        for path, handler in routes.items():
            self.app.router.add_route("*", path, handler)
        self.server = TestServer(self.app, host="127.0.0.1")

    async def __aenter__(self) -> str:
        await self.server.start_server()
        return f"http://127.0.0.1:{self.server.port}"

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()
