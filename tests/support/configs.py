"""Valid configuration files for tests, with chosen keys replaced."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import yaml

API_KEY = "test-api-key-0123456789abcdef"
MAM_SESSION = "test-mam-session-cookie-value"
ABS_KEY = "test-audiobookshelf-api-key"
QBT_PASSWORD = "test-qbittorrent-password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def base_config(folder: Path, port: int | None = None) -> dict[str, Any]:
    return {
        "http": {"host": "127.0.0.1", "port": port or free_port(), "api_key": API_KEY},
        "state": {"database": str(folder / "state" / "mamd.db"), "backups": 2},
        "logging": {"level": "debug", "format": "json"},
        "mam": {"session": MAM_SESSION},
        "qbittorrent": {"password": QBT_PASSWORD, "save_path": str(folder / "torrents")},
        "audiobookshelf": {"api_key": ABS_KEY, "path": str(folder / "library")},
        "schedule": {
            "library_sync": 0,
            "discover": 0,
            "search": 0,
            "account": 0,
            "reconcile": 0,
            "retention": 0,
        },
    }


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def write_config(
    folder: Path, changes: dict[str, Any] | None = None, name: str = "mamd.yaml", *, jobs_off: bool = True
) -> Path:
    """A valid file in `folder`, with `changes` merged in (a value of None removes nothing: it sets null).

    The default torrent and library folders are made too, so that imports can work (mamd checks). Every
    job is off unless `jobs_off=False`, which leaves each on its default interval, as shipped."""
    path = folder / name
    for default in ("torrents", "library"):
        (folder / default).mkdir(exist_ok=True)
    base = base_config(folder)
    if not jobs_off:
        del base["schedule"]
    data = merge(base, changes or {})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
