"""The dynamic seedbox IP, set on MAM's `t.` host.

Its answers come as JSON even with 403 and 429, and are read by their `msg`. Only "Invalid session" /
"Invalid Cookie" mean the session is dead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mamd.clients.errors import Unavailable
from mamd.clients.mam.session import SERVICE, MamSession, explain_unauthorized, lower_keys
from mamd.clients.upstream import Reply

SEEDBOX_PATH = "/json/dynamicSeedbox.php"
SeedboxState = Literal[
    "updated",
    "unchanged",
    "too_recent",
    "session_dead",
    "mismatch",
    "wrong_session_type",
    "no_cookie",
    "unknown",
]
# `msg` prefixes of dynamicSeedbox.php, lower case, the longer ones first where one begins another
SEEDBOX_MESSAGES: tuple[tuple[str, SeedboxState], ...] = (
    ("completed", "updated"),
    ("no change", "unchanged"),
    ("last change too recent", "too_recent"),
    ("no session cookie", "no_cookie"),
    ("invalid session - ip mismatch", "mismatch"),
    ("invalid session - asn mismatch", "mismatch"),
    ("invalid session - invalid cookie", "session_dead"),
    ("incorrect session type", "wrong_session_type"),
)


@dataclass(frozen=True)
class SeedboxAnswer:
    """What `dynamicSeedbox.php` said, by its `msg`; `ip` is the address MAM saw, when it says."""

    state: SeedboxState
    message: str
    ip: str | None


def seedbox_state(message: str) -> SeedboxState:
    """The meaning of a `dynamicSeedbox.php` `msg`, compared case-insensitively and by prefix."""
    text = " ".join(message.lower().split()).rstrip(".!")
    if text == "invalid session":
        return "session_dead"
    for prefix, state in SEEDBOX_MESSAGES:
        if text.startswith(prefix):
            return state
    return "unknown"


def _seedbox_message(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    message = lower_keys(data).get("msg")
    return message if isinstance(message, str) else None


def _session_dead(reply: Reply) -> str | None:
    """The reason to stop using the session, when the seedbox answer says the cookie is dead."""
    message = _seedbox_message(reply.data)
    if message is None or seedbox_state(message) != "session_dead":
        return None
    return explain_unauthorized(f"{reply.status}, {message!r}")


class Seedbox(MamSession):
    """The seedbox update, as `MamClient` offers it."""

    async def update_seedbox(self) -> SeedboxAnswer:
        """Tell MAM this machine's current IP is the session's seedbox IP (about once an hour at most).

        MAM's answer, even with 403 or 429, is read by its `msg`. "Invalid session" / "Invalid Cookie"
        also stop all MAM traffic until the cookie changes, as any refusal of the session does; an IP or
        ASN mismatch, the wrong session type or a change too soon does not. It is sent even while the
        session stands refused: an IP-locked session is refused from a new address until this update,
        and an update that works lifts the refusal.
        """
        reply = await self._request(
            "seedbox",
            "GET",
            SEEDBOX_PATH,
            upstream=self._seedbox,
            answers=(403, 429),
            refused_by=_session_dead,
            despite_refusal=True,
        )
        message = _seedbox_message(reply.data)
        if message is None:
            raise Unavailable(SERVICE, "the seedbox answer has no `msg`")
        ip = lower_keys(reply.data).get("ip")
        answer = SeedboxAnswer(seedbox_state(message), message, ip if isinstance(ip, str) and ip else None)
        if answer.state in ("updated", "unchanged") and self._rejected is not None:
            # MAM refused the session from an address it did not know; from this one it works again
            self._rejected = None
            self._on_state("ok", None)
        return answer
