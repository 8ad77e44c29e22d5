"""What a `GET /tor/download.php?tid=` does to the simulated account, and its burst limit.

- A burst gets 429 with `Retry-After`: more than `limit` downloads within `window` seconds (default: more
  than 10 in 60 s, after packrat's observation). Only successful downloads count.
- `fl` present, whatever its value, spends a wedge and makes the torrent personal freeleech, even when the
  torrent was already free, VIP or personal freeleech, as on MAM: the record says the wedge was
  wasted. Without a wedge left the download goes ahead without freeleech (MAM's answer to that case is
  unknown).
- The first download of a torrent is a snatch: `unsat.count` and `unsat.size` grow, `my_snatched` becomes 1,
  and unless the torrent is free for the account its displayed size is added to `downloaded_bytes`.
  Fetching the same `.torrent` again changes nothing but the limiter.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mamd.domain.torrentfile import bencode
from mamd.sim.mam.account import Account
from mamd.sim.mam.payload import TorrentFactory
from mamd.sim.mam.rows import Row, already_free, is_free_for

DOWNLOAD_LIMIT = 10
DOWNLOAD_WINDOW = 60.0


@dataclass
class BurstLimit:
    """At most `limit` downloads in any `window` seconds."""

    limit: int = DOWNLOAD_LIMIT
    window: float = DOWNLOAD_WINDOW
    times: deque[float] = field(default_factory=deque)

    def retry_after(self, now: float) -> int | None:
        """Whole seconds until one more download is allowed, or None when it is allowed now."""
        while self.times and now - self.times[0] >= self.window:
            self.times.popleft()
        if len(self.times) < self.limit:
            return None
        return max(1, math.ceil(self.times[0] + self.window - now))

    def record(self, now: float) -> None:
        self.times.append(now)


@dataclass
class DownloadRecord:
    tid: int
    monotonic: float
    wall: float
    fl: bool
    wedge_spent: bool
    wasted_wedge: bool  # spent on a torrent that was already free, VIP or personal freeleech
    free: bool  # free for the account once any wedge was applied
    snatched: bool  # the first download of this torrent by the account
    info_hash: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "tid": self.tid,
            "monotonic": self.monotonic,
            "wall": self.wall,
            "fl": self.fl,
            "wedgeSpent": self.wedge_spent,
            "wastedWedge": self.wasted_wedge,
            "free": self.free,
            "snatched": self.snatched,
            "infoHash": self.info_hash,
        }


class Downloads:
    """The limiter, the `.torrent` builder, `complete_into` and the record of every download."""

    def __init__(
        self,
        *,
        limit: int = DOWNLOAD_LIMIT,
        window: float = DOWNLOAD_WINDOW,
        complete_into: Path | None = None,
    ) -> None:
        self.limiter = BurstLimit(limit, window)
        self.complete_into = complete_into
        self.factory = TorrentFactory()
        self.records: list[DownloadRecord] = []

    def apply(self, row: Row, account: Account, *, fl: bool, monotonic: float, wall: float) -> DownloadRecord:
        """Charge the account for one download of `row` and record it (the limiter was checked before)."""
        self.limiter.record(monotonic)
        wedge_spent = wasted = False
        if fl and account.wedges > 0:
            wasted = already_free(row, account.classname)
            account.wedges -= 1
            row.personal_freeleech = 1
            wedge_spent = True
        free = is_free_for(row, account.classname)
        snatched = not row.my_snatched
        if snatched:
            account.record_download(row.size_bytes, free=free)
            row.my_snatched = 1
        record = DownloadRecord(row.id, monotonic, wall, fl, wedge_spent, wasted, free, snatched)
        self.records.append(record)
        return record


def info_hash(info: Any) -> str:
    """The v1 info-hash of a decoded `info` dictionary (canonical, as `make_torrent` wrote it)."""
    return hashlib.sha1(bencode(info)).hexdigest()
