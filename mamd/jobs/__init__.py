"""The jobs mamd runs on timers, by name (the names are the keys of `schedule:`)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from mamd.jobs import account, discover, library_sync, reconcile, retention, search
from mamd.runtime import Runtime
from mamd.schedule import JobFn


def build_jobs(runtime: Runtime) -> Mapping[str, JobFn]:
    return {
        "library_sync": partial(library_sync.run, runtime),
        "discover": partial(discover.run, runtime),
        "reconcile": partial(reconcile.run, runtime),
        "search": partial(search.run, runtime),
        "account": partial(account.run, runtime),
        "retention": partial(retention.run, runtime),
    }
