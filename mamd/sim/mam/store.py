"""The bonus store, `GET /json/bonusBuy.php/?spendtype=…`, with MAM's prices and rules.

- `upload&amount=<GB>`: 500 points per GB (1 GB = 1 GiB of upload credit); amounts under 50 GB get MAM's
  "Automated spenders are limited to buying at least 50 GB …" error.
- `VIP&duration=4|8|12|max` (weeks): 1,250 points per week. VIP time is capped at 90 days remaining, so a
  long duration or `max` credits (and charges, pro rata by day) only what fits; with no room left the
  purchase fails. `amount=` on a VIP purchase answers HTTP 404, as on MAM. A `User` or `Power User`
  becomes `VIP`.
- `wedges&source=points`: 50,000 points per wedge; `source=cheese` costs no points (cheese is not modelled).
- `personalFL&torrentid=<id>` (also as `/json/bonusBuy.php/<ts>?…&timestamp=<ts>`): makes the torrent
  personal freeleech. Whether MAM charges a held wedge or 50,000 points is unconfirmed, so it is
  configurable (`personal_fl_charge`, default "wedge"). "This Torrent is VIP" and "This is already a
  personal freeleech" are refused as on MAM; a torrent that is already free is accepted, and the waste
  recorded.
- Points are deducted before answering, so "points did not decrease" checks can be tested.
- Success: `{"success": true, "type", "amount", "seedbonus" (a float), "uploaded", "downloaded",
  "uploadFancy", "downloadFancy", "ratio"}` (MAM's answer to an upload purchase; other types add `vip_until`,
  `wedges` or `torrentid`). Failure: `{"success": false, "error": "…"}`. With `capitalized` the keys are
  `Success` / `Error`, as Prowlarr reads the personal-freeleech answer.

Error texts MAM is not known to use are marked as the simulator's own below; only the 50 GB text, the two
personal-freeleech refusals and "Not enough bonus, s1" (from seshat's tests) come from real tools.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from mamd.sim.mam.account import GIB, Account
from mamd.sim.mam.rows import Row, already_free

UPLOAD_POINTS_PER_GB = 500
UPLOAD_MIN_GB = 50
VIP_POINTS_PER_WEEK = 1250
VIP_CAP_DAYS = 90
WEDGE_POINTS = 50_000
PERSONAL_FL_POINTS = 50_000
DAY = 86_400.0
UPLOAD_MINIMUM_ERROR = (
    "Automated spenders are limited to buying at least 50 GB of upload at a time, due to log spam"
)
NOT_ENOUGH_POINTS = "Not enough bonus, s1"
VIP_CAP_ERROR = "You may not have more than 90 days of VIP"  # the simulator's own wording
VIP_TORRENT_ERROR = "This Torrent is VIP"
ALREADY_PERSONAL_ERROR = "This is already a personal freeleech"
NO_WEDGES_ERROR = "You do not have any wedges"  # the simulator's own wording
Charge = Literal["wedge", "points"]


@dataclass(frozen=True)
class StoreAnswer:
    status: int
    body: dict[str, Any] | None  # None: an HTML 404 page


@dataclass
class Purchase:
    spendtype: str
    amount: float
    points: float
    wedges_spent: int = 0
    torrent_id: int | None = None
    wasted: bool = False  # personal freeleech bought on a torrent that was already free for the account

    def to_json(self) -> dict[str, Any]:
        return {
            "spendtype": self.spendtype,
            "amount": self.amount,
            "points": self.points,
            "wedgesSpent": self.wedges_spent,
            "torrentId": self.torrent_id,
            "wasted": self.wasted,
        }


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _format_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Store:
    """The store's switches and the purchases made so far."""

    capitalized: bool = False
    personal_fl_charge: Charge = "wedge"
    purchases: list[Purchase] = field(default_factory=list)

    def buy(
        self, account: Account, rows: Mapping[int, Row], query: Mapping[str, str], now: float
    ) -> StoreAnswer:
        spendtype = query.get("spendtype", "")
        if spendtype == "upload":
            return self._upload(account, query)
        if spendtype == "VIP":
            if "amount" in query:  # MAM's VIP parameter is `duration`; `amount` is a 404
                return StoreAnswer(404, None)
            return self._vip(account, query, now)
        if spendtype == "wedges":
            return self._wedge(account, query)
        if spendtype == "personalFL":
            return self._personal_fl(account, rows, query)
        return self._failure("Invalid spendtype")  # the simulator's own wording

    def _success(self, spendtype: str, amount: float, account: Account, **extra: Any) -> StoreAnswer:
        body = {"success": True, "type": spendtype, "amount": amount, **account.money_json(), **extra}
        return StoreAnswer(200, self._keys(body))

    def _failure(self, error: str) -> StoreAnswer:
        return StoreAnswer(200, self._keys({"success": False, "error": error}))

    def _keys(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.capitalized:
            return body
        names = {"success": "Success", "error": "Error"}
        return {names.get(key, key): value for key, value in body.items()}

    def _upload(self, account: Account, query: Mapping[str, str]) -> StoreAnswer:
        try:
            gigabytes = float(query.get("amount", ""))
        except ValueError:
            return self._failure("Invalid amount")  # the simulator's own wording
        if not math.isfinite(gigabytes) or gigabytes <= 0:
            return self._failure("Invalid amount")
        if gigabytes < UPLOAD_MIN_GB:
            return self._failure(UPLOAD_MINIMUM_ERROR)
        cost = gigabytes * UPLOAD_POINTS_PER_GB
        if cost > account.seedbonus:
            return self._failure(NOT_ENOUGH_POINTS)
        account.seedbonus -= cost
        account.uploaded_bytes += int(gigabytes * GIB)
        self.purchases.append(Purchase("upload", gigabytes, cost))
        amount = int(gigabytes) if gigabytes.is_integer() else gigabytes
        return self._success("upload", amount, account)

    def _vip(self, account: Account, query: Mapping[str, str], now: float) -> StoreAnswer:
        duration = query.get("duration", "")
        if duration not in ("4", "8", "12", "max"):
            return self._failure("Invalid duration")  # the simulator's own wording
        until = _parse_time(account.vip_until)
        current_end = max(now, until or now)
        room = VIP_CAP_DAYS * DAY - (current_end - now)
        asked = room if duration == "max" else int(duration) * 7 * DAY
        credited = min(asked, room)
        if credited < DAY:
            return self._failure(VIP_CAP_ERROR)
        credited = math.floor(credited / DAY) * DAY  # whole days only
        cost = round(VIP_POINTS_PER_WEEK * credited / (7 * DAY), 2)
        if cost > account.seedbonus:
            return self._failure(NOT_ENOUGH_POINTS)
        account.seedbonus -= cost
        account.vip_until = _format_time(current_end + credited)
        if account.classname in ("User", "Power User"):
            account.classname = "VIP"
        weeks = round(credited / (7 * DAY), 2)
        self.purchases.append(Purchase("VIP", weeks, cost))
        return self._success("VIP", weeks, account, vip_until=account.vip_until)

    def _wedge(self, account: Account, query: Mapping[str, str]) -> StoreAnswer:
        source = query.get("source", "")
        if source not in ("points", "cheese"):
            return self._failure("Invalid source")  # the simulator's own wording
        cost = WEDGE_POINTS if source == "points" else 0
        if cost > account.seedbonus:
            return self._failure(NOT_ENOUGH_POINTS)
        account.seedbonus -= cost
        account.wedges += 1
        self.purchases.append(Purchase("wedges", 1, cost))
        return self._success("wedges", 1, account, wedges=account.wedges)

    def _personal_fl(
        self, account: Account, rows: Mapping[int, Row], query: Mapping[str, str]
    ) -> StoreAnswer:
        try:
            row = rows.get(int(query.get("torrentid", "")))
        except ValueError:
            row = None
        if row is None:
            return self._failure("Invalid torrent")  # the simulator's own wording
        if row.vip:
            return self._failure(VIP_TORRENT_ERROR)
        if row.personal_freeleech:
            return self._failure(ALREADY_PERSONAL_ERROR)
        wasted = already_free(row, account.classname)
        if self.personal_fl_charge == "wedge":
            if account.wedges < 1:
                return self._failure(NO_WEDGES_ERROR)
            account.wedges -= 1
            purchase = Purchase("personalFL", 1, 0, wedges_spent=1, torrent_id=row.id, wasted=wasted)
        else:
            if account.seedbonus < PERSONAL_FL_POINTS:
                return self._failure(NOT_ENOUGH_POINTS)
            account.seedbonus -= PERSONAL_FL_POINTS
            purchase = Purchase("personalFL", 1, PERSONAL_FL_POINTS, torrent_id=row.id, wasted=wasted)
        row.personal_freeleech = 1
        self.purchases.append(purchase)
        return self._success("personalFL", 1, account, torrentid=row.id, wedges=account.wedges)
