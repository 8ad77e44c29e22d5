"""The demo's simulators, each served on a free loopback port inside the demo process."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web


@dataclass
class LoopbackServer:
    runner: web.AppRunner
    url: str

    async def close(self) -> None:
        await self.runner.cleanup()


async def serve(app: web.Application) -> LoopbackServer:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return LoopbackServer(runner, f"http://{host}:{port}")
