"""contrib/dev/qbittorrent-chroots.sh: who may build the qBittorrent 5.x chroots, and what it says otherwise.

The builds themselves run in tests/run.sh, before the suite; their launchers are exercised by every
real-qBittorrent test when MAMD_QBITTORRENT names one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mamd.sim.qbittorrent import binary as qbittorrent_binary

SCRIPT = Path(__file__).parents[2] / "contrib" / "dev" / "qbittorrent-chroots.sh"
LAUNCHER = Path(__file__).parents[2] / "contrib" / "dev" / "qbittorrent-chroot-launcher.sh"


def test_without_root_it_builds_nothing_and_says_how_to_enable_the_runs(tmp_path: Path) -> None:
    # the script is read from stdin, from `/`: a checkout in a private folder (mktemp -d makes it 0700)
    # is out of reach of the unprivileged user, and what is tested is the script's answer, not its path
    command = ["sh", "-s"]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("needs setpriv (util-linux) to run the script as another user")
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    cache = tmp_path / "cache"
    env = {**os.environ, "MAMD_TEST_CACHE": str(cache), "HOME": str(tmp_path)}
    with SCRIPT.open() as script:
        result = subprocess.run(
            command, stdin=script, capture_output=True, text=True, timeout=60, env=env, cwd="/"
        )
    assert result.returncode == 1
    assert result.stdout == ""  # no launcher to run
    assert "cannot build the qBittorrent 5.x chroots: it needs root" in result.stderr
    assert "run the tests as root" in result.stderr
    assert not cache.exists()


def test_the_launcher_tells_the_harness_how_host_programs_are_run() -> None:

    assert (
        qbittorrent_binary.host_program(str(LAUNCHER), "/bin/true") == "/usr/sbin/chroot /run/host /bin/true"
    )
