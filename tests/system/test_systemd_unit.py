"""contrib/systemd/mamd.service is a valid unit: notify, watchdog, reload on SIGHUP, credentials, sandbox."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest
import yaml

from tests.support.unit_file import EXAMPLE, UNIT, directives


def systemd_analyze() -> str:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing; the test command installs the systemd package")
        pytest.skip("systemd-analyze is not installed; sh tests/run.sh installs it (the systemd package)")
    return analyze


def installed_root(tmp_path: Path) -> Path:
    """A root where the unit is installed and mamd is where the README puts it (/opt/mamd)."""
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
    return root


def test_systemd_analyze_verify_prints_nothing(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    root = installed_root(tmp_path)
    result = subprocess.run(
        [analyze, "verify", f"--root={root}", "mamd.service"], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_systemd_reads_the_sandbox_as_a_read_only_system(tmp_path: Path) -> None:
    """systemd-analyze cannot list the mounts a unit gets (that needs a running systemd), but it says
    how it reads the sandbox: the system read-only, so only ReadWritePaths= (and the state) is
    writable, each entry a mount of its own (tests/system/test_sandbox.py rebuilds them)."""
    analyze = systemd_analyze()
    root = installed_root(tmp_path)
    result = subprocess.run(
        [analyze, "security", "--offline=true", f"--root={root}", "--no-pager", "mamd.service"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = result.stdout.splitlines()
    assert any("ProtectSystem=" in line and "strict read-only access" in line for line in lines), result
    assert any("PrivateTmp=" in line and line.lstrip().startswith("✓") for line in lines)


def test_the_unit_gives_mamd_one_writable_tree_over_the_save_path_and_the_library() -> None:
    example = yaml.safe_load(EXAMPLE.read_text())
    save_path = PurePosixPath(example["qbittorrent"]["save_path"])
    library = PurePosixPath(example["audiobookshelf"]["path"])
    [entry] = directives()["ReadWritePaths"]  # two entries are two mounts: no hard link between them
    [tree] = entry.split()
    assert PurePosixPath(tree) in save_path.parents
    assert PurePosixPath(tree) in library.parents
    assert "EXDEV" in UNIT.read_text()  # and the unit says why


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


def test_the_readme_gives_the_one_tree_rule_the_unit_follows() -> None:
    readme = (UNIT.parents[2] / "README.md").read_text()
    [tree] = directives()["ReadWritePaths"]
    assert "**one** `ReadWritePaths=`" in readme
    assert f"(the unit says `{tree}`" in readme
    assert "EXDEV" in readme
