"""Small line charts of the account over time, as SVG path data the status page draws inline.

Pure: the points come in as (time, value) pairs, the chart goes out as coordinates in a fixed
`WIDTH` × `HEIGHT` box that the page scales with CSS, plus the words a screen reader says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 320.0, 96.0, 6.0


@dataclass(frozen=True)
class Guide:
    """A horizontal line at a threshold (the ratio floor), with its label."""

    label: str
    y: float


@dataclass(frozen=True)
class Chart:
    title: str
    path: str  # SVG path data through every point, oldest first
    last_x: float
    last_y: float
    guides: tuple[Guide, ...]
    summary: str  # the chart in words: what the line shows, for the caption and screen readers


def _span(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high - low < 1e-9:  # a flat line sits in the middle, not on an edge
        margin = abs(high) * 0.1 or 1.0
        return low - margin, high + margin
    margin = (high - low) * 0.08
    return low - margin, high + margin


def line_chart(
    title: str,
    points: Sequence[tuple[float, float]],
    start: float,
    end: float,
    show: Callable[[float], str],
    guides: Sequence[tuple[str, float]] = (),
) -> Chart | None:
    """The chart of `points` between the times `start` and `end`; None when there is nothing to draw.

    The vertical scale covers the points and the guides, so a threshold is always in view."""
    points = sorted(p for p in points if start <= p[0] <= end)
    if not points or end <= start:
        return None
    values = [v for _, v in points]
    low, high = _span([*values, *(value for _, value in guides)])

    def x(at: float) -> float:
        return round(PAD + (at - start) / (end - start) * (WIDTH - 2 * PAD), 1)

    def y(value: float) -> float:
        return round(PAD + (high - value) / (high - low) * (HEIGHT - 2 * PAD), 1)

    path = " ".join(f"{'M' if i == 0 else 'L'}{x(at)},{y(v)}" for i, (at, v) in enumerate(points))
    first, last = values[0], values[-1]
    summary = (
        f"{title}: {show(last)} now; {show(first)} at the start, lowest {show(min(values))}, "
        f"highest {show(max(values))} ({len(points)} readings)"
    )
    return Chart(
        title=title,
        path=path,
        last_x=x(points[-1][0]),
        last_y=y(last),
        guides=tuple(Guide(label, y(value)) for label, value in guides),
        summary=summary,
    )
