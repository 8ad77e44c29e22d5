"""A simulated Audiobookshelf 2.36 server for tests, the demo and the benchmarks.

`AbsSimulator` owns one library (generated, read from a folder, or the 23-book sample library) and an
aiohttp app that answers like ABS 2.36, traps included. Tests drive it
through its methods; a simulator in another process is driven through `/__sim/` (see `control`).

Standalone:
    python -m mamd.sim.abs --port 13378 --api-key KEY --items 50000 --seed 1 [--folder DIR] [--scan-delay 0.2]
prints `listening on http://127.0.0.1:PORT` once it accepts connections and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from mamd.sim import serve
from mamd.sim.abs import edit as abs_edit
from mamd.sim.abs.auth import Users, auth_middleware
from mamd.sim.abs.control import add_control_routes
from mamd.sim.abs.folder import read_library
from mamd.sim.abs.generate import generate_library
from mamd.sim.abs.manifest import library_from_manifest
from mamd.sim.abs.model import IdFactory, Item, Library
from mamd.sim.abs.routes import add_api_routes
from mamd.sim.abs.scanner import Scanner, ScanRequest, apply_books
from mamd.sim.abs.state import STATE, AbsState
from mamd.sim.faults import Faults, faults_middleware

DEFAULT_API_KEY = "sim-abs-admin-key"
DEFAULT_USER_API_KEY = "sim-abs-reader-key"
DEFAULT_PASSWORD = "sim-password"
MAX_BODY_BYTES = 8 * 1024 * 1024  # a batch/get of a few thousand ids


class AbsSimulator:
    """One simulated ABS server: its library, users, faults and scanner, and `app` serving them.

    `api_key` acts as the admin user `root`; `user_api_key` as the non-admin `reader` (403 on admin
    routes). Both users log in at `POST /login` with `password`.
    """

    def __init__(
        self,
        library: Library,
        *,
        api_key: str = DEFAULT_API_KEY,
        user_api_key: str | None = DEFAULT_USER_API_KEY,
        password: str = DEFAULT_PASSWORD,
        folder: Path | None = None,
        scan_delay: float = 0.2,
        watcher_delay: float = 12.0,
        clock: Callable[[], float] = time.time,
        control: bool = True,
    ) -> None:
        self.library = library
        self.api_key = api_key
        self.user_api_key = user_api_key
        self.password = password
        self.folder = folder
        self.clock = clock
        self.faults = Faults()
        self.users = Users(
            library.ids,
            api_key=api_key,
            user_api_key=user_api_key,
            password=password,
            created_at=library.created_at,
        )
        self.scanner = Scanner(
            library, folder=folder, delay=scan_delay, watcher_delay=watcher_delay, now_ms=self.now_ms
        )
        self.state = AbsState(library, self.users, self.faults, self.scanner, clock, folder)
        self.app = web.Application(
            client_max_size=MAX_BODY_BYTES,
            middlewares=[faults_middleware(self.faults), auth_middleware(self.users)],
        )
        self.app[STATE] = self.state
        add_api_routes(self.app)
        if control:
            add_control_routes(self.app)
        self.app.on_shutdown.append(self._release_hangs)
        self.app.on_cleanup.append(self._close)

    # -- constructors ------------------------------------------------------------------------------

    @classmethod
    def generated(
        cls,
        count: int,
        seed: int = 1,
        *,
        api_key: str = DEFAULT_API_KEY,
        library_name: str = "Audiobooks",
        library_path: str = "/srv/media/audiobooks",
        **options: Any,
    ) -> AbsSimulator:
        """A generated library of `count` items (≤ 50,000); the same `seed` gives the same library."""
        library = generate_library(count, seed, library_name=library_name, library_path=library_path)
        return cls(library, api_key=api_key, **options)

    @classmethod
    def from_folder(
        cls,
        path: Path | str,
        *,
        api_key: str = DEFAULT_API_KEY,
        library_name: str = "Audiobooks",
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> AbsSimulator:
        """A library read from a real folder, as after a first scan; later scans re-read the folder."""
        root = Path(path).resolve()
        now = int(clock() * 1000)
        ids = IdFactory(f"folder:{root}")
        library = Library(
            id=ids.make("library", library_name),
            name=library_name,
            folder_id=ids.make("folder", str(root)),
            folder_path=str(root),
            created_at=now,
            last_scan=None,
            last_update=now,
            ids=ids,
        )
        apply_books(library, read_library(root, library.metadata_precedence), now)
        library.last_scan = now
        return cls(library, api_key=api_key, folder=root, clock=clock, **options)

    @classmethod
    def from_manifest(
        cls,
        manifest_path: Path | str,
        *,
        api_key: str = DEFAULT_API_KEY,
        library_name: str = "Audiobooks",
        library_path: str | None = None,
        **options: Any,
    ) -> AbsSimulator:
        """The 23-book sample library of `abs-samples/library_manifest.json` (paths as in the samples)."""
        library = library_from_manifest(
            Path(manifest_path), library_name=library_name, library_path=library_path
        )
        return cls(library, api_key=api_key, **options)

    # -- reading the state -------------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    @property
    def scan_requests(self) -> list[ScanRequest]:
        """Every `POST /api/libraries/:id/scan`, with its time and whether it started a scan."""
        return self.scanner.requests

    @property
    def scan_delay(self) -> float:
        return self.scanner.delay

    @scan_delay.setter
    def scan_delay(self, seconds: float) -> None:
        self.scanner.delay = seconds

    def item(self, item_id: str) -> Item:
        return self.library.items[item_id]

    def item_titled(self, title: str) -> Item:
        """The first item with that title; KeyError when there is none."""
        found = next((item for item in self.library.items.values() if item.title == title), None)
        if found is None:
            raise KeyError(title)
        return found

    def author_id(self, name: str) -> str:
        found = self.library.find_author(name)
        if found is None:
            raise KeyError(name)
        return found.id

    def series_id(self, name: str) -> str:
        found = self.library.find_series(name)
        if found is None:
            raise KeyError(name)
        return found.id

    # -- changing the state ------------------------------------------------------------------------

    def add_item(self, title: str, *, parts: int = 1, **fields: Any) -> Item:
        """A new item (new id, `addedAt` = `updatedAt` = now). Fields as in `edit`: `authors=[...]`,
        `series=[("Mistborn", "3")]`, `narrators`, `asin`, `published_year`, …"""
        return abs_edit.new_item(self.library, {"title": title, **fields}, self.now_ms(), parts=parts)

    def update_item(self, item_id: str, **changes: Any) -> Item:
        """Change an item's metadata or flags; its `updatedAt` moves to now."""
        return abs_edit.change_item(self.library, self.item(item_id), changes, self.now_ms())

    def remove_item(self, item_id: str) -> None:
        if not abs_edit.remove_item(self.library, item_id, self.now_ms()):
            raise KeyError(item_id)

    def mark_missing(self, item_id: str, missing: bool = True) -> Item:
        return self.update_item(item_id, is_missing=missing)

    def mark_invalid(self, item_id: str, invalid: bool = True) -> Item:
        return self.update_item(item_id, is_invalid=invalid)

    def set_watcher_disabled(self, disabled: bool) -> None:
        """The library setting `disableWatcher`."""
        self.library.disable_watcher = disabled
        self.library.changed(self.now_ms())

    async def wait_for_scans(self, max_wait: float = 5.0) -> None:
        """Wait until no library scan is running (TimeoutError after `max_wait` seconds)."""
        await self.scanner.wait_idle(max_wait)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def _release_hangs(self, app: web.Application) -> None:
        # Hanging requests would otherwise hold the server's shutdown for their full time
        self.faults.release_hangs()

    async def _close(self, app: web.Application) -> None:
        await self.scanner.close()


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = serve.argument_parser("mamd.sim.abs", __doc__.splitlines()[0], port=13378)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the admin user's API key")
    parser.add_argument("--user-api-key", default=DEFAULT_USER_API_KEY, help="a non-admin user's API key")
    parser.add_argument("--items", type=int, default=1000, help="size of the generated library")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated library")
    parser.add_argument("--folder", type=Path, help="serve this library folder instead of a generated one")
    parser.add_argument(
        "--manifest", type=Path, help="serve the sample library of this library_manifest.json"
    )
    parser.add_argument("--scan-delay", type=float, default=0.2, help="seconds before a requested scan runs")
    parser.add_argument("--watcher-delay", type=float, default=12.0, help="seconds the watcher waits")
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> AbsSimulator:
    options: dict[str, Any] = {
        "api_key": args.api_key,
        "user_api_key": args.user_api_key or None,
        "scan_delay": args.scan_delay,
        "watcher_delay": args.watcher_delay,
    }
    if args.folder is not None:
        return AbsSimulator.from_folder(args.folder, **options)
    if args.manifest is not None:
        return AbsSimulator.from_manifest(args.manifest, **options)
    return AbsSimulator.generated(args.items, args.seed, **options)


def main(argv: Sequence[str] | None = None) -> int:
    return serve.run("mamd.sim.abs", _parse_args(argv), lambda args: build(args).app)
