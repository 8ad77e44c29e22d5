"""The request chokepoint against a real local server: timeouts, retries, Retry-After, error kinds, state."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from mamd.backoff import Backoff
from mamd.clients.errors import NotFound, Rejected, Throttled, Unauthorized, Unavailable
from mamd.clients.upstream import NO_RETRY, RetryPolicy, Upstream, retry_after_seconds

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Script:
    """Answers requests one after the other from a list; records what came in."""

    def __init__(self, *answers: Handler) -> None:
        self.answers = list(answers)
        self.requests: list[web.Request] = []

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return await answer(request)


def status(code: int, body: str = "", headers: dict[str, str] | None = None) -> Handler:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(status=code, text=body, headers=headers)

    return answer


def json_ok(data: Any) -> Handler:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.json_response(data)

    return answer


def hang(seconds: float) -> Handler:
    async def answer(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.json_response({})

    return answer


class Harness:
    def __init__(self, server: TestServer, session: aiohttp.ClientSession) -> None:
        self.server, self.session = server, session
        self.states: list[tuple[str, str | None]] = []
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)  # recorded, not waited: tests never sleep for real

    def upstream(self, **kwargs: Any) -> Upstream:
        options: dict[str, Any] = {
            "session": self.session,
            "service": "fake",
            "base_url": lambda: str(self.server.make_url("")),
            "timeout_s": 2.0,
            "retry": RetryPolicy(Backoff(0.1, 1.0, give_up_after=3, jitter=0.5), max_retry_after_s=30),
            "sleep": self.sleep,
            "on_state": lambda state, error: self.states.append((state, error)),
        }
        options.update(kwargs)
        return Upstream(**options)


@pytest.fixture
async def serve(aiohttp_server: Any) -> Any:
    sessions: list[aiohttp.ClientSession] = []

    async def start(script: Script) -> Harness:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await script(request)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        server = await aiohttp_server(app)
        session = aiohttp.ClientSession()
        sessions.append(session)
        return Harness(server, session)

    yield start
    for session in sessions:
        await session.close()


async def test_a_json_answer_is_decoded_and_the_service_reported_ok(serve: Any) -> None:
    harness = await serve(Script(json_ok({"a": 1})))
    reply = await harness.upstream().request("GET", "/x", params={"q": "1"})
    assert reply.data == {"a": 1}
    assert harness.states == [("ok", None)]


async def test_a_5xx_is_retried_with_growing_backoff_then_succeeds(serve: Any) -> None:
    script = Script(status(500, "boom"), status(503), json_ok({"ok": True}))
    harness = await serve(script)
    reply = await harness.upstream().request("GET", "/x")
    assert reply.data == {"ok": True}
    assert len(script.requests) == 3
    assert len(harness.sleeps) == 2
    assert harness.sleeps[0] <= 0.1
    assert harness.sleeps[1] <= 0.2


async def test_a_5xx_that_lasts_is_unavailable_and_the_service_down(serve: Any) -> None:
    script = Script(status(500, "boom"))
    harness = await serve(script)
    with pytest.raises(Unavailable, match="failed with 500"):
        await harness.upstream().request("GET", "/x")
    assert len(script.requests) == 3
    assert harness.states[-1][0] == "down"


async def test_a_timeout_is_unavailable_and_retried(serve: Any) -> None:
    script = Script(hang(5))
    harness = await serve(script)
    with pytest.raises(Unavailable, match=r"no answer within 0\.2 s"):
        await harness.upstream(timeout_s=0.2, retry=RetryPolicy(Backoff(0.01, 8.0, give_up_after=2))).request(
            "GET", "/x"
        )
    assert len(script.requests) == 2


async def test_garbage_instead_of_json_is_unavailable(serve: Any) -> None:
    harness = await serve(Script(status(200, "<html>login</html>")))
    with pytest.raises(Unavailable, match="not JSON: '<html>login</html>'"):
        await harness.upstream(retry=NO_RETRY).request("GET", "/x")


async def test_nothing_listening_is_unavailable(serve: Any) -> None:
    harness = await serve(Script(json_ok({})))
    upstream = harness.upstream(base_url=lambda: "http://127.0.0.1:9", retry=NO_RETRY)
    with pytest.raises(Unavailable, match="cannot connect"):
        await upstream.request("GET", "/x")


@pytest.mark.parametrize("code", [401, 403])
async def test_a_refused_credential_is_unauthorized_at_once_and_never_retried(serve: Any, code: int) -> None:
    script = Script(status(code, "Unauthorized"))
    harness = await serve(script)
    upstream = harness.upstream(explain_unauthorized=lambda s: f"renew the key ({s})")
    with pytest.raises(Unauthorized, match=f"renew the key \\({code}\\)"):
        await upstream.request("GET", "/x")
    assert len(script.requests) == 1
    assert harness.states == [("unauthorized", f"renew the key ({code})")]


async def test_a_429_waits_as_long_as_retry_after_asks(serve: Any) -> None:
    script = Script(status(429, headers={"Retry-After": "7"}), json_ok({"ok": 1}))
    harness = await serve(script)
    reply = await harness.upstream().request("GET", "/x")
    assert reply.data == {"ok": 1}
    assert harness.sleeps == [7.0]


async def test_a_429_asking_for_longer_than_the_limit_is_given_back_to_the_caller(serve: Any) -> None:
    script = Script(status(429, headers={"Retry-After": "3600"}))
    harness = await serve(script)
    with pytest.raises(Throttled) as caught:
        await harness.upstream().request("GET", "/x")
    assert caught.value.retry_after == 3600
    assert len(script.requests) == 1
    assert harness.sleeps == []
    assert harness.states[-1][0] == "throttled"


async def test_a_404_is_not_found_and_other_4xx_are_rejected_both_with_the_service_ok(serve: Any) -> None:
    harness = await serve(Script(status(404, "Not Found"), status(400, "bad thing")))
    upstream = harness.upstream()
    with pytest.raises(NotFound):
        await upstream.request("GET", "/x")
    with pytest.raises(Rejected, match="refused \\(400\\): bad thing"):
        await upstream.request("GET", "/y")
    assert harness.states == [("ok", None), ("ok", None)]


async def test_headers_and_address_are_read_on_every_request(serve: Any) -> None:
    script = Script(json_ok({}))
    harness = await serve(script)
    key = {"value": "first"}
    upstream = harness.upstream(headers=lambda: {"Authorization": f"Bearer {key['value']}"})
    await upstream.request("GET", "/x")
    key["value"] = "second"  # a reload changed the key
    await upstream.request("GET", "/x")
    assert [r.headers["Authorization"] for r in script.requests] == ["Bearer first", "Bearer second"]


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120
    assert (
        retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now.timestamp()) == 90
    )
    assert (
        retry_after_seconds(format_datetime(now - timedelta(seconds=90), usegmt=True), now.timestamp()) == 0
    )
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
