"""The jobs mamd runs on timers, by name (the names are the keys of `schedule:`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from mamd.jobs import account, discover, library_sync, reconcile, retention, search, series_next, top
from mamd.runtime import Runtime
from mamd.schedule import JobContext, JobFn
from mamd.store.series_checks import SeriesChecks


def build_jobs(runtime: Runtime) -> Mapping[str, JobFn]:
    return {
        "library_sync": partial(library_sync.run, runtime),
        "discover": partial(discover.run, runtime),
        "reconcile": partial(reconcile.run, runtime),
        "search": partial(search.run, runtime),
        "account": partial(account.run, runtime),
        "retention": partial(retention.run, runtime),
        "series_next": partial(_with_parts, series_next.run, runtime),
        "top": partial(_with_parts, top.run, runtime),
    }


async def _with_parts(
    job: Callable[[series_next.Parts, JobContext], Awaitable[Mapping[str, Any]]],
    runtime: Runtime,
    context: JobContext,
) -> Mapping[str, Any]:
    """A job that takes only the parts it uses, handed over fresh each run (a reload changes them)."""
    return await job(wanted_parts(runtime), context)


def wanted_parts(runtime: Runtime) -> series_next.Parts:
    """What the series_next and top jobs use, from the runtime as it is now."""
    return series_next.Parts(
        runtime.config,
        runtime.require_mam(),
        runtime.store,
        runtime.library,
        runtime.wanted,
        runtime.events,
        SeriesChecks(runtime.store),
    )
