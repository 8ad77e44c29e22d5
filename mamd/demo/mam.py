"""The demo's MyAnonamouse: the simulator's catalogue, which holds the books the demo library lacks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from mamd.demo.servers import LoopbackServer, serve
from mamd.sim.mam.app import MamSimulator

CATALOGUE = 500  # generated rows beside the hand-written ones: enough for searches to have to choose


@dataclass
class DemoMam:
    simulator: MamSimulator
    server: LoopbackServer
    session: str  # the mam_id a user would paste into mam.session

    @property
    def url(self) -> str:
        return self.server.url

    async def close(self) -> None:
        await self.server.close()


async def start_mam(complete_into: Path | None) -> DemoMam:
    """The simulator on a free loopback port; a torrent's files appear in `complete_into` when it is
    downloaded, so the real qBittorrent finds them complete (no peers are needed on loopback)."""
    session = secrets.token_urlsafe(48)
    simulator = MamSimulator.generated(count=CATALOGUE, seed=7, cookie=session, complete_into=complete_into)
    return DemoMam(simulator, await serve(simulator.app), session)
