"""The demo's notification receiver: an ntfy server on loopback, and what reached it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mamd.demo.servers import LoopbackServer, serve
from mamd.sim.ntfy import Receiver

TOPIC = "mamd-demo"


@dataclass
class DemoReceiver:
    receiver: Receiver
    server: LoopbackServer

    @property
    def url(self) -> str:
        """The Apprise URL of this receiver, as it goes into `notify:`."""
        return "ntfy://" + self.server.url.removeprefix("http://") + f"/{TOPIC}"

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.receiver.messages

    def leaked(self, secrets: Iterable[str]) -> list[str]:
        """Which of `secrets` appear in any title or text that arrived."""
        texts = [f"{m.get('title')}\n{m.get('message')}" for m in self.messages]
        return [secret for secret in secrets if secret and any(secret in text for text in texts)]

    async def close(self) -> None:
        await self.server.close()


async def start_receiver() -> DemoReceiver:
    receiver = Receiver()
    return DemoReceiver(receiver, await serve(receiver.app))
