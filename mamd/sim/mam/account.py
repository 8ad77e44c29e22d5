"""The simulated MAM account and `GET /jsonLoad.php`.

`Account` is mutable: downloads, wedges and purchases change it, and tests set it directly or through
`PATCH /__sim/account`. `account_json()` renders it:

- the account fields MAM sends (`seedbonus` an int here, a float in `bonusBuy.php` answers; `uploaded` /
  `downloaded` as "10.00 GiB" strings beside the exact `_bytes`);
- with `?snatch_summary`, the snatch counters under `snatch_summary`; without it, no counters at all;
- the 2026-09 move of `unsat`: the new shape nests it at `snatch_summary.unsat` and sends
  `"unsat": null` at the top level; the old shape (`old_unsat_shape=True`) has it only at the top level.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mamd.sim.mam.rows import human_size

GIB = 1024**3
_COUNTERS: dict[str, dict[str, Any]] = {
    "unsat": {"name": "Unsatisfied", "count": 12, "limit": 50, "size": 9_876_543_210},
    "seedUnsat": {"name": "Seeding - Not Yet Satisfied", "count": 12, "size": 9_876_543_210},
    "sSat": {"name": "Seeding - Satisfied", "count": 214, "size": 171_798_691_840},
    "seedHnr": {"name": "Seeding - H&R - Not Yet Satisfied", "count": 0, "size": None},
    "inactHnr": {"name": "Not Seeding - H&R - Not Yet Satisfied", "count": 0, "size": None},
    "inactUnsat": {"name": "Not Seeding - Not Yet Satisfied", "count": 0, "size": None},
    "inactSat": {"name": "Not Seeding - Satisfied", "count": 3, "size": 2_147_483_648},
    "leeching": {"name": "Leeching Torrents", "count": 0, "size": None},
    "upAct": {"name": "Seeding -  Uploads", "count": 0, "size": None},  # two spaces, as MAM writes it
    "upInact": {"name": "Not Seeding - Uploads", "count": 0, "size": None},
    "reseed": {"name": "Reseed requests", "count": 0, "inactive": 0},
    "ite": {"name": "Important Tracker Errors", "count": 0, "latest": 0},
    "duplicates": {"name": "Duplicate peer entries", "count": 0},
}


def default_counters() -> dict[str, dict[str, Any]]:
    return copy.deepcopy(_COUNTERS)


@dataclass
class Account:
    """An invented account (uid, username and country are made up)."""

    classname: str = "Power User"
    uid: int = 314159
    username: str = "sim-mouse"
    seedbonus: float = 62_500.0
    wedges: int = 4
    vip_until: str | None = None
    uploaded_bytes: int = 300 * GIB
    downloaded_bytes: int = 120 * GIB
    country_code: str = "xx"
    country_name: str = "Example"
    connectable: str = "yes"
    created: int = 1_700_000_000
    counters: dict[str, dict[str, Any]] = field(default_factory=default_counters)

    @property
    def ratio(self) -> float:
        return round(self.uploaded_bytes / max(self.downloaded_bytes, 1), 2)

    @property
    def unsat(self) -> dict[str, Any]:
        return self.counters["unsat"]

    def record_download(self, size: int, *, free: bool) -> None:
        """A new snatch: one more unsatisfied torrent; its size counts as downloaded unless it is free."""
        self.unsat["count"] = int(self.unsat.get("count") or 0) + 1
        self.unsat["size"] = int(self.unsat.get("size") or 0) + size
        if not free:
            self.downloaded_bytes += size

    def patch(self, changes: dict[str, Any]) -> None:
        """Apply `changes` (snake_case fields, plus `counters`: {"unsat": {"count": 3}} merged per counter).

        Raises `ValueError` naming the first unknown or ill-typed key; nothing is applied then.
        """
        updated = copy.deepcopy(self)
        for key, value in changes.items():
            if key == "counters":
                if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                    raise ValueError("counters must map counter names to objects")
                for name, fields in value.items():
                    updated.counters.setdefault(name, {"name": name}).update(fields)
                continue
            if key not in _FIELD_TYPES:
                raise ValueError(f"unknown account field {key!r}")
            expected = _FIELD_TYPES[key]
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ValueError(f"account field {key!r} must be {expected}, not {value!r}")
            setattr(updated, key, float(value) if key == "seedbonus" else value)
        self.__dict__.update(updated.__dict__)

    def money_json(self) -> dict[str, Any]:
        """The account part of a `bonusBuy.php` success: a float `seedbonus`, raw byte counts."""
        return {
            "seedbonus": round(self.seedbonus, 3),
            "uploaded": self.uploaded_bytes,
            "downloaded": self.downloaded_bytes,
            "uploadFancy": human_size(self.uploaded_bytes, 3),
            "downloadFancy": human_size(self.downloaded_bytes, 2),
            "ratio": self.ratio,
        }


_FIELD_TYPES: dict[str, Any] = {
    "classname": str,
    "uid": int,
    "username": str,
    "seedbonus": (int, float),
    "wedges": int,
    "vip_until": (str, type(None)),
    "uploaded_bytes": int,
    "downloaded_bytes": int,
    "country_code": str,
    "country_name": str,
    "connectable": str,
    "created": int,
}


def account_json(account: Account, *, snatch_summary: bool, old_unsat_shape: bool) -> dict[str, Any]:
    """The `jsonLoad.php` body, in the old or the new `unsat` shape."""
    body: dict[str, Any] = {
        "classname": account.classname,
        "uid": account.uid,
        "username": account.username,
        "ratio": account.ratio,
        "seedbonus": int(account.seedbonus),
        "wedges": account.wedges,
        "vip_until": account.vip_until,
        "uploaded": human_size(account.uploaded_bytes, 2),
        "uploaded_bytes": account.uploaded_bytes,
        "downloaded": human_size(account.downloaded_bytes, 2),
        "downloaded_bytes": account.downloaded_bytes,
        "country_code": account.country_code,
        "country_name": account.country_name,
    }
    if not snatch_summary:
        return body
    counters = copy.deepcopy(account.counters)
    unsat = counters.pop("unsat")
    summary: dict[str, Any] = {
        "connectable": account.connectable,
        "v6_connectable": None,
        "ipv6_mac": False,
        "partial": False,
        "created": account.created,
        "created_at": _created_at(account.created),
        "recently_deleted": 0,
    }
    if old_unsat_shape:
        body["unsat"] = unsat
    else:
        body["unsat"] = None
        summary["unsat"] = unsat
    summary.update(counters)
    body["snatch_summary"] = summary
    return body


def _created_at(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")
