"""`POST /hooks/qbittorrent`: store the completion durably, then answer 202 at once.

The payload is a hint, never the truth: only the hash matters, and the torrent is re-read
from qBittorrent when the hook is processed. The other fields are kept for the record.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from mamd.crashpoint import crashpoint
from mamd.logs import get_logger
from mamd.store import StoreUnavailable
from mamd.web.errors import fail
from mamd.web.keys import runtime_of

log = get_logger("mamd.hooks")

HASH_RE = re.compile(r"^[0-9a-fA-F]{40}$")
TEXT_FIELDS = ("name", "category", "tags", "content_path", "root_path", "save_path", "tracker")
NUMBER_FIELDS = ("num_files", "size")
MAX_FIELD_CHARS = 4096
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def qbittorrent_hook(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    fields = await _read_fields(request)
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
    if content_type == "application/json":
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            fail(400, "the body is not valid JSON")
        if not isinstance(body, dict):
            fail(400, "the JSON body must be an object with a `hash` field")
        return body
    if content_type not in FORM_TYPES:
        fail(
            400,
            f"unsupported content type {content_type or '(none)'}: send a form "
            "(application/x-www-form-urlencoded) or JSON",
        )
    form = await request.post()
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
        whole = (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or (
            isinstance(value, str) and value.strip().isdigit()
        )
        if not whole:
            fail(400, f"`{key}` must be a whole number of at least 0")
        payload[key] = int(value)
    return torrent_hash.lower(), payload
