"""The `mam_id` session of the simulated MAM: rotation, the grace value, rejections.

- Every path needs the cookie except the simulator's own `/__sim/` controls and the tracker `/announce`.
- Every JSON answer to an accepted request rotates it: `Set-Cookie: mam_id=<new>; Path=/; HttpOnly`.
  The latest value and the one before it are accepted; anything older is rejected. A client that keeps
  re-sending its first value therefore works for two calls and is then rejected: the "ignored the rotated
  cookie" failure, compressed in time.
- With `deletion_every = N`, every Nth rotation also sends `mam_id=deleted; Max-Age=0` AFTER the new value,
  so a cookie jar that obeys it loses the session; clients must ignore deletion cookies.
- A rejected cookie is answered in one of the four ways MAM uses: `"403"` (default), `"401"`, `"empty"`
  (200 with an empty body) or `"login"` (200 with the login page, "Not logged in!"). `dynamicSeedbox.php`
  answers in its own JSON words instead (see `seedbox`).
- `expire()` makes every value a client holds invalid (a session that expired mid-run); `replace()` installs
  a new one, as a user pasting a new cookie.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Literal, get_args

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

Rejection = Literal["403", "401", "empty", "login"]
REJECTIONS: tuple[str, ...] = get_args(Rejection)
COOKIE = "mam_id"
DELETION_COOKIE = "mam_id=deleted; expires=Thu, 01-Jan-1970 00:00:01 GMT; Max-Age=0; Path=/"
LOGIN_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>MyAnonamouse :: Login</title></head><body>\n"
    '<div id="mainBody"><h2>Not logged in!</h2>\n'
    "<p>You need to be logged in to view this page.</p>\n"
    '<form method="post" action="/takelogin.php"><input type="email" name="email">'
    '<input type="password" name="password"><input type="hidden" name="t" value="">'
    '<input type="submit" value="Log in!"></form></div></body></html>\n'
)
FORBIDDEN_PAGE = "<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1></body></html>\n"


def new_cookie_value() -> str:
    """An invented `mam_id` value, as long and as opaque as a real one."""
    return secrets.token_urlsafe(96)


class Session:
    """The valid `mam_id` values and how the simulator answers the others."""

    def __init__(self, cookie: str, *, rejection: Rejection = "403", deletion_every: int = 0) -> None:
        if rejection not in REJECTIONS:
            raise ValueError(f"rejection must be one of {', '.join(REJECTIONS)}, not {rejection!r}")
        self.current = cookie
        self.previous: str | None = None
        self.rejection: Rejection = rejection
        self.deletion_every = deletion_every
        self.rotations = 0
        self.rejected = 0

    def accepts(self, value: str | None) -> bool:
        if not value:
            return False
        held = value.encode()  # bytes: compare_digest refuses non-ASCII str
        return any(
            valid is not None and secrets.compare_digest(held, valid.encode())
            for valid in (self.current, self.previous)
        )

    def rotate(self) -> str:
        """A new latest value; the old latest becomes the one grace value."""
        self.previous, self.current = self.current, new_cookie_value()
        self.rotations += 1
        return self.current

    def expire(self) -> str:
        """Invalidate every value handed out; returns the new value, which no client holds yet."""
        self.previous, self.current = None, new_cookie_value()
        return self.current

    def replace(self, value: str | None = None) -> str:
        """A new session (a user pasting a fresh cookie): only `value` is valid afterwards."""
        self.previous, self.current = None, value or new_cookie_value()
        return self.current

    def set_cookie_headers(self, response: web.StreamResponse) -> None:
        """Rotate and put the new value (and, every `deletion_every` rotations, a deletion) on `response`."""
        value = self.rotate()
        # Added by hand rather than with set_cookie(): aiohttp keeps one cookie per name, and the
        # deletion must follow the new value in the same response.
        response.headers.add("Set-Cookie", f"{COOKIE}={value}; Path=/; HttpOnly")
        if self.deletion_every > 0 and self.rotations % self.deletion_every == 0:
            response.headers.add("Set-Cookie", DELETION_COOKIE)

    def rejection_response(self) -> web.Response:
        self.rejected += 1
        if self.rejection == "401":
            return web.Response(status=401, text="Unauthorized\n", content_type="text/plain")
        if self.rejection == "empty":
            return web.Response(status=200, body=b"", content_type="text/html")
        if self.rejection == "login":
            return web.Response(status=200, text=LOGIN_PAGE, content_type="text/html")
        return web.Response(status=403, text=FORBIDDEN_PAGE, content_type="text/html")


EXEMPT_PREFIXES = ("/__sim/", "/announce")
ACCEPTED = web.RequestKey("mam_session_accepted", bool)
OwnRejection = Callable[[web.Request, str | None], web.Response]


def session_middleware(session: Session, own_rejections: Mapping[str, OwnRejection]) -> Middleware:
    """Reject requests without a valid cookie; rotate the cookie on every JSON answer to the others.

    `own_rejections` maps a path to the handler of its own rejection wording (given the request and the
    cookie sent, or None when there was none). `request[ACCEPTED]` records the verdict for the request log.
    """

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(EXEMPT_PREFIXES):
            return await handler(request)
        value = request.cookies.get(COOKIE)
        if not session.accepts(value):
            request[ACCEPTED] = False
            own = own_rejections.get(request.path)
            if own is not None:
                session.rejected += 1
                return own(request, value)
            return session.rejection_response()
        request[ACCEPTED] = True
        response = await handler(request)
        if response.content_type == "application/json" and not response.prepared:
            session.set_cookie_headers(response)
        return response

    return check
