"""The daemon as a process with its upstreams unreachable: what the log and `/status` say, and how often."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.configs import free_port, write_config
from tests.support.daemon import running_daemon, wait_for

pytestmark = pytest.mark.system


def test_unreachable_services_give_one_short_warning_line_per_failed_job_and_no_traceback(
    tmp_path: Path,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    config = write_config(
        tmp_path,
        {
            "logging": {"level": "info"},
            "qbittorrent": {"url": closed},
            "audiobookshelf": {"url": closed},
        },
    )
    with running_daemon(config) as daemon:
        for job in ("reconcile", "library_sync"):
            assert daemon.post_json(f"/api/v1/jobs/{job}", {})[0] == 202
        wait_for(
            "both jobs to fail",
            lambda: all(
                daemon.status()["jobs"][j]["last_result"] == "error" for j in ("reconcile", "library_sync")
            ),
            timeout=30,
        )
        services = daemon.status()["services"]
        assert services["qbittorrent"]["state"] == "down"
        assert services["audiobookshelf"]["state"] == "down"
        lines = [line for line in daemon.log().splitlines() if '"job.failed"' in line]
    assert len(lines) == 2
    for line in lines:
        event = json.loads(line)
        assert event["level"] == "warning"
        assert "exception" not in event
        assert len(line) < 500
    assert any("Connection refused" in json.loads(line)["error"] for line in lines)
    assert "Traceback" not in daemon.log()
