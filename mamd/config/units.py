"""Value types of the configuration: durations, sizes, bitrates and secrets.

Each type parses the text a user writes in YAML and prints back the canonical form, so
diffs and `/status` show values the way the user wrote them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)\s*$", re.IGNORECASE)
_BITRATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(k|kbps|kb/s|m|mbps|mb/s)?\s*$", re.IGNORECASE)

DURATION_PATTERN = r"^\s*(0|\d+(\.\d+)?\s*(ms|s|m|h|d|w|MS|S|M|H|D|W))\s*$"
SIZE_PATTERN = r"^\s*(0|\d+(\.\d+)?\s*([kKmMgGtT][iI]?[bB]|[bB]))\s*$"
BITRATE_PATTERN = r"^\s*(0|\d+(\.\d+)?\s*([kK]|[kK]bps|[kK]b/s|[mM]|[mM]bps|[mM]b/s)?)\s*$"


class UnitError(ValueError):
    """A value that does not parse as the unit it should be."""


@dataclass(frozen=True, order=True)
class Duration:
    """A span of time, written like `90s`, `15m`, `6h` or `3d`; `0` means "off"."""

    seconds: float

    @classmethod
    def parse(cls, value: object) -> Duration:
        if isinstance(value, bool):
            raise UnitError("expected a duration like 90s, 15m, 6h or 3d")
        if isinstance(value, int | float) and value == 0:
            return cls(0.0)
        if isinstance(value, str):
            if value.strip() == "0":
                return cls(0.0)
            match = _DURATION_RE.match(value)
            if match:
                return cls(float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()])
        raise UnitError(f"expected a duration like 90s, 15m, 6h or 3d, got {value!r}")

    def __str__(self) -> str:
        if self.seconds == 0:
            return "0"
        for unit in ("w", "d", "h", "m", "s"):
            size = _DURATION_UNITS[unit]
            if self.seconds >= size and self.seconds % size == 0:
                return f"{int(self.seconds // size)}{unit}"
        return f"{round(self.seconds * 1000)}ms"


@dataclass(frozen=True, order=True)
class Size:
    """A number of bytes, written like `500MiB` or `2GiB` (powers of 1024) or `20GB` (powers of 1000)."""

    bytes: int

    @classmethod
    def parse(cls, value: object) -> Size:
        if isinstance(value, bool):
            raise UnitError("expected a size like 500MiB or 2GiB")
        if isinstance(value, int) and value >= 0:
            return cls(value)
        if isinstance(value, str):
            if value.strip() == "0":
                return cls(0)
            match = _SIZE_RE.match(value)
            if match:
                return cls(round(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]))
        raise UnitError(f"expected a size like 500MiB or 2GiB, got {value!r}")

    def __str__(self) -> str:
        # the largest unit that divides exactly, so `20GB` prints back as `20GB`, not as KiB
        for unit in ("TiB", "TB", "GiB", "GB", "MiB", "MB", "KiB", "kB"):
            size = _SIZE_UNITS[unit.lower()]
            if self.bytes >= size and self.bytes % size == 0:
                return f"{self.bytes // size}{unit}"
        return f"{self.bytes}B"


@dataclass(frozen=True, order=True)
class Bitrate:
    """Bits per second, written like MAM's mediainfo does: `64k` (kbit/s) or `1.2m`."""

    bps: int

    @classmethod
    def parse(cls, value: object) -> Bitrate:
        if isinstance(value, bool):
            raise UnitError("expected a bitrate like 64k")
        if isinstance(value, int) and value >= 0:
            return cls(value * 1000)
        if isinstance(value, str):
            match = _BITRATE_RE.match(value)
            if match:
                factor = 1_000_000 if (match.group(2) or "k").lower().startswith("m") else 1000
                return cls(round(float(match.group(1)) * factor))
        raise UnitError(f"expected a bitrate like 64k, got {value!r}")

    def __str__(self) -> str:
        if self.bps % 1000 == 0:
            return f"{self.bps // 1000}k"
        return f"{self.bps // 1000}.{self.bps % 1000:03d}".rstrip("0") + "k"  # exact: parses back the same


class Secret:
    """A secret value that never shows itself: not in repr, str, logs, diffs or `/status`."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str | None = None) -> None:
        self._value = value
        self.source = source  # where it was written, for messages: `x.api_key` or `x.api_key_file (/path)`

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))
