"""Refused requests from one source: logged once a minute with a count, and wrong keys slowed down.

Without a key, anyone who reaches the port can send requests that are refused; one log line
each would let them fill the disk (a wrong key a millisecond is ~300 KB/s of log). Instead
the first refusal of a kind from a source is logged at once and the rest of that minute
become one summary line with their count. A source that sends more than
`WRONG_KEYS_PER_WINDOW` wrong keys in a minute gets 429 without its key being looked at until
the oldest of them is a minute old, as qbit_manage does for its web API.

Time is an input (`clock`), so the windows are tested without waiting for them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mamd.logs import get_logger

log = get_logger("mamd.web")

WINDOW_S = 60.0
WRONG_KEYS_PER_WINDOW = 10
MAX_SOURCES = 4096  # sources remembered at once; the oldest are summarised and forgotten first


@dataclass
class _Window:
    started: float
    first: dict[str, Any]
    count: int = 1


@dataclass
class RefusalLog:
    """Logs refusals of each kind per source: the first at once, the rest as one line per window."""

    clock: Callable[[], float] = time.monotonic
    window_s: float = WINDOW_S
    max_sources: int = MAX_SOURCES
    _windows: dict[tuple[str, str], _Window] = field(default_factory=dict)
    _timer: asyncio.TimerHandle | None = None

    def refused(self, kind: str, source: str, **fields: Any) -> bool:
        """Note one refusal; True when it was logged on its own line (the first of its window)."""
        now = self.clock()
        key = (kind, source)
        window = self._windows.get(key)
        if window is not None and now - window.started < self.window_s:
            window.count += 1
            return False
        if window is not None:
            self._summarise(key, self._windows.pop(key))
        self._windows[key] = _Window(now, fields)
        while len(self._windows) > self.max_sources:
            oldest = next(iter(self._windows))
            self._summarise(oldest, self._windows.pop(oldest))
        log.warning(f"http.{kind}", remote=source, **fields)
        self._arm()
        return True

    def flush(self, everything: bool = False) -> None:
        """Summarise the windows that have ended (all of them with `everything`)."""
        now = self.clock()
        for key, window in list(self._windows.items()):
            if everything or now - window.started >= self.window_s:
                self._summarise(key, self._windows.pop(key))

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.flush(everything=True)

    def _summarise(self, key: tuple[str, str], window: _Window) -> None:
        if window.count > 1:
            kind, source = key
            log.warning(
                f"http.{kind}_summary",
                remote=source,
                count=window.count,
                window_s=round(self.clock() - window.started),
                **window.first,
            )

    def _arm(self) -> None:
        """Summarise each window when it ends even if its source goes quiet (then nothing would)."""
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # outside the event loop (a unit test): `flush` is called by hand
        self._timer = loop.call_later(self.window_s, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self.flush()
        if self._windows:
            self._arm()


@dataclass
class GuessLimit:
    """At most `per_window` wrong keys per source in `window_s`; then the source waits."""

    clock: Callable[[], float] = time.monotonic
    per_window: int = WRONG_KEYS_PER_WINDOW
    window_s: float = WINDOW_S
    max_sources: int = MAX_SOURCES
    _wrong: dict[str, deque[float]] = field(default_factory=dict)

    def wait_s(self, source: str) -> float:
        """Seconds before `source` may present a key again; 0 when it may now."""
        recent = self._wrong.get(source)
        if recent is None or len(recent) < self.per_window:
            return 0.0
        return max(0.0, recent[0] + self.window_s - self.clock())

    def wrong(self, source: str) -> None:
        now = self.clock()
        recent = self._wrong.pop(source, None) or deque(maxlen=self.per_window)
        while recent and now - recent[0] >= self.window_s:
            recent.popleft()
        recent.append(now)
        self._wrong[source] = recent  # re-inserted: the dict stays ordered by last wrong key
        while len(self._wrong) > self.max_sources:
            del self._wrong[next(iter(self._wrong))]
