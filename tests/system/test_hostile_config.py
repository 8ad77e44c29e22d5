"""Hostile files saved over a running daemon's configuration: it keeps the old one and stops on time.

Each of these once killed the daemon, hung its reloads and its shutdown, or grew it by gigabytes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.configs import API_KEY, write_config
from tests.support.daemon import DaemonProcess, running_daemon, wait_for

pytestmark = pytest.mark.system

MIB = 1024 * 1024
LAUGHS = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}' if prev else 'lol'] * 9)}]\n"
    for prev, name in zip(["", "a", "b", "c", "d", "e", "f", "g", "h"], "abcdefghi", strict=True)
)


@dataclass(frozen=True)
class Hostile:
    """How to put one hostile thing where the configuration is, and what the refusal then says."""

    name: str
    save: Callable[[Path, str], None]  # (the configuration's path, the good file's text)
    says: str


def text(make: Callable[[str], str]) -> Callable[[Path, str], None]:
    """Save a text made from the good one by renaming over the file, as editors do."""

    def save(path: Path, good: str) -> None:
        temporary = path.with_name(".mamd.yaml.new")
        temporary.write_bytes(make(good).encode("utf-8", "surrogatepass"))
        os.replace(temporary, path)

    return save


def replace_with(make: Callable[[Path], None]) -> Callable[[Path, str], None]:
    def save(path: Path, good: str) -> None:
        path.unlink()
        make(path)

    return save


def secret_at(target: str) -> Callable[[str], str]:
    """The good text with the API key read from `target`, a file hostile in its own way."""
    return lambda good: good.replace(f"api_key: {API_KEY}", f"api_key_file: {target}")


HOSTILE = [
    Hostile("nul", text(lambda good: good + "# a stray \x00\n"), "U+0000 (NUL)"),
    Hostile("esc", text(lambda good: good + "# \x1b[31m red\n"), "U+001B (escape)"),
    Hostile("form-feed", text(lambda good: "\x0c\n" + good), "U+000C (form feed)"),
    Hostile("del", text(lambda good: good + "dry_run: false\x7f\n"), "U+007F (delete)"),
    Hostile("u-fffe", text(lambda good: good + "# \ufffe\n"), "U+FFFE"),
    Hostile(
        "block-maps-1400-deep",
        text(lambda good: good + "x:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 1400))),
        "nested more than 32 levels deep",
    ),
    Hostile(
        "flow-maps-10000-deep",
        text(lambda good: good + "x: " + "{a: " * 10_000 + "1" + "}" * 10_000),
        "nested",
    ),
    Hostile("flow-lists-10000-deep", text(lambda good: good + "x: " + "[" * 10_000 + "]" * 10_000), "nested"),
    Hostile(
        "billion-laughs", text(lambda good: good + LAUGHS + "wanted:\n  ignore: *i\n"), "expands the document"
    ),
    Hostile(
        "5000-digits", text(lambda good: good + "dry_run: " + "9" * 5000 + "\n"), "cannot read the value"
    ),
    Hostile("over-1-mib", text(lambda good: good + "#" * (MIB + 1) + "\n"), "more than the 1,048,576"),
    Hostile(
        "dev-zero-symlink", replace_with(lambda path: path.symlink_to("/dev/zero")), "a character device"
    ),
    Hostile("directory", replace_with(lambda path: path.mkdir()), "is a directory"),
    Hostile("secret-dev-zero", text(secret_at("/dev/zero")), "/dev/zero is a character device"),
    Hostile("secret-environ", text(secret_at("/proc/self/environ")), "/proc/self/environ"),
    Hostile("secret-shadow-like", text(secret_at("shadow")), "lines; a secret file holds"),  # beside the file
    Hostile("fifo", replace_with(lambda path: os.mkfifo(path)), "a FIFO"),  # last: still there at SIGTERM
]


def rss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def restore(path: Path, good: str) -> None:
    """Save the good text over whatever is there (a rename replaces anything but a folder)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    temporary = path.with_name(".mamd.yaml.new")
    temporary.write_text(good)
    os.replace(temporary, path)


def test_a_running_daemon_survives_every_hostile_file_on_its_old_configuration_and_stops_in_time(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, {"logging": {"level": "info"}})
    (tmp_path / "shadow").write_text("root:$6$salt$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    good = config.read_text()
    daemon = DaemonProcess(config).start()
    try:
        daemon.wait_healthy()
        for _ in range(3):  # warm the paths a reload and a status take before measuring
            daemon.status()
        before = rss(daemon.pid)
        peak = before
        for case in HOSTILE:
            case.save(config, good)
            status = wait_for(
                f"the {case.name} file to be refused",
                lambda case=case: (s := daemon.status())["config"]["last_error"] and s,
                timeout=15,
            )
            error = status["config"]["last_error"]
            assert case.says in error, (case.name, error)
            assert status["config"]["generation"] == 1, case.name
            assert daemon.get("/healthz", key=False)[0] == 200
            peak = max(peak, rss(daemon.pid))
            if case is not HOSTILE[-1]:
                restore(config, good)
                wait_for(
                    f"the good file after {case.name}",
                    lambda: daemon.status()["config"]["last_error"] is None,
                    timeout=15,
                )
        assert peak - before < 50 * MIB, f"grew by {(peak - before) / MIB:.1f} MiB"
        # the FIFO is still the configuration: shutdown must not wait on it
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit(timeout=5) == 0
        assert time.monotonic() - started < 5
    finally:
        daemon.stop()
    assert "Traceback" not in daemon.log()


@pytest.mark.parametrize("case", HOSTILE, ids=lambda case: case.name)
def test_check_config_on_a_hostile_file_exits_2_without_a_traceback(tmp_path: Path, case: Hostile) -> None:
    config = write_config(tmp_path)
    (tmp_path / "shadow").write_text("root:x:0:0\ndaemon:x:1:1\n")
    case.save(config, config.read_text())
    result = subprocess.run(
        [sys.executable, "-m", "mamd", "check-config", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert case.says in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "case", [c for c in HOSTILE if c.name in ("nul", "billion-laughs", "fifo")], ids=lambda case: case.name
)
def test_a_daemon_started_on_a_hostile_file_exits_2_and_says_why(tmp_path: Path, case: Hostile) -> None:
    config = write_config(tmp_path)
    case.save(config, config.read_text())
    daemon = DaemonProcess(config).start()
    try:
        assert daemon.wait_exit(timeout=15) == 2
    finally:
        daemon.stop()
    assert case.says in daemon.log()
    assert "Traceback" not in daemon.log()


def test_the_good_file_after_a_hostile_one_is_applied(tmp_path: Path) -> None:
    """Refusing is not enough: the next good save must still be picked up (the watch survives a FIFO)."""
    config = write_config(tmp_path)
    good = config.read_text()
    with running_daemon(config) as daemon:
        config.unlink()
        os.mkfifo(config)
        wait_for("the FIFO to be refused", lambda: daemon.status()["config"]["last_error"])
        restore(config, good.replace("backups: 2", "backups: 5"))
        wait_for("the edit", lambda: daemon.status()["config"]["generation"] == 2)
