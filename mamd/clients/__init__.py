"""Clients of the upstream services: Audiobookshelf, MyAnonamouse and qBittorrent."""
