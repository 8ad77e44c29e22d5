"""The dynamic seedbox (`GET /json/dynamicSeedbox.php`) and `GET /json/jsonIp.php`.

Both live on MAM's `t.` host; the simulator serves them on its one server. Answers carry MAM's `msg`
taxonomy, with the JSON body even on 403 and 429:

| situation | status | body |
|---|---|---|
| no cookie | 403 | `{"Success": false, "msg": "No Session Cookie"}` |
| a cookie that is not valid | 403 | `… "Invalid session - Invalid Cookie"` |
| the session's IP / ASN does not match (`mismatch`) | 403 | `… "Invalid session - IP mismatch"` / `ASN` |
| an ASN-locked session, or one not allowed to set a dynamic seedbox | 403 | `… "Incorrect session type"` |
| the IP is the registered one | 200 | `{"Success": true, "msg": "No change", "ip", "ASN", "AS"}` |
| a change within an hour of the last one | 429 | `{"Success": false, "msg": "Last Change too recent"}` |
| otherwise | 200 | `{"Success": true, "msg": "Completed", "ip", "ASN", "AS"}` |

The IP MAM sees is the request's address unless `seen_ip` says otherwise (a test "moving" the client).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SessionType = Literal["ip", "asn"]
Mismatch = Literal["IP", "ASN"]
MIN_INTERVAL = 3600.0  # MAM allows one change per hour


@dataclass
class SeedboxChange:
    wall: float
    ip: str
    msg: str
    status: int

    def to_json(self) -> dict[str, Any]:
        return {"wall": self.wall, "ip": self.ip, "msg": self.msg, "status": self.status}


@dataclass
class Seedbox:
    session_type: SessionType = "ip"
    allow_dynamic: bool = True
    registered_ip: str | None = None
    seen_ip: str | None = None
    asn: int = 64500
    as_name: str = "Example ISP"
    mismatch: Mismatch | None = None
    last_change: float | None = None
    min_interval: float = MIN_INTERVAL
    too_recent_msg: str = "Last Change too recent"  # also seen capitalised: "Last Change Too Recent"
    too_recent_status: int = 429  # MAM sometimes answers 403
    calls: list[SeedboxChange] = field(default_factory=list)

    def ip_for(self, remote: str | None) -> str:
        return self.seen_ip or remote or "127.0.0.1"

    def where(self, remote: str | None) -> dict[str, Any]:
        """`jsonIp.php`: the address, ASN and AS name as MAM sees them."""
        return {"ip": self.ip_for(remote), "ASN": self.asn, "AS": self.as_name}

    def rejection(self, cookie: str | None) -> tuple[int, dict[str, Any]]:
        """The answer to a request whose cookie was missing or not valid."""
        msg = "No Session Cookie" if not cookie else "Invalid session - Invalid Cookie"
        return 403, {"Success": False, "msg": msg}

    def update(self, remote: str | None, now: float) -> tuple[int, dict[str, Any]]:
        """One authenticated `dynamicSeedbox.php` call: its status and body; changes the state on success."""
        ip = self.ip_for(remote)
        status, body = self._decide(ip, now)
        self.calls.append(SeedboxChange(now, ip, str(body["msg"]), status))
        return status, body

    def _decide(self, ip: str, now: float) -> tuple[int, dict[str, Any]]:
        if self.mismatch is not None:
            return 403, {"Success": False, "msg": f"Invalid session - {self.mismatch} mismatch"}
        if self.session_type != "ip" or not self.allow_dynamic:
            return 403, {"Success": False, "msg": "Incorrect session type"}
        found = {"ip": ip, "ASN": self.asn, "AS": self.as_name}
        if ip == self.registered_ip:
            return 200, {"Success": True, "msg": "No change", **found}
        if self.last_change is not None and now - self.last_change < self.min_interval:
            return self.too_recent_status, {"Success": False, "msg": self.too_recent_msg}
        self.registered_ip, self.last_change = ip, now
        return 200, {"Success": True, "msg": "Completed", **found}

    def to_json(self) -> dict[str, Any]:
        return {
            "sessionType": self.session_type,
            "allowDynamic": self.allow_dynamic,
            "registeredIp": self.registered_ip,
            "seenIp": self.seen_ip,
            "ASN": self.asn,
            "AS": self.as_name,
            "mismatch": self.mismatch,
            "lastChange": self.last_change,
            "calls": [call.to_json() for call in self.calls],
        }
