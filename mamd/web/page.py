"""The status page a person reads in a browser: `/` (and `/status` when the request prefers HTML),
one wanted book's page, the wanted books of one state, and the form that signs a browser in.

Every fact on the page comes from `status_document`, the one function behind `/status`: the page
adds only what a browser needs besides (the account's readings for the charts, the first wanted
books of each state, one book's candidates) and changes nothing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mamd.clock import iso
from mamd.runtime import Runtime
from mamd.store import StoreError
from mamd.store.account import AccountPoint
from mamd.store.wanted import STATES
from mamd.web import charts, sessions, templates
from mamd.web.api import wanted_detail, with_chosen
from mamd.web.keys import GUESSES, REFUSALS, runtime_of
from mamd.web.middleware import auth, key_matches, prefers_html, refused_page
from mamd.web.params import whole_number
from mamd.web.status import status, status_document

PER_STATE = 20  # on the main page; the state's own page lists them all, STATE_PAGE at a time
STATE_PAGE = 200
CHART_DAYS = 30
CHART_SLICE_S = 3 * 3600.0  # one reading per three hours, 240 in 30 days: finer than a phone shows
# the states that need a person's eye first; the order of the wanted section
STATE_ORDER = (
    "failed", "blocked", "skipped", "searching", "grabbed", "downloading", "importing", "wanted", "imported",
    "ignored",
)  # fmt: skip
# the sections of /status the page lays out by name; any other is shown as it is, under "More"
LAID_OUT = frozenset(
    {
        "version", "started_at", "uptime_s", "dry_run", "ready", "config", "jobs", "services", "database",
        "problems", "inbox", "imports", "account", "library", "wanted", "notify", "recent", "loops", "failed",
        "search", "series_next",
    }
)  # fmt: skip
GiB = 1024**3


def problems(status: dict[str, Any]) -> list[dict[str, Any]]:
    """What is wrong, errors first: readiness problems, and what /status says elsewhere that needs a
    person (an unreadable database, a rejected edit, torrents that may become hit-and-runs)."""
    found = list(status.get("problems") or [])
    ids = {p.get("id") for p in found}
    database = (status.get("database") or {}).get("problem")
    if database and "database" not in ids:
        found.append({"id": "database", "severity": "error", "summary": database})
    config = status.get("config") or {}
    if config.get("last_error"):
        summary = f"the last edit of {config.get('path')} was rejected; mamd runs on the previous one"
        found.append({"id": "config", "severity": "warning", "summary": summary})
    at_risk = len((status.get("account") or {}).get("torrents_at_risk") or [])
    if at_risk:
        summary = f"{at_risk} torrent{'s' if at_risk > 1 else ''} may become hit-and-runs (below)"
        found.append({"id": "seeding", "severity": "warning", "summary": summary})
    return sorted(found, key=lambda p: p.get("severity") != "error")


def account_charts(points: list[AccountPoint], runtime: Runtime, now: float) -> list[charts.Chart]:
    start = now - CHART_DAYS * 86400
    ratio = runtime.config.ratio
    made = [
        charts.line_chart(
            "Ratio",
            [(p.at, p.ratio) for p in points if p.ratio is not None],
            start,
            now,
            lambda v: f"{v:.2f}",
            [
                (f"floor {ratio.floor:g}", ratio.floor),
                (f"emergency {ratio.emergency_below:g}", ratio.emergency_below),
            ],
        ),
        charts.line_chart(
            "Bonus points",
            [(p.at, p.seedbonus) for p in points if p.seedbonus is not None],
            start,
            now,
            lambda v: f"{v:,.0f}",
        ),
        charts.line_chart(
            "Buffer (uploaded − downloaded)",
            [
                (p.at, (p.uploaded - p.downloaded) / GiB)
                for p in points
                if p.uploaded is not None and p.downloaded is not None
            ],
            start,
            now,
            lambda v: f"{v:,.1f} GiB",
        ),
    ]
    return [chart for chart in made if chart is not None]


class ChartReadings:
    """The readings the charts draw, kept until a new reading arrives or the period moves by a slice:
    a page that refreshes every 30 s would otherwise pick the same 240 readings again each time."""

    def __init__(self) -> None:
        self._key: tuple[str | None, int] | None = None
        self._points: list[AccountPoint] = []

    async def points(self, runtime: Runtime, now: float, latest_at: str | None) -> list[AccountPoint]:
        since = now - CHART_DAYS * 86400
        key = (latest_at, int(since // CHART_SLICE_S))
        if key != self._key:
            self._points = await runtime.account.points(since, now, CHART_SLICE_S)
            self._key = key
        return self._points


CHART_READINGS = web.AppKey("chart_readings", ChartReadings)


async def page_context(runtime: Runtime, cache: ChartReadings) -> dict[str, Any]:
    """Everything the main page shows: /status as it is now, plus the charts and the first books of
    each state. A database that fails here leaves those empty: /status says why."""
    now = runtime.clock.now()
    document = await status_document(runtime)
    points: list[AccountPoint] = []
    books: dict[str, list[dict[str, Any]]] = {}
    try:
        points = await cache.points(runtime, now, (document.get("account") or {}).get("at"))
        counts = document.get("wanted") or {}
        first = [
            book
            for state in STATE_ORDER
            if counts.get(state)
            for book in await runtime.wanted.page(state, PER_STATE, 0)
        ]
        chosen = await runtime.candidates.chosen(book.id for book in first)
        for book in first:
            release = chosen.get(book.id)
            books.setdefault(book.state, []).append(
                {  # what the list shows of each book; its own page has the rest
                    "id": book.id,
                    "label": book.spec.label,
                    "state_reason": book.state_reason,
                    "chosen": release.as_dict() if release else None,
                }
            )
    except StoreError as exc:
        database = document["database"]
        database["problem"] = database["problem"] or str(exc)
    shown = runtime.redactor.value(document)  # upstream error texts can quote a URL with a key
    return {
        "status": shown,
        "problems": problems(shown),
        "charts": account_charts(points, runtime, now),
        "books": runtime.redactor.value(books),
        "state_order": [state for state in STATE_ORDER if state in books],
        "per_state": PER_STATE,
        "more": {key: value for key, value in shown.items() if key not in LAID_OUT},
        "now": now,
        "rendered_at": iso(now),
    }


@auth("page")
async def index(request: web.Request) -> web.Response:
    context = await page_context(runtime_of(request), request.app[CHART_READINGS])
    return templates.page(request, "status.html", **context)


@auth("status")
async def status_by_accept(request: web.Request) -> web.StreamResponse:
    """`/status`: JSON for every client (curl's `*/*` included), the page for a browser."""
    if prefers_html(request.headers.get("Accept", "")):
        response = await index(request)
    else:
        response = await status(request)
    response.headers["Vary"] = "Accept"  # one URL, two representations: a cache must keep them apart
    return response


def _not_found(request: web.Request, message: str, now: float) -> web.Response:
    return templates.page(
        request, "missing.html", http_status=404, message=message, now=now, rendered_at=iso(now)
    )


@auth("page")
async def wanted_book(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    now = runtime.clock.now()
    text = request.match_info["id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        return _not_found(request, "a wanted book's id is a whole number, such as /wanted/12", now)
    try:
        detail = await wanted_detail(runtime, whole_number(text, "a wanted book's id"))
    except StoreError as exc:
        return _not_found(request, f"the database is unavailable: {exc}", now)
    if detail is None:
        return _not_found(request, f"no wanted book has id {text}", now)
    return templates.page(
        request, "wanted.html", **runtime.redactor.value(detail), now=now, rendered_at=iso(now)
    )


@auth("page")
async def wanted_state(request: web.Request) -> web.Response:
    """The wanted books of one state, `STATE_PAGE` at a time (`?state=skipped&after=ID`)."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    state = request.query.get("state", "")
    after_text = request.query.get("after", "0")
    if state not in STATES:
        return _not_found(request, f"the state must be one of {', '.join(STATES)}", now)
    if not (after_text.isascii() and after_text.isdigit() and len(after_text) <= 18):
        return _not_found(request, "`after` is a wanted book's id, a whole number", now)
    try:
        found = await runtime.wanted.page(state, STATE_PAGE, int(after_text))
        books = await with_chosen(runtime, found)
        total = (await runtime.wanted.counts())[state]
    except StoreError as exc:
        return _not_found(request, f"the database is unavailable: {exc}", now)
    return templates.page(
        request,
        "state.html",
        state=state,
        books=runtime.redactor.value(books),
        total=total,
        next=found[-1].id if len(found) == STATE_PAGE else None,
        now=now,
        rendered_at=iso(now),
    )


def _safe_next(target: str) -> str:
    """Where to go after signing in: one of mamd's own pages, never another site (`//evil.example`)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and target.isprintable():
        return target
    return "/"


@auth("none")  # the key is checked here, counted against the same guess limit as every other
async def sign_in(request: web.Request) -> web.StreamResponse:
    runtime = runtime_of(request)
    source = request.remote or ""
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return refused_page(request, 400, "send the form on mamd's page to sign in")
    form = await request.post()
    given, target = form.get("key"), form.get("next")
    target = _safe_next(target if isinstance(target, str) else "/")
    wait_s = request.app[GUESSES].wait_s(source)
    if wait_s > 0:
        retry = str(max(1, round(wait_s)))
        request.app[REFUSALS].refused("auth_failed", source, reason="too many wrong keys")
        message = f"too many wrong API keys from {source}; try again in {retry} s"
        return refused_page(request, 429, message, target, {"Retry-After": retry})
    if not isinstance(given, str) or not given.strip():
        return refused_page(request, 400, "enter mamd's API key (http.api_key in mamd.yaml)", target)
    key = runtime.config.http.api_key.reveal()
    if not key_matches(given.strip(), key):
        request.app[GUESSES].wrong(source)
        request.app[REFUSALS].refused("auth_failed", source, reason="wrong key", path=request.path)
        return refused_page(
            request, 401, "that is not mamd's API key: compare it with http.api_key in mamd.yaml", target
        )
    response = web.Response(status=303, headers={"Location": target})
    # not `Secure`: mamd serves plain HTTP on the home network, where a Secure cookie is never sent back
    response.set_cookie(
        sessions.COOKIE,
        sessions.issue(key, runtime.clock.now()),
        max_age=sessions.LIFETIME_S,
        path="/",
        httponly=True,
        samesite="Strict",
    )
    return response
