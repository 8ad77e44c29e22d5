"""Talking to systemd: readiness, reloads, shutdown, a status line and the watchdog.

Every call is a silent no-op when the service manager gave no usable `NOTIFY_SOCKET`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

import sdnotify


class Notifier:
    def __init__(self, enabled: bool = True) -> None:
        address = os.environ.get("NOTIFY_SOCKET", "") if enabled else ""
        self._notifier: sdnotify.SystemdNotifier | None = None
        # sdnotify reads NOTIFY_SOCKET itself and keeps a socket it never closes even when
        # the connect fails; build it only for an address that can work, and close it in `close()`
        if address.startswith("@") or (address and os.path.exists(address)):
            notifier = sdnotify.SystemdNotifier()
            if notifier.socket is not None:
                # never wait on systemd: with its queue full a blocking send would stop the event loop,
                # and with it the watchdog; a status line dropped then is overtaken by the next one
                notifier.socket.setblocking(False)
                self._notifier = notifier
        self.enabled = self._notifier is not None
        self.watchdog_interval = _watchdog_interval(os.environ) if self.enabled else None

    def send(self, *lines: str) -> None:
        if self._notifier is not None:
            self._notifier.notify("\n".join(lines))

    def ready(self, status: str | None = None) -> None:
        self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> None:
        # systemd 253+ requires MONOTONIC_USEC with RELOADING=1 for Type=notify-reload
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._notifier is not None:
            self._notifier.socket.close()
            self._notifier, self.enabled = None, False


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Half of `WATCHDOG_USEC`, when the watchdog is meant for this process (sd_watchdog_enabled(3))."""
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None
    return usec / 1_000_000 / 2
