"""Nothing in a request stops mamd: hostile input gets a 400 in the envelope, never a 500 or an echo.

The app runs in mamd's own HTTP server (timeouts, connection limits, aiohttp's parser errors in the
envelope) on loopback; requests go through real sockets, raw where a client library would refuse
to send them.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web

from mamd.config import load_config
from mamd.logs import MAX_LINE_CHARS, configure_logging
from mamd.runtime import Runtime
from mamd.web import create_app
from mamd.web.hosts import machine_names
from mamd.web.keys import GUESSES, REFUSALS
from mamd.web.refusals import GuessLimit, RefusalLog
from mamd.web.server import Connections, HttpServer
from tests.support.configs import API_KEY

HASH = "0123456789abcdef0123456789abcdef01234567"
KEY = {"X-Api-Key": API_KEY}


class Ticking:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Served:
    app: web.Application
    server: HttpServer
    url: str
    port: int
    ticks: Ticking


@pytest.fixture
def log_stream(runtime: Runtime) -> Iterator[io.StringIO]:
    """mamd's logging, as the daemon sets it up, into a buffer the test reads as JSON lines."""
    stream = io.StringIO()
    configure_logging("debug", "json", runtime.redactor, stream)
    root = logging.getLogger()
    foreign = [h for h in root.handlers if not getattr(h, "_mamd", False)]
    for handler in foreign:
        root.removeHandler(handler)
    yield stream
    for handler in [h for h in root.handlers if getattr(h, "_mamd", False)]:
        root.removeHandler(handler)
    for handler in foreign:
        root.addHandler(handler)
    structlog.reset_defaults()


def log_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = stream.getvalue().splitlines()
    assert all(len(line) <= MAX_LINE_CHARS + 100 for line in lines)
    return [json.loads(line) for line in lines]


def assert_no_error_logged(stream: io.StringIO) -> None:
    for event in log_lines(stream):
        assert event["level"] not in ("error", "critical"), event
        assert "exception" not in event, event
    assert API_KEY not in stream.getvalue()


@pytest.fixture
async def served(runtime: Runtime, log_stream: io.StringIO) -> AsyncIterator[Served]:
    ticks = Ticking()
    app = create_app(runtime)
    app[GUESSES] = GuessLimit(clock=ticks)
    app[REFUSALS] = RefusalLog(clock=ticks)
    server = HttpServer(
        app,
        "127.0.0.1",
        0,
        connections=Connections(total=6),
        head_timeout_s=0.5,
        idle_timeout_s=0.5,
    )
    await server.start()
    yield Served(app, server, f"http://127.0.0.1:{server.port}", server.port, ticks)
    await server.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client:
        yield client


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, Any]:
        assert self.headers.get("content-type", "").startswith("application/json"), self
        document = json.loads(self.body)
        assert set(document) == {"error"}
        error: dict[str, Any] = document["error"]
        assert error["request_id"] == self.headers["x-request-id"]
        return error


async def raw(port: int, data: bytes, limit_s: float = 5.0) -> Answer:
    """Send `data` as it is and read one response (each read bounded by `limit_s`)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), limit_s)
        except asyncio.IncompleteReadError as closed:
            head = closed.partial  # closed without an answer
        lines = head.decode("latin-1").strip().split("\r\n")
        status = int(lines[0].split()[1]) if lines[0] else 0
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(reader.readexactly(length), limit_s) if length else b""
    finally:
        writer.close()
    return Answer(status, headers, body)


def request(method: str, target: str, body: bytes = b"", **headers: str) -> bytes:
    head = {"Host": "127.0.0.1", "Connection": "close", **headers}
    if body or method == "POST":
        head.setdefault("Content-Length", str(len(body)))
    lines = "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in head.items())
    return f"{method} {target} HTTP/1.1\r\n{lines}\r\n".encode() + body


def hook(body: bytes, content_type: str, **headers: str) -> bytes:
    return request("POST", "/hooks/qbittorrent", body, **{"Content-Type": content_type, **KEY, **headers})


# -- the malformed inputs that answered 500 ---------------------------------------------------------

GETS = [
    pytest.param("/api/v1/wanted/%C2%B9", id="wanted-id-superscript-one"),
    pytest.param("/api/v1/wanted/%D9%A3", id="wanted-id-arabic-three"),
    pytest.param("/api/v1/wanted?limit=%C2%B9", id="wanted-limit-superscript"),
    pytest.param("/api/v1/wanted?after=%C2%B2", id="wanted-after-superscript"),
    pytest.param("/api/v1/events?since=%C2%B9", id="events-since-superscript"),
    pytest.param("/api/v1/events?limit=%C2%B9", id="events-limit-superscript"),
    pytest.param("/api/v1/wanted/12345678901234567890123456", id="wanted-id-26-digits"),
    pytest.param("/api/v1/wanted?after=99999999999999999999", id="wanted-after-beyond-sqlite"),
    pytest.param("/api/v1/events?since=99999999999999999999", id="events-since-beyond-sqlite"),
    pytest.param("/api/v1/events?limit=" + "9" * 5000, id="events-limit-5000-digits"),
]


@pytest.mark.parametrize("target", GETS)
async def test_a_number_that_is_not_plain_ascii_or_too_big_is_a_bad_request(
    served: Served, log_stream: io.StringIO, target: str
) -> None:
    answer = await raw(served.port, request("GET", target, **KEY))
    assert answer.status == 400, answer
    error = answer.error()
    assert error["code"] == "bad_request"
    assert "whole number" in error["message"]
    assert_no_error_logged(log_stream)
    [line] = [e for e in log_lines(log_stream) if e["event"] == "http.request"]
    assert line["level"] == "warning"


async def test_the_largest_sqlite_number_is_still_accepted(
    served: Served, session: aiohttp.ClientSession
) -> None:
    async with session.get(f"{served.url}/api/v1/wanted/{2**63 - 1}", headers=KEY) as response:
        assert response.status == 404  # a well-formed id that names no book
    async with session.get(f"{served.url}/api/v1/events?since={2**63 - 1}", headers=KEY) as response:
        assert response.status == 200


FORM, JSON = "application/x-www-form-urlencoded", "application/json"
H = HASH.encode()
DEEP_JSON = b'{"hash": "' + H + b'", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
BIG_NUMBER = b'{"hash": "' + H + b'", "size": ' + b"9" * 5000 + b"}"
MULTIPART_NOT_UTF8 = b'--xx\r\nContent-Disposition: form-data; name="hash"\r\n\r\n\xff\xfe\r\n--xx--\r\n'
HOOK_BODIES = [
    pytest.param(hook(b"hash=" + H + b"&size=%C2%B2", FORM), id="form-size-superscript"),
    pytest.param(hook(b"hash=" + H + b"&name=\xff\xfe", FORM), id="form-not-utf8"),
    pytest.param(hook(b"hash=" + H, FORM + "; charset=bogus"), id="form-bogus-charset"),
    pytest.param(hook(b'{"hash": "' + H + b'"}', JSON + "; charset=bogus"), id="json-bogus-charset"),
    pytest.param(hook(DEEP_JSON, JSON), id="json-10000-deep"),
    pytest.param(hook(BIG_NUMBER, JSON), id="json-5000-digit-number"),
    pytest.param(
        hook(json.dumps({"hash": HASH, "size": 2**70}).encode(), JSON), id="json-size-beyond-sqlite"
    ),
    pytest.param(hook(json.dumps({"hash": HASH, "num_files": "²"}).encode(), JSON), id="json-num-files-sup"),
    pytest.param(hook(b"garbage, not gzip", JSON, Content_Encoding="gzip"), id="gzip-garbage"),
    pytest.param(hook(b"--xx\r\nbroken\r\n\r\n", "multipart/form-data; boundary=xx"), id="multipart-garbage"),
    pytest.param(hook(b"--xx\r\n", "multipart/form-data"), id="multipart-without-boundary"),
    pytest.param(hook(MULTIPART_NOT_UTF8, "multipart/form-data; boundary=xx"), id="multipart-not-utf8"),
]


@pytest.mark.parametrize("data", HOOK_BODIES)
async def test_a_hook_body_mamd_cannot_read_is_a_bad_request(
    served: Served, runtime: Runtime, log_stream: io.StringIO, data: bytes
) -> None:
    answer = await raw(served.port, data)
    assert answer.status == 400, answer
    assert answer.error()["code"] == "bad_request"
    assert await runtime.inbox.pending_count() == 0
    assert_no_error_logged(log_stream)


async def test_a_key_with_bytes_that_are_not_utf8_is_refused_not_an_error(
    served: Served, log_stream: io.StringIO
) -> None:
    data = request("GET", "/api/v1/events").replace(b"\r\n\r\n", b"\r\nX-Api-Key: \xff\xfekey\r\n\r\n", 1)
    answer = await raw(served.port, data)
    assert answer.status == 401, answer
    assert answer.error()["code"] == "unauthorized"
    assert_no_error_logged(log_stream)


async def test_a_bad_byte_in_the_query_is_answered_in_the_envelope_without_echoing_the_key(
    served: Served, log_stream: io.StringIO
) -> None:
    target = f"/status?apikey={API_KEY}&x=".encode() + b"\xff"
    data = request("GET", "/status").replace(b"/status", target, 1)
    answer = await raw(served.port, data)
    assert answer.status == 400, answer
    error = answer.error()
    assert error["code"] == "bad_request"
    assert error["message"].startswith("the request could not be read as HTTP: ")
    assert API_KEY.encode() not in answer.body
    assert b"apikey" not in answer.body
    assert_no_error_logged(log_stream)
    [warning] = [e for e in log_lines(log_stream) if e["event"] == "http.unreadable_request"]
    assert warning["level"] == "warning"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(request("GET", "/healthz", X_Bad="\x01"), id="control-in-header"),
        pytest.param(b"NOT-HTTP\r\n\r\n", id="not-http"),
        pytest.param(request("GET", "/healthz", X_Long="a" * 20_000), id="header-too-long"),
    ],
)
async def test_what_aiohttp_cannot_parse_is_answered_in_the_envelope(
    served: Served, log_stream: io.StringIO, data: bytes
) -> None:
    answer = await raw(served.port, data)
    assert answer.status == 400, answer
    assert answer.error()["code"] == "bad_request"
    assert_no_error_logged(log_stream)


async def test_extra_data_after_a_request_costs_one_short_warning(
    served: Served, log_stream: io.StringIO
) -> None:
    """A request followed by 128 KB of junk once wrote a 128 KB error line each time."""
    junk = b"X" * 128 * 1024
    for _ in range(3):
        await raw(
            served.port,
            request("GET", "/healthz").replace(b"Connection: close", b"Connection: keep-alive") + junk,
        )
    assert len(log_stream.getvalue()) < 8 * 1024
    assert_no_error_logged(log_stream)


# -- the Host header -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/status", "/hooks/qbittorrent", "/nowhere"])
async def test_a_request_naming_another_host_is_refused_421_probes_and_hook_included(
    served: Served, runtime: Runtime, path: str
) -> None:
    method = "POST" if path.startswith("/hooks") else "GET"
    body = f"hash={HASH}".encode() if method == "POST" else b""
    data = request(
        method,
        path,
        body,
        Host="rebind.attacker.example",
        Content_Type="application/x-www-form-urlencoded",
        **KEY,
    )
    answer = await raw(served.port, data)
    assert answer.status == 421, answer
    error = answer.error()
    assert error["code"] == "misdirected"
    assert "http.allowed_hosts" in error["message"]
    assert await runtime.inbox.pending_count() == 0


async def test_a_flood_of_requests_for_another_host_is_logged_once(
    served: Served, log_stream: io.StringIO
) -> None:
    for _ in range(20):
        assert (await raw(served.port, request("GET", "/status", Host="rebind.example"))).status == 421
    events = [e for e in log_lines(log_stream) if e["event"].startswith(("http.wrong_host", "http.request"))]
    assert [(e["event"], e["host"]) for e in events] == [("http.wrong_host", "rebind.example")]


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:{port}",
        "localhost",
        "LOCALHOST:{port}",
        "[::1]:{port}",
        "127.0.0.2",
        "{machine}",
        "{machine}:{port}",
    ],
)
async def test_mamds_own_names_and_addresses_pass_the_host_check(served: Served, host: str) -> None:
    name = host.format(port=served.port, machine=sorted(machine_names() - {"localhost"})[0])
    answer = await raw(served.port, request("GET", "/healthz", Host=name))
    assert answer.status == 200, answer


async def test_a_request_without_host_passes_the_host_check(served: Served) -> None:
    answer = await raw(served.port, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert answer.status == 200, answer


async def test_a_name_in_allowed_hosts_passes_the_host_check(
    served: Served, runtime: Runtime, config_file: Any
) -> None:
    data = request("GET", "/healthz", Host="NAS.example.lan.:8787")
    assert (await raw(served.port, data)).status == 421
    runtime.config = load_config(config_file({"http": {"allowed_hosts": ["nas.example.lan"]}}))
    assert (await raw(served.port, data)).status == 200


# -- wrong keys -----------------------------------------------------------------------------------


async def test_wrong_keys_are_logged_once_a_minute_per_source_with_a_count_and_slowed_after_ten(
    served: Served, session: aiohttp.ClientSession, log_stream: io.StringIO
) -> None:
    statuses = []
    for n in range(15):
        async with session.get(
            f"{served.url}/api/v1/events", headers={"X-Api-Key": f"guess-{n:020d}"}
        ) as response:
            statuses.append(response.status)
            if response.status == 429:
                retry_after = int(response.headers["Retry-After"])
                assert (await response.json())["error"]["code"] == "throttled"
    assert statuses == [401] * 10 + [429] * 5
    assert 1 <= retry_after <= 60
    # while slowed, even the right key waits: the key is not looked at
    async with session.get(f"{served.url}/api/v1/events", headers=KEY) as response:
        assert response.status == 429
    auth = [e for e in log_lines(log_stream) if e["event"].startswith("http.auth_failed")]
    assert [(e["event"], e["level"]) for e in auth] == [("http.auth_failed", "warning")]
    assert not [e for e in log_lines(log_stream) if e["event"] == "http.request"]
    served.ticks.now += 61
    served.app[REFUSALS].flush()
    summary = [e for e in log_lines(log_stream) if e["event"] == "http.auth_failed_summary"]
    assert [(e["count"], e["remote"]) for e in summary] == [(16, "127.0.0.1")]
    async with session.get(f"{served.url}/api/v1/events", headers=KEY) as response:
        assert response.status == 200  # a minute later the right key works again


async def test_a_missing_key_is_summarised_but_not_slowed(
    served: Served, session: aiohttp.ClientSession
) -> None:
    for _ in range(15):
        async with session.get(f"{served.url}/api/v1/events") as response:
            assert response.status == 401
    async with session.get(f"{served.url}/api/v1/events", headers=KEY) as response:
        assert response.status == 200


# -- slow and many connections ---------------------------------------------------------------------


async def test_a_connection_that_sends_nothing_is_closed(served: Served) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


async def test_a_request_head_that_trickles_is_closed(served: Served) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        for chunk in (b"GET /healthz HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"X-Slow: 1\r\n"):
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.2)
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


async def test_an_idle_keep_alive_connection_is_closed(served: Served) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(b'{"status": "ok"}'), 5)
        assert first.startswith(b"HTTP/1.1 200")
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()


async def test_a_hook_body_that_trickles_gets_408(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mamd.web.hooks.BODY_TIMEOUT_S", 0.3)
    body = f"hash={HASH}".encode()
    head = hook(body, "application/x-www-form-urlencoded")[: -len(body)]
    answer = await raw(served.port, head + body[:5])  # the rest never comes
    assert answer.status == 408, answer
    assert answer.error()["code"] == "timeout"


async def test_connections_beyond_the_cap_are_answered_503_and_closed(served: Served) -> None:
    held = [await asyncio.open_connection("127.0.0.1", served.port) for _ in range(6)]
    try:
        await asyncio.sleep(0.05)
        assert len(served.server.connections) == 6
        answer = await raw(served.port, request("GET", "/healthz"))
        assert answer.status == 503, answer
        assert answer.error()["code"] == "unavailable"
    finally:
        for _, writer in held:
            writer.close()
    for _ in range(200):  # the closed ones free their places
        if len(served.server.connections) == 0:
            break
        await asyncio.sleep(0.01)
    assert (await raw(served.port, request("GET", "/healthz"))).status == 200


def test_one_source_other_than_loopback_cannot_take_every_connection() -> None:
    connections = Connections(total=10, per_source=3)
    assert [connections.admit("192.0.2.7") for _ in range(4)] == [True, True, True, False]
    assert connections.admit("192.0.2.8")
    assert all(connections.admit("127.0.0.1") for _ in range(6))  # loopback: only the total counts
    assert not connections.admit("127.0.0.1")
    connections.release("192.0.2.7")
    assert len(connections) == 9
    assert connections.admit("192.0.2.7")


# -- the refusal log without a server --------------------------------------------------------------


def test_the_refusal_log_says_the_first_at_once_and_the_rest_as_one_count(log_stream: io.StringIO) -> None:
    ticks = Ticking()
    refusals = RefusalLog(clock=ticks)
    assert refusals.refused("auth_failed", "192.0.2.1", reason="wrong key")
    assert not refusals.refused("auth_failed", "192.0.2.1", reason="wrong key")
    assert refusals.refused("auth_failed", "192.0.2.2", reason="no key")  # another source: its own line
    ticks.now += 30
    refusals.flush()
    assert [e["event"] for e in log_lines(log_stream)] == ["http.auth_failed", "http.auth_failed"]
    ticks.now += 31
    assert refusals.refused("auth_failed", "192.0.2.1", reason="wrong key")  # a new minute, said again
    events = log_lines(log_stream)
    assert [(e["event"], e.get("count")) for e in events[2:]] == [
        ("http.auth_failed_summary", 2),
        ("http.auth_failed", None),
    ]
    refusals.close()
    assert [e["event"] for e in log_lines(log_stream)][4:] == []  # single refusals need no summary


def test_the_refusal_log_remembers_a_bounded_number_of_sources(log_stream: io.StringIO) -> None:
    refusals = RefusalLog(clock=Ticking(), max_sources=3)
    for n in range(10):
        refusals.refused("auth_failed", f"192.0.2.{n}")
        refusals.refused("auth_failed", f"192.0.2.{n}")
    assert len(refusals._windows) == 3
    assert len([e for e in log_lines(log_stream) if e["event"] == "http.auth_failed_summary"]) == 7


def test_the_guess_limit_forgets_a_wrong_key_after_a_minute() -> None:
    ticks = Ticking()
    guesses = GuessLimit(clock=ticks, per_window=3)
    for _ in range(3):
        assert guesses.wait_s("192.0.2.1") == 0
        guesses.wrong("192.0.2.1")
        ticks.now += 10
    assert guesses.wait_s("192.0.2.1") == pytest.approx(30)
    assert guesses.wait_s("192.0.2.2") == 0
    ticks.now += 30
    assert guesses.wait_s("192.0.2.1") == 0
