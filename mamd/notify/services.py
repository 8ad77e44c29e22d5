"""Apprise: the one library behind every notification target, and one message sent to one target.

Apprise is imported only once a target is configured: the import and its plugins cost tens of MiB
resident (the benchmark's `notify_idle_rss_delta_mib`), which a daemon that notifies nobody must not
carry. It is never unloaded; a reload that adds the first target loads it then. Its plugins send with
`requests`, blocking; `async_notify` runs them in Apprise's own thread pool, so the event loop never
waits on a target, and every send is bounded by `SEND_TIMEOUT_S` (Apprise's own call deadline, the
plugins' socket timeouts, and ours around both).

Apprise's log lines quote parts of a target's URL (an ntfy topic, a bot token) that no redactor can
recognise apart from the whole URL, so they never reach mamd's log: failures are told from their HTTP
status or their kind alone.
"""

from __future__ import annotations

import asyncio
import difflib
import ipaddress
import logging
import re
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, Literal

SEND_TIMEOUT_S = 15.0  # one message to one target, every retry Apprise might make included
_LOAD_LOCK = threading.Lock()
_HTTP_STATUS = re.compile(r"\berror=(\d{3})\b")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
Level = Literal["info", "warning", "error", "resolved"]


class _Loaded:
    apprise: Any = None  # the `apprise` module, once loaded
    manager: Any = None  # its plugin registry


def load() -> Any:
    """The `apprise` module, imported (with all its plugins) the first time it is asked for."""
    with _LOAD_LOCK:
        if _Loaded.apprise is None:
            with warnings.catch_warnings():
                # Apprise's e-mail plugin imports `imghdr` for PGPy, which Python deprecates (3.11, 3.12) and
                # then removes (Apprise shims it from 3.13); mamd sends no PGP mail. The filter covers the
                # import alone, in this block.
                warnings.filterwarnings(
                    "ignore", message="'imghdr' is deprecated", category=DeprecationWarning
                )
                import apprise
                from apprise.manager_plugins import NotificationManager

                manager = NotificationManager()  # type: ignore[no-untyped-call]  # untyped upstream
                manager.load_modules()  # type: ignore[no-untyped-call]  # all plugins: their schemes
            quiet = logging.getLogger("apprise")
            quiet.propagate = False  # its lines can quote a target's token; failures are said by mamd
            quiet.addHandler(logging.NullHandler())  # … and not by logging's last-resort stderr handler
            _Loaded.apprise, _Loaded.manager = apprise, manager
        return _Loaded.apprise


def loaded() -> bool:
    """Whether Apprise has been imported in this process."""
    return _Loaded.apprise is not None


def scheme_of(url: str) -> str | None:
    match = _SCHEME.match(url.strip())
    return match.group(1).lower() if match else None


def _asset() -> Any:
    apprise = load()
    return apprise.AppriseAsset(
        storage_mode="memory",  # nothing written under the service's home (systemd makes it read-only)
        service_timeout=SEND_TIMEOUT_S,
        language="en",
        pgp_autogen=False,
        pem_autogen=False,
    )


def url_problem(url: str) -> str | None:
    """What is wrong with an Apprise URL, naming its scheme and nothing after it; None when it is usable."""
    scheme = scheme_of(url)
    if scheme is None:
        return "expected an Apprise URL such as ntfy://ntfy.sh/TOPIC or json://HOST/PATH"
    apprise = load()
    if scheme in ("http", "https"):
        # Apprise reads the web address of some services as it is (ntfy.sh, Discord and Slack webhooks)
        if apprise.Apprise.instantiate(url, asset=_asset()) is not None:
            return None
        webhook = "jsons" if scheme == "https" else "json"
        return (
            f"a plain {scheme}:// address is no Apprise URL: write a webhook as {webhook}://HOST/PATH, or "
            "a service by its scheme (ntfy://, discord://, …)"
        )
    schemes = sorted({str(s).lower() for s in _Loaded.manager.schemas()})
    if scheme not in schemes:
        close = difflib.get_close_matches(scheme, schemes, n=1, cutoff=0.6)
        hint = f"; did you mean `{close[0]}://`?" if close else " (see Apprise's list of services)"
        return f"unknown notification scheme `{scheme}://`{hint}"
    plugin = _Loaded.manager[scheme]
    name = str(getattr(plugin, "service_name", scheme))
    if not getattr(plugin, "enabled", True):
        return f"`{scheme}://` ({name}) needs a Python package mamd does not install"
    if apprise.Apprise.instantiate(url, asset=_asset()) is None:
        return f"Apprise cannot read this {scheme}:// URL; check it against Apprise's page for {name}"
    return None


@dataclass(frozen=True)
class Sent:
    """How one message to one target went: `error` says why it failed, quoting nothing of the URL."""

    ok: bool
    error: str | None
    ms: float


class Service:
    """One configured target, ready to send."""

    def __init__(self, url: str) -> None:
        apprise = load()
        self._apprise = apprise.Apprise(asset=_asset())
        if not self._apprise.add(url):
            raise ValueError(url_problem(url) or "Apprise cannot use this URL")
        plugin = self._apprise[0]
        self.name = str(plugin.service_name)
        if _loopback(str(getattr(plugin, "host", "") or "")):
            # Apprise spaces the requests of one target 5.5 s apart to spare public services (ntfy.sh,
            # Discord); a receiver on this very machine needs no sparing
            plugin.request_rate_per_sec = 0

    async def send(self, title: str, body: str, level: Level, timeout_s: float = SEND_TIMEOUT_S) -> Sent:
        apprise = load()
        kinds = {
            "info": apprise.NotifyType.INFO,
            "warning": apprise.NotifyType.WARNING,
            "error": apprise.NotifyType.FAILURE,
            "resolved": apprise.NotifyType.SUCCESS,
        }
        started = time.monotonic()
        try:
            # Apprise stops waiting at its own deadline; ours also covers a call that never returns
            async with asyncio.timeout(timeout_s + 1.0):
                result = await self._apprise.async_notify(
                    body=body,
                    title=title,
                    notify_type=kinds[level],
                    body_format=apprise.NotifyFormat.TEXT,
                    timeout=timeout_s,
                )
        except TimeoutError:
            return Sent(False, f"no answer within {timeout_s:g} s", _ms(started))
        if result:
            return Sent(True, None, _ms(started))
        return Sent(False, failure(result), _ms(started))


def failure(result: Any) -> str:
    """Why Apprise could not deliver, from the HTTP status or the kind of failure alone."""
    status = str(getattr(getattr(result, "status", None), "name", "FAILURE"))
    lines = [str(entry.message) for service in result for entry in service.logs()]
    for line in lines:
        code = _HTTP_STATUS.search(line)
        if code:
            return f"answered HTTP {code.group(1)}"
    if status == "TIMEOUT":
        return "no answer in time"
    if any("connection error" in line.lower() for line in lines):
        return "could not connect, or no answer in time"
    return "delivery failed"


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
