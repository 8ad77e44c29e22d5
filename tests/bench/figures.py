"""A measured figure with its goal."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    goal: float | None = None  # the figure must be at most this
    note: str = ""

    @property
    def shown(self) -> str:
        return f"{self.value:.3f}" if abs(self.value) < 10 else f"{self.value:.1f}"

    @property
    def goal_text(self) -> str:
        return f"≤ {self.goal:g}" if self.goal is not None else ""

    @property
    def verdict(self) -> str:
        if self.goal is None:
            return ""
        return "yes" if self.value <= self.goal else "NO"


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (p99 of 2000 values is the 1980th smallest)."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)
