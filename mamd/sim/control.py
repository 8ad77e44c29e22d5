"""What the simulators' `/__sim/` controls share: JSON object bodies, camelCase fields read as snake_case,
and the fault endpoints `GET /__sim/faults`, `POST /__sim/faults` (see `Faults.add_json`) and
`DELETE /__sim/faults` (clear all), each answering with the faults as they then are."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from mamd.sim.faults import Faults

Respond = Callable[[Any, int], web.Response]  # a simulator's JSON answer: body, status
FaultsOf = Callable[[web.Request], Faults]

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


async def json_object(request: web.Request) -> dict[str, Any] | None:
    """The request's body, or None when it is not a JSON object."""
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def snake_case(fields: dict[str, Any]) -> dict[str, Any]:
    """The same fields with camelCase names in snake_case."""
    return {_CAMEL.sub("_", key).lower(): value for key, value in fields.items()}


def add_fault_routes(app: web.Application, faults_of: FaultsOf, respond: Respond) -> None:
    """The fault endpoints, on the faults `faults_of` finds for a request, answered through `respond`."""

    async def get_faults(request: web.Request) -> web.Response:
        return respond(faults_of(request).to_json(), 200)

    async def add_fault(request: web.Request) -> web.Response:
        faults, body = faults_of(request), await json_object(request)
        if body is None:
            return respond({"error": "expected a JSON object"}, 400)
        try:
            added = faults.add_json(body)
        except (TypeError, ValueError) as error:
            return respond({"error": f"bad fault: {error}"}, 400)
        if not added:
            return respond({"error": f'give "latency", or "kind": {faults.kinds}'}, 400)
        return respond(faults.to_json(), 200)

    async def clear_faults(request: web.Request) -> web.Response:
        faults = faults_of(request)
        faults.clear()
        return respond(faults.to_json(), 200)

    app.router.add_get("/__sim/faults", get_faults)
    app.router.add_post("/__sim/faults", add_fault)
    app.router.add_delete("/__sim/faults", clear_faults)
