"""A simulated qBittorrent WebUI (API v2, answering as qBittorrent 4.5 does), on an injectable clock.

For what a real `qbittorrent-nox` cannot do: live through months in minutes. The benchmarks use it
for the soak; the tests use the real one. Torrents live on the clock they are given: one added
without its data downloads for `download_s` of that clock (stalled while stopped), then its files
appear under its save path (zero-filled, the names and sizes its `.torrent` gives), `on_complete`
is called (what qBittorrent's "run external program on torrent finished" does), and it seeds,
counting seeding time on the same clock. `down = True` makes every request fail with 503, as a
qBittorrent restarting does.

Only what mamd's client asks is served: login, the versions, torrents info, files, trackers and
add, pause and resume, categories and tags. Hashes are v1 info-hashes of the added `.torrent`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from mamd.domain.torrentfile import parse_torrent

VERSION = "v4.5.2"
WEB_API_VERSION = "2.8.19"  # before 2.11: `pause` and `resume`, `pausedDL` and `pausedUP`
SID = "SID"


@dataclass
class SimTorrent:
    hash: str
    name: str
    files: list[tuple[str, int]]  # path inside the torrent, size
    save_path: str
    category: str
    tags: set[str]
    tracker: str
    added_on: float
    download_s: float  # clock seconds of downloading it takes
    paused: bool = False
    active_s: float = 0.0  # clock seconds spent downloading so far
    completed_on: float | None = None
    seeding_s: float = 0.0
    ticked_at: float = 0.0
    _static: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> int:
        return sum(size for _, size in self.files)

    @property
    def progress(self) -> float:
        if self.completed_on is not None:
            return 1.0
        return min(0.999, self.active_s / self.download_s) if self.download_s > 0 else 0.0

    @property
    def state(self) -> str:
        if self.completed_on is not None:
            return "pausedUP" if self.paused else "stalledUP"
        return "pausedDL" if self.paused else "downloading"

    @property
    def content_path(self) -> str:
        first = self.files[0][0].split("/", 1)[0] if self.files else self.name
        return f"{self.save_path.rstrip('/')}/{first}"

    def info(self) -> dict[str, Any]:
        size = self.size
        left = 0 if self.completed_on is not None else int(size * (1 - self.progress))
        return {
            **self._fixed(),
            "state": self.state,
            "progress": self.progress,
            "amount_left": left,
            "completion_on": int(self.completed_on) if self.completed_on is not None else -1,
            "category": self.category,
            "tags": ", ".join(sorted(self.tags)),
            "downloaded": size - left,
            "seeding_time": int(self.seeding_s),
        }

    def _fixed(self) -> dict[str, Any]:
        """The fields that never change, worked out once: hundreds of torrents are listed every minute."""
        if self._static is None:
            size = self.size
            self._static = {
                "hash": self.hash,
                "name": self.name,
                "save_path": self.save_path,
                "content_path": self.content_path,
                "size": size,
                "total_size": size,
                "ratio": 0.0,
                "uploaded": 0,
                "num_seeds": 0,
                "tracker": self.tracker,
                "added_on": int(self.added_on),
            }
        return self._static


@dataclass
class QbittorrentWebUI:
    """One simulated qBittorrent: `app` serves it; the attributes are its live state."""

    username: str = "admin"
    password: str = "adminadmin"
    clock: Callable[[], float] = time.time
    download_s: Callable[[str], float] = lambda info_hash: 3600.0
    on_complete: Callable[[SimTorrent], None] = lambda torrent: None
    torrents: dict[str, SimTorrent] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)  # name → save path
    tags: set[str] = field(default_factory=set)
    down: bool = False
    requests: int = 0

    def __post_init__(self) -> None:
        self._sessions: set[str] = set()
        self.app = web.Application(middlewares=[self._middleware])
        api = "/api/v2"
        self.app.router.add_post(f"{api}/auth/login", self._login)
        self.app.router.add_route("*", f"{api}/app/version", self._text(VERSION))
        self.app.router.add_route("*", f"{api}/app/webapiVersion", self._text(WEB_API_VERSION))
        self.app.router.add_route("*", f"{api}/torrents/info", self._info)
        self.app.router.add_route("*", f"{api}/torrents/files", self._files)
        self.app.router.add_route("*", f"{api}/torrents/trackers", self._trackers)
        self.app.router.add_post(f"{api}/torrents/add", self._add)
        self.app.router.add_post(f"{api}/torrents/pause", self._pause(True))
        self.app.router.add_post(f"{api}/torrents/resume", self._pause(False))
        self.app.router.add_route("*", f"{api}/torrents/categories", self._categories)
        self.app.router.add_post(f"{api}/torrents/createCategory", self._create_category)
        self.app.router.add_post(f"{api}/torrents/createTags", self._create_tags)
        self.app.router.add_route("*", f"{api}/torrents/tags", self._tags)

    # -- the clock ---------------------------------------------------------------------------------

    def tick(self) -> None:
        """Bring every torrent up to the clock's now: downloads progress and finish, seeding counts."""
        now = self.clock()
        for torrent in self.torrents.values():
            elapsed = max(0.0, now - torrent.ticked_at)
            torrent.ticked_at = now
            if torrent.paused or elapsed == 0:
                continue
            if torrent.completed_on is None:
                needed = torrent.download_s - torrent.active_s
                if elapsed < needed:
                    torrent.active_s += elapsed
                    continue
                torrent.active_s = torrent.download_s
                torrent.completed_on = now - (elapsed - needed)
                elapsed -= needed
                self._write_files(torrent)
                self.on_complete(torrent)
            torrent.seeding_s += elapsed

    def _write_files(self, torrent: SimTorrent) -> None:
        for relative, size in torrent.files:
            target = Path(torrent.save_path).joinpath(*PurePosixPath(relative).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                with target.open("wb") as handle:
                    handle.truncate(size)

    # -- the WebUI ---------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests += 1
        if self.down:
            return web.Response(status=503, text="qBittorrent is restarting")
        if not request.path.endswith("/auth/login") and request.cookies.get(SID) not in self._sessions:
            return web.Response(status=403, text="Forbidden")
        self.tick()
        return await handler(request)

    async def _login(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (form.get("username"), form.get("password")) != (self.username, self.password):
            return web.Response(text="Fails.")
        session = secrets.token_hex(16)
        self._sessions.add(session)
        response = web.Response(text="Ok.")
        response.set_cookie(SID, session, httponly=True)
        return response

    @staticmethod
    def _text(value: str) -> Handler:
        async def answer(request: web.Request) -> web.Response:
            return web.Response(text=value)

        return answer

    async def _params(self, request: web.Request) -> dict[str, str]:
        params = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items() if isinstance(v, str)})
        return params

    async def _info(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        chosen = set(params["hashes"].split("|")) if params.get("hashes") else None
        category, tag = params.get("category"), params.get("tag")
        found = [
            t.info()
            for t in self.torrents.values()
            if (chosen is None or t.hash in chosen)
            and (category is None or t.category == category)
            and (tag is None or tag in t.tags)
        ]
        return web.json_response(found)

    def _torrent(self, params: dict[str, str]) -> SimTorrent:
        torrent = self.torrents.get(params.get("hash", "").lower())
        if torrent is None:
            raise web.HTTPNotFound(text="Torrent hash was not found")
        return torrent

    async def _files(self, request: web.Request) -> web.Response:
        torrent = self._torrent(await self._params(request))
        progress = torrent.progress
        files = [{"name": name, "size": size, "progress": progress} for name, size in torrent.files]
        return web.json_response(files)

    async def _trackers(self, request: web.Request) -> web.Response:
        torrent = self._torrent(await self._params(request))
        return web.json_response([{"url": torrent.tracker, "status": 2, "msg": ""}])

    async def _add(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = next((v for v in form.values() if not isinstance(v, str)), None)  # any field name
        if upload is None:
            return web.Response(status=415, text="Torrent file is not valid.")
        data = upload.file.read()  # type: ignore[union-attr]  # a FileField: what aiohttp gives for a file
        try:
            meta = parse_torrent(data)
        except ValueError:
            return web.Response(text="Fails.")
        if meta.info_hash in self.torrents:
            return web.Response(text="Fails.")  # qBittorrent 4.x: already there
        now = self.clock()
        paused = str(form.get("paused", form.get("stopped", "false"))).lower() == "true"
        tags = {t.strip() for t in str(form.get("tags", "")).split(",") if t.strip()}
        self.tags |= tags
        category = str(form.get("category", ""))
        if category and category not in self.categories:
            self.categories[category] = ""
        self.torrents[meta.info_hash] = SimTorrent(
            hash=meta.info_hash,
            name=meta.name,
            files=[("/".join(entry.path), entry.length) for entry in meta.files],
            save_path=str(form.get("savepath", "")),
            category=category,
            tags=tags,
            tracker=meta.announce or "",
            added_on=now,
            download_s=self.download_s(meta.info_hash),
            paused=paused,
            ticked_at=now,
        )
        return web.Response(text="Ok.")

    def _pause(self, paused: bool) -> Handler:
        async def change(request: web.Request) -> web.Response:
            hashes = (await self._params(request)).get("hashes", "")
            for info_hash in hashes.split("|"):
                torrent = self.torrents.get(info_hash.lower())
                if torrent is not None:
                    torrent.paused = paused
            return web.Response(text="")

        return change

    async def _categories(self, request: web.Request) -> web.Response:
        return web.json_response({n: {"name": n, "savePath": p} for n, p in self.categories.items()})

    async def _create_category(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        name = params.get("category", "")
        if not name or name in self.categories:
            return web.Response(status=409, text="Category name is empty or already exists")
        self.categories[name] = params.get("savePath", "")
        return web.Response(text="")

    async def _create_tags(self, request: web.Request) -> web.Response:
        tags = (await self._params(request)).get("tags", "")
        self.tags |= {t.strip() for t in tags.split(",") if t.strip()}
        return web.Response(text="")

    async def _tags(self, request: web.Request) -> web.Response:
        return web.json_response(sorted(self.tags))
