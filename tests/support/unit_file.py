"""The shipped systemd unit and example configuration, as the tests read them."""

from __future__ import annotations

from pathlib import Path

UNIT = Path(__file__).parents[2] / "contrib" / "systemd" / "mamd.service"
EXAMPLE = Path(__file__).parents[2] / "mamd.example.yaml"


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found
