"""What the account guard shows in `/status` and `/metrics`: its level now and why, what it lets through,
and the downloads it stopped."""

from __future__ import annotations

from typing import Any

from mamd.clock import iso
from mamd.domain.guard import Level
from mamd.guarding import actions
from mamd.runtime import Runtime


async def level_now(runtime: Runtime, now: float) -> Level:
    return (await actions.verdict(runtime, now)).level


async def guard_section(runtime: Runtime, now: float) -> tuple[dict[str, Any], str]:
    """The guard's part of the `account` section (`guard`, `guard_detail`), and its note on what may be
    grabbed."""
    verdict = await actions.verdict(runtime, now)
    state = await runtime.guard.state()
    section = {
        "guard": verdict.level,
        "guard_detail": {
            "since": iso(state.since) if state.level == verdict.level else iso(now),
            "grabs": verdict.grabs,
            "downloads_stopped": verdict.pause_downloads,
            "reasons": list(verdict.reasons),
        },
    }
    return section, _guard_note(verdict.grabs, verdict.pause_downloads)


async def stopped_section(runtime: Runtime) -> list[dict[str, Any]]:
    """The downloads the guard stopped and will start again when the emergency ends."""
    return [entry.as_dict() for entry in await runtime.guard.stopped()]


def _guard_note(grabs: str, stopped: bool) -> str:
    if grabs == "all":
        return "grabs: whatever the rules and budgets allow"
    what = "freeleech only" if grabs == "freeleech" else "none"
    return f"grabs: {what}" + ("; mamd's downloads are stopped" if stopped else "")
