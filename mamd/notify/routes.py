"""Which events and problems become notifications, under which name and level, and who gets them.

The names are the vocabulary of `notify[].events`. Pure: the notifier looks each event kind and each
problem up here, and a target's `events` and `min_level` decide whether it gets the message.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, get_args

from mamd.config.model import NotifyEvent, NotifyLevel

Level = NotifyLevel
LEVELS: tuple[Level, ...] = get_args(NotifyLevel)
TOPICS: tuple[str, ...] = tuple(
    event for event in get_args(NotifyEvent) if event != "all"
)  # `notify[].events`
TEST = "test"  # `mamd notify-test`: every target gets it, whatever it asks for

BATCH_S = 60.0  # grabs and imports within a minute are one message
GUARD_GATHER_S = 15.0  # a guard change and the downloads it stops or starts are one message
SERVICE_HOLD_S = 120.0  # a service down for less than this (a restart, an upgrade) is not worth a message


@dataclass(frozen=True)
class Route:
    topic: str
    level: Level
    batch: str | None = None  # events with the same key, within `gather_s`, make one message
    gather_s: float = 0.0
    opens: bool = False  # starts a message of its own, and sends the one gathering at once


def _batched(topic: str, level: Level, key: str, gather_s: float = BATCH_S) -> Route:
    return Route(topic, level, key, gather_s)


def _guard(level: Level) -> Route:
    return Route("guard", level, "guard", GUARD_GATHER_S)


# event kind → route; kinds not listed are not sent (they are in the audit log, `/status` and the
# daily summary). Some facts are also problems (a configuration edit refused, imports Audiobookshelf
# never listed, MAM refusing the session): the problem is sent, once, and "resolved" when it is.
EVENTS: Mapping[str, Route] = {
    "grab.added": _batched("grabbed", "info", "grab.added"),
    "grab.would_grab": _batched("grabbed", "info", "grab.would_grab"),
    "grab.failed": _batched("grabbed", "warning", "grab.failed"),
    # MAM is not searched while nothing may be grabbed (a budget spent, the guard, too little space),
    # said once when it starts and once when it ends
    "search.held": Route("grabbed", "warning"),
    "search.resumed": Route("grabbed", "info"),
    "import.done": _batched("imported", "info", "import.done"),
    "import.would_link": _batched("imported", "info", "import.would_link"),
    "import.failed": Route("import_failed", "error"),
    "import.not_in_library": Route("import_failed", "warning"),
    "import.unsure": Route("import_failed", "warning"),
    "guard.stopped": _guard("warning"),
    "guard.would_stop": _guard("warning"),
    "guard.resumed": _guard("info"),
    "guard.released": _guard("info"),
    "guard.stop_failed": _guard("error"),
    "guard.start_failed": _guard("error"),
    "torrent.at_risk": _batched("hit_and_run_risk", "warning", "torrent.at_risk"),
    "torrent.risk_cleared": _batched("hit_and_run_risk", "info", "torrent.risk_cleared"),
    "torrent.vanished": _batched("hit_and_run_risk", "warning", "torrent.vanished"),
    "bonus.spent": Route("bonus", "info"),
    "bonus.would_spend": Route("bonus", "info"),
    "bonus.not_spent": Route("bonus", "warning"),
    "bonus.refused": Route("bonus", "warning"),
    "bonus.unknown": Route("bonus", "warning"),
    "bonus.halted": Route("bonus", "error"),
    "bonus.resumed": Route("bonus", "info"),
    "seedbox.problem": Route("session", "warning"),
}
EVENTS_BY_DATA = frozenset({"guard.changed", "account.counter_rose"})  # routed by what they say
_GUARD_LEVELS: Mapping[str, Level] = {"ok": "info", "caution": "warning", "emergency": "error"}
_HIT_AND_RUN_COUNTERS = frozenset({"inactUnsat", "inactHnr", "seedHnr"})


def event_route(kind: str, data: Mapping[str, Any]) -> Route | None:
    """Where an event of `kind` with `data` goes; None when it is not sent."""
    if kind == "guard.changed":  # each change of level is news of its own
        return Route(
            "guard", _GUARD_LEVELS.get(str(data.get("level")), "warning"), "guard", GUARD_GATHER_S, True
        )
    if kind == "account.counter_rose":
        topic = "hit_and_run_risk" if data.get("counter") in _HIT_AND_RUN_COUNTERS else "problem"
        return Route(topic, "warning")
    if kind == "grab.failed" and data.get("final"):  # refused again and again: not tried until asked
        return Route("grabbed", "error")
    return EVENTS.get(kind)


@dataclass(frozen=True)
class ProblemRoute:
    topic: str
    level: Level
    title: str
    variant: str = ""  # a change of variant (a service down, then refusing) is a new message
    hold_s: float = 0.0  # sent only once it has lasted this long; gone before, it is never said


_SERVICES = {"mam": "MAM", "qbittorrent": "qBittorrent", "audiobookshelf": "Audiobookshelf"}
# problems whose every occurrence is already an event that is sent
_SAID_BY_EVENTS = frozenset({"imports.not_in_library"})
_TITLES = {
    "config": "Configuration edit refused",
    "audiobookshelf.library": "Audiobookshelf library not found",
    "audiobookshelf.scan": "Audiobookshelf refuses library scans",
    "import.link": "Imports cannot work",
    "notify.dropped": "Notifications dropped",
}


def problem_route(problem_id: str, severity: str, service_state: str | None) -> ProblemRoute | None:
    """Where a problem goes; `service_state` is the state of the service a `service.*` problem is about."""
    if problem_id in _SAID_BY_EVENTS:
        return None
    level: Level = "error" if severity == "error" else "warning"
    if problem_id.startswith("service."):
        service = problem_id.removeprefix("service.")
        state = service_state or "down"
        if service == "mam" and state == "unauthorized":
            return ProblemRoute("session", "error", "MAM refused the session", state)
        hold = SERVICE_HOLD_S if state in ("down", "throttled") else 0.0
        return ProblemRoute("problem", level, f"{_SERVICES.get(service, service)} is {state}", state, hold)
    if problem_id.startswith("notify["):
        target = problem_id.removeprefix("notify")
        return ProblemRoute("problem", level, f"Notification target {target} fails")
    if problem_id.startswith("loop."):  # `Loops` starts it again; resolved once it runs steadily
        return ProblemRoute("problem", level, f"mamd's {problem_id.removeprefix('loop.')} loop failed")
    return ProblemRoute("problem", level, _TITLES.get(problem_id, f"Problem: {problem_id}"))


def wants(events: Collection[str], min_level: str, topic: str, level: str) -> bool:
    """Whether a target asking for `events` at `min_level` and above gets a message of `topic` at `level`."""
    if topic == TEST:
        return True
    if topic not in events and "all" not in events:
        return False
    return _RANK.get(level, 0) >= _RANK.get(min_level, 0)


_RANK: dict[str, int] = {name: rank for rank, name in enumerate(LEVELS)}
