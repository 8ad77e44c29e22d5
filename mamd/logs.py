"""Logging: one event per line, the same renderer for mamd and every library, no secret ever printed.

mamd logs events, not sentences: `log.info("import.linked", hash=h, files=3)`. Under journald
(`$JOURNAL_STREAM` names our stdout) each line starts with an sd-daemon(3) `<N>` priority and
carries no timestamp (the journal adds one); a traceback stays on its line, escaped.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger

# sd-daemon(3) priorities
_PRIORITY = {"debug": 7, "info": 6, "notice": 5, "warning": 4, "error": 3, "critical": 2, "exception": 3}
_SECRET_KEYS = re.compile(
    r"(password|passwd|api_?key|apikey|secret|session|cookie|token|authorization|mam_id)", re.I
)
_SECRET_PARAMS = re.compile(r"(?i)\b(apikey|api_key|token|mam_id|password|passkey)=([^&\s\"';]+)")
# a tracker's announce URL carries the account's passkey in its path, and whoever has it can announce
# as the account: MAM's is https://t.myanonamouse.net/tracker.php/<passkey>/announce, others use
# /announce/<passkey>
_PASSKEY_PATH = re.compile(r"(?i)(?<=/)[A-Za-z0-9_-]{16,}(?=/announce\b)|(?<=/announce/)[A-Za-z0-9_-]{16,}")
_QUIET_LIBRARIES = ("watchfiles", "qbittorrentapi", "urllib3", "aiohttp.access", "aiosqlite")
# a value, a traceback and a whole line are cut to these many characters: whatever a request or a
# file holds, one event is one line of bounded size (journald's own LineMax is 48K)
MAX_VALUE_CHARS = 2_000
MAX_TRACEBACK_CHARS = 8_000
MAX_LINE_CHARS = 16_000


def get_logger(name: str | None = None) -> Any:
    return structlog.stdlib.get_logger(name)


class Redactor:
    """Replaces every known secret value, and anything under a secret-looking key, with `***`.

    It runs on each event and again on each finished line, so neither a field, nor an
    exception message, nor a traceback can carry a secret out. The values it knows are the
    configured secrets and MAM's session cookie as it is now and as it was just before: MAM
    rotates the cookie on every answer and accepts only the newest values, so older ones give
    nothing away, and the list stays this short however long mamd runs. Passkeys in tracker
    URLs are recognised by their place in the URL.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._configured: frozenset[str] = frozenset()
        self._cookies: tuple[str, ...] = ()  # the current cookie, then the one before it
        self._secrets: tuple[str, ...] = ()
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        """Replace the configured secrets (a reload); the cookies are kept."""
        self._configured = frozenset(s for s in secrets if s)
        self._refresh()

    def cookie(self, value: str) -> None:
        """MAM's cookie is now `value`: it and the one before it are hidden from here on."""
        if value and (not self._cookies or self._cookies[0] != value):
            self._cookies = (value, *self._cookies[:1])
            self._refresh()

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value hidden now, longest first."""
        return self._secrets

    def _refresh(self) -> None:
        # longest first, so a secret that contains another is replaced whole
        self._secrets = tuple(sorted({*self._configured, *self._cookies}, key=len, reverse=True))

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, "***")
        if "/announce" in value.lower():  # most lines hold no tracker URL: skip the slower pattern
            value = _PASSKEY_PATH.sub("***", value)
        return _SECRET_PARAMS.sub(r"\1=***", value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: "***" if _is_secret_key(k) else self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        if value is None or isinstance(value, bool | int | float):
            return value
        # anything else (an exception, a path) becomes its text here, before a renderer
        # escapes it into a form the final whole-line pass could no longer recognise
        return self.text(str(value))

    def __call__(self, logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        for key, value in list(event.items()):
            event[key] = "***" if _is_secret_key(key) and value is not None else self.value(value)
        return event


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEYS.search(key)) and not key.endswith(("_file", "_state"))


class JournalRenderer:
    """`<6>event.name key=value …` on one line: journald adds the time and parses the priority."""

    def __init__(self) -> None:
        self._fields = structlog.processors.LogfmtRenderer(bool_as_flag=False)

    def __call__(self, logger: WrappedLogger, method: str, event: EventDict) -> str:
        level = str(event.pop("level", method))
        name = str(event.pop("event", ""))
        rest = self._fields(logger, method, event)
        line = f"<{_PRIORITY.get(level, 6)}>{name}" + (f" {rest}" if rest else "")
        return line.replace("\n", "\\n").replace("\r", "\\r")


def cut(text: str, limit: int, keep_end: bool = False) -> str:
    """`text` in at most about `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    note = f"…[{len(text) - limit} more characters]…"
    return note + text[-limit:] if keep_end else text[:limit] + note


def _bounded(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """Cut long values; a traceback keeps its end, where the error itself is."""
    for key, value in event.items():
        if isinstance(value, str):
            if key == "exception":
                event[key] = cut(value, MAX_TRACEBACK_CHARS, keep_end=True)
            else:
                event[key] = cut(value, MAX_VALUE_CHARS)
    return event


def _event_first(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """Put time, level and event name first, so JSON lines read left to right."""
    head = {key: event.pop(key) for key in ("at", "level", "event") if key in event}
    return {**head, **event}


class _RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    def __init__(self, redactor: Redactor, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return cut(self._redactor.text(super().format(record)), MAX_LINE_CHARS)


def journal_attached(stream: TextIO) -> bool:
    """True when `$JOURNAL_STREAM` names this stream's device and inode (systemd.exec(5))."""
    value = os.environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in value.split(":"))
        info = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (info.st_dev, info.st_ino) == (device, inode)


def resolve_format(name: str, stream: TextIO) -> str:
    if name != "auto":
        return name
    if journal_attached(stream):
        return "journal"
    try:
        return "console" if stream.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def configure_logging(level: str, format_name: str, redactor: Redactor, stream: TextIO | None = None) -> str:
    """Route structlog and the standard library through one renderer; returns the format used.

    Calling it again (after a reload) changes the level and format in place.
    """
    out = stream or sys.stdout
    chosen = resolve_format(format_name, out)
    shared: list[Any] = [structlog.contextvars.merge_contextvars, structlog.stdlib.add_log_level]
    stamp = [] if chosen == "journal" else [structlog.processors.TimeStamper(fmt="iso", utc=True, key="at")]
    foreign = [*shared, structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder()]
    renderer: Any
    if chosen == "journal":
        renderer = JournalRenderer()
    elif chosen == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=_colors(out))
    exceptions: list[Any] = [] if chosen == "console" else [structlog.processors.format_exc_info]
    formatter = _RedactingFormatter(
        redactor,
        foreign_pre_chain=foreign,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *stamp,
            *exceptions,
            redactor,  # before `_bounded`: a cut could split a secret the redactor would then miss
            _bounded,
            *([_event_first] if chosen == "json" else []),
            renderer,
        ],
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_mamd", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(out)
    handler._mamd = True  # type: ignore[attr-defined]  # marks the handler mamd owns
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # urllib3 warns of every retry qbittorrent-api makes while qBittorrent is down; the service state
    # and one health event say so already
    logging.getLogger("urllib3").setLevel(max(logging.ERROR, root.level))
    if not structlog.is_configured():
        structlog.configure(
            processors=[
                structlog.stdlib.filter_by_level,
                *shared,
                structlog.processors.StackInfoRenderer(),
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            cache_logger_on_first_use=True,
        )
    return chosen


def _colors(stream: TextIO) -> bool:
    try:
        return stream.isatty() and "NO_COLOR" not in os.environ
    except (AttributeError, ValueError):
        return False


def bind(**values: Any) -> None:
    """Bind context (a job name, a hash) to every log line of the current task."""
    structlog.contextvars.bind_contextvars(**values)
