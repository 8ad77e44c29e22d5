"""`/status` (JSON for curl) and `/metrics` (Prometheus text)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mamd import __version__
from mamd.clock import iso
from mamd.domain.guard import LEVELS
from mamd.jobs import guard, search, seedbox, series_next, spending
from mamd.notify.status import notify_status
from mamd.runtime import Runtime
from mamd.store import StoreError
from mamd.web.keys import runtime_of
from mamd.web.middleware import auth

RECENT_EVENTS = 10
FAILED_SHOWN = 10


async def status_document(runtime: Runtime) -> dict[str, Any]:
    now = runtime.clock.now()
    document: dict[str, Any] = {
        "version": __version__,
        "started_at": iso(runtime.started_at),
        "uptime_s": round(now - runtime.started_at, 1),
        "dry_run": runtime.config.dry_run,
        "ready": runtime.ready,
        "config": runtime.config_state.as_dict(),
        "jobs": runtime.scheduler.snapshot(),
        "services": {name: s.as_dict() for name, s in sorted(runtime.health.services.items())},
        "loops": {name: state.as_dict() for name, state in runtime.loops.states.items()},
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
        document["inbox"] = {"pending": await runtime.inbox.pending_count()}
        document["imports"] = await imports_section(runtime)
        document["account"] = await account_section(runtime)
        document["library"] = await library_section(runtime)
        document["wanted"] = await runtime.wanted.counts()
        document["notify"], _ = await notify_status(runtime.notifications)  # its problems are in `problems`
        document["failed"] = await failed_section(runtime)
        held = await runtime.store.read_state(search.HELD_KEY)
        document["search"] = {"held": held.get("reason"), "since": iso(held.get("since"))}
        sweep = await runtime.store.read_state(series_next.STATUS_KEY)  # the last sweep: its MAM requests
        document["series_next"] = {**sweep, "at": iso(sweep["at"])} if sweep else None
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
    torrents that may become hit-and-runs."""
    now = runtime.clock.now()
    snapshot = await runtime.account.latest()
    verdict = await guard.verdict(runtime, now)
    state = await runtime.guard.state()
    section: dict[str, Any] = {
        "at": None,
        "age_s": None,
        **dict.fromkeys(SNAPSHOT_FIELDS),
        "guard": verdict.level,
        "guard_detail": {
            "since": iso(state.since) if state.level == verdict.level else iso(now),
            "grabs": verdict.grabs,
            "downloads_stopped": verdict.pause_downloads,
            "reasons": list(verdict.reasons),
        },
    }
    notes = [_guard_note(verdict.grabs, verdict.pause_downloads)]
    if snapshot is not None:
        section.update({"at": iso(snapshot.at), "age_s": round(now - snapshot.at, 1), **snapshot.as_dict()})
        decided = await spending.decide(runtime, snapshot, now)
        notes.extend(decided.notes)
        taken = await runtime.spends.of_decision(decided.spend.decision) if decided.spend else None
        if decided.spend and taken is not None:  # the account read since will show it
            notes = [n for n in notes if not n.startswith(("buying ", "renewing "))]
            notes.append(f"{decided.spend.label}: {taken.state} ({iso(taken.decided_at)})")
    section["next_decisions"] = notes
    section["stopped_by_guard"] = [entry.as_dict() for entry in await runtime.guard.stopped()]
    min_seed = runtime.config.seeding.min_seed_time.seconds
    section["torrents_at_risk"] = [
        {
            "hash": record.hash,
            "name": record.name,
            "risk": record.risk,
            "seeded_h": round((record.seeding_time_s or 0) / 3600, 1),
            "needs_h": round(min_seed / 3600, 1),
            "qbt_state": record.qbt_state,
        }
        for record in await runtime.torrents.at_risk()
    ]
    section["bonus"] = {
        "enabled": runtime.config.bonus.enabled,
        "spent_last_day": await runtime.spends.spent_since(now - 86400),
        "stopped": (await runtime.spends.halted()).get("reason"),
        "recent": [record.as_dict() for record in await runtime.spends.recent(5)],
    }
    if runtime.config.mam.seedbox_update:
        seedbox_state = await runtime.store.read_state(seedbox.STATE_KEY)
        section["seedbox"] = {
            "state": seedbox_state.get("state"),
            "message": seedbox_state.get("message"),
            "ip": seedbox_state.get("ip"),
            "updated_at": iso(seedbox_state.get("updated_at")),
        }
    return section


def _guard_note(grabs: str, stopped: bool) -> str:
    if grabs == "all":
        return "grabs: whatever the rules and budgets allow"
    what = "freeleech only" if grabs == "freeleech" else "none"
    return f"grabs: {what}" + ("; mamd's downloads are stopped" if stopped else "")


async def imports_section(runtime: Runtime) -> dict[str, Any]:
    """Imports waiting for Audiobookshelf to list them, and those it never did (with why)."""
    return {
        "waiting_for_library": len(await runtime.torrents.awaiting_scan()),
        "not_in_library": [
            {
                "hash": record.hash,
                "name": record.name,
                "folder": record.import_path,
                "since": iso(record.scan_failed_at),
                "reason": record.last_error,
            }
            for record in await runtime.torrents.not_in_library()
        ],
    }


async def failed_section(runtime: Runtime) -> dict[str, Any]:
    """What failed and waits for something to change (a reload, a new hook, a job run by hand), and why."""
    books = await runtime.wanted.failed_lately(FAILED_SHOWN)
    imports = await runtime.torrents.failed_lately(FAILED_SHOWN)
    return {
        "books": [
            {
                "id": book.id,
                "label": book.spec.label,
                "reason": book.state_reason,
                "since": iso(book.updated_at),
                "next_search_at": iso(book.next_search_at),
            }
            for book in books
        ],
        "imports": [{"hash": t.hash, "name": t.name, "reason": t.last_error} for t in imports],
    }


async def library_section(runtime: Runtime) -> dict[str, Any]:
    counts = await runtime.library.counts()
    sync = await runtime.library.sync_state()
    section: dict[str, Any] = {
        "library": sync.get("library"),
        "items": counts.items,
        "series": counts.series,
        "authors": counts.authors,
        "last_sync_at": iso(sync.get("last_sync_at")),
    }
    job = runtime.scheduler.states.get("library_sync")
    if job is not None and job.running:
        section["sync_progress"] = dict(job.progress)
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
        level = (await guard.verdict(runtime, now)).level
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
