"""A notification receiver (`mamd.sim.ntfy`) on a loopback port, in the test's own event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mamd.sim.ntfy import Receiver


@dataclass
class Served:
    receiver: Receiver
    runner: web.AppRunner
    port: int

    def ntfy(self, topic: str = "mamd-topic-4f1c9a") -> str:
        return f"ntfy://127.0.0.1:{self.port}/{topic}"

    def json(self, path: str = "hook", **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"json://127.0.0.1:{self.port}/{path}" + (f"?{query}" if query else "")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.receiver.messages

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start(port: int = 0, receiver: Receiver | None = None) -> Served:
    receiver = receiver or Receiver()
    runner = web.AppRunner(receiver.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return Served(receiver, runner, int(runner.addresses[0][1]))


@contextlib.asynccontextmanager
async def receiving(port: int = 0) -> AsyncIterator[Served]:
    served = await start(port)
    try:
        yield served
    finally:
        await served.stop()
