"""The link probe on real filesystems and real mounts: what works, what does not, and nothing left behind.

Layouts that need mounts (a second bind mount, a read-only mount, dropped capabilities) run the probe in
a subprocess inside a private mount namespace (`tests/support/sandbox.py`), as root.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from mamd.config import load_config
from mamd.importing.probe import PROBLEM_ID, RECHECK_S, ImportPaths, probe
from mamd.runtime import Runtime
from tests.support.clock import FakeClock
from tests.support.configs import write_config
from tests.support.sandbox import require_mount_namespaces, sandboxed, unavailable

PROBE = """
import json, sys
from pathlib import Path
from mamd.config import load_config
from mamd.importing.probe import PROBLEM_ID, RECHECK_S, ImportPaths, probe
from mamd.runtime import Runtime
from tests.support.clock import FakeClock
from tests.support.configs import write_config
found = probe(ImportPaths(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))
print(json.dumps(None if found is None else {"errno": found.errno, "message": found.message}))
"""


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    save, library = tmp_path / "srv" / "torrents", tmp_path / "srv" / "library"
    save.mkdir(parents=True)
    library.mkdir(parents=True)
    return save, library


def listing(*folders: Path) -> list[str]:
    return sorted(str(p) for folder in folders for p in folder.rglob("*"))


def probed(
    save: Path, library: Path, method: str = "hardlink", *, wrap: Sequence[str] = (), **mounts: Any
) -> dict[str, Any] | None:
    """The probe's verdict from a subprocess, in a mount namespace when `mounts` are given."""
    command = [*wrap, sys.executable, "-c", PROBE, str(save), str(library), method]
    if mounts:
        command = sandboxed(command, **mounts)
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2]
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] | None = json.loads(result.stdout)
    return answer


def test_one_folder_tree_on_one_mount_links_and_leaves_nothing_behind(places: tuple[Path, Path]) -> None:
    save, library = places
    (save / "Book").mkdir()
    (save / "Book" / "part.mp3").write_bytes(b"seeding")
    before = listing(save, library)
    assert probe(ImportPaths(save, library, "hardlink")) is None
    assert probe(ImportPaths(save, library, "copy")) is None
    assert listing(save, library) == before
    assert (save / "Book" / "part.mp3").stat().st_nlink == 1


def test_a_missing_save_path_names_both_folders_the_errno_and_the_fix(places: tuple[Path, Path]) -> None:
    save, library = places
    shutil.rmtree(save)
    for method in ("hardlink", "copy"):
        problem = probe(ImportPaths(save, library, method))
        assert problem is not None
        assert (problem.errno, problem.code) == (errno.ENOENT, "ENOENT")
        assert f"qbittorrent.save_path {save} does not exist (ENOENT)" in problem.message
        assert f"audiobookshelf.path {library}" in problem.message
        assert "create it, or mount the disk that holds it" in problem.message
    assert listing(library) == []


def test_a_missing_or_misplaced_library_is_named(places: tuple[Path, Path]) -> None:
    save, library = places
    library.rmdir()
    problem = probe(ImportPaths(save, library, "hardlink"))
    assert problem is not None
    assert f"audiobookshelf.path {library} does not exist (ENOENT)" in problem.message
    library.write_text("a file where the folder should be")
    problem = probe(ImportPaths(save, library, "copy"))
    assert problem is not None
    assert (problem.code, f"{library} is not a folder") == ("ENOTDIR", f"{library} is not a folder")
    assert f"{library} is not a folder (ENOTDIR)" in problem.message
    assert listing(save) == []


def test_leftovers_of_an_interrupted_probe_are_removed(places: tuple[Path, Path]) -> None:
    save, library = places
    (save / ".mamd-probe-0123456789abcdef").write_bytes(b"")
    (library / ".mamd-probe-fedcba9876543210").write_bytes(b"")
    (library / ".mamd-probed-by-someone-else").write_bytes(b"")
    assert probe(ImportPaths(save, library, "hardlink")) is None
    assert listing(save, library) == [str(library / ".mamd-probed-by-someone-else")]


@pytest.fixture
def other_filesystem() -> Iterator[Path]:
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat(tempfile.gettempdir()).st_dev:
        unavailable("needs a second filesystem at /dev/shm", "mount a tmpfs there")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
        yield Path(other)


def test_two_filesystems_are_reported_with_the_fix_and_copy_works(
    places: tuple[Path, Path], other_filesystem: Path
) -> None:
    save, library = other_filesystem, places[1]
    problem = probe(ImportPaths(save, library, "hardlink"))
    assert problem is not None
    assert problem.code == "EXDEV"
    assert f"from qbittorrent.save_path {save} into audiobookshelf.path {library}: EXDEV" in problem.message
    assert "different filesystems" in problem.message
    assert "import.method: copy" in problem.message
    assert probe(ImportPaths(save, library, "copy")) is None
    assert listing(save, library) == []


def test_two_bind_mounts_of_one_filesystem_are_reported_with_one_read_write_paths(
    places: tuple[Path, Path],
) -> None:
    require_mount_namespaces()
    save, library = places
    found = probed(save, library, writable=[save, library])
    assert found is not None
    assert found["errno"] == errno.EXDEV
    message = found["message"]
    assert f"from qbittorrent.save_path {save} into audiobookshelf.path {library}: EXDEV" in message
    assert f"one filesystem but on two mounts ({save} and {library})" in message
    assert f"ReadWritePaths={save.parent}" in message
    assert "import.method: copy" in message
    assert probed(save, library, "copy", writable=[save, library]) is None
    # one mount over both, as the shipped unit makes it, links
    assert probed(save, library, writable=[save.parent]) is None
    assert listing(save, library) == []


def test_a_read_only_library_is_reported_for_either_method(places: tuple[Path, Path]) -> None:
    require_mount_namespaces()
    save, library = places
    (save / "part.mp3").write_bytes(b"seeding")
    for method in ("hardlink", "copy"):
        found = probed(save, library, method, read_only=[save.parent])
        assert found is not None
        assert found["errno"] == errno.EROFS
        assert f"cannot create files in audiobookshelf.path {library} (EROFS" in found["message"]
        assert f"qbittorrent.save_path {save}" in found["message"]
        assert "ReadWritePaths=" in found["message"]
    assert listing(library) == []


def test_a_save_path_mamd_cannot_write_is_judged_by_linking_a_file_of_qbittorrent(
    places: tuple[Path, Path],
) -> None:
    require_mount_namespaces()
    save, library = places
    (save / "Book").mkdir()
    (save / "Book" / "part.mp3").write_bytes(b"seeding")
    # a read-only save path in its own mount: the link from there cannot reach the library's mount
    found = probed(save, library, read_only=[save])
    assert found is not None
    assert found["errno"] == errno.EXDEV
    assert "two mounts" in found["message"]
    # empty, it is judged by its mount alone
    shutil.rmtree(save / "Book")
    found = probed(save, library, read_only=[save])
    assert found is not None
    assert "two mounts" in found["message"]
    assert listing(save, library) == []


def test_files_mamd_may_not_hardlink_name_protected_hardlinks(places: tuple[Path, Path]) -> None:
    """Without CAP_FOWNER and CAP_DAC_OVERRIDE root is like any user: it may not write the save path
    (owned by another user) nor link a file it neither owns nor may write."""
    require_mount_namespaces()
    capsh = shutil.which("capsh")
    if capsh is None:
        unavailable("needs capsh", "install libcap2-bin")
    if Path("/proc/sys/fs/protected_hardlinks").read_text().strip() != "1":
        unavailable("needs fs.protected_hardlinks = 1", "sysctl fs.protected_hardlinks=1 (Debian's default)")
    save, library = places
    (save / "part.mp3").write_bytes(b"seeding")
    os.chown(save / "part.mp3", 65534, 65534)
    os.chown(save, 65534, 65534)
    wrap = [capsh, "--drop=cap_fowner,cap_dac_override,cap_dac_read_search", "--"]
    found = probed(save, library, wrap=[*wrap, "-c", '"$0" "$@"'])
    assert found is not None
    assert found["errno"] == errno.EPERM
    assert f"for {save / 'part.mp3'}" in found["message"]
    assert "fs.protected_hardlinks" in found["message"]
    assert "import.method: copy" in found["message"]
    assert listing(library) == []


async def settled(runtime: Runtime, problem: bool) -> list[str]:
    """The import problems in Health once there is one (or none), within a bounded number of turns."""
    for _ in range(500):
        found = [p.summary for p in runtime.health.problems() if p.id == PROBLEM_ID]
        if bool(found) == problem:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"the probe did not settle on {'a' if problem else 'no'} problem")


async def test_the_daemons_probe_rechecks_every_minute_while_a_problem_stands_and_on_reload(
    tmp_path: Path, clock: FakeClock
) -> None:
    missing = tmp_path / "not-yet-mounted"
    path = write_config(tmp_path, {"qbittorrent": {"save_path": str(missing)}})
    runtime = Runtime(load_config(path), path, clock=clock)
    checker = runtime.import_probe
    assert await checker.check() is not None
    assert not runtime.health.ready
    task = asyncio.create_task(checker.run_forever())
    try:
        missing.mkdir()
        await asyncio.sleep(0.05)
        assert await settled(runtime, problem=True)  # not before the minute is up
        clock.advance(RECHECK_S)
        assert await settled(runtime, problem=False) == []
        assert runtime.health.ready
        # while all is well nothing is checked on time, but a reload that moves a folder is
        old = runtime.config
        runtime.config = load_config(
            write_config(tmp_path, {"audiobookshelf": {"path": str(tmp_path / "gone")}})
        )
        clock.advance(10 * RECHECK_S)
        await asyncio.sleep(0.05)
        assert await settled(runtime, problem=False) == []
        checker.reloaded(old, runtime.config)
        [summary] = await settled(runtime, problem=True)
        assert f"audiobookshelf.path {tmp_path / 'gone'} does not exist" in summary
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
