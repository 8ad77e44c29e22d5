"""Users, tokens and the bearer check of the simulated ABS.

Every `/api` call needs `Authorization: Bearer <token>` (or `?token=` on GET); a missing or unknown token
gets 401 with the plain-text body `Unauthorized`, not JSON. The admin key acts as the root user; the
optional second key acts as a non-admin user, which gets 403 on admin routes.
"""

from __future__ import annotations

import hmac
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from mamd.sim.abs.model import IdFactory

LOGIN_LIMIT = 40  # `/login` and `/auth/*` requests per IP per window, as ABS limits them
LOGIN_WINDOW_MS = 600_000
_PERMISSIONS = {
    "download": True,
    "update": True,
    "delete": True,
    "upload": True,
    "createEreader": True,
    "accessAllLibraries": True,
    "accessAllTags": True,
    "accessExplicitContent": True,
    "selectedTagsNotAccessible": False,
}


@dataclass(frozen=True)
class User:
    id: str
    username: str
    type: str  # "root", "admin" or "user"
    password: str = field(repr=False)
    created_at: int
    legacy_token: str = field(repr=False)

    @property
    def is_admin(self) -> bool:
        return self.type in ("root", "admin")


USER = web.RequestKey("abs_user", User)


def unauthorized() -> web.Response:
    return web.Response(status=401, text="Unauthorized")


def forbidden() -> web.Response:
    return web.Response(status=403, text="Forbidden")


class Users:
    """The root user (admin key) and a reader (non-admin key), their tokens and API keys."""

    def __init__(
        self,
        ids: IdFactory,
        *,
        api_key: str,
        user_api_key: str | None,
        password: str,
        created_at: int,
    ) -> None:
        self.root = User(
            ids.make("user", "root"), "root", "root", password, created_at, f"sim-legacy-{api_key}"
        )
        self.reader = User(
            ids.make("user", "reader"), "reader", "user", password, created_at, f"sim-legacy-reader-{api_key}"
        )
        self._ids = ids
        self._created_at = created_at
        self._tokens: dict[str, User] = {
            api_key: self.root,
            self.root.legacy_token: self.root,
            self.reader.legacy_token: self.reader,
        }
        self._keys: list[tuple[str, User]] = [("mamd", self.root)]
        if user_api_key:
            self._tokens[user_api_key] = self.reader
            self._keys.append(("reader", self.reader))
        self._issued = 0
        self._logins: dict[str, deque[int]] = {}

    def by_token(self, token: str) -> User | None:
        for known, user in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return user
        return None

    def login(self, username: str, password: str) -> User | None:
        for user in (self.root, self.reader):
            if user.username == username and hmac.compare_digest(user.password.encode(), password.encode()):
                return user
        return None

    def issue(self, user: User) -> tuple[str, str]:
        """A fresh access token and refresh token for `user`; both are accepted as bearer tokens."""
        self._issued += 1
        access, refresh = (
            f"sim-access-{user.username}-{self._issued}",
            f"sim-refresh-{user.username}-{self._issued}",
        )
        self._tokens[access] = user
        return access, refresh

    def allow_login(self, client: str, now_ms: int) -> bool:
        """The per-IP rate limit of `/login` and `/auth/*`: 40 requests per 10 minutes."""
        recent = self._logins.setdefault(client, deque())
        while recent and recent[0] <= now_ms - LOGIN_WINDOW_MS:
            recent.popleft()
        recent.append(now_ms)
        return len(recent) <= LOGIN_LIMIT

    def user_json(self, user: User) -> dict[str, Any]:
        """The user as `GET /api/me` shows it."""
        return {
            "id": user.id,
            "username": user.username,
            "email": None,
            "type": user.type,
            "token": user.legacy_token,
            "isOldToken": True,
            "mediaProgress": [],
            "seriesHideFromContinueListening": [],
            "bookmarks": [],
            "isActive": True,
            "isLocked": False,
            "lastSeen": None,
            "createdAt": user.created_at,
            "permissions": dict(_PERMISSIONS) if user.is_admin else {**_PERMISSIONS, "delete": False},
            "librariesAccessible": [],
            "itemTagsSelected": [],
            "hasOpenIDLink": False,
        }

    def api_keys_json(self) -> dict[str, Any]:
        """`GET /api/api-keys`: the keys without their key strings (shown only once, at creation)."""
        created = datetime.fromtimestamp(self._created_at / 1000, UTC).isoformat(timespec="milliseconds")
        created = created.replace("+00:00", "Z")
        root = {"id": self.root.id, "username": self.root.username, "type": self.root.type}
        return {
            "apiKeys": [
                {
                    "id": self._ids.make("api-key", name),
                    "name": name,
                    "description": None,
                    "expiresAt": None,
                    "lastUsedAt": None,
                    "isActive": True,
                    "permissions": None,
                    "createdAt": created,
                    "updatedAt": created,
                    "userId": user.id,
                    "createdByUserId": self.root.id,
                    "user": {"id": user.id, "username": user.username, "type": user.type},
                    "createdByUser": root,
                }
                for name, user in self._keys
            ]
        }


def _is_api(path: str) -> bool:
    return path.startswith(("/api/", "/audiobookshelf/api/"))


def auth_middleware(users: Users) -> Middleware:
    """Check the bearer token of every `/api` request and remember its user on the request."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _is_api(request.path):
            return await handler(request)
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not token and request.method == "GET":
            token = request.query.get("token", "")
        user = users.by_token(token) if token else None
        if user is None:
            return unauthorized()
        request[USER] = user
        return await handler(request)

    return authenticate


def require_admin(request: web.Request) -> web.Response | None:
    """403 for a non-admin user on an admin route (scans, API keys, issues, the watcher)."""
    return None if request[USER].is_admin else forbidden()
