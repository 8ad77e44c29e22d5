"""The MAM account as mamd last read it (`jsonLoad.php?snatch_summary`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mamd.domain.release import VIP_CLASSES


@dataclass(frozen=True)
class Counter:
    count: int
    limit: int | None = None
    size: int | None = None


@dataclass(frozen=True)
class AccountSnapshot:
    at: float
    classname: str | None = None
    ratio: float | None = None
    uploaded: int | None = None  # bytes
    downloaded: int | None = None
    seedbonus: float | None = None
    wedges: int | None = None
    vip_until: str | None = None
    counters: dict[str, Counter] = field(default_factory=dict)

    @property
    def vip(self) -> bool:
        return (self.classname or "").casefold() in VIP_CLASSES

    @property
    def unsat(self) -> Counter | None:
        return self.counters.get("unsat")

    def count(self, key: str) -> int | None:
        counter = self.counters.get(key)
        return counter.count if counter else None

    @property
    def hit_and_run(self) -> int | None:
        """Torrents MAM counts as hit-and-run, seeding or not; None when MAM did not say."""
        counts = [self.count(key) for key in ("seedHnr", "inactHnr")]
        known = [count for count in counts if count is not None]
        return sum(known) if known else None

    def as_dict(self) -> dict[str, Any]:
        unsat = self.unsat
        return {
            "classname": self.classname,
            "ratio": None if self.ratio is None or self.ratio == float("inf") else self.ratio,
            "uploaded": self.uploaded,
            "downloaded": self.downloaded,
            "seedbonus": self.seedbonus,
            "wedges": self.wedges,
            "vip_until": self.vip_until,
            "unsatisfied": unsat.count if unsat else None,
            "unsatisfied_limit": unsat.limit if unsat else None,
            "hnr": self.hit_and_run,
            "counters": {
                k: {"count": c.count, "limit": c.limit, "size": c.size} for k, c in self.counters.items()
            },
        }
