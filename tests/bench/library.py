"""Library figures: a full and an unchanged sync of 50,000 items, the sync's peak memory, discovery.

The Audiobookshelf simulator runs as its own process and `mamd run` as another, as on a NAS;
durations are the daemon's own `job.run` figures, memory is the daemon's peak RSS (VmHWM).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tests.bench.figures import Figure
from tests.support.abs_sim import abs_simulator
from tests.support.configs import write_config
from tests.support.daemon import DaemonProcess, wait_for

ITEMS = 50_000


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def job_runs(daemon: DaemonProcess, job: str) -> list[dict[str, Any]]:
    return [e for e in daemon.log_events() if e.get("event") == "job.run" and e.get("job") == job]


def run_job(daemon: DaemonProcess, job: str, timeout: float = 300) -> dict[str, Any]:
    """Start `job` through the API and return its `job.run` line once it has finished."""
    before = len(job_runs(daemon, job))
    code, body = daemon.request("POST", f"/api/v1/jobs/{job}", headers={"X-Api-Key": daemon.http["api_key"]})
    if code != 202:
        raise RuntimeError(f"{job} did not start: {code} {body}")
    runs = wait_for(
        f"{job} to finish", lambda: job_runs(daemon, job)[before:], timeout=timeout, interval=0.05
    )
    if runs[0]["result"] != "ok":
        raise RuntimeError(f"{job} failed: {runs[0]}")
    return dict(runs[0])


def wait_idle(daemon: DaemonProcess, job: str) -> None:
    wait_for(
        f"{job} to be idle", lambda: not daemon.status()["jobs"][job]["running"], timeout=300, interval=0.05
    )


def run(quick: bool) -> list[Figure]:
    items = 5_000 if quick else ITEMS
    with abs_simulator(items=items) as simulator, tempfile.TemporaryDirectory() as folder:
        config = write_config(
            Path(folder),
            {
                "logging": {"level": "info"},
                "audiobookshelf": {"url": simulator.url, "api_key": simulator.api_key},
            },
        )
        daemon = DaemonProcess(config).start()
        try:
            daemon.wait_healthy()
            full = run_job(daemon, "library_sync")
            rss = peak_rss_mib(daemon.pid)
            wait_for("the discovery the sync asked for", lambda: job_runs(daemon, "discover"), timeout=300)
            wait_idle(daemon, "discover")
            first_discover = job_runs(daemon, "discover")[0]
            again = run_job(daemon, "library_sync")
            discover_again = run_job(daemon, "discover")
        finally:
            daemon.stop()
    suffix = "" if not quick else f" ({items} items)"
    if full["fetched"] != full["usable"] or again["fetched"] != 0:
        raise RuntimeError(f"unexpected sync results: {full} then {again}")
    return [
        Figure("sync_50k_s", full["duration_s"], 15, note=f"{full['items']} items stored{suffix}"),
        Figure("resync_50k_unchanged_s", again["duration_s"], 3, note=suffix.strip()),
        Figure("sync_50k_peak_rss_mib", rss, 120),
        Figure(
            "discover_50k_s",
            first_discover["duration_s"],
            2,
            note=f"{first_discover['added']} wanted added; rerun {discover_again['duration_s']:.2f} s",
        ),
    ]
