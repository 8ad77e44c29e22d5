"""Request id, access line, error envelope and API-key check, in that order around every handler."""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web

from mamd.logs import get_logger
from mamd.web.errors import CODES, ApiError, envelope
from mamd.web.keys import runtime_of

log = get_logger("mamd.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AuthPolicy = Literal["none", "status", "key"]
REQUEST_ID = web.RequestKey("request_id", str)
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def auth(policy: AuthPolicy) -> Callable[[Handler], Handler]:
    """Mark a handler as public (`none`), as `/status`-like (`status`), or key-only (`key`, the default)."""

    def mark(handler: Handler) -> Handler:
        handler.mamd_auth = policy  # type: ignore[attr-defined]  # read back by `authenticate`
        return handler

    return mark


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _INCOMING_ID.match(incoming) else secrets.token_hex(8)
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    response = await handler(request)
    response.headers["X-Request-Id"] = request_id
    runtime = runtime_of(request)
    runtime.counters[f"http_{response.status}"] += 1
    # a request that succeeds has its own canonical line (hook.accepted, job.run) or is a
    # routine read that monitors repeat: debug. Refusals and failures: info.
    level = "debug" if response.status < 400 else "info"
    getattr(log, level)(
        "http.request",
        method=request.method,
        path=request.path,  # the path only: the query string may carry the API key
        status=response.status,
        ms=round((time.perf_counter() - started) * 1000, 2),
        remote=request.remote,
        request_id=request_id,
    )
    return response


@web.middleware
async def error_envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.get(REQUEST_ID, "")
    try:
        return await handler(request)
    except ApiError as exc:
        return envelope(exc.status, exc.code, exc.message, request_id, **exc.extra)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = _http_message(exc)
        response = envelope(exc.status, CODES.get(exc.status, "error"), message, request_id)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("http.handler_failed", path=request.path, request_id=request_id)
        return envelope(500, "internal", "internal error; the daemon log has the details", request_id)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if getattr(request.match_info, "http_exception", None) is not None:
        return await handler(request)  # no route: the handler answers 404 or 405
    policy: AuthPolicy = getattr(request.match_info.handler, "mamd_auth", "key")
    if policy == "none":
        return await handler(request)
    config = runtime_of(request).config.http
    if policy == "status" and config.status_from_loopback and _is_loopback(request.remote):
        return await handler(request)
    given = request.headers.get("X-Api-Key") or request.query.get("apikey")
    if not given:
        raise ApiError(401, "an API key is required: send the X-Api-Key header or ?apikey=")
    if not hmac.compare_digest(given.encode(), config.api_key.reveal().encode()):
        raise ApiError(401, "the API key is wrong")
    return await handler(request)


def _is_loopback(remote: str | None) -> bool:
    try:
        address: Any = ipaddress.ip_address(remote or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return bool(address.is_loopback)


def _http_message(exc: web.HTTPException) -> str:
    if exc.status == 404:
        return "no such endpoint"
    if exc.status == 405:
        return f"method not allowed; use {exc.headers.get('Allow', 'another method')}"
    if exc.status == 413:
        return "request body too large"
    return exc.reason or "request failed"
