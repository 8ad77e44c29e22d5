"""The status page's pure parts: which request gets HTML, which address needs no key, the signed
cookie, the charts, and how numbers and times read."""

from __future__ import annotations

import pytest

from mamd.web import charts, sessions
from mamd.web.middleware import prefers_html, trusted_without_key
from mamd.web.templates import ago, duration, number, size

KEY = "the-api-key-0123456789"
NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", True),
        ("text/html", True),
        ("text/*", True),
        ("TEXT/HTML; q=1", True),
        ("*/*", False),  # curl
        ("", False),
        ("application/json", False),
        ("text/html, application/json", False),  # a tie keeps the default
        ("application/json;q=0.9, text/html", True),
        ("text/html;q=0.5, */*", False),
        ("text/html;q=nan, */*;q=0.1", False),
        ("text/html;q=2", False),  # out of range: not a preference
        ("text/html;q=abc", False),
        ("text/plain", False),
    ],
)
def test_only_a_request_that_ranks_html_above_json_gets_the_page(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


@pytest.mark.parametrize(
    ("policy", "trusted", "remote", "expected"),
    [
        ("status", True, "127.0.0.1", True),
        ("page", True, "127.0.0.1", True),
        ("page", True, "127.8.9.10", True),
        ("page", True, "::1", True),
        ("page", True, "::ffff:127.0.0.1", True),  # an IPv4 loopback client of a dual-stack socket
        ("page", True, "192.168.1.20", False),
        ("page", True, "10.0.0.1", False),
        ("page", True, "::ffff:192.168.1.20", False),
        ("page", True, "fe80::1", False),
        ("page", True, None, False),
        ("page", True, "", False),
        ("page", True, "localhost", False),  # a name is not an address
        ("page", False, "127.0.0.1", False),
        ("status", False, "::1", False),
        ("key", True, "127.0.0.1", False),  # the API and hooks always need the key
        ("none", False, "192.168.1.20", True),
    ],
)
def test_the_address_rule_for_answering_without_a_key(
    policy: str, trusted: bool, remote: str | None, expected: bool
) -> None:
    assert trusted_without_key(policy, trusted, remote) is expected  # type: ignore[arg-type]


def test_a_session_cookie_is_valid_with_its_key_until_it_expires() -> None:
    value = sessions.issue(KEY, NOW)
    assert KEY not in value
    assert sessions.valid(value, KEY, NOW)
    assert sessions.valid(value, KEY, NOW + sessions.LIFETIME_S - 1)
    assert not sessions.valid(value, KEY, NOW + sessions.LIFETIME_S)
    assert not sessions.valid(value, "another-key-0123456789", NOW)


@pytest.mark.parametrize(
    "value",
    [None, "", ".", "abc", "123", "123.", ".abc", "١٢٣.abc", "9" * 13 + ".abc", "\udcff.abc", "1.2.3"],
)
def test_a_malformed_session_cookie_is_refused(value: str | None) -> None:
    assert not sessions.valid(value, KEY, NOW)


def test_a_session_cookie_whose_expiry_was_moved_is_refused() -> None:
    expires, signature = sessions.issue(KEY, NOW).split(".")
    assert not sessions.valid(f"{int(expires) + 1}.{signature}", KEY, NOW)
    far = sessions.issue(KEY, NOW + 10 * sessions.LIFETIME_S)  # signed, but beyond any issued expiry
    assert not sessions.valid(far, KEY, NOW)


def test_a_chart_spans_its_period_and_keeps_its_guides_in_view() -> None:
    day = 86400.0
    start = NOW - 30 * day
    points = [(start + day, 2.0), (NOW - day, 1.6), (NOW, 1.8), (start - day, 9.0)]  # one before the period
    chart = charts.line_chart("Ratio", points, start, NOW, lambda v: f"{v:.2f}", [("floor 1.5", 1.5)])
    assert chart is not None
    assert chart.path.startswith("M")
    assert chart.path.count("L") == 2  # the reading before the period is left out
    xs = [float(step[1:].split(",")[0]) for step in chart.path.split()]
    ys = [float(step.split(",")[1]) for step in chart.path.split()]
    assert xs == sorted(xs)
    assert min(xs) >= charts.PAD
    assert max(xs) == chart.last_x <= charts.WIDTH - charts.PAD
    assert ys[0] < ys[2] < ys[1]  # higher values are drawn higher (smaller y)
    [guide] = chart.guides
    assert max(ys) < guide.y <= charts.HEIGHT - charts.PAD  # 1.5 is below every point, and in the box
    assert chart.summary == "Ratio: 1.80 now; 2.00 at the start, lowest 1.60, highest 2.00 (3 readings)"


def test_a_chart_of_one_flat_value_sits_in_the_middle_and_none_without_points() -> None:
    chart = charts.line_chart("Bonus points", [(NOW, 500.0)], NOW - 100, NOW, str)
    assert chart is not None
    assert chart.path == f"M{charts.WIDTH - charts.PAD},{charts.HEIGHT / 2}"
    assert charts.line_chart("Bonus points", [], NOW - 100, NOW, str) is None
    assert charts.line_chart("Bonus points", [(NOW, 1.0)], NOW, NOW, str) is None


def test_numbers_sizes_and_times_read_as_a_person_expects() -> None:
    assert number(62500.0) == "62,500"
    assert number(1.3, 2) == "1.30"
    assert number(None) == "—"
    assert size(747 * 1024**3) == "747.00 GiB"
    assert size(-2 * 1024**4) == "−2.00 TiB"
    assert size(512) == "512 B"
    assert duration(45) == "45 s"
    assert duration(3 * 86400 + 4 * 3600) == "3 d 4 h"
    assert ago("2027-01-15T07:55:00Z", 1_800_000_000.0) == "5 min ago"
    assert ago("2027-01-15T10:00:00Z", 1_800_000_000.0) == "in 2 h"
    assert ago("not a time", NOW) == ""
    assert ago(None, NOW) == ""
