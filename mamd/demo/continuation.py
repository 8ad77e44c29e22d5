"""The demo's step for acting on wanted books: a series continuation found, and the second-best release
of it grabbed by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mamd.demo.daemon import DemoDaemon
from mamd.demo.mam import FAN_SAGA, NEXT_BEST, NEXT_SECOND


async def reconfigure(daemon: DemoDaemon, old: str, new: str) -> None:
    """Edit the file as a user would, and wait until the daemon runs on it."""
    before = (await daemon.status())["config"]["generation"]
    daemon.config.write_text(daemon.config.read_text().replace(old, new))

    async def reloaded() -> bool:
        return bool((await daemon.status())["config"]["generation"] > before)

    await daemon.until("the edit to load", reloaded)


async def series_continuation(daemon: DemoDaemon, say: Callable[[str], None]) -> None:
    """`wanted.series_next` finds Mistborn #5 (and not a fan's same-named series); a dry-run search shows
    what mamd would take; the user takes the second-best release instead, through the API."""
    await reconfigure(daemon, "dry_run: false", "dry_run: true")
    await reconfigure(daemon, "  manual:\n", "  series_next: true\n  manual:\n")
    job = await daemon.run_job("series_next")
    sweep = (await daemon.status())["series_next"]
    _, body = await daemon.get("/api/v1/wanted?limit=500")
    found = [book for book in body["wanted"] if book["reason"] == "series_next"]
    say(
        f"With wanted.series_next on, series_next looked up each owned series on MAM by name and author "
        f"({job['last_result']}; {sweep['requests']} MAM requests for {sweep['checked']} series) and wants "
        "the books after the last one owned:"
    )
    for book in found:
        _, detail = await daemon.get(f"/api/v1/wanted/{book['id']}")
        rows = ", ".join(
            f"MAM {r['torrent_id']} #{r['series_number']}" for r in detail["wanted"]["evidence"]["rows"]
        )
        print(f"     - {book['label']}  (series_next; named by {rows})")
    print(f'   A same-named "Mistborn" by another author (MAM {FAN_SAGA}) is not the owned series.')
    mistborn = next(book for book in found if book["series"] == "Mistborn")
    before = (await daemon.status())["jobs"]["search"]["last_run_id"]
    code, answer = await daemon.post(f"/api/v1/wanted/{mistborn['id']}/search")
    if code != 202:
        raise RuntimeError(f"the search was refused: {answer}")
    await daemon.job_finished("search", before)
    _, detail = await daemon.get(f"/api/v1/wanted/{mistborn['id']}")
    say(f"POST /api/v1/wanted/{mistborn['id']}/search (a dry run): {detail['wanted']['state_reason']}")
    for candidate in detail["candidates"]:
        print(
            f"     - {candidate['decision']}: {candidate['title']} [MAM {candidate['torrent_id']}], "
            f"{'/'.join(candidate['formats'])}, {candidate['seeders']} seeders"
        )
    await reconfigure(daemon, "dry_run: true", "dry_run: false")
    code, grabbed = await daemon.post(f"/api/v1/wanted/{mistborn['id']}/grab", json={"mam_id": NEXT_SECOND})
    if code not in (201, 202):
        raise RuntimeError(f"the grab by hand was refused: {grabbed}")
    taken: dict[str, Any] = grabbed
    say(
        f'The user prefers the mp3: POST /api/v1/wanted/{mistborn["id"]}/grab {{"mam_id": {NEXT_SECOND}}} '
        f"grabbed it (not the best, MAM {NEXT_BEST}) into qBittorrent ({taken['hash'][:12]}…), through "
        "the same guard and budgets as every grab (`mamd grab ID MAM_ID` does the same)."
    )
