"""The status page's templates: Jinja2 with autoescaping, and the headers every page answers with.

Jinja2 escapes every value it prints unless a template says otherwise (none of mamd's do): book
titles, authors, release names and event texts come from uploaders and from the user's library,
and must reach the browser as text, never as markup. The `Content-Security-Policy` below is the
second line: even markup that slipped through could neither run a script nor load anything.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

import jinja2
from aiohttp import web

from mamd.web import sessions
from mamd.web.keys import TEMPLATES

REFRESH_S = 30


def _style_hash(environment: jinja2.Environment) -> str:
    """The CSP hash of the one inline stylesheet, so that no other style may apply."""
    css = environment.get_template("style.css").render().encode()
    return "sha256-" + base64.b64encode(hashlib.sha256(css).digest()).decode()


def environment() -> jinja2.Environment:
    """The templates shipped with mamd (package data), escaping every value by default."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mamd.web", "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # a section is null while the database is unavailable
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals["refresh_s"] = REFRESH_S
    env.globals["session_days"] = sessions.LIFETIME_S // 86400
    env.filters.update(ago=ago, number=number, size=size, duration=duration)
    env.globals["style_src"] = _style_hash(env)
    return env


def headers(env: jinja2.Environment) -> dict[str, str]:
    policy = (
        f"default-src 'none'; style-src '{env.globals['style_src']}'; img-src data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",  # a page of the account, refreshed every 30 s: never from a cache
    }


def page(request: web.Request, name: str, http_status: int = 200, **context: Any) -> web.Response:
    """The template `name` rendered with `context`, as an HTML answer with mamd's page headers."""
    env = request.app[TEMPLATES]
    body = env.get_template(name).render(**context)
    return web.Response(
        text=body, status=http_status, content_type="text/html", charset="utf-8", headers=headers(env)
    )


# -- filters ---------------------------------------------------------------------------------


def ago(when: str | None, now: float) -> str:
    """How long before `now` an ISO time was ("5 min ago"), or after it ("in 2 h")."""
    if not when:
        return ""
    try:
        at = datetime.fromisoformat(when.replace("Z", "+00:00")).astimezone(UTC).timestamp()
    except ValueError:
        return ""
    seconds = now - at
    text = duration(abs(seconds))
    return f"{text} ago" if seconds >= 0 else f"in {text}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    for unit, size_s in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size_s:
            whole, rest = divmod(seconds, size_s)
            if unit == "d" and whole < 10 and rest >= 3600:
                return f"{whole} d {rest // 3600} h"
            return f"{whole} {unit}"
    return f"{seconds} s"


def number(value: float | None, decimals: int = 0) -> str:
    if value is None:
        return "—"
    if value == float("inf"):
        return "∞"
    return f"{value:,.{decimals}f}"


def size(value: float | None) -> str:
    """Bytes as a person reads them (binary units, as MAM and qBittorrent show sizes)."""
    if value is None:
        return "—"
    shown, sign = abs(float(value)), "−" if value < 0 else ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if shown < 1024 or unit == "TiB":
            return f"{sign}{shown:,.0f} {unit}" if unit == "B" else f"{sign}{shown:,.2f} {unit}"
        shown /= 1024
    raise AssertionError("unreachable")
