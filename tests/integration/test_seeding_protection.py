"""Nothing mamd does stops, removes or moves a torrent before it has seeded `seeding.min_seed_time`.

Three proofs: a table over every qBittorrent state, progress and seeding time for the one rule
that picks torrents to stop; the guard's emergency and recovery and the reconcile job run over
that whole table against a recording qBittorrent; and a scan of mamd's source for every call
that could stop, remove or move a torrent.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mamd.clients.errors import Rejected
from mamd.clients.qbittorrent import Torrent, Tracker
from mamd.domain.guard import Verdict
from mamd.domain.seeding import SeedView, may_stop, risk
from mamd.guarding import actions as guard
from mamd.jobs import reconcile
from mamd.runtime import Runtime
from mamd.schedule import JobContext, JobState
from tests.support.clock import FakeClock

MIN_SEED = 72 * 3600
STATES = (
    "downloading", "stalledDL", "queuedDL", "forcedDL", "metaDL", "checkingDL", "pausedDL", "stoppedDL",
    "uploading", "stalledUP", "queuedUP", "forcedUP", "pausedUP", "stoppedUP", "checkingUP",
    "checkingResumeData", "allocating", "moving", "error", "missingFiles", "unknown",
)  # fmt: skip
PROGRESS = (0.0, 0.4, 0.999, 1.0)
SEEDED = (0, 1, MIN_SEED - 1, MIN_SEED, MIN_SEED + 3600)
MUTATING = {"stop", "pause", "delete", "remove", "set_location", "move", "recheck", "torrents_stop",
            "torrents_pause", "torrents_delete", "torrents_set_location", "torrents_recheck"}  # fmt: skip
MAMD = Path(__file__).resolve().parents[2] / "mamd"


def every_torrent() -> list[SeedView]:
    return [
        SeedView(f"{n:040x}", f"torrent {n}", state, progress, seeded, 0.0)
        for n, (state, progress, seeded) in enumerate(itertools.product(STATES, PROGRESS, SEEDED))
    ]


def test_only_a_download_that_never_held_its_data_nor_seeded_may_be_stopped() -> None:
    for torrent in every_torrent():
        if may_stop(torrent):
            assert not torrent.holds_all_data, torrent
            assert torrent.seeding_time_s == 0, torrent
            assert torrent.state in {"downloading", "stalledDL", "queuedDL", "forcedDL", "metaDL"}, torrent


def test_no_torrent_that_holds_its_data_or_has_seeded_is_ever_stoppable() -> None:
    unsatisfied = [t for t in every_torrent() if t.seeding_time_s < MIN_SEED]
    assert not [t for t in unsatisfied if (t.holds_all_data or t.seeding_time_s > 0) and may_stop(t)]


def test_satisfied_torrents_are_never_at_risk_and_unsatisfied_stopped_ones_are() -> None:
    for torrent in every_torrent():
        found = risk(torrent, 10_000.0, MIN_SEED)
        if torrent.seeding_time_s >= MIN_SEED:
            assert found is None
        elif torrent.state in ("pausedUP", "stoppedUP", "error", "missingFiles") and torrent.holds_all_data:
            assert found is not None


@dataclass
class RecordingQbittorrent:
    """qBittorrent as the jobs see it, holding every combination at once, recording what is asked of it."""

    torrents_held: list[Torrent]
    calls: list[tuple[str, list[str]]] = field(default_factory=list)

    async def torrents(
        self, *, category: str | None = None, tag: str | None = None, hashes: Iterable[str] | None = None
    ) -> list[Torrent]:
        chosen = None if hashes is None else set(hashes)
        return [
            t
            for t in self.torrents_held
            if tag is None
            and (category is None or t.category == category)
            and (chosen is None or t.hash in chosen)
        ]

    async def stop(self, hashes: Iterable[str]) -> None:
        self.calls.append(("stop", list(hashes)))

    async def start(self, hashes: Iterable[str]) -> None:
        self.calls.append(("start", list(hashes)))

    async def trackers(self, torrent_hash: str) -> list[Tracker]:
        return [Tracker("http://tracker.invalid/announce", 4, "not working")]

    async def ensure_category(self, name: str, save_path: str) -> bool:
        return False

    async def ensure_tags(self, tags: Iterable[str]) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the jobs asked qBittorrent for {name}")


def as_torrent(view: SeedView) -> Torrent:
    return Torrent(
        hash=view.hash,
        name=view.name,
        state=view.state,
        progress=view.progress,
        amount_left=0 if view.progress >= 1 else 1000,
        completion_on=1 if view.progress >= 1 else None,
        save_path="/downloads",
        content_path=f"/downloads/{view.name}",
        category="mamd",
        tags=("mamd",),
        size=1000,
        ratio=0.0,
        uploaded=0,
        downloaded=0,
        seeding_time=view.seeding_time_s,
        num_seeds=0,
        tracker="",
        added_on=0,
    )


@pytest.fixture
def qbittorrent(runtime: Runtime) -> RecordingQbittorrent:
    fake = RecordingQbittorrent([as_torrent(view) for view in every_torrent()])
    runtime.qbittorrent = fake  # type: ignore[assignment]
    return fake


async def test_an_emergency_stops_only_downloads_and_recovery_starts_only_those(
    runtime: Runtime, qbittorrent: RecordingQbittorrent, clock: FakeClock
) -> None:
    by_hash = {t.hash: t for t in qbittorrent.torrents_held}
    emergency = Verdict("emergency", "none", True, ("ratio 1.00 is below ratio.emergency_below (1.2)",))
    await guard.apply(runtime, emergency, clock.now())
    [(verb, stopped)] = qbittorrent.calls
    assert verb == "stop"
    assert stopped
    for torrent_hash in stopped:
        torrent = by_hash[torrent_hash]
        assert torrent.progress < 1
        assert torrent.seeding_time == 0
        assert torrent.state in ("downloading", "stalledDL", "queuedDL", "forcedDL", "metaDL")
    recovered = Verdict("caution", "freeleech", False, ("ratio 1.45 is below ratio.floor (1.5)",))
    await guard.apply(runtime, recovered, clock.now())
    assert qbittorrent.calls[1] == ("start", stopped)
    assert len(qbittorrent.calls) == 2


async def test_reconcile_never_stops_removes_or_moves_anything(
    runtime: Runtime, qbittorrent: RecordingQbittorrent, clock: FakeClock
) -> None:
    result = await reconcile.run(runtime, JobContext("reconcile", 1, "manual", clock, JobState("reconcile")))
    assert result["torrents"] == len(qbittorrent.torrents_held)
    assert qbittorrent.calls == []
    assert result["at_risk"] > 0


def test_the_only_call_that_stops_a_torrent_is_the_guards_stop_of_chosen_downloads() -> None:
    """Every call in mamd that could stop, remove or move a torrent, by name, and where it is."""
    found: list[tuple[str, str]] = []
    for path in sorted(MAMD.rglob("*.py")):
        if path.is_relative_to(MAMD / "sim") or path.is_relative_to(MAMD / "demo"):
            continue  # the simulators and the demo drive their own test torrents
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in MUTATING
            ):
                found.append((str(path.relative_to(MAMD)), ast.unparse(node)))
    qbittorrent_calls = [
        (where, call) for where, call in found if "qbittorrent" in call or "c.torrents" in call
    ]
    assert qbittorrent_calls == [
        ("clients/qbittorrent/client.py", "c.torrents_stop(torrent_hashes=chosen)"),
        ("guarding/actions.py", "runtime.require_qbittorrent().stop(hashes)"),
    ]


async def test_a_stop_qbittorrent_refuses_is_remembered_said_once_and_tried_again(
    runtime: Runtime, qbittorrent: RecordingQbittorrent, clock: FakeClock
) -> None:
    refusals: list[list[str]] = []

    async def refuse(hashes: Iterable[str]) -> None:
        refusals.append(list(hashes))
        raise Rejected("qbittorrent", "torrents/stop answered 409 Conflict")

    qbittorrent.stop = refuse  # type: ignore[method-assign]
    emergency = Verdict("emergency", "none", True, ("ratio 1.00 is below ratio.emergency_below (1.2)",))
    for _ in range(3):
        await guard.apply(runtime, emergency, clock.now())
    assert len(refusals) == 3  # tried at every reading
    assert refusals[0] == refusals[2]
    remembered = await runtime.guard.stopped()
    assert {t.hash for t in remembered} == set(refusals[0])
    assert all(t.last_error == "torrents/stop answered 409 Conflict" for t in remembered)
    failed = [e for e in await runtime.events.recent(100) if e.kind == "guard.stop_failed"]
    assert len(failed) == 1


async def test_a_download_that_finishes_as_it_is_stopped_is_started_again_to_seed(
    runtime: Runtime, clock: FakeClock
) -> None:
    almost = as_torrent(SeedView("f" * 40, "almost there", "downloading", 0.999, 0, 0.0))
    fake = RecordingQbittorrent([almost])
    runtime.qbittorrent = fake  # type: ignore[assignment]

    async def stop_as_it_finishes(hashes: Iterable[str]) -> None:
        fake.calls.append(("stop", list(hashes)))
        fake.torrents_held = [as_torrent(SeedView(almost.hash, almost.name, "pausedUP", 1.0, 0, 0.0))]

    fake.stop = stop_as_it_finishes  # type: ignore[method-assign]
    emergency = Verdict("emergency", "none", True, ("ratio 1.00 is below ratio.emergency_below (1.2)",))
    await guard.apply(runtime, emergency, clock.now())
    assert fake.calls == [("stop", [almost.hash]), ("start", [almost.hash])]
    assert await runtime.guard.stopped() == []  # not the guard's any more: it seeds
    released = [e for e in await runtime.events.recent(10) if e.kind == "guard.released"]
    assert "almost there finished as it was stopped" in released[0].message
