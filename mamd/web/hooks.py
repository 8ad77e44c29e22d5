"""`POST /hooks/qbittorrent`: store the completion durably, then answer 202 at once.

The payload is a hint, never the truth: only the hash matters, and the torrent is re-read
from qBittorrent when the hook is processed. The other fields are kept for the record.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import re
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from mamd.crashpoint import crashpoint
from mamd.logs import get_logger
from mamd.store import StoreUnavailable
from mamd.web.errors import fail
from mamd.web.keys import runtime_of
from mamd.web.params import parse_whole

log = get_logger("mamd.hooks")

HASH_RE = re.compile(r"^[0-9a-fA-F]{40}$")
TEXT_FIELDS = ("name", "category", "tags", "content_path", "root_path", "save_path", "tracker")
NUMBER_FIELDS = ("num_files", "size")
MAX_FIELD_CHARS = 4096
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
BODY_TIMEOUT_S = 10.0  # the whole body must arrive within this; a trickle would hold the hook open
# what reading a body can raise on bytes a client chose: a bad charset or encoding, gzip garbage,
# a broken multipart, a truncated stream
_UNREADABLE = (ValueError, LookupError, HttpProcessingError, web.RequestPayloadError)


async def qbittorrent_hook(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            fields = await _read_fields(request)
    except TimeoutError:
        fail(408, f"the request body did not arrive within {BODY_TIMEOUT_S:g} s")
    torrent_hash, payload = _validate(fields)
    if "tracker" in payload:  # MAM's announce URL holds the account's passkey: it is kept without it
        payload["tracker"] = runtime.redactor.text(payload["tracker"])
    try:
        accepted = await runtime.inbox.add(torrent_hash, payload, "webhook", runtime.clock.now())
    except StoreUnavailable as exc:
        runtime.counters["hooks_unstored"] += 1
        log.error("hook.not_stored", hash=torrent_hash, reason=str(exc))
        fail(503, f"the hook could not be stored ({exc}); the reconcile job will find the torrent later")
    crashpoint("import.hook_stored")
    runtime.counters["hooks_duplicate" if accepted.duplicate else "hooks_accepted"] += 1
    runtime.importer.wake()
    log.info(
        "hook.accepted", hash=torrent_hash, inbox_id=accepted.id, duplicate=accepted.duplicate, **payload
    )
    return web.json_response(
        {"accepted": True, "hash": torrent_hash, "duplicate": accepted.duplicate}, status=202
    )


async def _read_fields(request: web.Request) -> dict[str, Any]:
    content_type = request.content_type
    charset = request.charset
    if charset is not None:
        try:
            codecs.lookup(charset)
        except LookupError:
            fail(400, f"unknown charset {charset[:40]!r}: send UTF-8")
    if content_type == "application/json":
        try:
            raw = await request.read()
        except _UNREADABLE as exc:
            fail(400, f"the body cannot be read: {_why(exc)}")
        try:
            body = json.loads(raw.decode(charset or "utf-8"))
        except (ValueError, RecursionError):
            # ValueError covers bad bytes and numbers of thousands of digits; RecursionError, deep nesting
            fail(400, "the body is not valid JSON")
        if not isinstance(body, dict):
            fail(400, "the JSON body must be an object with a `hash` field")
        return body
    if content_type not in FORM_TYPES:
        fail(
            400,
            f"unsupported content type {content_type[:80] or '(none)'}: send a form "
            "(application/x-www-form-urlencoded) or JSON",
        )
    try:
        form = await request.post()
    except _UNREADABLE as exc:
        fail(400, f"the form cannot be read: {_why(exc)}")
    fields: dict[str, Any] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            fail(400, f"field `{key}` must be text, not a file upload")
        fields[key] = value
    return fields


def _validate(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    torrent_hash = fields.get("hash")
    if not isinstance(torrent_hash, str) or not torrent_hash.strip():
        fail(400, "the `hash` field is required (qBittorrent's %I)")
    torrent_hash = torrent_hash.strip()
    if not HASH_RE.match(torrent_hash):
        fail(400, "`hash` must be a 40-character hexadecimal info-hash (qBittorrent's %I)")
    payload: dict[str, Any] = {}
    for key in TEXT_FIELDS:
        value = fields.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            fail(400, f"`{key}` must be text")
        if len(value) > MAX_FIELD_CHARS:
            fail(400, f"`{key}` is longer than {MAX_FIELD_CHARS} characters")
        payload[key] = value
    for key in NUMBER_FIELDS:
        value = fields.get(key)
        if value is None or value == "":
            continue
        number = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = parse_whole(str(value))
        elif isinstance(value, str):
            number = parse_whole(value)
        if number is None:
            fail(400, f"`{key}` must be a whole number of at least 0 (and below 2^63)")
        payload[key] = number
    return torrent_hash.lower(), payload


def _why(exc: BaseException) -> str:
    """The first line of what aiohttp or a codec said, cut short."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not {exc.encoding} text"
    text = exc.message if isinstance(exc, HttpProcessingError) else str(exc)
    # a RequestPayloadError reads "400, message:" and then the reason on the next line
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.endswith("message:")]
    return (lines[0] if lines else type(exc).__name__)[:120]
