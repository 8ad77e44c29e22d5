"""`/status` as text a person reads in a terminal (`mamd status`)."""

from __future__ import annotations

from typing import Any


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def render_status(status: dict[str, Any]) -> str:
    lines: list[str] = []
    ready = "ready" if status.get("ready") else "NOT READY"
    dry = ", DRY RUN" if status.get("dry_run") else ""
    lines.append(
        f"mamd {status.get('version')} — up {_duration(status.get('uptime_s', 0))} "
        f"(since {status.get('started_at')}), {ready}{dry}"
    )
    config = status.get("config", {})
    lines.append(
        f"config    {config.get('path')} — generation {config.get('generation')}, "
        f"loaded {config.get('loaded_at')}"
    )
    if config.get("last_error"):
        lines.append(f"          last edit REJECTED at {config.get('last_error_at')}:")
        lines.extend(
            f"            {p['file']}:{p['line']}: {p['key']}: {p['message']}"
            for p in config.get("problems", [])
        )
    if config.get("pending_restart"):
        lines.append(f"          waiting for a restart: {', '.join(config['pending_restart'])}")
    jobs = status.get("jobs", {})
    if jobs:
        lines.append("jobs")
        width = max(len(name) for name in jobs)
        for name, job in sorted(jobs.items()):
            state = "running" if job.get("running") else (job.get("last_result") or "never run")
            when = job.get("next_due_at") or "off"
            line = f"  {name:<{width}}  {state:<11} last {job.get('last_finished_at') or '—'}  next {when}"
            if job.get("last_error") and not job.get("running"):
                line += f"\n  {'':<{width}}  error: {job['last_error']}"
            lines.append(line)
    services = status.get("services", {})
    if services:
        lines.append("services")
        for name, service in sorted(services.items()):
            error = f" — {service['last_error']}" if service.get("last_error") else ""
            lines.append(f"  {name:<14} {service['state']} since {service['since']}{error}")
    lines.extend(_account(status.get("account")))
    lines.extend(_library(status.get("library"), status.get("wanted")))
    inbox = status.get("inbox")
    lines.append(
        f"inbox     {inbox['pending']} completion(s) waiting"
        if inbox
        else "inbox     unknown (database unavailable)"
    )
    imports = status.get("imports")
    if imports and imports.get("waiting_for_library"):
        lines.append(f"imports   {imports['waiting_for_library']} waiting for Audiobookshelf to list them")
    for failed in (imports or {}).get("not_in_library", []):
        lines.append(f"  not in the library: {failed['folder']} — {failed['reason']}")
    lines.extend(_notify(status.get("notify")))
    problems = status.get("problems", [])
    lines.append("problems  " + ("none" if not problems else ""))
    lines.extend(f"  [{p['severity']}] {p['id']}: {p['summary']}" for p in problems)
    recent = status.get("recent", [])
    if recent:
        lines.append("recent")
        lines.extend(f"  {e['at']}  {e['kind']:<18} {e['message']}" for e in recent)
    return "\n".join(lines)


def _library(library: dict[str, Any] | None, wanted: dict[str, int] | None) -> list[str]:
    """`library   "Audiobooks": 1,204 books, 87 series, 301 authors (read 2026-…)` and the wanted counts."""
    if library is None:
        return ["library   unknown (database unavailable)"]
    if not library.get("last_sync_at"):
        line = "library   not read yet"
    else:
        line = (
            f"library   {library.get('library')!r}: {library.get('items', 0):,} books, "
            f"{library.get('series', 0):,} series, {library.get('authors', 0):,} authors "
            f"(read {library['last_sync_at']})"
        )
    progress = library.get("sync_progress")
    if progress:
        line += f"; reading now: {', '.join(f'{k} {v}' for k, v in progress.items())}"
    lines = [line]
    if wanted is not None:
        counts = [f"{count} {state}" for state, count in wanted.items() if count]
        lines.append(
            f"wanted    {sum(wanted.values())} book(s)" + (f": {', '.join(counts)}" if counts else "")
        )
    return lines


def _account(account: dict[str, Any] | None) -> list[str]:
    if not account:
        return []
    detail = account.get("guard_detail", {})
    lines = [
        f"account   guard {str(account.get('guard', '?')).upper()}: "
        + "; ".join(account.get("next_decisions", [])[:1])
    ]
    if account.get("at"):
        ratio = account.get("ratio")
        lines.append(
            f"          {account.get('classname')}, ratio {ratio if ratio is None else f'{ratio:.2f}'}, "
            f"{account.get('unsatisfied')} of {account.get('unsatisfied_limit')} unsatisfied, "
            f"{account.get('seedbonus')} points (read {account['at']})"
        )
    lines.extend(f"          because {reason}" for reason in detail.get("reasons", []))
    lines.extend(f"          next: {note}" for note in account.get("next_decisions", [])[1:])
    for torrent in account.get("torrents_at_risk", []):
        lines.append(
            f"  at risk {torrent['name']}: {torrent['risk']} "
            f"({torrent['seeded_h']} of {torrent['needs_h']} h seeded)"
        )
    return lines


def _notify(notify: dict[str, Any] | None) -> list[str]:
    """`notify    notify[0] ntfy: ok, 12 sent` per target, and what waits in the outbox."""
    if not notify or not notify.get("targets"):
        return []
    outbox = notify.get("outbox", {})
    lines = [f"notify    {outbox.get('waiting', 0)} message(s) waiting, {outbox.get('dropped', 0)} dropped"]
    for target in notify["targets"]:
        line = (
            f"  {target['target']} {target['service']} ({', '.join(target['events'])}): {target['state']}, "
            f"{target['sent']} sent, {target['waiting']} waiting"
        )
        if target.get("last_error"):
            line += f" — {target['last_error']}; next try {target.get('next_try_at')}"
        lines.append(line)
    return lines
