"""The MAM simulator as its own process."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from tests.support.sim_process import SimProcess, simulator_process

SIM_COOKIE = "test-mam-simulator-cookie"


@contextlib.contextmanager
def mam_simulator(
    *, cookie: str = SIM_COOKIE, count: int = 200, complete_into: Path | None = None
) -> Iterator[SimProcess]:
    """`python -m mamd.sim.mam` with the hand-written rows and `count` generated ones."""
    args = ["--cookie", cookie, "--count", str(count)]
    args += ["--complete-into", str(complete_into)] if complete_into is not None else []
    with simulator_process("mamd.sim.mam", *args) as sim:
        yield sim
