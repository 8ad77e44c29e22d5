"""The MAM paths of the simulator, on one server: the `www.` and the `t.` host's alike.

| path | answer |
|---|---|
| `POST /tor/js/loadSearchJSONbasic.php` | search (`search`); a non-JSON body gets 200 + no body |
| `GET /tor/download.php?tid=` | the `.torrent` (`downloads`); 404 unknown tid; 429 on bursts |
| `GET /jsonLoad.php[?snatch_summary][&pretty]` | the account (`account`) |
| `GET /json/bonusBuy.php/?spendtype=…`, `/json/bonusBuy.php/<ts>?…` | the store (`store`) |
| `GET /json/dynamicSeedbox.php` | the seedbox IP (`seedbox`) |
| `GET /json/jsonIp.php` | the IP, ASN and AS name MAM sees |
| `GET /announce` | the tracker URL in every `.torrent`: an empty peer list, no cookie needed |

`bonusBuy.php` answers 404 when the request's `Host` names the `t.` host, as on MAM.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path, PurePosixPath

from aiohttp import web

from mamd.domain.torrentfile import bencode
from mamd.sim.mam import search as mam_search
from mamd.sim.mam.account import account_json
from mamd.sim.mam.downloads import info_hash
from mamd.sim.mam.payload import TorrentFactory, payload_files, write_payload
from mamd.sim.mam.rows import Row
from mamd.sim.mam.state import state_of

SEARCH_PATH = "/tor/js/loadSearchJSONbasic.php"
DOWNLOAD_PATH = "/tor/download.php"
ACCOUNT_PATH = "/jsonLoad.php"
STORE_PATH = "/json/bonusBuy.php"
SEEDBOX_PATH = "/json/dynamicSeedbox.php"
IP_PATH = "/json/jsonIp.php"
ANNOUNCE_PATH = "/announce"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NOT_FOUND_PAGE = "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n"


def _empty() -> web.Response:
    return web.Response(status=200, body=b"", content_type="text/html")


def _not_found() -> web.Response:
    return web.Response(status=404, text=NOT_FOUND_PAGE, content_type="text/html")


def _filenames(row: Row) -> list[str]:
    return [PurePosixPath(path).name for path in payload_files(row)]


async def search(request: web.Request) -> web.Response:
    state = state_of(request)
    # as on MAM, a form-encoded or otherwise non-JSON body gets 200 with nothing in it
    if request.content_type in _FORM_TYPES:
        return _empty()
    try:
        body = json.loads(await request.read())
    except ValueError:
        return _empty()
    if not isinstance(body, dict):
        return _empty()
    query = mam_search.parse_query(body, string_start_number=state.string_start_number)
    page, found = mam_search.search(state.rows, query, _filenames, state.words)
    state.searches.append((query, found))
    del state.searches[:-1000]  # the latest only: a long benchmark sends tens of thousands
    return web.json_response(mam_search.answer(page, found, query, len(state.rows)))


def _torrent(factory: TorrentFactory, row: Row, announce: str) -> tuple[bytes, str]:
    return factory.torrent(row, announce), info_hash(factory.info(row))


async def download(request: web.Request) -> web.Response:
    state = state_of(request)
    try:
        row = state.rows.get(int(request.query.get("tid", "")))
    except ValueError:
        row = None
    if row is None:
        return _not_found()
    downloads = state.downloads
    now = state.monotonic()
    retry = downloads.limiter.retry_after(now)
    if retry is not None:
        return web.Response(status=429, text="Too Many Requests\n", headers={"Retry-After": str(retry)})
    record = downloads.apply(row, state.account, fl="fl" in request.query, monotonic=now, wall=state.clock())
    announce = f"{request.scheme}://{request.host}{ANNOUNCE_PATH}"
    body, record.info_hash = await asyncio.to_thread(_torrent, downloads.factory, row, announce)
    if downloads.complete_into is not None:
        # as if the swarm had delivered it: a client saving there finds the files complete at once
        await asyncio.to_thread(_complete, row, downloads.complete_into)
    return web.Response(
        body=body,
        content_type="application/x-bittorrent",
        headers={"Content-Disposition": f'attachment; filename="{row.id}.torrent"'},
    )


def _complete(row: Row, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_payload(row, folder, skip_existing=True)


async def account(request: web.Request) -> web.Response:
    state = state_of(request)
    body = account_json(
        state.account,
        snatch_summary="snatch_summary" in request.query,
        old_unsat_shape=state.old_unsat_shape,
    )
    indent = 4 if "pretty" in request.query else None
    return web.json_response(text=json.dumps(body, indent=indent))


async def bonus_buy(request: web.Request) -> web.Response:
    state = state_of(request)
    if request.host.startswith("t."):  # MAM's store is on the www. host only
        return _not_found()
    answer = state.store.buy(state.account, state.rows, request.query, state.clock())
    if answer.body is None:
        return _not_found()
    return web.json_response(answer.body, status=answer.status)


async def dynamic_seedbox(request: web.Request) -> web.Response:
    state = state_of(request)
    status, body = state.seedbox.update(request.remote, state.clock())
    return web.json_response(body, status=status)


def seedbox_rejection(request: web.Request, cookie: str | None) -> web.Response:
    """`dynamicSeedbox.php` words a missing or dead cookie itself, in JSON with status 403."""
    status, body = state_of(request).seedbox.rejection(cookie)
    return web.json_response(body, status=status)


async def json_ip(request: web.Request) -> web.Response:
    return web.json_response(state_of(request).seedbox.where(request.remote))


async def announce(request: web.Request) -> web.Response:
    state = state_of(request)
    state.announces += 1
    reply = bencode({"interval": 1800, "min interval": 900, "complete": 0, "incomplete": 0, "peers": b""})
    return web.Response(body=reply, content_type="text/plain")


def add_mam_routes(app: web.Application) -> None:
    router = app.router
    router.add_post(SEARCH_PATH, search)
    router.add_get(DOWNLOAD_PATH, download)
    router.add_get(ACCOUNT_PATH, account)
    router.add_get(STORE_PATH, bonus_buy)
    router.add_get(f"{STORE_PATH}/", bonus_buy)
    router.add_get(f"{STORE_PATH}/{{stamp}}", bonus_buy)
    router.add_get(SEEDBOX_PATH, dynamic_seedbox)
    router.add_get(IP_PATH, json_ip)
    router.add_get(ANNOUNCE_PATH, announce)
