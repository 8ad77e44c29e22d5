"""The `notify` section of `/status`: each target's state, the outbox, and the problems they make."""

from __future__ import annotations

from typing import Any

from mamd.clock import iso
from mamd.notify import services
from mamd.notify.notifications import FAILING_AFTER, Notifications
from mamd.store.outbox import MAX_MESSAGES


async def notify_status(notifications: Notifications) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The section, and the problems of notifying (a target that fails, messages dropped)."""
    outbox = notifications.outbox
    records = await outbox.targets()
    waiting = await outbox.waiting()
    targets = []
    for target in notifications.targets:
        record = records.get(target.key)
        failures = record.failures if record else 0
        if record is None or (record.last_ok_at is None and record.last_error is None):
            state = "untried"
        elif failures >= FAILING_AFTER:
            state = "failing"
        else:
            state = "retrying" if failures else "ok"
        targets.append(
            {
                "target": target.label,
                "service": target.service.name if target.service else f"{target.scheme}://",
                "events": list(target.events),
                "min_level": target.min_level,
                "state": state,
                "waiting": waiting.get(target.key, 0),
                "sent": record.sent if record else 0,
                "dropped": record.dropped if record else 0,
                "failures_in_a_row": failures,
                "last_ok_at": iso(record.last_ok_at) if record else None,
                "last_error": record.last_error if record and failures else None,
                "last_error_at": iso(record.last_error_at) if record and failures else None,
                "next_try_at": iso(record.next_at) if record and failures else None,
            }
        )
    section = {
        "targets": targets,
        "outbox": {
            "waiting": await outbox.size(),
            "limit": MAX_MESSAGES,
            "dropped": int((await outbox.drops()).get("count") or 0),
        },
        "daily_summary_next_at": iso(await notifications.summary_next_at()),
        "apprise_loaded": services.loaded(),
    }
    return section, [problem.as_dict() for problem in notifications.problems()]
