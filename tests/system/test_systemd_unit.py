"""contrib/systemd/mamd.service is a valid unit: notify, watchdog, reload on SIGHUP, credentials, sandbox."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).parents[2] / "contrib" / "systemd" / "mamd.service"


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_systemd_analyze_verify_prints_nothing(tmp_path: Path) -> None:
    """Verified against a root where mamd is installed where the README puts it (/opt/mamd)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing; the test command installs the systemd package")
        pytest.skip("systemd-analyze is not installed")
    root = tmp_path / "root"
    units = next(p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir())
    shutil.copytree(units, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, root / "etc/systemd/system/mamd.service")
    for command in ("ExecStart", "ExecReload"):
        executable = Path(directives()[command][0].split()[0])
        target = root / executable.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("#!/bin/sh\n")
        target.chmod(0o755)
    result = subprocess.run(
        [analyze, "verify", f"--root={root}", "mamd.service"], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_unit_declares_notify_watchdog_reload_state_credentials_and_sandbox() -> None:
    found = directives()
    assert found["Type"] == ["notify"]
    assert found["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert found["Restart"] == ["on-failure"]
    assert found["WatchdogSec"]
    assert found["StateDirectory"] == ["mamd"]
    assert found["ConfigurationDirectory"] == ["mamd"]
    assert found["LoadCredential"]
    assert found["ProtectSystem"] == ["strict"]
    assert found["ReadWritePaths"]
    assert found["NoNewPrivileges"] == ["yes"]
    assert found["LimitNOFILE"] == ["1024"]  # open descriptors are bounded, whoever connects
    assert "run -c /etc/mamd/mamd.yaml" in found["ExecStart"][0]
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    assert set(parser.sections()) == {"Unit", "Service", "Install"}
