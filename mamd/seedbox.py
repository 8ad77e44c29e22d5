"""Keeping MAM's dynamic seedbox IP current (opt-in `mam.seedbox_update`), at most once an hour.

Only IP-locked sessions whose address changes need it. MAM's answer is one of a few messages,
each meaning something different to the user: the IP was updated or is current; MAM allows one
change an hour; the session is dead (a new `mam.session` helps); the session is locked to
another IP or ASN (a new session does not help: the network does); or this session type cannot
set a dynamic seedbox at all (mamd stops asking until `mam.session` changes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mamd.clients.errors import UpstreamError
from mamd.clients.mam import SeedboxAnswer, fingerprint
from mamd.clock import iso
from mamd.logs import get_logger
from mamd.runtime import Runtime

log = get_logger(__name__)

_STATE_KEY = "mam.seedbox"
EVERY_S = 3600.0

EXPLAIN = {
    "too_recent": "MAM allows one seedbox IP change an hour; mamd asks again in an hour",
    "session_dead": "MAM says the session is no longer valid; put a new session in mam.session",
    "mismatch": "this session is locked to another IP or ASN, so a new session will not help: check the "
    "network (VPN) mamd goes out through",
    "wrong_session_type": "this session cannot set a dynamic seedbox IP (an ASN-locked session?): turn "
    "mam.seedbox_update off, or create an IP-locked session that allows it; mamd stops asking until "
    "mam.session changes",
    "no_cookie": "MAM saw no session cookie",
    "unknown": "MAM's answer is not one mamd knows",
}


async def run(runtime: Runtime, now: float) -> Mapping[str, Any]:
    if not runtime.config.mam.seedbox_update:
        return {}
    state = await runtime.store.read_state(_STATE_KEY)
    session = fingerprint(runtime.config.mam.session.reveal())
    if state.get("state") == "wrong_session_type" and state.get("session") == session:
        return {"seedbox": "not asked: this session type cannot set a dynamic seedbox"}
    since = now - float(state.get("attempted_at") or 0)
    if 0 <= since < EVERY_S:  # (a last attempt in the future means the clock moved back)
        return {}
    try:
        answer = await runtime.require_mam().update_seedbox()
    except UpstreamError as exc:
        if not exc.sent:  # nothing reached MAM: the hour has not begun
            return {"seedbox": f"not asked: {exc.message}"}
        await runtime.store.write_state(
            _STATE_KEY, {**state, "attempted_at": now, "state": "unreachable", "message": exc.message}, now
        )
        return {"seedbox": f"not updated: {exc.message}"}
    await runtime.store.write_state(
        _STATE_KEY,
        {
            "state": answer.state,
            "message": answer.message,
            "ip": answer.ip or state.get("ip"),
            "attempted_at": now,
            "updated_at": now if answer.state == "updated" else state.get("updated_at"),
            "session": session,
        },
        now,
    )
    await _tell(runtime, answer, state.get("state"), now)
    return {"seedbox": answer.state}


async def status_section(runtime: Runtime) -> dict[str, Any] | None:
    """The seedbox part of the `account` section: MAM's last answer and when the IP last changed; None
    when `mam.seedbox_update` is off."""
    if not runtime.config.mam.seedbox_update:
        return None
    state = await runtime.store.read_state(_STATE_KEY)
    return {
        "state": state.get("state"),
        "message": state.get("message"),
        "ip": state.get("ip"),
        "updated_at": iso(state.get("updated_at")),
    }


async def _tell(runtime: Runtime, answer: SeedboxAnswer, before: str | None, now: float) -> None:
    if answer.state == "updated":
        await runtime.events.add(now, "seedbox.updated", f"MAM's seedbox IP is now {answer.ip}", "mam")
        return
    if answer.state == before:
        return  # said already
    if answer.state == "unchanged":
        if before not in (None, "updated", "unchanged"):
            await runtime.events.add(now, "seedbox.ok", f"MAM's seedbox IP is current ({answer.ip})", "mam")
        return
    message = f"MAM did not update the seedbox IP ({answer.message}): {EXPLAIN[answer.state]}"
    await runtime.events.add(now, "seedbox.problem", message, "mam", state=answer.state)
    log.warning("seedbox.problem", state=answer.state, message=answer.message)
