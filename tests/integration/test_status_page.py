"""The status page through real sockets: content negotiation, the same facts as /status, escaping,
the sign-in cookie, an unavailable database, and the size of a page with 1,000 wanted books."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient

from mamd.config import load_config
from mamd.domain.account import AccountSnapshot
from mamd.domain.discovery import WantSpec, title_want_key
from mamd.logs import Redactor
from mamd.runtime import Runtime
from mamd.web import create_app, sessions
from mamd.web.page import PER_STATE, STATE_PAGE
from tests.support.clock import FakeClock
from tests.support.configs import API_KEY
from tests.support.page import HOSTILE_AUTHOR, HOSTILE_EVENT, HOSTILE_TITLE, fill, page_tags, page_text

Client = TestClient[Any, Any]
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"}
KEY = {"X-Api-Key": API_KEY}


@pytest.fixture
async def strict(
    config_file: Callable[..., Path], clock: FakeClock, aiohttp_client: Any
) -> AsyncIterator[tuple[Client, Runtime]]:
    """The app with `http.status_from_loopback: false`: loopback needs the key like any address."""
    path = config_file({"http": {"status_from_loopback": False}}, name="strict.yaml")
    live = Runtime(load_config(path), path, clock=clock, redactor=Redactor())
    await live.store.open()
    await live.scheduler.load()
    client: Client = await aiohttp_client(create_app(live))
    yield client, live
    await live.tasks.drain(1.0)
    await live.store.close()


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from leaves(inner, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from leaves(inner, f"{path}[{index}]")
    else:
        yield path, value


# facts /status carries for programs that the page shows in another form (checked one by one below)
# or leaves to /status: the id that tells job runs apart, a job's start beside its finish
SHOWN_OTHERWISE = re.compile(
    r"(account\.guard|uptime_s|age_s|interval_s|last_run_id|last_started_at|ratio|seedbonus|uploaded|downloaded|"
    r"spent_last_day|counters\.\w+\.size|recent\[\d+\]\.(subject|data.*|id)|database\.path)$"
)


# -- what answers -----------------------------------------------------------------------------


async def test_a_browser_gets_the_page_and_every_other_client_gets_json(client: Client) -> None:
    page = await client.get("/", headers=BROWSER)
    assert page.status == 200
    assert page.content_type == "text/html"
    as_html = await client.get("/status", headers=BROWSER)
    assert as_html.content_type == "text/html"
    assert as_html.headers["Vary"] == "Accept"
    for accept in ("*/*", "application/json", "text/html, application/json", "text/html;q=0.5, */*", None):
        headers = {"Accept": accept} if accept is not None else {}
        response = await client.get("/status", headers=headers, skip_auto_headers=["Accept"])
        assert response.content_type == "application/json", accept
        assert response.headers["Vary"] == "Accept"
        assert (await response.json())["version"]
    assert (await client.get("/status", headers={"Accept": "text/*"})).content_type == "text/html"


async def test_the_page_shows_the_same_facts_as_status_for_the_same_moment(
    client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    await fill(runtime, clock.now())
    status = await (await client.get("/status")).json()
    text = page_text(await (await client.get("/", headers=BROWSER)).text())  # the clock has not moved
    missing = [
        (path, value)
        for path, value in leaves(status)
        if isinstance(value, str | int) and not isinstance(value, bool) and not SHOWN_OTHERWISE.search(path)
        if str(value) not in text
    ]
    assert missing == []
    account = status["account"]
    assert account["guard"] == "caution"
    assert f"Ratio {account['ratio']:.2f}" in text
    assert f"Bonus points {account['seedbonus']:,.0f}" in text
    assert f"Unsatisfied {account['unsatisfied']} of {account['unsatisfied_limit']}" in text
    assert f"Uploaded {account['uploaded'] / 1024**3:,.2f} GiB" in text
    assert f"Generation {status['config']['generation']}" in text
    assert "CAUTION" in text
    for problem in status["problems"]:
        assert problem["summary"] in text
    assert f"{status['recent'][0]['kind']}" in text


async def test_problems_come_first_and_the_charts_are_inline_svg(
    client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    await fill(runtime, clock.now())
    html = await (await client.get("/", headers=BROWSER)).text()
    text = page_text(html)
    assert text.index("Problems") < text.index("Account guard") < text.index("Wanted books")
    assert "qbittorrent is down: connection refused by 127.0.0.1:1" in text
    assert text.index("qbittorrent is down") < text.index("Account guard")
    assert html.count("<svg") == 3  # ratio, bonus points, buffer
    assert "Ratio: 1.30 now; 1.69 at the start" in text
    assert 'http-equiv="refresh" content="30"' in html
    assert "Rendered at 2027-01-15T08:00:00Z" in text


async def test_the_charts_follow_a_new_account_reading(
    client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    await fill(runtime, clock.now())
    assert "Ratio: 1.30 now" in page_text(await (await client.get("/", headers=BROWSER)).text())
    clock.advance(300)
    reading = AccountSnapshot(at=clock.now(), classname="Power User", ratio=1.25, seedbonus=64_800.0)
    await runtime.account.add(reading)
    text = page_text(await (await client.get("/", headers=BROWSER)).text())
    assert "Ratio: 1.25 now" in text
    assert "Bonus points: 64,800 now" in text


async def test_the_page_loads_nothing_from_elsewhere_and_runs_no_script(client: Client) -> None:
    response = await client.get("/", headers=BROWSER)
    html = await response.text()
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy  # default-src 'none' forbids every script
    [style] = re.findall(r"<style>(.*?)</style>", html, re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy  # the one stylesheet, and no other, applies
    assert "script" not in page_tags(html)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers  # loopback users get no cookie
    assert "<form" not in html


async def test_hostile_titles_authors_and_events_are_text_on_every_page(
    client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    ids = await fill(runtime, clock.now())
    for path in ("/", f"/wanted/{ids[0]}", "/wanted?state=wanted"):
        html = await (await client.get(path, headers=BROWSER)).text()
        text = page_text(html)
        assert HOSTILE_TITLE in text, path
        assert HOSTILE_AUTHOR in text, path
        if path != "/wanted?state=wanted":
            assert HOSTILE_EVENT in text, path
        tags = page_tags(html)
        assert "script" not in tags, path
        assert "img" not in tags, path
        assert "b" not in tags, path
        assert "&lt;script&gt;" in html, path


async def test_a_wanted_book_page_lists_every_candidate_with_its_decision_and_reasons(
    client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    from mamd.config.model import RulesConfig
    from mamd.domain.matching import Want
    from mamd.domain.release import Release
    from mamd.domain.rules import AccountView, choose

    ids = await fill(runtime, clock.now())
    releases = [
        Release(5001, "Dune", ("Frank Herbert",), filetypes=("m4b",), size=10**9, seeders=9, main_cat=13),
        Release(5002, "Dune (Abridged)", ("Frank Herbert",), filetypes=("mp3",), size=10**8, main_cat=13),
    ]
    choice = choose(Want("Dune", ("Frank Herbert",)), releases, RulesConfig(), ["ENG"], AccountView())
    await runtime.candidates.record(ids[1], choice, clock.now())
    api = await (await client.get(f"/api/v1/wanted/{ids[1]}", headers=KEY)).json()
    text = page_text(await (await client.get(f"/wanted/{ids[1]}", headers=BROWSER)).text())
    assert "Releases considered (2)" in text
    for candidate in api["candidates"]:
        assert f"{candidate['decision']} {candidate['title']}" in text
        for reason in candidate["reasons"]:
            assert reason in text
    assert "Chosen Dune [MAM 5001]" in text
    assert "no release passed the rules: abridged" in text
    main = page_text(await (await client.get("/", headers=BROWSER)).text())
    assert "Dune by Frank Herbert — no release passed the rules: abridged chosen: Dune [MAM 5001]" in main


async def test_an_unknown_or_malformed_wanted_id_is_a_404_page(client: Client) -> None:
    for path, message in (
        ("/wanted/999", "no wanted book has id 999"),
        ("/wanted/abc", "a wanted book's id is a whole number"),
        ("/wanted/%D9%A3", "a wanted book's id is a whole number"),  # an Arabic-Indic digit
        ("/wanted?state=lost", "the state must be one of"),
        ("/wanted?state=wanted&after=-1", "`after` is a wanted book's id"),
    ):
        response = await client.get(path, headers=BROWSER)
        assert response.status == 404, path
        assert response.content_type == "text/html"
        assert message in page_text(await response.text()), path


async def test_a_section_status_gains_is_shown_without_changing_the_page(runtime: Runtime) -> None:
    from mamd.web.page import ChartReadings, page_context
    from mamd.web.templates import environment

    context = await page_context(runtime, ChartReadings())
    assert context["more"] == {}  # every section /status has now is laid out by name
    context["more"] = {"audiobookshelf": {"version": "2.36.0", "libraries": ["Audiobooks <b>"]}}
    text = page_text(environment().get_template("status.html").render(**context))
    assert "More audiobookshelf version 2.36.0 libraries Audiobooks <b>" in text


# -- 1,000 wanted books -------------------------------------------------------------------------


async def test_with_a_thousand_wanted_books_the_page_stays_under_100_kb(
    client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    await fill(runtime, clock.now())
    specs = [
        WantSpec(title_want_key("Author", f"Book {i}"), "manual", "Author", f"Book {i}") for i in range(1000)
    ]
    await runtime.wanted.apply(specs, {}, [], clock.now())
    books = [book for book in await runtime.wanted.all() if book.title and book.title.startswith("Book ")]
    for book in books[:500]:
        await runtime.wanted.searched(book.id, "skipped", "no release on MAM matches it", None, clock.now())
    html = await (await client.get("/", headers=BROWSER)).text()
    assert len(html.encode()) < 100 * 1024
    text = page_text(html)
    assert "All 501 skipped books" in text
    assert "All 501 wanted books" in text
    assert html.count('href="/wanted/') <= PER_STATE * 2 + 2
    first = await (await client.get("/wanted?state=skipped", headers=BROWSER)).text()
    assert first.count('href="/wanted/') == STATE_PAGE
    after = re.search(r'href="/wanted\?state=skipped&amp;after=(\d+)"', first)
    assert after is not None
    rest = await (await client.get(f"/wanted?state=skipped&after={after[1]}", headers=BROWSER)).text()
    assert rest.count('href="/wanted/') == STATE_PAGE
    assert "Wanted books: skipped (501)" in page_text(rest)


# -- the database ------------------------------------------------------------------------------


async def test_the_page_renders_with_the_problem_when_the_database_is_unavailable(
    client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    ids = await fill(runtime, clock.now())
    await runtime.store.close()
    response = await client.get("/", headers=BROWSER)
    assert response.status == 200
    text = page_text(await response.text())
    assert "error · database: database closed" in text
    assert "Unknown: the database is unavailable" in text
    assert "qbittorrent is down" in text  # what mamd knows without the database is still there
    book = await client.get(f"/wanted/{ids[0]}", headers=BROWSER)
    assert book.status == 404
    assert "the database is unavailable" in page_text(await book.text())


# -- signing in --------------------------------------------------------------------------------


async def test_without_a_key_a_page_is_the_sign_in_form_with_no_data(
    strict: tuple[Client, Runtime], clock: FakeClock
) -> None:
    client, runtime = strict
    await fill(runtime, clock.now())
    for path in ("/", "/status", "/wanted/1", "/wanted?state=wanted"):
        response = await client.get(path, headers=BROWSER)
        assert response.status == 401, path
        assert response.content_type == "text/html"
        assert "Set-Cookie" not in response.headers
        html = await response.text()
        text = page_text(html)
        assert "this page needs mamd's API key" in text
        assert '<form method="post" action="/sign-in">' in html
        for secret in ("CAUTION", "Dune", "qbittorrent", "Power User", "0.1.0", "wanted.added"):
            assert secret not in text, (path, secret)
    as_json = await client.get("/status")  # curl: the error envelope, as before
    assert as_json.status == 401
    assert (await as_json.json())["error"]["code"] == "unauthorized"


async def test_the_form_exchanges_the_key_for_a_signed_cookie_that_is_not_the_key(
    strict: tuple[Client, Runtime], clock: FakeClock
) -> None:
    client, _ = strict
    response = await client.post(
        "/sign-in", data={"key": API_KEY, "next": "/wanted?state=wanted"}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == "/wanted?state=wanted"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{sessions.COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert f"Max-Age={sessions.LIFETIME_S}" in cookie
    assert API_KEY not in cookie
    value = response.cookies[sessions.COOKIE].value
    assert sessions.valid(value, API_KEY, clock.now())

    page = await client.get("/", headers=BROWSER)  # the client's cookie jar sends it back
    assert page.status == 200
    assert "CAUTION" in page_text(await page.text()) or "OK" in page_text(await page.text())
    assert (await client.get("/status", headers=BROWSER)).status == 200
    # the cookie opens the pages only: programs use the key
    assert (await client.get("/status")).status == 401
    assert (await client.get("/api/v1/wanted")).status == 401
    assert (await client.get("/metrics")).status == 401

    clock.advance(sessions.LIFETIME_S + 1)
    assert (await client.get("/", headers=BROWSER)).status == 401


async def test_a_changed_key_ends_every_session(strict: tuple[Client, Runtime], clock: FakeClock) -> None:
    client, runtime = strict
    await client.post("/sign-in", data={"key": API_KEY}, allow_redirects=False)
    assert (await client.get("/", headers=BROWSER)).status == 200
    data = yaml.safe_load(runtime.config_state.path.read_text())
    data["http"]["api_key"] = "a-brand-new-key-0123456789"
    runtime.config_state.path.write_text(yaml.safe_dump(data))
    runtime.config = load_config(runtime.config_state.path)  # what a reload swaps in
    assert (await client.get("/", headers=BROWSER)).status == 401


async def test_a_wrong_key_in_the_form_says_so_and_sets_no_cookie(strict: tuple[Client, Runtime]) -> None:
    client, _ = strict
    for given in ("not-the-key-at-all-000", API_KEY + "x", "<script>x</script>"):
        response = await client.post("/sign-in", data={"key": given, "next": "/"}, allow_redirects=False)
        assert response.status == 401
        assert "Set-Cookie" not in response.headers
        text = page_text(await response.text())
        assert "that is not mamd's API key" in text
        assert given not in text  # what was typed is never shown back
    blank = await client.post("/sign-in", data={"key": "  "}, allow_redirects=False)
    assert blank.status == 400
    assert "enter mamd's API key" in page_text(await blank.text())
    not_a_form = await client.post("/sign-in", json={"key": API_KEY}, allow_redirects=False)
    assert not_a_form.status == 400
    assert "Set-Cookie" not in not_a_form.headers
    assert (await client.get("/", headers=BROWSER)).status == 401


async def test_wrong_keys_in_the_form_count_against_the_guess_limit(strict: tuple[Client, Runtime]) -> None:
    client, _ = strict
    for _ in range(10):
        await client.post("/sign-in", data={"key": "wrong-key-000000000000"}, allow_redirects=False)
    limited = await client.post("/sign-in", data={"key": API_KEY}, allow_redirects=False)
    assert limited.status == 429
    assert limited.headers["Retry-After"]
    assert "Set-Cookie" not in limited.headers
    assert "too many wrong API keys" in page_text(await limited.text())


async def test_sign_in_only_returns_to_mamds_own_pages(strict: tuple[Client, Runtime]) -> None:
    client, _ = strict
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = await client.post("/sign-in", data={"key": API_KEY, "next": target}, allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == "/", target


async def test_a_forged_or_tampered_cookie_opens_nothing(
    strict: tuple[Client, Runtime], clock: FakeClock
) -> None:
    client, _ = strict
    good = sessions.issue(API_KEY, clock.now())
    expires, signature = good.split(".")
    forged = [
        sessions.issue("some-other-key-0000000000", clock.now()),
        f"{int(expires) + 60}.{signature}",
        f"{expires}.{signature[:-1]}0" if signature[-1] != "0" else f"{expires}.{signature[:-1]}1",
        API_KEY,
        "",
        "9" * 40 + "." + signature,
    ]
    for value in forged:
        response = await client.get("/", headers={**BROWSER, "Cookie": f"{sessions.COOKIE}={value}"})
        assert response.status == 401, value
    accepted = await client.get("/", headers={**BROWSER, "Cookie": f"{sessions.COOKIE}={good}"})
    assert accepted.status == 200
