"""The `library_sync` job: copy the Audiobookshelf library into mamd's database.

1. List every item, page by page, oldest first; only `updatedAt` and the missing/invalid
   flags are read here.
2. Fetch structured metadata (`batch/get`) for items that are new or changed since the
   last sync, a few batches at a time, storing each batch as it arrives. An interrupted
   sync therefore resumes: what was stored is not fetched again.
3. Forget items that left the library, but only those the server confirms are gone: a
   listing taken while the library changes can skip an item, and forgetting a book the
   user owns would make mamd want it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from mamd.clients.audiobookshelf import AudiobookshelfClient
from mamd.domain.library import ListedItem
from mamd.logs import get_logger
from mamd.runtime import Runtime
from mamd.schedule import JobContext

log = get_logger(__name__)

PAGE_SIZE = 1000
BATCH_SIZE = 250
CONCURRENT_BATCHES = 3
LISTING_TRIES = 3
PROGRESS_EVERY = 5000


class LibrarySyncError(RuntimeError):
    pass


async def run(runtime: Runtime, context: JobContext) -> Mapping[str, Any]:
    client = runtime.require_audiobookshelf()
    library = await runtime.abs_library()
    previous = (await runtime.library.sync_state()).get("library_id")
    listing = await _list_items(client, library.id, context)
    usable = {item.id: item for item in listing.values() if item.usable}
    stored = await runtime.library.versions()
    stale = [item_id for item_id, item in usable.items() if stored.get(item_id) != item.updated_at]
    context.progress(phase="fetching", listed=len(listing), to_fetch=len(stale), fetched=0)
    fetched = await _fetch(runtime, client, stale, context)
    unlisted = [item_id for item_id in stored if item_id not in usable]
    if previous is not None and previous != library.id:
        # another library than the one read before: what is stored from that one is not the user's now
        removed = await runtime.library.remove(unlisted)
    else:
        excluded = [item_id for item_id in unlisted if item_id in listing]  # listed, but missing or invalid
        vanished = await _confirm_gone(client, [i for i in unlisted if i not in listing])
        removed = await runtime.library.remove([*excluded, *vanished])
    counts = await runtime.library.counts()
    now = context.clock.now()
    await runtime.library.set_sync_state(
        {"library_id": library.id, "library": library.name, "last_sync_at": now, "items": counts.items}, now
    )
    confirmed = await runtime.scans.confirm_listed(list(listing.values()))
    if context.by_hand:  # `mamd run-job library_sync`: imports given up on get another set of rounds
        await runtime.scans.scan_again()
    summary = {
        "library": library.name,
        "listed": len(listing),
        "usable": len(usable),
        "fetched": fetched,
        "removed": removed,
        "skipped_missing_or_invalid": len(listing) - len(usable),
        "items": counts.items,
        "imports_confirmed": confirmed,
    }
    if fetched or removed or previous != library.id:
        runtime.request_job("discover")  # what is wanted depends on what is owned
    return summary


async def _list_items(
    client: AudiobookshelfClient, library_id: str, context: JobContext
) -> dict[str, ListedItem]:
    """Every item, keyed by id; the listing is retaken when it was not self-consistent."""
    for attempt in range(1, LISTING_TRIES + 1):
        items: dict[str, ListedItem] = {}
        page, total, unreadable = 0, 0, 0
        while True:
            answer = await client.items_page(library_id, page, PAGE_SIZE)
            total, unreadable = answer.total, unreadable + answer.unreadable
            for item in answer.items:
                items[item.id] = item
            context.progress(phase="listing", listed=len(items), total=total)
            if len(items) // PROGRESS_EVERY != (len(items) - len(answer.items)) // PROGRESS_EVERY:
                log.info("library_sync.progress", phase="listing", listed=len(items), total=total)
            if not answer.items or (page + 1) * PAGE_SIZE >= total:
                break
            page += 1
        if len(items) + unreadable == total:
            return items
        log.warning(
            "library_sync.listing_changed",
            attempt=attempt,
            listed=len(items),
            total=total,
            unreadable=unreadable,
        )
    # still moving after several tries: go on with what was seen; deletions are confirmed one by one
    return items


async def _fetch(runtime: Runtime, client: AudiobookshelfClient, ids: list[str], context: JobContext) -> int:
    batches = [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
    limit = asyncio.Semaphore(CONCURRENT_BATCHES)
    done = 0

    async def one(batch: list[str]) -> None:
        nonlocal done
        async with limit:
            books = await client.books(batch)
            await runtime.library.upsert(books, context.clock.now())
        before, done = done, done + len(batch)
        context.progress(fetched=done)
        if done // PROGRESS_EVERY != before // PROGRESS_EVERY or done == len(ids):
            log.info("library_sync.progress", phase="fetching", fetched=done, to_fetch=len(ids))

    try:
        async with asyncio.TaskGroup() as group:
            for batch in batches:
                group.create_task(one(batch))
    except ExceptionGroup as failed:
        raise _first(failed) from None  # one clear cause for the job's error, not a group of them
    return done


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


async def _confirm_gone(client: AudiobookshelfClient, ids: list[str]) -> list[str]:
    """The ids the server no longer has, or has only as missing (`batch/get` leaves out unknown ids)."""
    gone: list[str] = []
    for start in range(0, len(ids), BATCH_SIZE):
        batch = ids[start : start + BATCH_SIZE]
        present = await client.present(batch)
        gone.extend(item_id for item_id in batch if item_id not in present)
    return gone
