"""A simulated MyAnonamouse for tests, the demo and the benchmarks.

`MamSimulator` owns a catalogue (hand-written rows that matter to mamd plus generated ones, see
`catalogue`), an account, a rotating `mam_id` session, a bonus store, a dynamic seedbox, faults and a
request log, and an aiohttp app serving every MAM path of `api` on one server, traps included.
Tests drive it through its attributes and methods; a simulator in another process is driven through
`/__sim/` (see `control`).

Standalone:
    python -m mamd.sim.mam --port 0 --cookie C [--complete-into DIR] [--seed S] [--count N]
        [--old-unsat-shape] [--rejection 403|401|empty|login] [--download-limit N] [--download-window S]
prints `listening on http://127.0.0.1:PORT` once it accepts connections and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from mamd.sim import serve
from mamd.sim.faults import faults_middleware
from mamd.sim.mam import payload as mam_payload
from mamd.sim.mam.account import Account
from mamd.sim.mam.api import SEEDBOX_PATH, add_mam_routes, seedbox_rejection
from mamd.sim.mam.catalogue import build_catalogue, handwritten_rows, index_rows
from mamd.sim.mam.control import add_control_routes
from mamd.sim.mam.downloads import DOWNLOAD_LIMIT, DOWNLOAD_WINDOW, DownloadRecord, Downloads
from mamd.sim.mam.faults import MamFaults
from mamd.sim.mam.requests import RequestLog, request_log_middleware
from mamd.sim.mam.rows import Row, render_row
from mamd.sim.mam.search import SearchQuery
from mamd.sim.mam.seedbox import Seedbox
from mamd.sim.mam.session import Rejection, Session, session_middleware
from mamd.sim.mam.state import STATE, MamState
from mamd.sim.mam.store import Charge, Purchase, Store

DEFAULT_COOKIE = "sim-mam-session-cookie"
DEFAULT_COUNT = 3000
MAX_BODY_BYTES = 1024 * 1024


class MamSimulator:
    """One simulated MAM: `app` serves it; the attributes below are its live state.

    - `rows`: the catalogue by tid (mutable `Row`s); `account`: the `Account` behind `jsonLoad.php`;
    - `session`: the cookie values and rejection style; `cookie` is the latest value;
    - `faults`, `requests` (the `RequestLog`), `downloads` (records, limiter, `complete_into`), `store`
      (purchases, switches) and `seedbox`.
    """

    def __init__(
        self,
        rows: Iterable[Row],
        *,
        cookie: str = DEFAULT_COOKIE,
        rejection: Rejection = "403",
        deletion_every: int = 0,
        account: Account | None = None,
        old_unsat_shape: bool = False,
        complete_into: Path | None = None,
        download_limit: int = DOWNLOAD_LIMIT,
        download_window: float = DOWNLOAD_WINDOW,
        capitalized_store: bool = False,
        personal_fl_charge: Charge = "wedge",
        seedbox: Seedbox | None = None,
        string_start_number: bool = True,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        control: bool = True,
    ) -> None:
        self.state = MamState(
            rows=index_rows(rows),
            session=Session(cookie, rejection=rejection, deletion_every=deletion_every),
            account=account if account is not None else Account(),
            faults=MamFaults(),
            requests=RequestLog(),
            downloads=Downloads(limit=download_limit, window=download_window, complete_into=complete_into),
            store=Store(capitalized=capitalized_store, personal_fl_charge=personal_fl_charge),
            seedbox=seedbox if seedbox is not None else Seedbox(),
            clock=clock,
            monotonic=monotonic,
            old_unsat_shape=old_unsat_shape,
            string_start_number=string_start_number,
        )
        self.app = web.Application(
            client_max_size=MAX_BODY_BYTES,
            middlewares=[
                request_log_middleware(self.state.requests, monotonic, clock),
                faults_middleware(self.state.faults),
                session_middleware(self.state.session, {SEEDBOX_PATH: seedbox_rejection}),
            ],
        )
        self.app[STATE] = self.state
        add_mam_routes(self.app)
        if control:
            add_control_routes(self.app)
        self.app.on_shutdown.append(self._release_hangs)

    # -- constructors ------------------------------------------------------------------------------

    @classmethod
    def generated(cls, count: int = DEFAULT_COUNT, seed: int = 1, **options: Any) -> MamSimulator:
        """The hand-written rows plus `count` generated ones; the same `seed` gives the same catalogue."""
        return cls(build_catalogue(count, seed), **options)

    @classmethod
    def handwritten(cls, **options: Any) -> MamSimulator:
        """Only the hand-written rows of `catalogue` (fast, for focused tests)."""
        return cls(handwritten_rows(), **options)

    # -- reading the state -------------------------------------------------------------------------

    @property
    def rows(self) -> dict[int, Row]:
        return self.state.rows

    @property
    def account(self) -> Account:
        return self.state.account

    @property
    def session(self) -> Session:
        return self.state.session

    @property
    def faults(self) -> MamFaults:
        return self.state.faults

    @property
    def requests(self) -> RequestLog:
        return self.state.requests

    @property
    def searches(self) -> list[tuple[SearchQuery, int]]:
        """The latest searches answered (up to 1,000), oldest first, each with how many rows matched."""
        return self.state.searches

    @property
    def downloads(self) -> list[DownloadRecord]:
        return self.state.downloads.records

    @property
    def purchases(self) -> list[Purchase]:
        return self.state.store.purchases

    @property
    def store(self) -> Store:
        return self.state.store

    @property
    def seedbox(self) -> Seedbox:
        return self.state.seedbox

    @property
    def cookie(self) -> str:
        """The latest valid `mam_id` value."""
        return self.state.session.current

    @property
    def old_unsat_shape(self) -> bool:
        return self.state.old_unsat_shape

    @old_unsat_shape.setter
    def old_unsat_shape(self, old: bool) -> None:
        """Serve `unsat` at the top level of `jsonLoad.php`, as before 2026-09."""
        self.state.old_unsat_shape = old

    @property
    def complete_into(self) -> Path | None:
        return self.state.downloads.complete_into

    @complete_into.setter
    def complete_into(self, folder: Path | None) -> None:
        self.state.downloads.complete_into = folder

    def set_download_limit(self, limit: int, window: float = DOWNLOAD_WINDOW) -> None:
        """More than `limit` downloads within `window` seconds get 429."""
        self.state.downloads.limiter.limit = limit
        self.state.downloads.limiter.window = window

    def row_json(
        self, tid: int, *, isbn: bool = False, description: bool = False, dl: bool = False
    ) -> dict[str, Any]:
        """The row of `tid` as search sends it."""
        return render_row(self.rows[tid], isbn=isbn, description=description, dl=dl)

    def payload(self, tid: int) -> dict[str, int]:
        """Relative path → size of the files of `tid`'s torrent (KeyError for an unknown tid)."""
        return mam_payload.payload_files(self.rows[tid])

    def write_payload(self, tid: int, folder: Path) -> dict[str, int]:
        """Write `tid`'s payload under `folder` (a save path), byte for byte what its torrent describes."""
        folder.mkdir(parents=True, exist_ok=True)
        return mam_payload.write_payload(self.rows[tid], folder)

    def torrent(self, tid: int, announce: str = "http://127.0.0.1/announce") -> bytes:
        """The `.torrent` bytes `download.php` serves for `tid` (file I/O: not from the event loop)."""
        return self.state.downloads.factory.torrent(self.rows[tid], announce)

    # -- changing the state ------------------------------------------------------------------------

    def expire_session(self) -> str:
        """Every cookie value clients hold is rejected from now on; returns the new, unheld value."""
        return self.state.session.expire()

    def new_session(self, cookie: str | None = None) -> str:
        """Start a new session (a user pasting a new cookie): only `cookie` (or a random value) is valid."""
        return self.state.session.replace(cookie)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def _release_hangs(self, app: web.Application) -> None:
        # Hanging requests would otherwise hold the server's shutdown for their full time
        self.state.faults.release_hangs()


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = serve.argument_parser("mamd.sim.mam", __doc__.splitlines()[0], port=0)
    parser.add_argument("--cookie", default=DEFAULT_COOKIE, help="the initial mam_id value")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated catalogue")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="number of generated rows")
    parser.add_argument(
        "--complete-into", type=Path, help="also write each downloaded torrent's payload into this folder"
    )
    parser.add_argument(
        "--old-unsat-shape",
        action="store_true",
        help="jsonLoad.php with unsat at the top level (pre 2026-09)",
    )
    parser.add_argument("--rejection", choices=("403", "401", "empty", "login"), default="403")
    parser.add_argument("--download-limit", type=int, default=DOWNLOAD_LIMIT, help="downloads per window")
    parser.add_argument("--download-window", type=float, default=DOWNLOAD_WINDOW, help="seconds")
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> MamSimulator:
    if args.count < 0:
        raise ValueError("--count must not be negative")
    return MamSimulator.generated(
        args.count,
        args.seed,
        cookie=args.cookie,
        complete_into=args.complete_into,
        old_unsat_shape=args.old_unsat_shape,
        rejection=args.rejection,
        download_limit=args.download_limit,
        download_window=args.download_window,
    )


def main(argv: Sequence[str] | None = None) -> int:
    return serve.run("mamd.sim.mam", _parse_args(argv), lambda args: build(args).app)
