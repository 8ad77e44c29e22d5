"""mamd's torrents in qBittorrent as the guard and `reconcile` read them (judged by `mamd.domain.seeding`)."""

from __future__ import annotations

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
