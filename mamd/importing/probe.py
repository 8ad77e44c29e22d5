"""Can finished torrents be imported at all? A hard link from the save path into the library, tried.

Linux refuses `link()` across mount points with EXDEV even when both are one filesystem (link(2):
"link() does not work across different mount points, even if the same filesystem is mounted on
both"), and systemd's `ReadWritePaths=` makes each entry its own bind mount: a unit that lists the
save path and the library separately makes every hardlink import fail. So before the first import
can fail, mamd creates a temporary file in `qbittorrent.save_path`, links it into
`audiobookshelf.path`, and removes both; with `import.method: copy` it checks instead that the
library takes a new file. A problem is kept in `Health` (so `/readyz` and `/status` show it) and
printed by `mamd check-config`; the probe runs at start, after a reload that changes either path or
the method, and every minute while a problem stands, so it clears once the cause is fixed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mamd.clock import sleep_or_wake

if TYPE_CHECKING:
    from mamd.config import Config
    from mamd.context import Context

PROBLEM_ID = "import.link"
PREFIX = ".mamd-probe-"  # the probe's temporary files; leftovers of a crash are removed next time
RECHECK_S = 60.0  # while a problem stands
START_WAIT_S = 5.0  # how long start-up waits for the first verdict (a hung network mount?)
SCAN_LIMIT = 500  # directory entries looked at for an existing file to link when the save path is read-only
COPY_COST = "every book then takes its space twice"


@dataclass(frozen=True)
class ImportPaths:
    save_path: Path
    library: Path
    method: str  # hardlink | copy

    @classmethod
    def of(cls, config: Config) -> ImportPaths:
        return cls(
            Path(config.qbittorrent.save_path), Path(config.audiobookshelf.path), config.import_.method
        )


@dataclass(frozen=True)
class ImportProblem:
    errno: int
    message: str

    @property
    def code(self) -> str:
        return errno.errorcode.get(self.errno, str(self.errno))


def probe(paths: ImportPaths) -> ImportProblem | None:
    """Try what an import does, leaving nothing behind; None when it works. Blocks: run it in a thread."""
    try:
        return _probe(paths)
    except OSError as exc:  # a folder that vanished or a mount that broke half-way through
        code = exc.errno or errno.EIO
        name = errno.errorcode.get(code, str(code))
        return ImportProblem(
            code, f"the import check failed: {name} ({exc.strerror or exc}). " + _both(paths)
        )


def _probe(paths: ImportPaths) -> ImportProblem | None:
    save, library = paths.save_path, paths.library
    for key, folder in (("qbittorrent.save_path", save), ("audiobookshelf.path", library)):
        missing = _missing_folder(key, folder, paths)
        if missing is not None:
            return missing
    _clear_leftovers(save)
    _clear_leftovers(library)
    if paths.method != "hardlink":
        return _library_takes_files(paths)
    if save.stat().st_dev != library.stat().st_dev:
        return _cross_device(paths, errno.EXDEV, one_filesystem=False)
    with _probe_file(save) as source:
        if source is None:  # the save path takes no new file: link one of qBittorrent's, or compare mounts
            source = _existing_file(save)
        if source is None:
            if _mount_of(save) != _mount_of(library):
                return _cross_device(paths, errno.EXDEV, one_filesystem=True)
            return _library_takes_files(paths)
        target = library / f"{PREFIX}{secrets.token_hex(8)}"
        try:
            os.link(source, target)
        except OSError as exc:
            return link_problem(exc, source, save, library, own_file=source.name.startswith(PREFIX))
        _remove(target)
    return None


def link_problem(exc: OSError, source: Path, save: Path, library: Path, *, own_file: bool) -> ImportProblem:
    """Why `link(source, …)` from the save path `save` into the library `library` failed, and the fix."""
    code = exc.errno or 0
    if code == errno.EXDEV:
        same = _device(save) is not None and _device(save) == _device(library)
        return _cross_device(ImportPaths(save, library, "hardlink"), code, one_filesystem=same)
    what = f"cannot hardlink from {save} (qBittorrent's save path) into {library} (audiobookshelf.path)"
    name = errno.errorcode.get(code, str(code))
    if code in (errno.EACCES, errno.EPERM, errno.EROFS) and not _writable(library):
        return _not_writable(ImportPaths(save, library, "hardlink"), code)
    if code in (errno.EPERM, errno.EACCES) and not own_file:
        return ImportProblem(
            code,
            f"{what}: {name} for {source}: Linux lets a process hardlink only files it owns or may "
            "write (fs.protected_hardlinks). Fix: make qBittorrent's files writable for a group mamd "
            "is in (UMask=0002 for qBittorrent, and mamd in that group), or set import.method: copy "
            f"({COPY_COST})",
        )
    if code in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
        return ImportProblem(
            code,
            f"{what}: {name} ({os.strerror(code)}): this filesystem does not take more hard links here. "
            f"Fix: keep both on a filesystem with hard links, or set import.method: copy ({COPY_COST})",
        )
    return ImportProblem(
        code,
        f"{what}: {name} ({exc.strerror or exc}). Fix: keep both folders on one filesystem and one mount, "
        f"writable by mamd, or set import.method: copy ({COPY_COST})",
    )


def _cross_device(paths: ImportPaths, code: int, *, one_filesystem: bool) -> ImportProblem:
    save, library = paths.save_path, paths.library
    name = errno.errorcode.get(code, str(code))
    start = (
        f"cannot hardlink from qbittorrent.save_path {save} into audiobookshelf.path {library}: "
        f"{name} ({os.strerror(code)}): "
    )
    common = os.path.commonpath([save, library])
    if one_filesystem:
        mounts = f"{_mount_of(save) or save} and {_mount_of(library) or library}"
        why = (
            f"they are on one filesystem but on two mounts ({mounts}), and Linux never links across "
            "mounts. Under systemd each ReadWritePaths= entry is a mount of its own. "
        )
    else:
        why = "they are on different filesystems, and a hard link cannot leave its filesystem. "
    fix = (
        f"Fix: keep both in one filesystem and one mount; under systemd give mamd one ReadWritePaths= "
        f"over a folder that holds both (ReadWritePaths={common}), not one per folder. Or set "
        f"import.method: copy ({COPY_COST})"
    )
    return ImportProblem(code, start + why + fix)


def _missing_folder(key: str, folder: Path, paths: ImportPaths) -> ImportProblem | None:
    try:
        is_folder = folder.is_dir()
        exists = is_folder or folder.exists()
    except OSError as exc:  # a hung or broken network mount
        return ImportProblem(
            exc.errno or errno.EIO, f"{key} {folder} cannot be read: {exc.strerror or exc}. " + _both(paths)
        )
    if is_folder:
        return None
    code = errno.ENOTDIR if exists else errno.ENOENT
    state = "is not a folder" if exists else "does not exist"
    return ImportProblem(
        code,
        f"{key} {folder} {state} ({errno.errorcode[code]}). Fix: create it, or mount the disk that holds "
        f"it, or correct {key}. " + _both(paths),
    )


def _both(paths: ImportPaths) -> str:
    return (
        f"mamd imports from qbittorrent.save_path {paths.save_path} into audiobookshelf.path "
        f"{paths.library} ({paths.method})"
    )


def _library_takes_files(paths: ImportPaths) -> ImportProblem | None:
    target = paths.library / f"{PREFIX}{secrets.token_hex(8)}"
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        return _not_writable(paths, exc.errno or errno.EACCES)
    _remove(target)
    return None


def _not_writable(paths: ImportPaths, code: int) -> ImportProblem:
    name = errno.errorcode.get(code, str(code))
    return ImportProblem(
        code,
        f"cannot create files in audiobookshelf.path {paths.library} ({name}: {os.strerror(code)}), so "
        f"nothing from qbittorrent.save_path {paths.save_path} can be imported. Fix: let mamd's user "
        "write there (owner, group and mode), and under systemd keep it inside the one ReadWritePaths= "
        "that also holds the save path",
    )


@contextlib.contextmanager
def _probe_file(folder: Path) -> Iterator[Path | None]:
    """A new empty file in `folder`, removed afterwards; None when the folder takes no new file."""
    path = folder / f"{PREFIX}{secrets.token_hex(8)}"
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:
        yield None
        return
    try:
        yield path
    finally:
        _remove(path)


def _existing_file(folder: Path) -> Path | None:
    """A regular file among the first entries under `folder` (qBittorrent's downloads), or None."""
    seen = 0
    pending = [folder]
    while pending and seen < SCAN_LIMIT:
        try:
            with os.scandir(pending.pop(0)) as entries:
                for entry in entries:
                    seen += 1
                    if entry.is_file(follow_symlinks=False) and not entry.name.startswith(PREFIX):
                        return Path(entry.path)
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
                    if seen >= SCAN_LIMIT:
                        break
        except OSError:
            continue
    return None


def _mount_of(path: Path) -> str | None:
    """The mount point `path` lies under, from /proc/self/mountinfo (the last of stacked mounts wins)."""
    target = os.path.realpath(path)
    best: str | None = None
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(" ")
        if len(fields) < 5:
            continue
        # the kernel writes a space, tab, newline or backslash in a path as an octal escape (\040)
        point = re.sub(r"\\([0-7]{3})", lambda found: chr(int(found.group(1), 8)), fields[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best)):
            best = point
    return best


def _device(path: Path) -> int | None:
    try:
        return path.stat().st_dev
    except OSError:
        return None


def _writable(folder: Path) -> bool:
    return _library_takes_files(ImportPaths(folder, folder, "copy")) is None


def _clear_leftovers(folder: Path) -> None:
    """Probe files a crash left behind: only mamd makes names with this prefix."""
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(PREFIX) and entry.is_file(follow_symlinks=False):
                _remove(Path(entry.path))


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


class ImportProbe:
    """Runs `probe()` for the running configuration and keeps its verdict as a `Health` problem."""

    def __init__(self, runtime: Context) -> None:
        self._runtime = runtime
        self.problem: ImportProblem | None = None
        self._wake = asyncio.Event()

    async def check(self) -> ImportProblem | None:
        runtime = self._runtime
        paths = ImportPaths.of(runtime.config)
        problem = await asyncio.to_thread(probe, paths)
        # Health logs the problem when it appears and when it is resolved, once each
        if problem is None:
            runtime.health.clear(PROBLEM_ID)
        else:
            runtime.health.report(PROBLEM_ID, "error", problem.message)
        self.problem = problem
        runtime.publish_status()
        return problem

    async def at_start(self) -> None:
        """The first verdict, waited for a moment only: a folder on a hung mount must not stop start-up."""
        first = self._runtime.tasks.spawn(self.check(), name="import-probe")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(first), START_WAIT_S)

    def reloaded(self, old: Config, new: Config) -> None:
        """Check again when the folders or the method changed, or a problem stands (perhaps fixed now)."""
        if ImportPaths.of(old) != ImportPaths.of(new) or self.problem is not None:
            self._wake.set()

    async def run_forever(self) -> None:
        """Check again on request, and every minute while a problem stands."""
        while True:
            if self.problem is None:
                await self._wake.wait()
            else:
                await sleep_or_wake(self._runtime.clock, RECHECK_S, self._wake)
            self._wake.clear()
            await self.check()
