"""mamd/logs.py: one event per line, one renderer for everything, and no secret ever printed."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from yarl import URL

from mamd.clients.errors import Unauthorized, Unavailable
from mamd.config import iter_secrets, load_config
from mamd.logs import Redactor, bind, configure_logging, resolve_format
from mamd.runtime import Runtime
from mamd.schedule import JobContext
from tests.support.configs import ABS_KEY, API_KEY, MAM_SESSION, QBT_PASSWORD

SECRET = "s3cret-value-for-logs-0123"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
QUIETED = ("watchfiles", "qbittorrentapi", "urllib3", "aiohttp.access", "aiosqlite")


def _mamd_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "_mamd", False)]


@pytest.fixture(autouse=True)
def fresh_logging() -> Iterator[None]:
    """Each test configures logging itself; the process-wide state is put back afterwards."""
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in (None, "aiohttp.server", *QUIETED)}
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    yield
    for handler in _mamd_handlers():
        root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def configure(level: str, fmt: str, redactor: Redactor, stream: Any) -> str:
    """configure_logging, with the root logger then left as the daemon has it: mamd's handler only.

    pytest adds its own capture handlers to the root logger for each test phase; their formatter
    sets `record.message` first, which the ExtraAdder would then render as an extra field.
    """
    chosen = configure_logging(level, fmt, redactor, stream)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if not getattr(handler, "_mamd", False):
            root.removeHandler(handler)
    return chosen


Setup = Callable[..., tuple[io.StringIO, Any]]


@pytest.fixture
def logs() -> Setup:
    """`stream, log = logs("journal", level="debug", secrets=[...])`: a fresh logger writing to a StringIO."""

    def setup(
        fmt: str, level: str = "debug", secrets: tuple[str, ...] = (SECRET,)
    ) -> tuple[io.StringIO, Any]:
        stream = io.StringIO()
        assert configure(level, fmt, Redactor(secrets), stream) == fmt
        return stream, structlog.stdlib.get_logger("tests.logs")

    return setup


def lines_of(stream: io.StringIO) -> list[str]:
    text = stream.getvalue()
    assert text == "" or text.endswith("\n")
    return text.splitlines()


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines_of(stream)]


# -- journal format --------------------------------------------------------------------------------


def test_journal_line_is_priority_event_then_fields_without_a_timestamp(logs: Setup) -> None:
    stream, log = logs("journal")
    log.info("import.linked", hash="abc123", files=3, dest="/srv/media/A B")
    assert lines_of(stream) == ['<6>import.linked hash=abc123 files=3 dest="/srv/media/A B"']


def test_journal_line_without_fields_is_priority_and_event_only(logs: Setup) -> None:
    stream, log = logs("journal")
    log.info("daemon.started")
    assert lines_of(stream) == ["<6>daemon.started"]


@pytest.mark.parametrize(
    ("method", "priority"),
    [("debug", 7), ("info", 6), ("warning", 4), ("error", 3), ("critical", 2)],
)
def test_journal_priority_follows_sd_daemon_levels(logs: Setup, method: str, priority: int) -> None:
    stream, log = logs("journal")
    getattr(log, method)("level.check", n=1)
    assert lines_of(stream) == [f"<{priority}>level.check n=1"]


def test_journal_line_never_carries_a_timestamp(logs: Setup) -> None:
    stream, log = logs("journal")
    log.warning("guard.caution", ratio=1.3)
    [line] = lines_of(stream)
    assert not TIMESTAMP.search(line)
    assert "at=" not in line
    assert "timestamp" not in line


def test_journal_keeps_an_exception_with_its_traceback_on_one_line(logs: Setup) -> None:
    stream, log = logs("journal")
    try:
        raise RuntimeError("boom\nsecond line of the message")
    except RuntimeError:
        log.exception("job.failed", job="search")
    [line] = lines_of(stream)
    assert line.startswith("<3>job.failed job=search ")
    assert "Traceback (most recent call last):" in line
    assert "RuntimeError: boom" in line
    assert "\\n" in line  # the newlines are escaped, not dropped


def test_journal_keeps_a_field_with_newlines_on_one_line(logs: Setup) -> None:
    stream, log = logs("journal")
    log.info("note.added", text="first\nsecond\r\nthird")
    [line] = lines_of(stream)
    assert line.startswith("<6>note.added ")
    assert "first\\nsecond" in line


# -- json format -----------------------------------------------------------------------------------


def test_json_is_one_object_per_line_with_at_level_event_first(logs: Setup) -> None:
    stream, log = logs("json")
    log.info("hook.accepted", hash="abc", duplicate=False)
    log.warning("guard.caution", ratio=1.3)
    events = json_lines(stream)
    assert len(events) == 2
    first, second = events
    assert list(first)[:3] == ["at", "level", "event"]
    assert ISO_UTC.match(first["at"])
    assert first == {
        "at": first["at"],
        "level": "info",
        "event": "hook.accepted",
        "hash": "abc",
        "duplicate": False,
    }
    assert (second["level"], second["event"], second["ratio"]) == ("warning", "guard.caution", 1.3)


def test_json_carries_an_exception_as_one_field(logs: Setup) -> None:
    stream, log = logs("json")
    try:
        raise ValueError("bad value")
    except ValueError:
        log.exception("job.failed", job="search")
    [event] = json_lines(stream)
    assert event["level"] == "error"
    assert event["event"] == "job.failed"
    assert "Traceback (most recent call last):" in event["exception"]
    assert event["exception"].rstrip().endswith("ValueError: bad value")


def test_bound_context_appears_on_every_line(logs: Setup) -> None:
    stream, log = logs("json")
    bind(job="search", run=7)
    log.info("search.query", title="A")
    logging.getLogger("aiohttp.server").warning("slow request")
    events = json_lines(stream)
    assert [(e["job"], e["run"]) for e in events] == [("search", 7), ("search", 7)]


# -- the standard library goes through the same renderer --------------------------------------------


def test_stdlib_logger_renders_as_a_journal_line(logs: Setup) -> None:
    stream, _ = logs("journal")
    logging.getLogger("aiohttp.server").error("Error handling request from %s", "127.0.0.1")
    logging.getLogger("watchfiles").warning("rust notify timeout, continuing")
    assert lines_of(stream) == [
        "<3>Error handling request from 127.0.0.1 logger=aiohttp.server",
        "<4>rust notify timeout, continuing logger=watchfiles",
    ]


def test_stdlib_logger_renders_as_json(logs: Setup) -> None:
    stream, _ = logs("json")
    logging.getLogger("aiohttp.server").error("Error handling request")
    [event] = json_lines(stream)
    assert list(event)[:3] == ["at", "level", "event"]
    assert (event["level"], event["event"], event["logger"]) == (
        "error",
        "Error handling request",
        "aiohttp.server",
    )


def test_stdlib_exception_stays_on_one_journal_line(logs: Setup) -> None:
    stream, _ = logs("journal")
    try:
        raise ConnectionResetError("peer went away")
    except ConnectionResetError:
        logging.getLogger("aiohttp.server").exception("Error handling request")
    [line] = lines_of(stream)
    assert line.startswith("<3>Error handling request ")
    assert "ConnectionResetError: peer went away" in line


# -- levels and reconfiguration ---------------------------------------------------------------------


def test_level_filters_mamd_and_library_events_below_it(logs: Setup) -> None:
    stream, log = logs("journal", level="warning")
    log.debug("quiet.debug")
    log.info("quiet.info")
    logging.getLogger("aiohttp.server").info("quiet library info")
    log.warning("loud.warning")
    logging.getLogger("aiohttp.server").error("loud library error")
    assert lines_of(stream) == ["<4>loud.warning", "<3>loud library error logger=aiohttp.server"]


def test_debug_level_lets_debug_events_through(logs: Setup) -> None:
    stream, log = logs("journal", level="debug")
    log.debug("detail.shown", n=1)
    assert lines_of(stream) == ["<7>detail.shown n=1"]


def test_noisy_libraries_are_held_at_warning_even_at_debug(logs: Setup) -> None:
    stream, _ = logs("journal", level="debug")
    logging.getLogger("watchfiles").info("1 change detected")
    logging.getLogger("aiosqlite").debug("executing")
    assert lines_of(stream) == []


def test_reconfiguring_changes_level_and_format_in_place_without_a_second_handler() -> None:
    stream = io.StringIO()
    redactor = Redactor()
    log = structlog.stdlib.get_logger("tests.logs")
    assert configure("info", "json", redactor, stream) == "json"
    log.debug("hidden.before")
    log.info("shown.as.json")

    assert configure("debug", "journal", redactor, stream) == "journal"
    log.debug("shown.as.journal")
    logging.getLogger("aiohttp.server").info("library line")

    assert len(_mamd_handlers()) == 1
    lines = lines_of(stream)
    assert len(lines) == 3
    assert json.loads(lines[0])["event"] == "shown.as.json"
    assert lines[1:] == ["<7>shown.as.journal", "<6>library line logger=aiohttp.server"]


def test_reconfiguring_to_a_higher_level_drops_what_it_showed_before() -> None:
    stream = io.StringIO()
    log = structlog.stdlib.get_logger("tests.logs")
    configure("debug", "journal", Redactor(), stream)
    log.info("shown")
    configure("error", "journal", Redactor(), stream)
    log.info("hidden")
    log.warning("hidden.too")
    log.error("shown.again")
    assert lines_of(stream) == ["<6>shown", "<3>shown.again"]


def test_reconfiguring_onto_a_new_stream_stops_writing_to_the_old_one() -> None:
    old, new = io.StringIO(), io.StringIO()
    log = structlog.stdlib.get_logger("tests.logs")
    configure("info", "journal", Redactor(), old)
    configure("info", "journal", Redactor(), new)
    log.info("only.once")
    assert lines_of(old) == []
    assert lines_of(new) == ["<6>only.once"]
    assert len(_mamd_handlers()) == 1


def test_configuring_leaves_foreign_handlers_alone() -> None:
    foreign = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(foreign)
    try:
        configure_logging("info", "json", Redactor(), io.StringIO())
        configure_logging("info", "journal", Redactor(), io.StringIO())
        assert foreign in root.handlers
        assert len(_mamd_handlers()) == 1
    finally:
        root.removeHandler(foreign)


# -- choosing the format --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["journal", "json", "console"])
def test_resolve_format_keeps_an_explicit_choice(name: str) -> None:
    assert resolve_format(name, io.StringIO()) == name


def test_resolve_format_auto_picks_journal_when_journal_stream_names_the_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (tmp_path / "stdout").open("w") as stream:
        info = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{info.st_dev}:{info.st_ino}")
        assert resolve_format("auto", stream) == "journal"


def test_resolve_format_auto_picks_json_when_journal_stream_names_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (tmp_path / "stdout").open("w") as stream, (tmp_path / "other").open("w") as other:
        info = os.fstat(other.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{info.st_dev}:{info.st_ino}")
        assert resolve_format("auto", stream) == "json"


@pytest.mark.parametrize("value", ["", "garbage", "1:2:3", "12"])
def test_resolve_format_auto_ignores_a_malformed_journal_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", value)
    with (tmp_path / "stdout").open("w") as stream:
        assert resolve_format("auto", stream) == "json"


def test_resolve_format_auto_picks_json_for_a_file_that_is_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    with (tmp_path / "stdout").open("w") as stream:
        assert resolve_format("auto", stream) == "json"
    assert resolve_format("auto", io.StringIO()) == "json"


def test_resolve_format_auto_picks_console_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    leader, follower = os.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as stream:
            assert resolve_format("auto", stream) == "console"
    finally:
        os.close(follower)
        os.close(leader)


def test_configure_logging_auto_under_journald_writes_journal_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "stdout"
    with path.open("w") as stream:
        info = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{info.st_dev}:{info.st_ino}")
        assert configure("info", "auto", Redactor(), stream) == "journal"
        structlog.stdlib.get_logger("tests.logs").info("daemon.ready", port=8787)
        stream.flush()
        for handler in _mamd_handlers():
            logging.getLogger().removeHandler(handler)
    assert path.read_text() == "<6>daemon.ready port=8787\n"


# -- the Redactor ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "journal"])
def test_a_registered_secret_in_a_field_value_is_replaced(logs: Setup, fmt: str) -> None:
    stream, log = logs(fmt)
    log.info("mam.login", detail=f"cookie value {SECRET} refused")
    text = stream.getvalue()
    assert SECRET not in text
    assert "cookie value *** refused" in text


@pytest.mark.parametrize("fmt", ["json", "journal"])
def test_a_registered_secret_in_nested_dicts_and_lists_is_replaced(logs: Setup, fmt: str) -> None:
    stream, log = logs(fmt)
    log.info("request.sent", body={"items": [SECRET, {"note": f"x{SECRET}y"}], "pair": (1, SECRET)})
    text = stream.getvalue()
    assert SECRET not in text
    assert "***" in text


def test_a_registered_secret_in_nested_values_is_replaced_field_by_field(logs: Setup) -> None:
    stream, log = logs("json")
    log.info("request.sent", body={"items": [SECRET, {"note": f"x{SECRET}y"}], "name": "kept"})
    [event] = json_lines(stream)
    assert event["body"] == {"items": ["***", {"note": "x***y"}], "name": "kept"}


@pytest.mark.parametrize("fmt", ["json", "journal"])
def test_a_registered_secret_in_the_event_message_is_replaced(logs: Setup, fmt: str) -> None:
    stream, log = logs(fmt)
    log.warning(f"login failed with {SECRET}")
    logging.getLogger("aiohttp.client").warning("retrying with %s", SECRET)
    text = stream.getvalue()
    assert SECRET not in text
    assert "login failed with ***" in text
    assert "retrying with ***" in text


@pytest.mark.parametrize("fmt", ["json", "journal"])
def test_a_registered_secret_in_an_exception_and_its_traceback_is_replaced(logs: Setup, fmt: str) -> None:
    stream, log = logs(fmt, secrets=("literal-secret-in-source-42",))
    try:
        # the secret is a literal here, so the traceback's source line holds it too
        raise PermissionError("refused: " + "literal-secret-in-source-42")
    except PermissionError:
        log.exception("mam.login_failed")
        logging.getLogger("aiohttp.client").exception("request failed")
    text = stream.getvalue()
    assert "literal-secret-in-source-42" not in text
    assert "Traceback" in text
    assert "PermissionError: refused: ***" in text


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "api_key",
        "apikey",
        "session",
        "cookie",
        "token",
        "Authorization",
        "mam_id",
        "QBT_PASSWORD",
    ],
)
@pytest.mark.parametrize("fmt", ["json", "journal"])
def test_a_value_under_a_secret_looking_key_is_replaced_even_if_unregistered(
    logs: Setup, fmt: str, key: str
) -> None:
    stream, log = logs(fmt, secrets=())
    log.info("config.loaded", **{key: "never-registered-value-77"})
    text = stream.getvalue()
    assert "never-registered-value-77" not in text
    if fmt == "json":
        assert json_lines(stream)[0][key] == "***"
    else:
        assert f"{key}=***" in text


def test_a_value_under_a_secret_looking_nested_key_is_replaced(logs: Setup) -> None:
    stream, log = logs("json", secrets=())
    log.info("request.sent", headers={"Cookie": "mam_id=abc", "Accept": "application/json"})
    [event] = json_lines(stream)
    assert event["headers"] == {"Cookie": "***", "Accept": "application/json"}


@pytest.mark.parametrize("key", ["password_file", "api_key_file", "session_file"])
def test_a_key_ending_in_file_is_not_redacted(logs: Setup, key: str) -> None:
    stream, log = logs("json", secrets=())
    log.info("config.secret_source", **{key: "/run/credentials/mamd.service/secret"})
    [event] = json_lines(stream)
    assert event[key] == "/run/credentials/mamd.service/secret"


@pytest.mark.parametrize("fmt", ["json", "journal"])
def test_an_api_key_in_a_url_query_is_replaced(logs: Setup, fmt: str) -> None:
    stream, log = logs(fmt, secrets=())
    log.info(
        "http.called",
        url="http://127.0.0.1:8787/hooks/qbittorrent?apikey=unregistered-key-1&hash=abc",
        other="https://abs.local/api/items?token=unregistered-token-2",
    )
    text = stream.getvalue()
    assert "unregistered-key-1" not in text
    assert "unregistered-token-2" not in text
    assert "apikey=***&hash=abc" in text
    assert "token=***" in text


def test_a_secret_inside_an_object_field_is_replaced(logs: Setup) -> None:
    stream, log = logs("json")
    log.info("http.called", url=URL(f"http://127.0.0.1/x?key={SECRET}"))
    text = stream.getvalue()
    assert SECRET not in text
    assert "***" in text


def test_a_non_ascii_secret_inside_an_exception_field_is_replaced_in_json(logs: Setup) -> None:
    secret = "pässwörd-for-qbittorrent"
    stream, log = logs("json", secrets=(secret,))
    log.error("qbittorrent.login_failed", error=RuntimeError(f"login refused for {secret}"))
    [event] = json_lines(stream)
    assert secret not in json.dumps(event, ensure_ascii=False)


def test_a_secret_with_a_quote_inside_an_exception_field_is_replaced_in_journal(logs: Setup) -> None:
    secret = 'pa"ss-word-with-quote'
    stream, log = logs("journal", secrets=(secret,))
    log.error("qbittorrent.login_failed", error=RuntimeError(f"login refused for {secret}"))
    text = stream.getvalue()
    assert secret not in text
    assert secret.replace('"', '\\"') not in text


def test_every_secret_of_a_loaded_configuration_is_redacted(
    config_file: Callable[..., Path], logs: Setup
) -> None:
    secrets = tuple(iter_secrets(load_config(config_file())))
    assert set(secrets) >= {API_KEY, MAM_SESSION, ABS_KEY, QBT_PASSWORD}
    stream, log = logs("journal", secrets=secrets)
    log.info("debug.dump", values=[API_KEY, MAM_SESSION], text=f"{ABS_KEY} and {QBT_PASSWORD}")
    text = stream.getvalue()
    for secret in (API_KEY, MAM_SESSION, ABS_KEY, QBT_PASSWORD):
        assert secret not in text


def test_redactor_replaces_a_longer_secret_whole_before_a_shorter_one_it_contains() -> None:
    redactor = Redactor(["abc123", "abc123-longer"])
    assert redactor.text("x abc123-longer y abc123 z") == "x *** y *** z"


def test_redactor_cookie_registers_a_value_learnt_at_run_time() -> None:
    redactor = Redactor(["first-secret"])
    redactor.cookie("rotated-cookie-value")
    assert redactor.text("first-secret rotated-cookie-value") == "*** ***"


def test_redactor_ignores_empty_secrets() -> None:
    redactor = Redactor(["", "real"])
    redactor.cookie("")
    assert redactor.text("a real b") == "a *** b"
    assert redactor.secrets == ("real",)


def test_redactor_keeps_the_current_and_the_previous_cookie_only() -> None:
    redactor = Redactor(["configured-api-key"])
    for number in range(50_000):  # weeks of MAM rotating the cookie on every answer
        redactor.cookie(f"cookie-{number:06d}")
    assert sorted(redactor.secrets) == ["configured-api-key", "cookie-049998", "cookie-049999"]
    assert redactor.text("cookie-049999 cookie-049998 cookie-000001") == "*** *** cookie-000001"


def test_redactor_update_replaces_the_configured_secrets_and_keeps_the_cookies() -> None:
    redactor = Redactor(["old-api-key", "first-cookie"])
    redactor.cookie("rotated-cookie")
    redactor.update(["new-api-key", "first-cookie"])
    assert redactor.text("old-api-key new-api-key rotated-cookie") == "old-api-key *** ***"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://t.myanonamouse.net/tracker.php/aB3dE5fG7hJ9kL1mN3pQ5rS7/announce",
            "https://t.myanonamouse.net/tracker.php/***/announce",
        ),
        ("http://tracker.example/announce/0123456789abcdef0123", "http://tracker.example/announce/***"),
        (
            "http://tracker.example/announce.php?passkey=0123456789abcdef",
            "http://tracker.example/announce.php?passkey=***",
        ),
        ("udp://open.tracker.example:1337/announce", "udp://open.tracker.example:1337/announce"),
    ],
)
def test_redactor_hides_the_passkey_of_a_tracker_url(url: str, shown: str) -> None:
    assert Redactor().text(f"tracker {url} does not work") == f"tracker {shown} does not work"


def test_redactor_value_keeps_non_text_values_and_containers() -> None:
    redactor = Redactor(["hidden"])
    assert redactor.value(
        {"n": 3, "ok": True, "none": None, "list": ["hidden", 1], "tuple": ("hidden",)}
    ) == {
        "n": 3,
        "ok": True,
        "none": None,
        "list": ["***", 1],
        "tuple": ("***",),
    }


async def test_an_expected_job_failure_is_one_short_warning_line_and_a_bug_keeps_its_traceback(
    runtime: Runtime,
) -> None:
    stream = io.StringIO()
    configure("info", "json", Redactor(), stream)

    async def refused(context: JobContext) -> None:
        raise Unauthorized("audiobookshelf", "Audiobookshelf refused the API key (401): " + "x" * 2000, 401)

    async def down(context: JobContext) -> None:
        raise Unavailable(
            "qbittorrent", "cannot reach qBittorrent at http://127.0.0.1:9: [Errno 111] refused"
        )

    async def bug(context: JobContext) -> None:
        raise KeyError("a bug")

    runtime.use_jobs({"library_sync": refused, "reconcile": down, "retention": bug})
    for name in ("library_sync", "reconcile", "retention"):
        runtime.scheduler.run_now(name)
    await runtime.tasks.drain(5.0)
    failed = {e["job"]: e for e in map(json.loads, lines_of(stream)) if e["event"] == "job.failed"}
    for job in ("library_sync", "reconcile"):
        assert failed[job]["level"] == "warning"
        assert "exception" not in failed[job]
        assert len(json.dumps(failed[job])) < 700
    assert "[Errno 111] refused" in failed["reconcile"]["error"]
    assert failed["retention"]["level"] == "error"
    assert "Traceback" in failed["retention"]["exception"]
