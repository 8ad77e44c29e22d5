"""One error envelope for every failure: `{"error": {"code", "message", "request_id"}}`."""

from __future__ import annotations

from typing import Any, NoReturn

from aiohttp import web

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "bad_request",
    421: "misdirected",
    429: "throttled",
    500: "internal",
    503: "unavailable",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or CODES.get(status, "error")
        self.headers = headers or {}
        self.extra = extra


def fail(status: int, message: str, code: str | None = None, **extra: Any) -> NoReturn:
    raise ApiError(status, message, code, None, **extra)


def envelope(status: int, code: str, message: str, request_id: str, **extra: Any) -> web.Response:
    body = {"error": {"code": code, "message": message, "request_id": request_id, **extra}}
    return web.json_response(body, status=status)
