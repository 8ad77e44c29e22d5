"""The targets of `notify:` as mamd holds them (keyed, never by URL), and the test message sent to each."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mamd.config import Config
from mamd.notify import routes, services
from mamd.notify.messages import test_message, with_link


@dataclass
class Target:
    """One entry of `notify:` as the notifier holds it; `key` names it in the outbox (never its URL)."""

    index: int
    key: str
    url: str
    scheme: str
    events: tuple[str, ...]
    min_level: str
    service: services.Service | None = None

    @property
    def label(self) -> str:
        return f"notify[{self.index}]"

    def wants(self, topic: str, level: str) -> bool:
        return routes.wants(self.events, self.min_level, topic, level)


def target_key(url: str) -> str:
    return hashlib.blake2b(url.encode(), digest_size=8).hexdigest()


def targets_of(config: Config) -> list[Target]:
    return [
        Target(
            index,
            target_key(entry.url.reveal()),
            entry.url.reveal(),
            services.scheme_of(entry.url.reveal()) or "?",
            tuple(entry.events),
            entry.min_level,
        )
        for index, entry in enumerate(config.notify)
    ]


@dataclass(frozen=True)
class TestResult:
    target: str
    service: str
    ok: bool
    error: str | None
    ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "service": self.service,
            "ok": self.ok,
            "error": self.error,
            "ms": self.ms,
        }


def service_level(level: str) -> services.Level:
    return "error" if level == "error" else "warning" if level == "warning" else "info"


async def send_tests(targets: list[Target], config: Config, redact: Callable[[str], str]) -> list[TestResult]:
    """One test message to each target, at once and past any outbox (`mamd notify-test`)."""
    if not targets:
        return []
    await asyncio.to_thread(services.load)
    host = socket.gethostname()

    async def one(target: Target) -> TestResult:
        try:
            if target.service is None:
                target.service = await asyncio.to_thread(services.Service, target.url)
        except ValueError as exc:
            return TestResult(target.label, f"{target.scheme}://", False, redact(str(exc)), 0.0)
        service = target.service
        title, body = test_message(target.label, service.name, host, config.dry_run)
        body = with_link(redact(body), config.http.public_url)
        sent = await service.send(redact(title), body, "info")
        return TestResult(target.label, service.name, sent.ok, sent.error, sent.ms)

    return list(await asyncio.gather(*(one(target) for target in targets)))
