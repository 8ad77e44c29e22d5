"""The Audiobookshelf simulator as its own process, as the daemon meets a real server."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SIM_KEY = "test-abs-simulator-key"


@dataclass
class AbsSimProcess:
    url: str
    api_key: str
    process: subprocess.Popen[str]

    def control(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}/__sim/{path}", timeout=5) as response:
            return json.loads(response.read())

    def scans(self) -> list[dict[str, Any]]:
        return list(self.control("scans")["scans"])


@contextlib.contextmanager
def abs_simulator(
    *, folder: Path | None = None, items: int = 0, scan_delay: float = 0.05, api_key: str = SIM_KEY
) -> Iterator[AbsSimProcess]:
    """`python -m mamd.sim.abs` on a free loopback port; stopped by its PID afterwards."""
    command = [sys.executable, "-m", "mamd.sim.abs", "--port", "0", "--api-key", api_key]
    command += ["--folder", str(folder)] if folder is not None else ["--items", str(items)]
    command += ["--scan-delay", str(scan_delay)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        assert process.stdout is not None
        deadline, line = time.monotonic() + 60, ""
        while time.monotonic() < deadline and not line.startswith("listening on "):
            line = process.stdout.readline().strip()
            if process.poll() is not None:
                raise RuntimeError(f"the Audiobookshelf simulator exited: {line}")
        if not line.startswith("listening on "):
            raise RuntimeError("the Audiobookshelf simulator did not start within 60 s")
        yield AbsSimProcess(line.removeprefix("listening on "), api_key, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
