"""The typed application keys of mamd's web app."""

from __future__ import annotations

from aiohttp import web

from mamd.runtime import Runtime

RUNTIME = web.AppKey("runtime", Runtime)


def runtime_of(request: web.Request) -> Runtime:
    return request.app[RUNTIME]
