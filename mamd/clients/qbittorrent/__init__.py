"""qBittorrent: the client (`client`), its answers as mamd reads them (`answers`), failures in words
(`failures`)."""

from mamd.clients.qbittorrent.answers import Torrent, TorrentFile, Tracker, add_outcome, torrent_from
from mamd.clients.qbittorrent.client import QbittorrentClient

__all__ = ["QbittorrentClient", "Torrent", "TorrentFile", "Tracker", "add_outcome", "torrent_from"]
