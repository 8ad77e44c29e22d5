"""Every log line has a bounded size, whatever a request, a file or an exception carries into it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from mamd.logs import MAX_LINE_CHARS, MAX_TRACEBACK_CHARS, MAX_VALUE_CHARS, Redactor, configure_logging, cut

SECRET = "s3cret-value-for-logs-0123"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """mamd's logging into a buffer; the process-wide logging state is put back afterwards."""
    root = logging.getLogger()
    level = root.level
    foreign = [h for h in root.handlers if not getattr(h, "_mamd", False)]
    structlog.reset_defaults()
    buffer = io.StringIO()
    yield buffer
    for handler in [h for h in root.handlers if getattr(h, "_mamd", False)]:
        root.removeHandler(handler)
    for handler in foreign:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


def setup(stream: io.StringIO, fmt: str) -> None:
    configure_logging("debug", fmt, Redactor([SECRET]), stream)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if not getattr(h, "_mamd", False)]:
        root.removeHandler(handler)


@pytest.mark.parametrize("fmt", ["json", "journal", "console"])
def test_a_huge_value_is_cut_and_the_line_stays_bounded(stream: io.StringIO, fmt: str) -> None:
    setup(stream, fmt)
    structlog.stdlib.get_logger("tests").warning("http.request", path="/" + "a" * 200_000)
    [line] = stream.getvalue().splitlines()
    assert len(line) <= MAX_LINE_CHARS + 100
    assert "more characters]" in line
    if fmt == "json":
        event = json.loads(line)  # cut per value, the line is still valid JSON
        assert len(event["path"]) < MAX_VALUE_CHARS + 100


def test_a_secret_is_redacted_before_any_cut_could_split_it(stream: io.StringIO) -> None:
    setup(stream, "json")
    value = "x" * (MAX_VALUE_CHARS - 5) + SECRET + "y" * 100
    structlog.stdlib.get_logger("tests").info("upstream.failed", detail=value)
    assert SECRET[:5] not in stream.getvalue()


def test_a_long_traceback_keeps_its_end_where_the_error_is(stream: io.StringIO) -> None:
    setup(stream, "json")

    def deep(n: int) -> None:
        if n == 0:
            raise ValueError("the actual error")
        deep(n - 1)

    try:
        deep(400)
    except ValueError:
        structlog.stdlib.get_logger("tests").exception("job.failed")
    [line] = stream.getvalue().splitlines()
    event = json.loads(line)
    assert len(event["exception"]) <= MAX_TRACEBACK_CHARS + 100
    assert event["exception"].rstrip().endswith("ValueError: the actual error")


def test_a_foreign_library_line_is_bounded_too(stream: io.StringIO) -> None:
    """aiohttp once logged a whole pipelined request it could not parse: 128 KB a line."""
    setup(stream, "journal")
    logging.getLogger("aiohttp.server").error("Error handling request: %s", "X" * 131_072)
    [line] = stream.getvalue().splitlines()
    assert line.startswith("<3>")
    assert len(line) <= MAX_LINE_CHARS + 100


def test_cut_leaves_short_text_alone_and_says_how_much_it_left_out() -> None:
    assert cut("short", 10) == "short"
    assert cut("a" * 15, 10) == "a" * 10 + "…[5 more characters]…"
    assert cut("a" * 5 + "end", 3, keep_end=True) == "…[5 more characters]…end"
