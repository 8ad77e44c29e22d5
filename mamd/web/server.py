"""mamd's HTTP listener: the web app behind aiohttp's `AppRunner`, on a socket with limits.

aiohttp answers a request it cannot parse (a bad byte in the query, a bad header) before any
middleware runs, in plain text that quotes the raw request line, `?apikey=KEY` included, and
logs a traceback at error level (aio-libs/aiohttp#3287: there is no hook for it). mamd's
connections therefore use a `RequestHandler` whose `handle_error` answers in the error
envelope, quotes nothing of the request, and logs one warning per source per minute.

The same connections are bounded: at most `MAX_CONNECTIONS` at once and
`MAX_CONNECTIONS_PER_SOURCE` from one address other than loopback (more are answered 503 and
closed), a first request line and headers within `HEAD_TIMEOUT_S`, and an idle keep-alive
connection closed after `IDLE_TIMEOUT_S` (aiohttp's default keeps one for an hour).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import secrets
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from mamd.logs import get_logger
from mamd.web.errors import CODES
from mamd.web.keys import REFUSALS, RUNTIME
from mamd.web.refusals import RefusalLog

log = get_logger("mamd.web")

MAX_CONNECTIONS = 256  # the unit's LimitNOFILE=1024 leaves room for the database and upstream clients
MAX_CONNECTIONS_PER_SOURCE = 32
HEAD_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 15.0
LINGER_S = 2.0  # after an answer, the rest of an unread body may still arrive for this long (aiohttp: 10)
MAX_REASON_CHARS = 120


def is_loopback(address: str | None) -> bool:
    try:
        ip: Any = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_loopback)


def envelope_bytes(code: str, message: str, request_id: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "request_id": request_id}}).encode()


class Connections:
    """How many connections are open, in all and per source address."""

    def __init__(self, total: int = MAX_CONNECTIONS, per_source: int = MAX_CONNECTIONS_PER_SOURCE) -> None:
        self.total, self.per_source = total, per_source
        self._open: Counter[str] = Counter()

    def admit(self, source: str) -> bool:
        if sum(self._open.values()) >= self.total:
            return False
        if not is_loopback(source) and self._open[source] >= self.per_source:
            return False
        self._open[source] += 1
        return True

    def release(self, source: str) -> None:
        self._open[source] -= 1
        if self._open[source] <= 0:
            del self._open[source]

    def __len__(self) -> int:
        return sum(self._open.values())


_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
    b"Retry-After: 5\r\n"
)


class _Protocol(web.RequestHandler):
    """One HTTP connection: admitted under the limits, timed, and refused in the error envelope."""

    def __init__(
        self,
        manager: web.Server,
        *,
        connections: Connections,
        refusals: RefusalLog,
        count: Callable[[int], None],
        head_timeout_s: float,
        **options: Any,
    ) -> None:
        super().__init__(manager, **options)
        self._connections = connections
        self._refusals = refusals
        self._count = count
        self._head_timeout_s = head_timeout_s
        self._source = ""
        self._admitted = False
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._source = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not self._connections.admit(self._source):
            self._refusals.refused("too_many_connections", self._source, open=len(self._connections))
            self._count(503)
            request_id = secrets.token_hex(8)
            body = envelope_bytes(
                "unavailable", "too many connections; try again in a few seconds", request_id
            )
            head = f"X-Request-Id: {request_id}\r\nContent-Length: {len(body)}\r\n\r\n"
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(_BUSY + head.encode() + body)
            transport.close()
            return
        self._admitted = True
        super().connection_made(transport)
        self._head_timer = asyncio.get_running_loop().call_later(self._head_timeout_s, self._head_overdue)

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return  # refused in connection_made: aiohttp never saw it
        self._admitted = False
        self._connections.release(self._source)
        self.request_began()
        super().connection_lost(exc)

    def request_began(self) -> None:
        """The first request's line and headers have arrived: the head deadline no longer applies."""
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_overdue(self) -> None:
        # later requests on the connection are bounded by aiohttp's keep-alive timeout
        self._head_timer = None
        self._refusals.refused("slow_request", self._source, waited_s=self._head_timeout_s)
        self.force_close()

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        # after mamd has answered a body it could not read, aiohttp drains the rest of it and logs
        # the same decoding error again, as a traceback: once is enough, and at warning level
        error = kwargs.get("exc_info")
        if isinstance(error, web.RequestPayloadError | HttpProcessingError):
            self._refusals.refused(
                "unreadable_request", self._source, status=400, reason=_reason(error, None)
            )
            return
        super().log_exception(*args, **kwargs)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            # an answer has begun: nothing more can be said on this connection (as aiohttp does)
            raise ConnectionError("a response was already being sent; the connection is closed")
        request_id = secrets.token_hex(8)
        self._count(status)
        if 400 <= status < 500:  # the client sent something aiohttp could not parse
            reason = _reason(exc, message)
            self._refusals.refused("unreadable_request", self._source, status=status, reason=reason)
            text = f"the request could not be read as HTTP: {reason}"
        else:  # a failure of mamd's own (the middleware answers all but the rarest): as loud as ever
            log.error("http.handler_failed", status=status, request_id=request_id, exc_info=exc)
            text = "internal error; the daemon log has the details"
        response = web.Response(
            status=status,
            body=envelope_bytes(CODES.get(status, "error"), text, request_id),
            content_type="application/json",
            headers={"X-Request-Id": request_id},
        )
        response.force_close()
        return response


def _reason(exc: BaseException | None, message: str | None) -> str:
    """What was wrong, in words only: aiohttp's messages go on to quote the raw line (and its key)."""
    if isinstance(exc, HttpProcessingError):
        text = exc.message
    elif isinstance(exc, web.RequestPayloadError):  # "400, message:" and then the reason
        text = str(exc).partition("message:")[2] or str(exc)
    else:
        text = message or ""
    lines = text.strip().splitlines()
    return (lines[0].rstrip(":").strip() if lines else "bad request")[:MAX_REASON_CHARS]


class _Site(web.BaseSite):
    """A TCP site whose connections are `_Protocol`s."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, make: Callable[[], _Protocol]) -> None:
        super().__init__(runner)
        self._host, self._port, self._make = host, port, make
        self.port = port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = await asyncio.get_running_loop().create_server(
            self._make, self._host, self._port, reuse_address=True
        )
        self._server = server
        self.port = int(server.sockets[0].getsockname()[1])  # the one chosen for port 0


class HttpServer:
    """Serves mamd's `app` on `host:port` until `stop()`; `port` is the bound one (for port 0)."""

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        connections: Connections | None = None,
        head_timeout_s: float = HEAD_TIMEOUT_S,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        shutdown_timeout_s: float = 1.0,
    ) -> None:
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout_s)
        self._host, self._port = host, port
        self._refusals = app[REFUSALS]
        counters = app[RUNTIME].counters
        self._count: Callable[[int], None] = lambda status: counters.update((f"http_{status}",))
        self.connections = Connections() if connections is None else connections
        self._head_timeout_s, self._idle_timeout_s = head_timeout_s, idle_timeout_s
        self._site: _Site | None = None

    async def start(self) -> None:
        """Bind and listen; `OSError` when the address cannot be used (the runner is cleaned up)."""
        await self._runner.setup()
        manager = self._runner.server
        assert manager is not None
        loop = asyncio.get_running_loop()

        def make() -> _Protocol:
            return _Protocol(
                manager,
                loop=loop,
                connections=self.connections,
                refusals=self._refusals,
                count=self._count,
                head_timeout_s=self._head_timeout_s,
                keepalive_timeout=self._idle_timeout_s,
                lingering_time=LINGER_S,
                access_log=None,
            )

        self._site = _Site(self._runner, self._host, self._port, make)
        try:
            await self._site.start()
        except BaseException:
            await self._runner.cleanup()
            raise

    @property
    def port(self) -> int:
        assert self._site is not None
        return self._site.port

    async def stop(self) -> None:
        await self._runner.cleanup()


def request_began(request: web.BaseRequest) -> None:
    """Called by the first middleware: a request is being handled, so its head arrived in time."""
    protocol = request.protocol
    if isinstance(protocol, _Protocol):
        protocol.request_began()
