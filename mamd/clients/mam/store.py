"""The bonus store: upload credit and VIP, each purchase sent once and never retried.

A purchase whose answer was lost may have gone through, and a retry could buy twice. The store lives on
the `www.` host only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mamd.clients.errors import Unavailable
from mamd.clients.mam.session import SERVICE, MamSession, lower_keys

STORE_PATH = "/json/bonusBuy.php/"
VIP_WEEKS: tuple[int | str, ...] = (4, 8, 12, "max")


@dataclass(frozen=True)
class StoreReceipt:
    """MAM's answer to a purchase. `success=False` is MAM refusing it (`error` says why), not a failure."""

    success: bool
    error: str | None
    seedbonus: float | None  # the points left after the purchase, when MAM says
    data: dict[str, Any]  # the whole answer, keys as MAM wrote them


class BonusStore(MamSession):
    """The store's purchases, as `MamClient` offers them."""

    async def buy_upload(self, gigabytes: int) -> StoreReceipt:
        """Buy `gigabytes` GB of upload credit (500 points per GB; MAM refuses less than 50 from scripts).

        Sent once, never retried: when the answer is lost (a timeout, a 5xx) the purchase may still have
        been made, so the caller must check the account before buying again.
        """
        if isinstance(gigabytes, bool) or not isinstance(gigabytes, int) or gigabytes < 1:
            raise ValueError(f"upload credit is bought in whole GB, at least 1: not {gigabytes!r}")
        return await self._buy({"spendtype": "upload", "amount": str(gigabytes)})

    async def buy_vip(self, weeks: int | str) -> StoreReceipt:
        """Buy VIP time: 4, 8 or 12 weeks, or "max" (1,250 points per week; VIP time is capped at 90 days).

        Sent once, never retried, like every purchase.
        """
        if type(weeks) not in (int, str) or weeks not in VIP_WEEKS:  # not True, not 4.0
            raise ValueError(f"VIP is bought for 4, 8 or 12 weeks or 'max': not {weeks!r}")
        return await self._buy({"spendtype": "VIP", "duration": str(weeks)})  # `duration`, never `amount`

    async def _buy(self, params: Mapping[str, str]) -> StoreReceipt:
        reply = await self._request(
            "store", "GET", STORE_PATH, params=params, retry=False, upstream=self._store, stamp=True
        )
        if not isinstance(reply.data, dict):
            raise Unavailable(SERVICE, "the store's answer is not a JSON object")
        fields = lower_keys(reply.data)
        success = fields.get("success")
        if not isinstance(success, bool | int) or success not in (True, False):
            raise Unavailable(SERVICE, "the store's answer says neither success nor failure")
        error = fields.get("error")
        return StoreReceipt(
            success=bool(success),
            error=None if error is None else str(error),
            seedbonus=_points(fields.get("seedbonus")),
            data=reply.data,
        )


def _points(value: Any) -> float | None:
    """A point balance: a number, or a number in a string ("62,500.5")."""
    if isinstance(value, str):
        try:
            return float(value.replace(",", ""))
        except ValueError:
            return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
