"""What a failure to reach qBittorrent means, in words a person can act on."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


def host_header_refused(url: str) -> str:
    """What to do when qBittorrent refuses the Host header mamd sends for `url`."""
    host = urllib.parse.urlsplit(url).netloc or url
    return (
        f"qBittorrent answered 401 Unauthorized to the Host header {host!r} (from qbittorrent.url): "
        "it compares that header with its own address and port, so it refuses requests that come "
        "through a reverse proxy or a Docker port mapping. This is neither a ban nor a wrong password. "
        "In qBittorrent, Tools → Options → Web UI, untick “Enable Host header validation” (or list "
        "this name under “Server domains”), or set qbittorrent.url to the address and port "
        "qBittorrent itself listens on"
    )


def refuses_host_header(url: str, timeouts: tuple[float, float]) -> bool:
    """Whether qBittorrent answers 401 to a request with no session at all.

    Without a session it answers 403 (not logged in); a 401 comes from its Host header check, which
    runs first.
    """
    request = urllib.request.Request(url.rstrip("/") + "/api/v2/app/version")
    try:
        with urllib.request.urlopen(request, timeout=sum(timeouts)):
            return False
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except (OSError, ValueError):
        return False


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\"()]+")
_TIMED_OUT = re.compile(r"(read|connect) timed out", re.IGNORECASE)


def connection_failure(text: str) -> str:
    """The cause of a connection failure in a few words: qbittorrent-api's message nests the reprs of
    requests' and urllib3's exceptions (`ConnectionError(MaxRetryError(…NewConnectionError(…)))`)."""
    if found := _ERRNO.search(text):
        return found.group(0).strip().rstrip(".")
    if found := _TIMED_OUT.search(text):
        return f"{found.group(1).lower()} timed out"
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:159] + "…"


def status_of(exc: Any) -> int | None:
    """The HTTP status of a qbittorrent-api error, when it carries one."""
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return int(code) if isinstance(code, int) else None
