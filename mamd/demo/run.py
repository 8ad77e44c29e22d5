"""Running the demo: the simulators, a real qbittorrent-nox and the daemon started in a temporary folder,
the story told, then everything stopped."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import aiohttp

from mamd.demo import downloads
from mamd.demo.continuation import series_continuation
from mamd.demo.daemon import DemoDaemon
from mamd.demo.library import start_audiobookshelf, write_library
from mamd.demo.mam import DemoMam, start_mam
from mamd.demo.notices import start_receiver
from mamd.demo.story import Story
from mamd.sim.qbittorrent.launcher import QbittorrentNox


async def _serve_until_interrupted(story: Story) -> None:
    print(
        f"\nServing until Ctrl-C. Open the status page {story.daemon.base}/ in a browser, or try: "
        f"curl -s {story.daemon.base}/status | python3 -m json.tool",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _demo(folder: Path, serve: bool) -> int:
    library = folder / "library"
    books = write_library(library)
    print(f"A demo Audiobookshelf library of {books} books, with gaps, is written to {library}.\n")
    audiobookshelf = await start_audiobookshelf(library)
    qbittorrent: QbittorrentNox | None = None
    mam: DemoMam | None = None
    notices = await start_receiver()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            daemon = DemoDaemon(folder, session)
            if downloads.available():
                qbittorrent, found = await downloads.start_qbittorrent(folder / "qbittorrent", daemon.config)
                print(
                    f"A real qbittorrent-nox, qBittorrent {found} ({qbittorrent.binary}), runs on "
                    f"{qbittorrent.url} with its own profile in the folder.\n"
                )
            mam = await start_mam(qbittorrent.save_path if qbittorrent is not None else None)
            print(f"The MAM simulator runs on {mam.url} with {len(mam.simulator.rows)} torrents.\n")
            story = Story(folder, daemon, audiobookshelf, mam, qbittorrent, notices)
            try:
                await story.start()
                await story.library()
                await story.account()
                await story.search()
                await story.downloads_complete()
                if qbittorrent is not None:
                    await story.library_again()
                    await story.ratio_drop()
                    await series_continuation(story.daemon, story.say)
                await story.session_refused()
                await story.hot_reload()
                await story.retention()
                if serve:
                    await _serve_until_interrupted(story)
                code = await story.stop()
                story.arrivals()
            except (TimeoutError, RuntimeError, aiohttp.ClientError) as exc:
                _explain_failure(folder, exc)
                return 1
            finally:
                await story.daemon.kill()
    finally:
        if qbittorrent is not None:
            await asyncio.to_thread(qbittorrent.stop)
        if mam is not None:
            await mam.close()
        await notices.close()
        await audiobookshelf.close()
    if qbittorrent is not None:
        done = (
            f"searched MAM, grabbed {len(story.grabbed)} books into qBittorrent and imported "
            f"{len(story.imported)} of them into the library, stopped a download in a ratio emergency "
            "and started it again on recovery, found the next book of a series and grabbed its second-best "
            "release by hand"
        )
    else:
        done = "searched MAM and decided what it would grab (a dry run, without qBittorrent)"
    print(
        f"\nSummary: the daemon read the library, worked out the wanted books, {done}; it told of a "
        "refused MAM session and its mending, applied an edit, refused a broken one, ran a job, stopped "
        "cleanly, and its notifications arrived with no secret in them."
    )
    return 0 if code == 0 else 1


def _explain_failure(folder: Path, exc: BaseException) -> None:
    print(f"mamd demo failed: {exc}", file=sys.stderr)
    log = folder / "mamd.log"
    if log.exists():
        print("last lines of the daemon log:", file=sys.stderr)
        for line in log.read_text(errors="replace").splitlines()[-15:]:
            print(f"  {line}", file=sys.stderr)


def run_demo(serve: bool = False, keep: bool = False) -> int:
    folder = Path(tempfile.mkdtemp(prefix="mamd-demo-"))
    print(f"mamd demo — everything happens in {folder}\n")
    try:
        return asyncio.run(_demo(folder, serve))
    finally:
        if keep:
            print(f"\nThe demo folder is kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
