"""The `wanted:` section of the configuration: what mamd looks for besides the gaps it finds itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from mamd.config import checks
from mamd.config.fields import meta
from mamd.config.units import Duration


@dataclass(frozen=True, kw_only=True)
class FollowConfig:
    authors: tuple[str, ...] = field(
        default=(), metadata=meta("authors whose new books are wanted", free_text=True)
    )
    series: tuple[str, ...] = field(
        default=(), metadata=meta("series whose new books are wanted", free_text=True)
    )
    narrators: tuple[str, ...] = field(
        default=(), metadata=meta("narrators whose new books are wanted", free_text=True)
    )


@dataclass(frozen=True, kw_only=True)
class ManualWant:
    title: str = field(metadata=meta("book title", check=checks.not_blank, free_text=True))
    author: str = field(metadata=meta("author", check=checks.not_blank, free_text=True))
    series: str | None = field(default=None, metadata=meta("series name", free_text=True))
    position: str | None = field(
        default=None, metadata=meta("position in the series, like 3 or 2.5", free_text=True)
    )


@dataclass(frozen=True, kw_only=True)
class TopWant:
    category: str = field(
        metadata=meta(
            "a MAM audiobook category, by name (Fantasy) or id (41)",
            check=checks.audiobook_category,
            free_text=True,
        )
    )
    count: int = field(
        default=5, metadata=meta("how many of the most snatched to want", minimum=1, maximum=100)
    )
    period: Duration = field(
        default_factory=lambda: Duration.parse("7d"),
        metadata=meta("uploaded within this long before now", minimum=86400, maximum=366 * 86400),
    )
    min_snatches: int = field(default=0, metadata=meta("fewest snatches a release must have", minimum=0))


@dataclass(frozen=True, kw_only=True)
class WantedConfig:
    series_gaps: bool = field(default=True, metadata=meta("want missing positions of owned series"))
    include_novellas: bool = field(
        default=False,
        metadata=meta(
            "an owned novella (a position such as 2.5) also sets how far a series goes: owning 1 and 2.5 "
            "wants 2; such positions are never wanted as gaps, only as the next books of wanted.series_next"
        ),
    )
    series_next: bool = field(
        default=False,
        metadata=meta(
            "want the books after the last one owned of each series, as MAM lists them; off by default, "
            "as it costs a MAM search per series each schedule.series_check and may want books you do "
            "not care for"
        ),
    )
    top: tuple[TopWant, ...] = field(
        default=(),
        metadata=meta("the most snatched new audiobooks of these categories are wanted; empty: off"),
    )
    follow: FollowConfig = field(default_factory=FollowConfig, metadata=meta("followed names"))
    manual: tuple[ManualWant, ...] = field(default=(), metadata=meta("books wanted by hand"))
    ignore: tuple[str, ...] = field(
        default=(), metadata=meta("titles or authors never to want", free_text=True)
    )
