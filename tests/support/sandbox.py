"""The mount layout systemd gives a sandboxed unit, rebuilt in a private mount namespace for one command.

`ProtectSystem=strict` makes the tree read-only and each `ReadWritePaths=` entry a writable bind mount
of its own. `sandboxed()` does the same to a folder of the test: `read_only` folders are remounted
read-only, then each of `writable` is bind-mounted onto itself, read-write. The namespace is the
command's own (`unshare -m`): the mounts vanish with it and nothing is ever mounted on the machine.
Needs root; `require_mount_namespaces()` skips without it (and fails under CI).
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NoReturn

import pytest

ENABLE = "run the tests as root (sudo sh tests/run.sh) to build private mount namespaces"


def unavailable(reason: str, enable: str) -> NoReturn:
    """Skip the test, saying how to enable it; under CI, where every real-part test must run, fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI must run this test")
    pytest.skip(f"{reason}; {enable}")


def require_mount_namespaces() -> None:
    """Skip (fail under CI) unless this process may make private mount namespaces: root and unshare."""
    if os.geteuid() != 0:
        unavailable("needs root for a private mount namespace (unshare -m)", ENABLE)
    if shutil.which("unshare") is None:
        unavailable("needs unshare", "install util-linux")


def sandboxed(
    command: Sequence[str], *, writable: Iterable[Path] = (), read_only: Iterable[Path] = ()
) -> list[str]:
    """`command`, run in a private mount namespace with the mounts described above."""
    lines = ["set -eu"]
    for folder in read_only:
        path = shlex.quote(str(folder))
        lines += [f"mount --bind {path} {path}", f"mount -o remount,bind,ro {path} {path}"]
    for folder in writable:
        path = shlex.quote(str(folder))
        lines += [f"mount --bind {path} {path}", f"mount -o remount,bind,rw {path} {path}"]
    lines.append('exec "$@"')
    script = "\n".join(lines)
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sandbox", *command]
