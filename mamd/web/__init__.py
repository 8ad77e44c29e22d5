"""The HTTP surface: health, status, metrics, the qBittorrent hook and the API."""

from mamd.web.app import MAX_BODY_BYTES, create_app
from mamd.web.keys import RUNTIME

__all__ = ["MAX_BODY_BYTES", "RUNTIME", "create_app"]
