"""The demo's MyAnonamouse: the simulator's catalogue, which holds the books the demo library lacks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from mamd.demo.servers import LoopbackServer, serve
from mamd.sim.mam.app import MamSimulator
from mamd.sim.mam.catalogue import GOOD
from mamd.sim.mam.rows import Credit, Row, SeriesLink

CATALOGUE = 500  # generated rows beside the hand-written ones: enough for searches to have to choose
# the book after the last Mistborn the demo library holds, in two releases, and a fan's "Mistborn" series
NEXT_BEST, NEXT_SECOND, FAN_SAGA = 900_150, 900_151, 900_152


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
    simulator.rows.update(
        {row.id: row for row in continuation_rows(simulator.rows[GOOD["The Hero of Ages"]])}
    )
    return DemoMam(simulator, await serve(simulator.app), session)


def continuation_rows(hero: Row) -> list[Row]:
    """Mistborn #5 as a well seeded m4b and a less seeded mp3, and #5 of a same-named series by a fan."""
    mistborn = hero.series[0]
    five = (SeriesLink(mistborn.id, mistborn.name, "5"),)
    best = replace(hero, id=NEXT_BEST, title="Shadows of Self", series=five, added="2026-11-30 20:00:00")
    return [
        best,
        replace(best, id=NEXT_SECOND, filetype="mp3", seeders=6, times_completed=40),
        replace(
            best,
            id=FAN_SAGA,
            title="Mistborn: Ashes of the Fan",
            authors=(Credit(8999, "Rowan Ashdown"),),
            series=(SeriesLink(7999, "Mistborn", "5"),),
        ),
    ]
