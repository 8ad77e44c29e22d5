"""mamd's torrents in qBittorrent as the guard and `reconcile` read them (judged by `mamd.domain.seeding`)."""

from __future__ import annotations

from typing import Any

from mamd.clients.qbittorrent import Torrent
from mamd.domain.seeding import SeedView
from mamd.runtime import Runtime


async def mamds_torrents(runtime: Runtime) -> dict[str, Torrent]:
    """The torrents in mamd's category or with one of its tags, by hash."""
    client = runtime.require_qbittorrent()
    settings = runtime.config.qbittorrent
    found = {t.hash: t for t in await client.torrents(category=settings.category)}
    for tag in settings.tags:
        found.update({t.hash: t for t in await client.torrents(tag=tag)})
    return found


def seed_view(torrent: Torrent, tracker_ok: bool | None = None) -> SeedView:
    return SeedView(
        torrent.hash,
        torrent.name,
        torrent.state,
        torrent.progress,
        torrent.seeding_time,
        float(torrent.added_on),
        tracker_ok,
    )


async def at_risk_section(runtime: Runtime) -> list[dict[str, Any]]:
    """mamd's unsatisfied torrents that may become hit-and-runs, with how long each seeded and needs."""
    min_seed = runtime.config.seeding.min_seed_time.seconds
    return [
        {
            "hash": record.hash,
            "name": record.name,
            "risk": record.risk,
            "seeded_h": round((record.seeding_time_s or 0) / 3600, 1),
            "needs_h": round(min_seed / 3600, 1),
            "qbt_state": record.qbt_state,
        }
        for record in await runtime.torrents.at_risk()
    ]
