"""A notification receiver: what an ntfy server or a JSON webhook is to Apprise, on loopback.

It takes what Apprise's `ntfy://` sends (a JSON object with `topic`, `title`, `message` POSTed to `/`;
also ntfy's plain form, the message as the body of a POST to `/TOPIC` with a `Title` header) and what
its `json://` sends (`{"version", "title", "message", "type"}` POSTed to the URL's path), and keeps
every message it accepted. For tests it can answer the next requests with chosen statuses (500, then
200) or hang until released:

- `GET /__sim/messages`: the messages accepted, oldest first (`style`: ntfy or json, `path`, `topic`,
  `title`, `message`, `type`);
- `GET /__sim/requests`: every request, with the status it was answered;
- `POST /__sim/plan` with `{"statuses": [500, 500], "hang": false}`: the next answers (then 200), or
  every request hangs until the plan changes;
- `POST /__sim/reset`: forget everything, answer 200 again.

The demo serves one in its own process; `python -m mamd.sim.ntfy` runs one alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mamd.sim import serve

MAX_MESSAGES = 10_000  # a receiver a test floods still answers in bounded memory


@dataclass
class Receiver:
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # the next answers, then 200
    hang: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/__sim/messages", self._messages)
        app.router.add_get("/__sim/requests", self._requests)
        app.router.add_post("/__sim/plan", self._plan)
        app.router.add_post("/__sim/reset", self._reset)
        app.router.add_route("POST", "/{path:.*}", self._receive)
        app.router.add_route("PUT", "/{path:.*}", self._receive)

        async def released(app: web.Application) -> None:
            self.release.set()  # hanging requests end, so the server can stop

        app.on_shutdown.append(released)
        return app

    def plan(self, statuses: Sequence[int] = (), hang: bool = False) -> None:
        self.statuses, self.hang = list(statuses), hang
        if not hang:
            self.release.set()
            self.release = asyncio.Event()

    async def _receive(self, request: web.Request) -> web.Response:
        raw = (await request.read()).decode("utf-8", errors="replace")
        status = self.statuses.pop(0) if self.statuses else 200
        self.requests.append({"at": time.time(), "path": request.path, "status": status, "hang": self.hang})
        del self.requests[:-MAX_MESSAGES]
        if self.hang:
            await self.release.wait()
            return web.Response(status=503, text="released")
        if status >= 300:
            return web.json_response({"error": "the receiver was told to fail"}, status=status)
        self.messages.append(_message(request, raw))
        del self.messages[:-MAX_MESSAGES]
        return web.json_response({"id": len(self.messages), "event": "message"})

    async def _messages(self, request: web.Request) -> web.Response:
        return web.json_response(self.messages)

    async def _requests(self, request: web.Request) -> web.Response:
        return web.json_response(self.requests)

    async def _plan(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.plan([int(s) for s in body.get("statuses") or ()], bool(body.get("hang")))
        return web.json_response({"statuses": self.statuses, "hang": self.hang})

    async def _reset(self, request: web.Request) -> web.Response:
        self.messages.clear()
        self.requests.clear()
        self.plan()
        return web.json_response({"reset": True})


def _message(request: web.Request, raw: str) -> dict[str, Any]:
    """One accepted message, read as ntfy or Apprise's JSON webhook would read it."""
    try:
        body = json.loads(raw) if raw.lstrip().startswith("{") else None
    except ValueError:
        body = None
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
    if isinstance(body, dict) and "topic" in body:
        style, topic = "ntfy", str(body.get("topic"))
    elif isinstance(body, dict) and "version" in body:
        style, topic = "json", None
    else:
        style, topic = "ntfy", request.path.strip("/")
        body = {"title": request.headers.get("Title") or request.headers.get("X-Title"), "message": raw}
    return {
        "style": style,
        "path": request.path,
        "topic": topic,
        "title": body.get("title"),
        "message": body.get("message"),
        "type": body.get("type") or body.get("priority") or request.headers.get("X-Priority"),
        "headers": headers,
        "raw": raw,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = serve.argument_parser("mamd.sim.ntfy", "A notification receiver (ntfy and JSON webhooks)", 0)
    args: argparse.Namespace = parser.parse_args(argv)
    return serve.run("mamd.sim.ntfy", args, lambda _: Receiver().app)


if __name__ == "__main__":
    sys.exit(main())
