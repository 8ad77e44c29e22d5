"""What the importer shows in `/status`: completions waiting in the inbox, imports Audiobookshelf has not
listed yet (and those it never did, with why), and imports that failed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mamd.clock import iso

if TYPE_CHECKING:
    from mamd.context import Context


async def inbox_section(runtime: Context) -> dict[str, Any]:
    return {"pending": await runtime.inbox.pending_count()}


async def imports_section(runtime: Context) -> dict[str, Any]:
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


async def failed_imports(runtime: Context, shown: int) -> list[dict[str, Any]]:
    """The latest `shown` imports that failed for good, and why."""
    imports = await runtime.torrents.failed_lately(shown)
    return [{"hash": t.hash, "name": t.name, "reason": t.last_error} for t in imports]
