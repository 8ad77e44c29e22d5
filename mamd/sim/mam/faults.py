"""Fault injection for the simulated MAM: the shared faults (`faults`) plus empty bodies, a garbage page
that may or may not claim to be JSON, and the fault named on the request for the request log.

Faults apply before the session check, to every path except `/__sim/` and `/announce`, so a test can
always reset them. Each rule may be limited to a path prefix (`/tor/download.php`, `/json/`, …) and rules
are consumed in the order they were added. `request[FAULT]` names the fault a request got.

- `status`: the next N requests answer that status; 429 carries `Retry-After` (1 s unless given), as MAM's
  download limiter does.
- `garbage`: 200 with an nginx error page (HTML instead of JSON; `as_json=True` labels it
  `application/json`, the worse case for a client that trusts the header).
- `empty`: 200 with an empty body, which a client cannot tell from a dead cookie.
- `refused`: 200 with `{"error": "…"}`, MAM's answer to a request it will not serve (other than its
  "Nothing returned" for a search without matches).
- `hang`: no answer for `seconds`, longer than any client timeout; released by `clear()` and at shutdown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mamd.sim.faults import CONTROL_PREFIX, Faults, Rule

EXEMPT_PREFIXES = (CONTROL_PREFIX, "/announce")
FAULT = web.RequestKey("mam_fault", str)
REFUSED = "Error in search: a field of the request could not be read"
GARBAGE = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>\n"


@dataclass
class MamRule(Rule):
    """A rule whose garbage page is labelled `application/json` when `as_json` is set."""

    as_json: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "asJson": self.as_json}


class MamFaults(Faults):
    """The faults the simulated MAM injects; tests set them directly or through `POST /__sim/faults`."""

    exempt = EXEMPT_PREFIXES
    garbage = GARBAGE
    rule_type = MamRule
    kinds = "status, garbage, empty, refused, hang or failAfter"

    def garbage_next(self, count: int = 1, *, path_prefix: str | None = None, as_json: bool = False) -> None:
        """The next `count` requests answer 200 with an HTML error page instead of JSON."""
        self.rules.append(MamRule("garbage", count, 200, None, path_prefix, as_json=as_json))

    def empty_next(self, count: int = 1, *, path_prefix: str | None = None) -> None:
        """The next `count` requests answer 200 with an empty body."""
        self.rules.append(MamRule("empty", count, 200, None, path_prefix))

    def refuse_next(self, count: int = 1, *, path_prefix: str | None = None) -> None:
        """The next `count` requests answer 200 with `{"error": REFUSED}`."""
        self.rules.append(MamRule("refused", count, 200, None, path_prefix))

    def _add_kind(self, kind: Any, count: int, prefix: str | None, body: dict[str, Any]) -> bool:
        if kind == "refused":
            self.refuse_next(count, path_prefix=prefix)
            return True
        if kind == "garbage":
            self.garbage_next(count, path_prefix=prefix, as_json=bool(body.get("asJson", False)))
        elif kind == "empty":
            self.empty_next(count, path_prefix=prefix)
        else:
            return False
        return True

    async def answer(self, request: web.Request, rule: Rule) -> web.StreamResponse:
        request[FAULT] = rule.kind
        if rule.kind == "garbage":
            content_type = "application/json" if isinstance(rule, MamRule) and rule.as_json else "text/html"
            return web.Response(status=200, text=self.garbage, content_type=content_type)
        if rule.kind == "empty":
            return web.Response(status=200, body=b"", content_type="text/html")
        if rule.kind == "refused":
            return web.json_response({"error": REFUSED})
        return await super().answer(request, rule)
