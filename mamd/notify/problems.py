"""Problems as notifications: each said once when it appears (after its route's hold) and "resolved" once.

What was said is kept in the outbox's records, so it survives a restart; a problem said before a restart
and not seen again within `CARRY_S` of it is taken as resolved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mamd.health import HealthProblem
from mamd.logs import get_logger
from mamd.notify import routes
from mamd.notify.messages import ProblemFacts, problem_message
from mamd.store.outbox import Outbox

if TYPE_CHECKING:
    from mamd.context import Context

log = get_logger(__name__)

CARRY_S = 600.0  # after a restart, a problem said before that is not seen again within this is resolved


class ProblemNotices:
    """The problems the notifications look at: changes reported by `Health`, and what was said of each."""

    def __init__(
        self,
        runtime: Context,
        outbox: Outbox,
        chosen: Callable[[str, str, str], list[str]],
        words: Callable[[tuple[str, str]], tuple[str, str]],
    ) -> None:
        self._runtime = runtime
        self.outbox = outbox
        self._chosen = chosen  # the targets that want (topic, level), but the one a problem is about
        self._words = words
        self.changes: dict[str, tuple[HealthProblem | None, str | None]] = {}  # problems to look at
        # until when problems said before this start count as open though nobody reports them yet
        self._carried = runtime.clock.now() + CARRY_S

    async def say(self, now: float) -> float | None:
        """Say new problems and resolutions; when a held problem is next due."""
        said = await self.outbox.problems()
        changes, self.changes = self.changes, {}
        for problem_id, (problem, state) in changes.items():
            row = said.get(problem_id)
            if problem is None:
                if row is not None:
                    await self._resolved(row, now, "")
                    said.pop(problem_id)
                continue
            route = routes.problem_route(problem_id, problem.severity, state)
            if route is None or (row is not None and row["variant"] == route.variant):
                continue
            said[problem_id] = row = {
                "id": problem_id,
                "variant": route.variant,
                "topic": route.topic,
                "level": route.level,
                "title": route.title,
                "summary": self._runtime.redactor.text(problem.summary),
                "since": now,
                "sent": 0,
            }
            await self.outbox.remember_problem(row)
        health = self._runtime.health
        carried = now < self._carried
        next_due: float | None = None
        for problem_id, row in said.items():
            current = health.get(problem_id)
            if current is None:
                if not carried:  # said before a restart, and not seen since
                    await self._resolved(row, now, "no longer seen since mamd restarted")
                continue
            if row["sent"]:
                continue
            route = routes.problem_route(problem_id, row["level"], row["variant"] or None)
            hold = route.hold_s if route is not None else 0.0
            if now < row["since"] + hold:
                next_due = min(next_due or row["since"] + hold, row["since"] + hold)
                continue
            await self._say_problem(row, current, now)
        if carried:
            next_due = min(next_due or self._carried, self._carried)
        return next_due

    async def _say_problem(self, row: dict[str, Any], problem: HealthProblem, now: float) -> None:
        facts = ProblemFacts(row["id"], row["title"], self._runtime.redactor.text(problem.summary))
        title, body = self._words(problem_message(facts, self._runtime.config.dry_run))
        chosen = self._chosen(row["topic"], row["level"], row["id"])
        await self.outbox.add("problem", row["topic"], row["level"], title, body, chosen, now)
        await self.outbox.remember_problem({**row, "summary": facts.summary, "sent": 1})
        log.info("notify.problem", id=row["id"], targets=len(chosen))

    async def _resolved(self, row: Mapping[str, Any], now: float, note: str) -> None:
        await self.outbox.forget_problem(str(row["id"]))
        if not row["sent"]:
            return  # gone before it was worth a message: nothing was said, nothing to take back
        facts = ProblemFacts(str(row["id"]), str(row["title"]), str(row["summary"]), True, note)
        title, body = self._words(problem_message(facts, self._runtime.config.dry_run))
        chosen = self._chosen(str(row["topic"]), str(row["level"]), str(row["id"]))
        await self.outbox.add("resolved", str(row["topic"]), str(row["level"]), title, body, chosen, now)
        log.info("notify.resolved", id=row["id"], targets=len(chosen))
