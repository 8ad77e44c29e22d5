"""`/status` (JSON for curl) and `/metrics` (Prometheus text)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mamd import __version__, books, seedbox
from mamd.clock import iso
from mamd.domain.guard import LEVELS
from mamd.guarding import status as guard_status
from mamd.importing import status as importing_status
from mamd.jobs import series_next
from mamd.notify.status import notify_status
from mamd.runtime import Runtime
from mamd.searching.hold import search_section
from mamd.seeding import at_risk_section
from mamd.spending import status as spending_status
from mamd.store import StoreError
from mamd.web.keys import runtime_of
from mamd.web.middleware import auth

RECENT_EVENTS = 10
FAILED_SHOWN = 10


async def status_document(runtime: Runtime) -> dict[str, Any]:
    """`/status`, assembled from the sections each part of mamd offers; a database that fails leaves the
    sections read from it empty and says so under `database`."""
    now = runtime.clock.now()
    document: dict[str, Any] = {
        "version": __version__,
        "started_at": iso(runtime.started_at),
        "uptime_s": round(now - runtime.started_at, 1),
        "dry_run": runtime.config.dry_run,
        "ready": runtime.ready,
        "config": runtime.config_state.as_dict(),
        "jobs": runtime.scheduler.snapshot(),
        "services": runtime.health.services_section(),
        "loops": runtime.loops.section(),
        "database": {"path": str(runtime.store.path), "problem": runtime.store.problem},
        "problems": runtime.readiness_problems(),
        "inbox": None,
        "imports": None,
        "account": None,
        "library": None,
        "wanted": None,
        "notify": None,
        "failed": None,
        "search": None,
        "series_next": None,
        "recent": [],
    }
    try:
        document["inbox"] = await importing_status.inbox_section(runtime)
        document["imports"] = await importing_status.imports_section(runtime)
        document["account"] = await account_section(runtime)
        document["library"] = await books.library_section(runtime)
        document["wanted"] = await books.wanted_section(runtime)
        document["notify"], _ = await notify_status(runtime.notifications)  # its problems are in `problems`
        document["failed"] = {
            "books": await books.failed_books(runtime, FAILED_SHOWN),
            "imports": await importing_status.failed_imports(runtime, FAILED_SHOWN),
        }
        document["search"] = await search_section(runtime.store)
        document["series_next"] = await series_next.status_section(runtime.store)
        document["recent"] = [e.as_dict() for e in await runtime.events.recent(RECENT_EVENTS)]
    except StoreError as exc:
        document["database"]["problem"] = document["database"]["problem"] or str(exc)
    return document


SNAPSHOT_FIELDS = (
    "classname", "ratio", "uploaded", "downloaded", "seedbonus", "wedges", "vip_until", "unsatisfied",
    "unsatisfied_limit", "hnr", "counters",
)  # fmt: skip


async def account_section(runtime: Runtime) -> dict[str, Any]:
    """The last account snapshot, the guard's verdict on it now, what mamd will decide next, and the
    torrents that may become hit-and-runs: each part from the part of mamd that owns it."""
    now = runtime.clock.now()
    snapshot = await runtime.account.latest()
    guard, guard_note = await guard_status.guard_section(runtime, now)
    section: dict[str, Any] = {"at": None, "age_s": None, **dict.fromkeys(SNAPSHOT_FIELDS), **guard}
    notes = [guard_note]
    if snapshot is not None:
        section.update({"at": iso(snapshot.at), "age_s": round(now - snapshot.at, 1), **snapshot.as_dict()})
        notes.extend(await spending_status.next_decisions(runtime, snapshot, now))
    section["next_decisions"] = notes
    section["stopped_by_guard"] = await guard_status.stopped_section(runtime)
    section["torrents_at_risk"] = await at_risk_section(runtime)
    section["bonus"] = await spending_status.bonus_section(runtime, now)
    seedbox_section = await seedbox.status_section(runtime)
    if seedbox_section is not None:
        section["seedbox"] = seedbox_section
    return section


@auth("status")
async def status(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    # upstream error texts can quote a URL with a key in it: nothing leaves unredacted
    return web.json_response(runtime.redactor.value(await status_document(runtime)))


@auth("status")
async def metrics(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            shown = _number(value)
            lines.append(f"{name}{{{rendered}}} {shown}" if rendered else f"{name} {shown}")

    now = runtime.clock.now()
    jobs = runtime.scheduler.states
    metric("mamd_info", "gauge", "mamd version.", [({"version": __version__}, 1)])
    metric("mamd_uptime_seconds", "gauge", "Seconds since mamd started.", [({}, now - runtime.started_at)])
    metric("mamd_ready", "gauge", "1 when /readyz answers 200.", [({}, float(runtime.ready))])
    metric(
        "mamd_config_generation",
        "gauge",
        "Successful configuration loads.",
        [({}, runtime.config_state.generation)],
    )
    metric(
        "mamd_config_last_reload_ok",
        "gauge",
        "0 while the last edit of the file was rejected.",
        [({}, float(runtime.config_state.last_error is None))],
    )
    metric(
        "mamd_job_running",
        "gauge",
        "1 while a job runs.",
        [({"job": n}, float(s.running)) for n, s in jobs.items()],
    )
    metric(
        "mamd_job_runs_total",
        "counter",
        "Job runs since start, by result.",
        [
            ({"job": job, "result": result}, n)
            for (job, result), n in sorted(runtime.scheduler.counts.items())
        ],
    )
    metric(
        "mamd_job_last_finished_timestamp_seconds",
        "gauge",
        "When each job last finished.",
        [({"job": n}, s.last_finished_at) for n, s in jobs.items() if s.last_finished_at],
    )
    hooks = [(k.removeprefix("hooks_"), v) for k, v in runtime.counters.items() if k.startswith("hooks_")]
    metric(
        "mamd_hooks_total",
        "counter",
        "Completion hooks received since start, by outcome.",
        [({"outcome": k}, v) for k, v in sorted(hooks)],
    )
    http = [(k.removeprefix("http_"), v) for k, v in runtime.counters.items() if k.startswith("http_")]
    metric(
        "mamd_http_responses_total",
        "counter",
        "HTTP responses by status.",
        [({"code": k}, v) for k, v in sorted(http)],
    )
    metric(
        "mamd_service_up",
        "gauge",
        "1 while an upstream service answers normally.",
        [({"service": n}, float(s.state == "ok")) for n, s in sorted(runtime.health.services.items())],
    )
    try:
        pending = await runtime.inbox.pending_count()
        metric("mamd_hook_inbox_pending", "gauge", "Completions waiting to be processed.", [({}, pending)])
        level = await guard_status.level_now(runtime, now)
        metric(
            "mamd_guard_level",
            "gauge",
            "1 for the account guard's level now (ok, caution, emergency).",
            [({"level": name}, float(name == level)) for name in LEVELS],
        )
        snapshot = await runtime.account.latest()
        if snapshot is not None:
            unsat = snapshot.unsat
            numbers = {
                "mamd_account_ratio": ("MAM share ratio, last read.", snapshot.ratio),
                "mamd_account_bonus_points": ("MAM bonus points, last read.", snapshot.seedbonus),
                "mamd_account_unsatisfied": ("Unsatisfied torrents on MAM.", unsat.count if unsat else None),
                "mamd_account_unsatisfied_limit": (
                    "MAM's unsatisfied limit.",
                    unsat.limit if unsat else None,
                ),
                "mamd_account_hit_and_runs": ("Hit-and-runs MAM counts.", snapshot.hit_and_run),
            }
            for name, (help_text, value) in numbers.items():
                if value is not None:
                    metric(name, "gauge", help_text, [({}, float(value))])
        metric(
            "mamd_torrents_at_risk",
            "gauge",
            "Unsatisfied torrents that may become hit-and-runs.",
            [({}, len(await runtime.torrents.at_risk()))],
        )
    except StoreError:
        pass  # mamd_ready already says the database is unavailable
    body = runtime.redactor.text("\n".join(lines) + "\n")
    return web.Response(text=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def _number(value: float) -> str:
    """Full precision: a timestamp must not lose its last digits to `%g`; infinity as Prometheus writes it."""
    number = float(value)
    if number in (float("inf"), float("-inf")):
        return "+Inf" if number > 0 else "-Inf"
    return str(int(number)) if number.is_integer() else repr(number)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
