"""The Audiobookshelf simulator as its own process, as the daemon meets a real server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.sim_process import SimProcess, simulator_process

SIM_KEY = "test-abs-simulator-key"


@dataclass
class AbsSimProcess:
    url: str
    api_key: str
    sim: SimProcess

    def control(self, path: str) -> Any:
        return self.sim.control(path)

    def scans(self) -> list[dict[str, Any]]:
        return list(self.control("scans")["scans"])


@contextlib.contextmanager
def abs_simulator(
    *, folder: Path | None = None, items: int = 0, scan_delay: float = 0.05, api_key: str = SIM_KEY
) -> Iterator[AbsSimProcess]:
    """`python -m mamd.sim.abs` on a free loopback port; stopped by its PID afterwards."""
    args = ["--api-key", api_key, "--scan-delay", str(scan_delay)]
    args += ["--folder", str(folder)] if folder is not None else ["--items", str(items)]
    with simulator_process("mamd.sim.abs", *args) as sim:
        yield AbsSimProcess(sim.url, api_key, sim)
