"""A simulator as its own process (`python -m mamd.sim.<name>`), as the daemon meets a real server."""

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
from typing import Any


@dataclass
class SimProcess:
    url: str
    process: subprocess.Popen[str]

    def control(self, path: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
        """Call the simulator's own `/__sim/` endpoints."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/__sim/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read() or b"null")


@contextlib.contextmanager
def simulator_process(module: str, *args: str) -> Iterator[SimProcess]:
    """`python -m module --port 0 args…` on a free loopback port; stopped by its PID afterwards."""
    command = [sys.executable, "-m", module, "--port", "0", *args]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        assert process.stdout is not None
        deadline, line = time.monotonic() + 60, ""
        while time.monotonic() < deadline and not line.startswith("listening on "):
            line = process.stdout.readline().strip()
            if process.poll() is not None:
                raise RuntimeError(f"{module} exited: {line}")
        if not line.startswith("listening on "):
            raise RuntimeError(f"{module} did not start within 60 s")
        yield SimProcess(line.removeprefix("listening on "), process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
