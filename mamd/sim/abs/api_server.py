"""Handlers for the server-wide routes: probes, login, the token's user, API keys, tasks, scans, the
watcher and issue removal."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from mamd.sim.abs.auth import USER, require_admin, unauthorized
from mamd.sim.abs.model import SERVER_VERSION
from mamd.sim.abs.state import state_of

_SERVER_SETTINGS: dict[str, Any] = {
    "id": "server-settings",
    "scannerFindCovers": False,
    "scannerCoverProvider": "google",
    "scannerParseSubtitle": False,
    "scannerPreferMatchedMetadata": False,
    "scannerDisableWatcher": False,
    "storeCoverWithItem": False,
    "storeMetadataWithItem": False,
    "metadataFileFormat": "json",
    "rateLimitLoginRequests": 10,
    "rateLimitLoginWindow": 600000,
    "allowIframe": False,
    "backupPath": "/metadata/backups",
    "backupSchedule": False,
    "backupsToKeep": 2,
    "maxBackupSize": 1,
    "loggerDailyLogsToKeep": 7,
    "loggerScannerLogsToKeep": 2,
    "homeBookshelfView": 1,
    "bookshelfView": 1,
    "podcastEpisodeSchedule": "0 * * * *",
    "sortingIgnorePrefix": False,
    "sortingPrefixes": ["the", "a"],
    "chromecastEnabled": False,
    "dateFormat": "MM/dd/yyyy",
    "timeFormat": "HH:mm",
    "language": "en-us",
    "allowedOrigins": [],
    "logLevel": 2,
    "version": SERVER_VERSION,
    "buildNumber": 1,
    "authLoginCustomMessage": None,
    "authActiveAuthMethods": ["local"],
    "authOpenIDIssuerURL": None,
    "authOpenIDAuthorizationURL": None,
    "authOpenIDTokenURL": None,
    "authOpenIDUserInfoURL": None,
    "authOpenIDJwksURL": None,
    "authOpenIDLogoutURL": None,
    "authOpenIDTokenSigningAlgorithm": "RS256",
    "authOpenIDButtonText": "Login with OpenId",
    "authOpenIDAutoLaunch": False,
    "authOpenIDAutoRegister": False,
    "authOpenIDMatchExistingBy": None,
    "timeZone": "UTC",
}


def ok() -> web.Response:
    """What Express's `res.sendStatus(200)` sends."""
    return web.Response(status=200, text="OK")


def not_found() -> web.Response:
    return web.Response(status=404, text="Not Found")


def json_response(data: Any, status: int = 200) -> web.Response:
    """Compact JSON, as the real server (Express) sends it; msgspec encodes large lists ten times faster."""
    return web.Response(status=status, body=msgspec.json.encode(data), content_type="application/json")


async def healthcheck(request: web.Request) -> web.Response:
    return ok()


async def ping(request: web.Request) -> web.Response:
    return json_response({"success": True})


async def status(request: web.Request) -> web.Response:
    return json_response(
        {
            "app": "audiobookshelf",
            "serverVersion": SERVER_VERSION,
            "isInit": True,
            "language": "en-us",
            "authMethods": ["local"],
            "authFormData": {"authLoginCustomMessage": ""},
        }
    )


async def login(request: web.Request) -> web.Response:
    """`POST /login`: the refresh token is in the body only with `x-return-tokens: true`."""
    state = state_of(request)
    if not state.users.allow_login(request.remote or "?", state.now_ms()):
        return json_response({"error": "Too many authentication requests"}, status=429)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return unauthorized()
    user = state.users.login(str(body.get("username", "")), str(body.get("password", "")))
    if user is None:
        return unauthorized()
    access, refresh = state.users.issue(user)
    in_body = request.headers.get("x-return-tokens", "").lower() == "true"
    response = json_response(
        {
            "user": {
                **state.users.user_json(user),
                "refreshToken": refresh if in_body else None,
                "accessToken": access,
            },
            "userDefaultLibraryId": state.library.id,
            "serverSettings": _SERVER_SETTINGS,
            "ereaderDevices": [],
            "Source": "debian",
        }
    )
    if not in_body:
        response.set_cookie("refresh_token", refresh, httponly=True, samesite="Strict")
    return response


async def me(request: web.Request) -> web.Response:
    return json_response(state_of(request).users.user_json(request[USER]))


async def api_keys(request: web.Request) -> web.Response:
    if (refused := require_admin(request)) is not None:
        return refused
    return json_response(state_of(request).users.api_keys_json())


async def tasks(request: web.Request) -> web.Response:
    """A `library-scan` task while a scan runs; `{"tasks": []}` otherwise (finished tasks vanish)."""
    return json_response({"tasks": state_of(request).scanner.tasks_json()})


async def scan_library(request: web.Request) -> web.Response:
    """Answers 200 at once; the scan runs in the background, or not at all when one is running."""
    state = state_of(request)
    if request.match_info["library_id"] != state.library.id:
        return not_found()
    if (refused := require_admin(request)) is not None:
        return refused
    state.scanner.request(force=request.query.get("force") == "1")
    return ok()


async def remove_issues(request: web.Request) -> web.Response:
    """`DELETE /api/libraries/:id/issues`: drop missing and invalid items, then unused authors and series."""
    state = state_of(request)
    if request.match_info["library_id"] != state.library.id:
        return not_found()
    if (refused := require_admin(request)) is not None:
        return refused
    library = state.library
    for item_id in [item.id for item in library.items.values() if item.has_issue]:
        library.drop(item_id)
    library.prune()
    library.changed(state.now_ms())
    return ok()


async def watcher_update(request: web.Request) -> web.Response:
    """`POST /api/watcher/update`: 200 even when the watcher is disabled and nothing happens."""
    if (refused := require_admin(request)) is not None:
        return refused
    state = state_of(request)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return web.Response(status=400, text="Invalid request body")
    if body.get("libraryId") == state.library.id:
        state.scanner.watcher_update(str(body.get("path", "")), str(body.get("type", "")))
    return ok()
