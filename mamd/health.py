"""What is wrong right now: a list of problems, and the state of each upstream service.

Transitions are logged once (a service going down, and coming back), never repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from mamd.clock import Clock, iso
from mamd.logs import get_logger

log = get_logger(__name__)

Severity = Literal["error", "warning"]
ServiceStateName = Literal["ok", "down", "unauthorized", "throttled"]


@dataclass(frozen=True)
class HealthProblem:
    id: str
    severity: Severity
    summary: str
    since: float

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "severity": self.severity, "summary": self.summary, "since": iso(self.since)}


@dataclass(frozen=True)
class ServiceState:
    name: str
    state: ServiceStateName
    since: float
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "since": iso(self.since),
            "last_error": self.last_error,
        }


class Health:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._problems: dict[str, HealthProblem] = {}
        self.services: dict[str, ServiceState] = {}
        self._listeners: list[Callable[[str, ServiceStateName], None]] = []
        self._watchers: list[Callable[[str, HealthProblem | None], None]] = []

    def listen(self, listener: Callable[[str, ServiceStateName], None]) -> None:
        """Call `listener(service, state)` whenever a service changes state."""
        self._listeners.append(listener)

    def watch(self, watcher: Callable[[str, HealthProblem | None], None]) -> None:
        """Call `watcher(id, problem)` whenever a problem appears or changes, and `watcher(id, None)`
        when it is resolved."""
        self._watchers.append(watcher)

    def has(self, problem_id: str) -> bool:
        return problem_id in self._problems

    def report(self, problem_id: str, severity: Severity, summary: str) -> None:
        current = self._problems.get(problem_id)
        if current and (current.severity, current.summary) == (severity, summary):
            return
        since = current.since if current else self._clock.now()
        problem = HealthProblem(problem_id, severity, summary, since)
        self._problems[problem_id] = problem
        if current is None:
            log.warning("health.problem", id=problem_id, severity=severity, summary=summary)
        for watcher in self._watchers:
            watcher(problem_id, problem)

    def clear(self, problem_id: str) -> None:
        if self._problems.pop(problem_id, None) is not None:
            log.info("health.resolved", id=problem_id)
            for watcher in self._watchers:
                watcher(problem_id, None)

    def get(self, problem_id: str) -> HealthProblem | None:
        return self._problems.get(problem_id)

    def services_section(self) -> dict[str, dict[str, Any]]:
        """The `services` section of `/status`: each upstream's state, by name."""
        return {name: s.as_dict() for name, s in sorted(self.services.items())}

    def problems(self) -> list[HealthProblem]:
        order = {"error": 0, "warning": 1}
        return sorted(self._problems.values(), key=lambda p: (order[p.severity], p.since))

    @property
    def ready(self) -> bool:
        return not any(p.severity == "error" for p in self._problems.values())

    def service(self, name: str, state: ServiceStateName, error: str | None = None) -> None:
        """Record an upstream's state; only a change of state is logged and listed as a problem."""
        current = self.services.get(name)
        if current is not None and current.state == state:
            if error and error != current.last_error:
                self.services[name] = ServiceState(name, state, current.since, error)
            return
        self.services[name] = ServiceState(name, state, self._clock.now(), error)
        for listener in self._listeners:
            listener(name, state)
        if state == "ok":
            self.clear(f"service.{name}")
            if current is not None:
                log.info("service.recovered", service=name, was=current.state)
        else:
            self.report(f"service.{name}", "warning", f"{name} is {state}: {error or 'no detail'}")
            log.warning("service.unhealthy", service=name, state=state, error=error)
