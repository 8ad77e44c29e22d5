"""The `mam_id` cookie: where it is kept, how a rotated one is read from an answer's headers."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any


class CookieStore:
    """Where the current `mam_id` lives between requests and restarts (the state database)."""

    def __init__(
        self, load: Callable[[], Awaitable[dict[str, Any]]], save: Callable[[dict[str, Any]], Awaitable[None]]
    ):
        self.load, self.save = load, save


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def new_cookie(headers: Any) -> str | None:
    """The rotated `mam_id` in these answer headers; deletions and expired cookies are ignored."""
    values = headers.getall("Set-Cookie", []) if hasattr(headers, "getall") else []
    found = None
    for header in values:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            continue
        morsel = jar.get("mam_id")
        if morsel is None or not morsel.value or morsel.value == "deleted":
            continue
        if morsel["max-age"] in ("0", "-1") or _expired(morsel["expires"]):
            continue
        found = morsel.value
    return found


def _expired(expires: str) -> bool:
    if not expires:
        return False
    try:
        when = parsedate_to_datetime(expires)
    except (TypeError, ValueError):
        return False
    return when.timestamp() < time.time()
