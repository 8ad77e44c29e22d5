"""Notifications from the daemon as a process and from `mamd notify-test`, to a receiver on loopback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.configs import free_port, write_config
from tests.support.daemon import running_daemon, wait_for
from tests.support.sim_process import SimProcess, simulator_process

pytestmark = pytest.mark.system


def mamd(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mamd", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def ntfy() -> Iterator[SimProcess]:
    with simulator_process("mamd.sim.ntfy") as process:
        yield process


def ntfy_url(process: SimProcess, topic: str) -> str:
    return "ntfy://" + process.url.removeprefix("http://") + f"/{topic}"


def messages(process: SimProcess) -> list[dict[str, Any]]:
    return list(process.control("messages"))


def test_a_daemon_without_targets_never_loads_apprise_and_a_reload_adding_one_does(
    tmp_path: Path, ntfy: SimProcess
) -> None:
    config = write_config(tmp_path)
    with running_daemon(config) as daemon:
        assert daemon.status()["notify"] == {
            "targets": [],
            "outbox": {"waiting": 0, "limit": 500, "dropped": 0},
            "daily_summary_next_at": None,
            "apprise_loaded": False,
        }
        topic = "reload-topic-55e1d0"
        data = yaml.safe_load(config.read_text())
        data["notify"] = [{"url": ntfy_url(ntfy, topic), "events": ["problem", "session"]}]
        config.write_text(yaml.safe_dump(data))
        section = wait_for(
            "the new target", lambda: (s := daemon.status()["notify"])["targets"] and s, timeout=10
        )
        assert section["apprise_loaded"] is True
        assert [(t["target"], t["events"], t["state"]) for t in section["targets"]] == [
            ("notify[0]", ["problem", "session"], "untried")
        ]
        result = mamd("notify-test", "-c", str(config))
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0].startswith("sent by the running mamd at 127.0.0.1:")
        assert "  notify[0] ntfy: sent (" in result.stdout
        (message,) = messages(ntfy)
        assert message["title"] == "mamd test notification"
        assert message["topic"] == topic
        assert topic not in daemon.log()  # the URL is a secret: never logged
        data["logging"] = {"level": "info", "format": "json"}
        data["rules"] = {"freeleech": "sometimes"}  # a broken edit is a problem, said at once
        config.write_text(yaml.safe_dump(data))
        said = wait_for("the refused edit to be said", lambda: len(messages(ntfy)) == 2 and messages(ntfy))
        assert said[1]["title"] == "Configuration edit refused"
        assert "rules.freeleech: must be one of any, prefer, only" in said[1]["message"]


def test_notify_test_sends_from_the_file_when_no_daemon_runs_and_says_which_target_failed(
    tmp_path: Path, ntfy: SimProcess
) -> None:
    down = free_port()
    config = write_config(
        tmp_path,
        {
            "notify": [
                {"url": ntfy_url(ntfy, "direct-topic-0c9d"), "events": ["bonus"]},
                {"url": f"json://127.0.0.1:{down}/token-path-3e8a"},
            ],
            "http": {"port": free_port(), "public_url": "https://nas.example.lan:8787"},
        },
    )
    result = mamd("notify-test", "-c", str(config))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("no running mamd answered (mamd is not answering at 127.0.0.1:")
    assert lines[0].endswith(f"sending from {config} directly:")
    assert lines[1].startswith("  notify[0] ntfy: sent (")
    assert lines[2] == "  notify[1] JSON: FAILED: could not connect, or no answer in time"
    assert "token-path-3e8a" not in result.stdout + result.stderr
    (message,) = messages(ntfy)
    assert message["message"].endswith("https://nas.example.lan:8787/status")


def test_notify_test_without_targets_says_so(tmp_path: Path) -> None:
    result = mamd("notify-test", "-c", str(write_config(tmp_path)))
    assert result.returncode == 2
    assert "notify: lists no target; nothing was sent" in result.stderr


def test_check_config_names_an_unknown_scheme_with_its_line_and_never_the_url(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"notify": [{"url": "tgrm://123456:bot-token-77aa/chat"}]})
    result = mamd("check-config", "-c", str(config))
    assert result.returncode == 2
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "tgrm://" in text)
    assert (
        f"{config}:{line}: notify[0].url: unknown notification scheme `tgrm://`; did you mean `tgram://`? "
        "(the value is a secret and not shown)"
    ) in result.stderr
    assert "bot-token-77aa" not in result.stdout + result.stderr


def test_an_inline_secret_url_is_allowed_and_never_printed(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"notify": [{"url": "json://user:hunter2-pass@127.0.0.1/hook"}]})
    result = mamd("check-config", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert "  notifications: 1 target(s): json:// (`mamd notify-test` tries them)" in result.stdout
    assert "hunter2-pass" not in result.stdout + result.stderr
