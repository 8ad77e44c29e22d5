"""A WebUI on 127.0.0.1 that gives chosen answers to `torrents/add`, for answers a real qBittorrent
gives only in situations a test cannot arrange (a single torrent whose JSON answer counts a failure,
an answer of a shape no version gives).

It speaks what the qBittorrent client needs around an add: a 5.3-style login (204 and a
`QBT_SID_<port>` cookie), the version calls, and `torrents/info` for the hashes it is told are listed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

COOKIE = "standin-session"


@dataclass
class AddAnswers:
    """What `torrents/add` answers (status, body, content type) and which hashes `torrents/info` lists."""

    status: int = 200
    body: str = "Ok."
    content_type: str = "text/plain"
    listed: set[str] = field(default_factory=set)
    adds: int = 0

    def json(self, answer: Any, status: int = 200) -> None:
        self.status, self.body, self.content_type = status, json.dumps(answer), "application/json"

    def text(self, answer: str, status: int = 200) -> None:
        self.status, self.body, self.content_type = status, answer, "text/plain"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/v2/auth/login", self._login)
        app.router.add_route("*", "/api/v2/app/version", self._fixed("v5.3.0"))
        app.router.add_route("*", "/api/v2/app/webapiVersion", self._fixed("2.16.2"))
        app.router.add_route("*", "/api/v2/torrents/add", self._add)
        app.router.add_route("*", "/api/v2/torrents/info", self._info)
        return app

    async def _login(self, request: web.Request) -> web.Response:
        response = web.Response(status=204)
        port = request.transport.get_extra_info("sockname")[1] if request.transport else 0
        response.set_cookie(f"QBT_SID_{port}", COOKIE, httponly=True, samesite="Lax")
        return response

    def _fixed(self, text: str) -> Any:
        async def answer(request: web.Request) -> web.Response:
            return web.Response(text=text) if self._logged_in(request) else web.Response(status=403)

        return answer

    async def _add(self, request: web.Request) -> web.Response:
        if not self._logged_in(request):
            return web.Response(status=403)
        await request.read()
        self.adds += 1
        return web.Response(status=self.status, text=self.body, content_type=self.content_type)

    async def _info(self, request: web.Request) -> web.Response:
        if not self._logged_in(request):
            return web.Response(status=403)
        form = await request.post() if request.method == "POST" else request.query
        wanted = {h.lower() for h in str(form.get("hashes", "")).split("|") if h}
        rows = [
            {"hash": h, "name": h, "state": "stalledUP", "progress": 1} for h in sorted(self.listed & wanted)
        ]
        return web.json_response(rows)

    @staticmethod
    def _logged_in(request: web.Request) -> bool:
        return COOKIE in request.cookies.values()
