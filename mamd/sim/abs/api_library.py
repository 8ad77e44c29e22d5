"""Handlers for the library's content: libraries, items, series, authors, narrators, search."""

from __future__ import annotations

import asyncio

from aiohttp import web

from mamd.sim.abs import query as abs_query
from mamd.sim.abs import render as abs_render
from mamd.sim.abs import summary as abs_summary
from mamd.sim.abs.api_server import json_response, not_found
from mamd.sim.abs.auth import require_admin
from mamd.sim.abs.model import Library
from mamd.sim.abs.scanner import apply_item_rescan, read_item_folder
from mamd.sim.abs.state import state_of


def _library(request: web.Request) -> Library | None:
    library = state_of(request).library
    return library if request.match_info.get("library_id") == library.id else None


def _includes(request: web.Request) -> set[str]:
    return {part.strip() for part in request.query.get("include", "").split(",") if part.strip()}


async def libraries(request: web.Request) -> web.Response:
    return json_response({"libraries": [abs_render.library_object(state_of(request).library)]})


async def library(request: web.Request) -> web.Response:
    """One library; `?include=filterdata` wraps it with filterdata, issues and playlists."""
    found = _library(request)
    if found is None:
        return not_found()
    if "filterdata" not in _includes(request):
        return json_response(abs_render.library_object(found))
    filterdata = abs_summary.filterdata(found, state_of(request).now_ms())
    return json_response(
        {
            "filterdata": filterdata,
            "issues": filterdata["numIssues"],
            "numUserPlaylists": 0,
            "library": abs_render.library_object(found),
        }
    )


async def filterdata(request: web.Request) -> web.Response:
    found = _library(request)
    if found is None:
        return not_found()
    return json_response(abs_summary.filterdata(found, state_of(request).now_ms()))


async def stats(request: web.Request) -> web.Response:
    found = _library(request)
    return not_found() if found is None else json_response(abs_summary.stats(found))


async def items(request: web.Request) -> web.Response:
    found = _library(request)
    if found is None:
        return not_found()
    return json_response(abs_query.list_items(found, request.query, state_of(request).cache))


async def series_list(request: web.Request) -> web.Response:
    found = _library(request)
    if found is None:
        return not_found()
    return json_response(abs_query.list_series(found, request.query, state_of(request).cache))


async def series_one(request: web.Request) -> web.Response:
    """`GET /api/series/:id` and `/api/libraries/:lid/series/:sid`; `include=progress` adds the item ids."""
    state = state_of(request)
    if "library_id" in request.match_info and _library(request) is None:
        return not_found()
    series = state.library.series.get(request.match_info["series_id"])
    if series is None:
        return not_found()
    rendered = abs_render.series_object(state.library, series)
    if "progress" in _includes(request):
        books = state.cache.series_books(state.library).get(series.id, [])
        rendered["progress"] = {
            "libraryItemIds": [item.id for item, _ in books],
            "libraryItemIdsFinished": [],
            "isFinished": False,
        }
    return json_response(rendered)


async def authors(request: web.Request) -> web.Response:
    found = _library(request)
    return not_found() if found is None else json_response(abs_query.list_authors(found, request.query))


async def author_one(request: web.Request) -> web.Response:
    state = state_of(request)
    rendered = abs_query.author_detail(
        state.library, request.match_info["author_id"], request.query.get("include", "")
    )
    return not_found() if rendered is None else json_response(rendered)


async def narrators(request: web.Request) -> web.Response:
    found = _library(request)
    return not_found() if found is None else json_response(abs_summary.narrators(found))


async def search(request: web.Request) -> web.Response:
    found = _library(request)
    if found is None:
        return not_found()
    query = request.query.get("q", "")
    if not query:
        return web.Response(status=400, text="No query string")
    limit = abs_query.int_param(request.query, "limit") or 12
    return json_response(abs_summary.search(found, query, limit))


async def item(request: web.Request) -> web.Response:
    """`GET /api/items/:id`: plain, or with `expanded=1` (and `include=progress`)."""
    state = state_of(request)
    found = state.library.items.get(request.match_info["item_id"])
    if found is None:
        return not_found()
    if request.query.get("expanded") == "1":
        progress = "progress" in _includes(request)
        return json_response(abs_render.expanded_item(state.library, found, progress=progress))
    return json_response(abs_render.plain_item(state.library, found))


async def batch_get(request: web.Request) -> web.Response:
    """`POST /api/items/batch/get`: expanded items in the order asked; unknown ids are skipped."""
    state = state_of(request)
    try:
        body = await request.json()
    except ValueError:
        body = None
    ids = body.get("libraryItemIds") if isinstance(body, dict) else None
    if not isinstance(ids, list):
        return web.Response(status=400, text="Invalid request body")
    known = [state.library.items[key] for key in ids if isinstance(key, str) and key in state.library.items]
    return json_response(
        {"libraryItems": [abs_render.expanded_item(state.library, found) for found in known]}
    )


async def scan_item(request: web.Request) -> web.Response:
    """`POST /api/items/:id/scan`: synchronous; UPTODATE, UPDATED or REMOVED. Admin only."""
    state = state_of(request)
    found = state.library.items.get(request.match_info["item_id"])
    if found is None:
        return not_found()
    if (refused := require_admin(request)) is not None:
        return refused
    book = None
    if state.folder is not None and found.files is not None:
        book = await asyncio.to_thread(read_item_folder, state.folder, found, state.library)
    return json_response({"result": apply_item_rescan(state.library, found, book, state.now_ms())})
