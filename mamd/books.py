"""The books as `/status` shows them: the library mamd knows from Audiobookshelf (and a sync under way),
the wanted books by state, and the wanted books that failed."""

from __future__ import annotations

from typing import Any

from mamd.clock import iso
from mamd.runtime import Runtime


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


async def wanted_section(runtime: Runtime) -> dict[str, int]:
    return await runtime.wanted.counts()


async def failed_books(runtime: Runtime, shown: int) -> list[dict[str, Any]]:
    """The latest `shown` wanted books whose grab failed, why, and when they are searched again."""
    return [
        {
            "id": book.id,
            "label": book.spec.label,
            "reason": book.state_reason,
            "since": iso(book.updated_at),
            "next_search_at": iso(book.next_search_at),
        }
        for book in await runtime.wanted.failed_lately(shown)
    ]
