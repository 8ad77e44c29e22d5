"""Request id, access line, error envelope, `Host` check and API-key check, in that order around every
handler."""

from __future__ import annotations

import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from aiohttp import web

from mamd.clock import iso
from mamd.logs import get_logger
from mamd.web import sessions, templates
from mamd.web.errors import CODES, ApiError, envelope
from mamd.web.keys import GUESSES, HOSTS, REFUSALS, runtime_of
from mamd.web.server import is_loopback, request_began

log = get_logger("mamd.web")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AuthPolicy = Literal["none", "status", "page", "key"]
REQUEST_ID = web.RequestKey("request_id", str)
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def auth(policy: AuthPolicy) -> Callable[[Handler], Handler]:
    """Mark a handler as public (`none`), as `/status`-like (`status`), as a page for a browser (`page`:
    the rule of `/status`, and the sign-in cookie), or key-only (`key`, the default)."""

    def mark(handler: Handler) -> Handler:
        handler.mamd_auth = policy  # type: ignore[attr-defined]  # read back by `authenticate`
        return handler

    return mark


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_began(request)
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _INCOMING_ID.match(incoming) else secrets.token_hex(8)
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    response = await handler(request)
    response.headers["X-Request-Id"] = request_id
    runtime = runtime_of(request)
    runtime.counters[f"http_{response.status}"] += 1
    if response.status in (401, 421, 429):
        return response  # refusals are summarised per source and minute: a flood must not fill the log
    # a request that succeeds has its own canonical line (hook.accepted, job.run) or is a
    # routine read that monitors repeat: debug. Refusals: info; input mamd cannot read: warning.
    level = "debug" if response.status < 400 else "warning" if response.status == 400 else "info"
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
        response = envelope(exc.status, exc.code, exc.message, request_id, **exc.extra)
        response.headers.update(exc.headers)
        return response
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
async def check_host(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a request that names another site in `Host` (DNS rebinding), probes and hooks included."""
    header = request.headers.get("Host")
    http = runtime_of(request).config.http
    transport = request.transport
    local = transport.get_extra_info("sockname") if transport is not None else None
    local_address = str(local[0]) if isinstance(local, tuple) and local else None
    if request.app[HOSTS].allows(header, local_address, http.host, http.allowed_hosts):
        return await handler(request)
    shown = (header or "")[:80]
    request.app[REFUSALS].refused("wrong_host", request.remote or "", host=shown)
    raise ApiError(
        421,
        f"mamd does not answer to the name {shown!r}; if you reach it by that name, add it to "
        "http.allowed_hosts",
    )


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if getattr(request.match_info, "http_exception", None) is not None:
        return await handler(request)  # no route: the handler answers 404 or 405
    policy: AuthPolicy = getattr(request.match_info.handler, "mamd_auth", "key")
    config = runtime_of(request).config.http
    if trusted_without_key(policy, config.status_from_loopback, request.remote):
        return await handler(request)
    # a browser asking for a page is answered with a page (the sign-in form), never the JSON envelope
    page = policy == "page" or (policy == "status" and prefers_html(request.headers.get("Accept", "")))
    try:
        _check_key(request, accept_cookie=page)
    except ApiError as exc:
        if not page:
            raise
        back = request.rel_url.with_query({k: v for k, v in request.query.items() if k != "apikey"})
        return refused_page(request, exc.status, exc.message, str(back), exc.headers)
    return await handler(request)


def trusted_without_key(policy: AuthPolicy, status_from_loopback: bool, remote: str | None) -> bool:
    """Whether a request from `remote` is answered without a key or cookie: public handlers, and
    `/status` and the page from loopback when `http.status_from_loopback` says so."""
    if policy == "none":
        return True
    return policy in ("status", "page") and status_from_loopback and is_loopback(remote)


def key_matches(given: str, key: str) -> bool:
    """Constant-time comparison of a key as sent with mamd's API key."""
    # a header may hold any byte: aiohttp decodes it with surrogateescape, which encode() alone refuses
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), key.encode())


def _check_key(request: web.Request, accept_cookie: bool) -> None:
    """Raise the refusal (401, or 429 after too many wrong keys) unless the request carries the key,
    or, for a page, the cookie the sign-in form gave."""
    runtime = runtime_of(request)
    key = runtime.config.http.api_key.reveal()
    source = request.remote or ""
    guesses, refusals = request.app[GUESSES], request.app[REFUSALS]
    wait_s = guesses.wait_s(source)
    if wait_s > 0:
        refusals.refused("auth_failed", source, reason="too many wrong keys")
        retry = str(max(1, round(wait_s)))
        message = f"too many wrong API keys from {source}; try again in {retry} s"
        raise ApiError(429, message, headers={"Retry-After": retry})
    given = request.headers.get("X-Api-Key") or request.query.get("apikey")
    if not given:
        if accept_cookie and sessions.valid(request.cookies.get(sessions.COOKIE), key, runtime.clock.now()):
            return
        refusals.refused("auth_failed", source, reason="no key", path=request.path)
        if accept_cookie:
            raise ApiError(401, "this page needs mamd's API key (http.api_key in mamd.yaml)")
        raise ApiError(401, "an API key is required: send the X-Api-Key header or ?apikey=")
    if not key_matches(given, key):
        guesses.wrong(source)
        refusals.refused("auth_failed", source, reason="wrong key", path=request.path)
        raise ApiError(401, "the API key is wrong")


def prefers_html(accept: str) -> bool:
    """True when an `Accept` header ranks text/html above application/json: a browser. curl's `*/*`,
    no header, or a tie are JSON, which stays what every other client gets."""
    return _quality(accept, "text", "html") > _quality(accept, "application", "json")


def _quality(accept: str, kind: str, subtype: str) -> float:
    """The q-value `accept` gives one media type: the most specific range that matches wins."""
    best, best_rank = 0.0, -1
    for part in accept.split(",")[:64]:  # a browser sends a handful; more is noise
        media, *parameters = part.split(";")
        main, _, sub = media.strip().lower().partition("/")
        if (main, sub) == (kind, subtype):
            rank = 2
        elif (main, sub) == (kind, "*"):
            rank = 1
        elif (main, sub) == ("*", "*"):
            rank = 0
        else:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:  # also NaN
                    quality = 0.0
        if rank > best_rank:
            best, best_rank = quality, rank
    return best


def refused_page(
    request: web.Request,
    status: int,
    message: str,
    target: str = "/",
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The sign-in page with why the request was refused; it shows nothing of mamd's state."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    response = templates.page(
        request,
        "sign_in.html",
        http_status=status,
        message=message,
        target=target,
        now=now,
        rendered_at=iso(now),
    )
    response.headers.update(headers or {})
    return response


def _http_message(exc: web.HTTPException) -> str:
    if exc.status == 404:
        return "no such endpoint"
    if exc.status == 405:
        return f"method not allowed; use {exc.headers.get('Allow', 'another method')}"
    if exc.status == 413:
        return "request body too large"
    return exc.reason or "request failed"
