"""The typed application keys of mamd's web app."""

from __future__ import annotations

import jinja2
from aiohttp import web

from mamd.runtime import Runtime
from mamd.web.hosts import HostCheck
from mamd.web.refusals import GuessLimit, RefusalLog

RUNTIME = web.AppKey("runtime", Runtime)
REFUSALS = web.AppKey("refusals", RefusalLog)
GUESSES = web.AppKey("guesses", GuessLimit)
HOSTS = web.AppKey("hosts", HostCheck)
TEMPLATES = web.AppKey("templates", jinja2.Environment)


def runtime_of(request: web.Request) -> Runtime:
    return request.app[RUNTIME]
