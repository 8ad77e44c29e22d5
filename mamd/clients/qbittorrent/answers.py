"""qBittorrent's answers as mamd reads them: torrents, their files and trackers, states, and what an add said.

The answers to adding a torrent (text up to 5.1, JSON and 409 from 5.3) are read here, never assumed;
`paused*` and `stopped*` states read the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mamd.domain import seeding

DOWNLOADING = seeding.DOWNLOADING | {"checkingDL"}
SEEDING = frozenset({"uploading", "stalledUP", "queuedUP", "forcedUP"})
# states in which the torrent's paths and progress are not yet to be trusted
UNSETTLED = frozenset({"checkingResumeData", "checkingUP", "checkingDL", "metaDL", "allocating", "moving"})
STOPPED, TROUBLED = seeding.STOPPED, seeding.TROUBLED


@dataclass(frozen=True)
class Torrent:
    hash: str
    name: str
    state: str
    progress: float
    amount_left: int
    completion_on: int | None
    save_path: str
    content_path: str
    category: str
    tags: tuple[str, ...]
    size: int
    ratio: float
    uploaded: int
    downloaded: int
    seeding_time: int
    num_seeds: int
    tracker: str
    added_on: int

    @property
    def complete(self) -> bool:
        """Every wanted byte is on disk (by progress, not by state name)."""
        return (self.progress >= 1.0 or self.amount_left == 0) and self.state not in UNSETTLED

    @property
    def stopped(self) -> bool:
        return self.state in STOPPED

    @property
    def downloading(self) -> bool:
        return self.state in DOWNLOADING and not self.complete

    @property
    def troubled(self) -> bool:
        return self.state in TROUBLED

    def belongs_to(self, category: str, tags: Iterable[str]) -> bool:
        """In mamd's category, or carrying one of mamd's tags."""
        return self.category == category or bool(set(self.tags) & set(tags))


@dataclass(frozen=True)
class TorrentFile:
    name: str  # the path inside the torrent, `/`-separated, as qBittorrent reports it
    size: int
    progress: float


@dataclass(frozen=True)
class Tracker:
    url: str
    status: int  # 2: working
    message: str

    @property
    def working(self) -> bool:
        return self.status == 2


AddResult = Literal["added", "present"]
AddOutcome = Literal["added", "not added", "unclear"]


@dataclass(frozen=True)
class Conflict:
    """qBittorrent 5.3 answered 409 Conflict to an add: the torrent is there already."""

    text: str


def add_outcome(answer: Any) -> AddOutcome:
    """What qBittorrent's answer to adding one torrent says, read rather than assumed.

    Up to 5.1 the answer is the text `Ok.`, or `Fails.` when the torrent was not added (a duplicate);
    5.3 answers JSON, `{"added_torrent_ids": [...], "success_count": 1, "failure_count": 0, ...}`.
    """
    if isinstance(answer, Conflict):
        return "not added"
    if isinstance(answer, str):
        text = answer.strip()
        return "added" if text == "Ok." else "not added" if text == "Fails." else "unclear"
    if isinstance(answer, Mapping):
        success, failure = _count(answer.get("success_count")), _count(answer.get("failure_count"))
        if success is not None and failure is not None:
            if success >= 1 and failure == 0:
                return "added"
            if success == 0 and failure >= 1:
                return "not added"
    return "unclear"


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def shown(answer: Any) -> str:
    """An add's answer, short enough for an error message."""
    if isinstance(answer, Conflict):
        return f"409 Conflict ({answer.text!r})" if answer.text else "409 Conflict"
    if isinstance(answer, Mapping):
        return json.dumps(dict(answer), separators=(",", ":"), default=str)[:300]
    return repr(answer)[:300]


def torrent_from(raw: Any) -> Torrent:
    """A row of `torrents/info` as mamd's `Torrent`."""
    # `tags` is "a, b" in torrents/info (comma and space): split on commas, strip
    tags = tuple(t.strip() for t in str(raw.get("tags") or "").split(",") if t.strip())
    completion = int(raw.get("completion_on") or 0)
    return Torrent(
        hash=str(raw.get("hash", "")).lower(),
        name=str(raw.get("name", "")),
        state=str(raw.get("state", "unknown")),
        progress=float(raw.get("progress") or 0.0),
        amount_left=int(raw.get("amount_left") or 0),
        completion_on=completion if completion > 0 else None,
        save_path=str(raw.get("save_path") or ""),
        content_path=str(raw.get("content_path") or ""),
        category=str(raw.get("category") or ""),
        tags=tags,
        size=int(raw.get("size") or raw.get("total_size") or 0),
        ratio=float(raw.get("ratio") or 0.0),
        uploaded=int(raw.get("uploaded") or 0),
        downloaded=int(raw.get("downloaded") or 0),
        seeding_time=int(raw.get("seeding_time") or 0),
        num_seeds=int(raw.get("num_seeds") or 0),
        tracker=str(raw.get("tracker") or ""),
        added_on=int(raw.get("added_on") or 0),
    )
