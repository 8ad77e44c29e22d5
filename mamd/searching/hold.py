"""Searching held back: while nothing found could be grabbed (the guard, a spent budget), MAM is not asked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mamd.clock import iso
from mamd.domain.budget import BudgetFacts
from mamd.domain.budget import held as budget_held
from mamd.guarding import actions as guard
from mamd.logs import get_logger
from mamd.runtime import Runtime
from mamd.store import Store
from mamd.store.wanted import WantedBook

log = get_logger(__name__)

_HELD_KEY = "search.held"


async def held(store: Store) -> tuple[str | None, float | None]:
    """Why searching is held now (None when it is not), and since when."""
    state = await store.read_state(_HELD_KEY)
    return state.get("reason"), state.get("since")


async def search_section(store: Store) -> dict[str, Any]:
    """The `search` section of `/status`: why searching is held, if it is, and since when."""
    reason, since = await held(store)
    return {"held": reason, "since": iso(since)}


async def write_held(store: Store, reason: str | None, now: float) -> None:
    await store.write_state(_HELD_KEY, {"reason": reason, "since": now}, now)


async def holding_back(runtime: Runtime, facts: BudgetFacts, now: float) -> str | None:
    """Why nothing may be grabbed now, whatever MAM has: the guard's verdict, or a spent budget."""
    verdict = await guard.verdict(runtime, now)
    return verdict.refuses(freeleech=True) or budget_held(facts, runtime.config.limits)


async def hold(runtime: Runtime, books: Sequence[WantedBook], reason: str, now: float) -> None:
    """Due books wait, `blocked` with the reason, without a search; they stay due for the next run."""
    dry = "dry run: " if runtime.config.dry_run else ""
    await runtime.wanted.hold([book.id for book in books], f"{dry}not searched: {reason}", now)
    await said_held(runtime, reason, now)


async def said_held(runtime: Runtime, reason: str | None, now: float) -> None:
    """An event when searching stops for want of any possible grab, and one when it goes on again."""
    before, _ = await held(runtime.store)
    if (before is None) == (reason is None):
        return
    await write_held(runtime.store, reason, now)
    if reason is not None:
        message = f"MAM is not searched while nothing may be grabbed: {reason}"
        await runtime.events.add(now, "search.held", message, "search", reason=reason)
        log.info("search.held", reason=reason)
    else:
        await runtime.events.add(now, "search.resumed", f"grabs may happen again (was: {before})", "search")
        log.info("search.resumed", was=before)
