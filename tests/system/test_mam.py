"""`mamd run` against the MAM simulator, both as processes: the session cookie over restarts and its end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.configs import write_config
from tests.support.daemon import DaemonProcess, wait_for
from tests.support.mam_sim import SIM_COOKIE, mam_simulator
from tests.support.sim_process import SimProcess

pytestmark = pytest.mark.system


@pytest.fixture
def mam() -> Iterator[SimProcess]:
    with mam_simulator() as sim:
        yield sim


def daemon_for(tmp_path: Path, mam: SimProcess) -> DaemonProcess:
    config = write_config(tmp_path, {"mam": {"base_url": mam.url, "session": SIM_COOKIE}})
    daemon = DaemonProcess(config).start()
    daemon.wait_healthy()
    return daemon


def run_job(daemon: DaemonProcess, name: str) -> dict[str, Any]:
    before = daemon.status()["jobs"][name]["last_run_id"]
    code, body = daemon.post_json(f"/api/v1/jobs/{name}", {})
    assert code == 202, body

    def finished() -> dict[str, Any] | None:
        job = daemon.status()["jobs"][name]
        done = job["last_run_id"] != before and not job["running"] and job["last_result"]
        return dict(job) if done else None

    return wait_for(f"the {name} job", finished, timeout=30)


def events(daemon: DaemonProcess, kind: str) -> list[dict[str, Any]]:
    code, body = daemon.get("/api/v1/events?limit=1000")
    assert code == 200, body
    return [e for e in body["events"] if e["kind"] == kind]


def test_the_rotated_cookie_survives_a_restart(tmp_path: Path, mam: SimProcess) -> None:
    daemon = daemon_for(tmp_path, mam)
    try:
        for _ in range(3):
            assert run_job(daemon, "account")["last_result"] == "ok"
    finally:
        daemon.stop()
    cookies = mam.control("cookie")
    assert SIM_COOKIE not in (cookies["cookie"], cookies["previous"])  # the configured value is dead now

    again = DaemonProcess(daemon.config).start()
    try:
        again.wait_healthy()
        assert run_job(again, "account")["last_result"] == "ok"
        status = again.status()
        assert status["services"]["mam"]["state"] == "ok"
        assert status["account"]["classname"] == "Power User"
        assert events(again, "mam.session_rejected") == []
        assert mam.control("cookie")["cookie"] not in again.log()  # the rotated value is never logged
    finally:
        again.stop()


def test_an_expired_session_stops_mam_traffic_until_a_new_one_is_pasted(
    tmp_path: Path, mam: SimProcess
) -> None:
    daemon = daemon_for(tmp_path, mam)
    try:
        assert run_job(daemon, "account")["last_result"] == "ok"
        mam.control("expire", "POST", {})
        failed = run_job(daemon, "account")
        assert failed["last_result"] == "error"
        sent = len(mam.control("requests")["requests"])
        for _ in range(3):
            assert run_job(daemon, "account")["last_result"] == "error"
        assert len(mam.control("requests")["requests"]) == sent  # nothing more reached MAM
        status = daemon.status()
        assert status["services"]["mam"]["state"] == "unauthorized"
        [event] = events(daemon, "mam.session_rejected")
        assert "mam.session" in event["message"]

        fresh = "a-new-session-the-user-pasted"
        mam.control("cookie", "PUT", {"cookie": fresh})
        data = yaml.safe_load(daemon.config.read_text())
        data["mam"]["session"] = fresh
        generation = status["config"]["generation"]
        daemon.config.write_text(yaml.safe_dump(data))
        wait_for("the new session to load", lambda: daemon.status()["config"]["generation"] > generation)
        assert run_job(daemon, "account")["last_result"] == "ok"
        assert daemon.status()["services"]["mam"]["state"] == "ok"
        assert fresh not in daemon.log()
    finally:
        daemon.stop()
