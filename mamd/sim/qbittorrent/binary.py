"""Which `qbittorrent-nox` the tests, the demo and the benchmarks run, and what version it is.

One environment variable, `MAMD_QBITTORRENT`, names the binary (a path, or a name looked up on `PATH`);
without it, `qbittorrent-nox` from `PATH`. It may name a launcher that runs qBittorrent from a Debian
chroot (see `contrib/dev/qbittorrent-chroots.sh`): such a launcher says, in a comment line, how a
program of this machine is run from inside it, and `host_program()` applies that to the completion
program, whose paths are this machine's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

ENV = "MAMD_QBITTORRENT"
DEFAULT = "qbittorrent-nox"
# the comment line by which a chroot launcher says how it runs a program of this machine
HOST_PROGRAM_MARKER = "# mamd-host-program-prefix:"
VERSION_TIMEOUT_S = 30.0
_VERSION = re.compile(r"qBittorrent (v\d+\.\d+\S*)")


def chosen() -> str:
    """The binary named by `MAMD_QBITTORRENT`, else `qbittorrent-nox`."""
    return os.environ.get(ENV, "").strip() or DEFAULT


def locate(binary: str | None = None) -> str | None:
    """The executable's path, or None when it is not installed (or not executable)."""
    return shutil.which(binary or chosen())


def host_program(binary: str, program: str) -> str:
    """`program` as `binary` must be told it: prefixed when the binary is a chroot launcher."""
    prefix = _host_program_prefix(binary)
    return f"{prefix} {program}" if prefix else program


def _host_program_prefix(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        return ""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return ""
    if not head.startswith(b"#!"):
        return ""  # a real executable, not a launcher script
    for line in head.decode(errors="replace").splitlines():
        if line.startswith(HOST_PROGRAM_MARKER):
            return line[len(HOST_PROGRAM_MARKER) :].strip()
    return ""


def version(binary: str | None = None) -> str:
    """The version `binary --version` prints, such as `v5.3.0`.

    `--version` must be its only argument and it then writes a stub profile into `$HOME`, so it runs
    with a temporary home that is removed afterwards. Raises `OSError` when it cannot be run or
    prints no version.
    """
    binary = binary or chosen()
    with tempfile.TemporaryDirectory(prefix="mamd-qbt-version-") as home:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("QBT_", "XDG_"))}
        env["HOME"] = home
        try:
            result = subprocess.run(
                [binary, "--version"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=env,
                timeout=VERSION_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise OSError(f"{binary} --version did not answer within {VERSION_TIMEOUT_S:.0f} s") from exc
        found = _VERSION.search(result.stdout)
        if found is None:
            output = (result.stdout + result.stderr).strip()[-500:]
            raise OSError(
                f"{binary} --version printed no version (exit status {result.returncode}): {output}"
            )
        return found.group(1)


def describe(binary: str | None = None) -> str:
    """One line for a report: `qBittorrent v5.3.0 (/path/to/binary)`, or why there is none."""
    binary = binary or chosen()
    path = locate(binary)
    if path is None:
        return f"qBittorrent: {binary} is not installed"
    try:
        return f"qBittorrent {version(path)} ({Path(path)})"
    except OSError as exc:
        return f"qBittorrent: {exc}"
