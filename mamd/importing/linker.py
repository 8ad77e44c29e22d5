"""Putting a book's files into the library, atomically, without touching what qBittorrent seeds.

The folder is built under a dot-named temporary folder beside its final place (same
filesystem), filled with hard links (or copies, when asked), given a `metadata.json`
created as a new file, and renamed into place in one step. Seeding files are only ever
read or linked: never moved, renamed or written. An existing book folder is never
overwritten; one holding exactly these files (same inodes) counts as an earlier import.
Only regular files reached through real folders are taken: a symbolic link anywhere in
the payload (a torrent can carry one, and a link to another torrent's file in the same
save path would import that file) refuses the import, naming it.
Runs in a worker thread: everything here blocks.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from mamd.crashpoint import crashpoint
from mamd.importing.plan import ImportPlan
from mamd.importing.probe import link_problem

Method = Literal["hardlink", "copy"]
LINK_SETUP_ERRORS = frozenset({errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK})
Outcome = Literal["linked", "already"]


class ImportRefused(Exception):
    """The import cannot be done; `retry` says whether trying later may help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class LinkResult:
    outcome: Outcome
    folder: Path
    files: int


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def link_book(
    plan: ImportPlan,
    *,
    save_path: Path,
    library: Path,
    method: Method,
    metadata: dict[str, Any] | None,
    marker: str,
) -> LinkResult:
    sources = _sources(plan, save_path)
    if not library.is_dir():
        raise ImportRefused(
            f"the library folder {library} does not exist or is not mounted (audiobookshelf.path)", retry=True
        )
    root = library.resolve()
    final = root / plan.folder
    if final.exists():
        if _same_files(final, plan, sources, method):
            return LinkResult("already", final, len(sources))
        raise ImportRefused(
            f"{final} already exists and holds other files: it is not overwritten; move it aside and "
            f"run `mamd hook {marker}` to import again",
            retry=False,
        )
    created = _make_parents(final.parent, root)
    temp = final.parent / f".mamd-import-{marker}"
    try:
        if temp.exists():
            shutil.rmtree(temp)  # a crash left it: it holds only mamd's links and metadata
        temp.mkdir()
        for placement, source in zip(plan.files, sources, strict=True):
            target = temp / placement.target
            target.parent.mkdir(parents=True, exist_ok=True)
            _place(source, target, method, library, save_path)
            _same_inode_or_refuse(source, target, method)
        if metadata is not None and not (temp / "metadata.json").exists():
            _write_new(temp / "metadata.json", json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")
        crashpoint("import.linked")
        os.rename(temp, final)
        _sync_folder(final.parent)
        crashpoint("import.renamed")
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only folders this import made, and only when empty
        raise
    return LinkResult("linked", final, len(sources))


def _sources(plan: ImportPlan, save_path: Path) -> list[Path]:
    """Each file of the plan in the save path, checked to be a regular file inside the torrent."""
    base = save_path.resolve()  # the save path itself may be a link (to a mount, say); below it nothing may
    sources = []
    for placement in plan.files:
        parts = PurePosixPath(placement.source).parts
        if not parts or parts[0] == "/" or any(part in (".", "..") for part in parts):
            raise ImportRefused(
                f"{placement.source!r} points outside the torrent's folder {base}", retry=False
            )
        current = base
        for depth, part in enumerate(parts, 1):
            current = current / part
            try:
                info = os.lstat(current)
            except FileNotFoundError:
                raise ImportRefused(
                    f"{current} is not there: mamd must see qBittorrent's files at the paths qBittorrent "
                    "reports",
                    retry=True,
                ) from None
            except OSError as exc:
                raise ImportRefused(f"cannot read {current}: {exc.strerror or exc}", retry=True) from exc
            if stat.S_ISLNK(info.st_mode):
                raise ImportRefused(
                    f"{current} is a symbolic link (to {_link_target(current)}) on the way to the torrent's "
                    f"file {placement.source!r}: mamd imports only regular files inside the torrent's own "
                    "folder, never what a link points to",
                    retry=False,
                )
            last = depth == len(parts)
            if last and not stat.S_ISREG(info.st_mode):
                raise ImportRefused(
                    f"the torrent's {placement.source!r} is not a regular file ({current})", retry=False
                )
            if not last and not stat.S_ISDIR(info.st_mode):
                raise ImportRefused(
                    f"{current} is not a folder, yet the torrent has files in it", retry=False
                )
        sources.append(current)
    return sources


def _link_target(path: Path) -> str:
    try:
        return repr(os.readlink(path))
    except OSError:
        return "somewhere"


def _same_inode_or_refuse(source: Path, target: Path, method: Method) -> None:
    """What was placed must be the regular file checked: a folder swapped for a link meanwhile is caught."""
    checked, made = os.lstat(source), os.lstat(target)
    same = method == "copy" or (made.st_ino, made.st_dev) == (checked.st_ino, checked.st_dev)
    if not same or not stat.S_ISREG(made.st_mode):
        raise ImportRefused(f"{source} changed while it was being imported; nothing was imported", retry=True)


def _make_parents(folder: Path, root: Path) -> list[Path]:
    """Create the book folder's parents (author, series), returning those that were new."""
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    # only folders mamd creates are sure to hold no link: the existing part must lie inside the library
    if not _inside(current.resolve(), root):
        raise ImportRefused(
            f"{current} leads outside the library {root} (a link?); nothing was linked", retry=False
        )
    created = []
    try:
        for path in reversed(missing):
            path.mkdir()
            created.append(path)
    except OSError as exc:
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir()
        raise _refusal(exc, root) from exc
    return created


def _place(source: Path, target: Path, method: Method, library: Path, save_path: Path) -> None:
    try:
        if method == "hardlink":
            os.link(source, target, follow_symlinks=False)  # a link swapped in meanwhile is not followed
        else:
            shutil.copy2(source, target, follow_symlinks=False)
    except OSError as exc:
        if method == "hardlink" and exc.errno in LINK_SETUP_ERRORS:
            # the setup is wrong (two mounts, two filesystems, files mamd may not link): the import waits
            # for the fix, which the link probe also reports in /readyz
            problem = link_problem(exc, source, save_path, library, own_file=False)
            raise ImportRefused(problem.message, retry=True) from exc
        raise _refusal(exc, library) from exc


def _refusal(exc: OSError, library: Path) -> ImportRefused:
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return ImportRefused(
            f"cannot write in the library {library}: {exc.strerror} (check its permissions, and that the "
            "service's ReadWritePaths= includes it)",
            retry=True,
        )
    if exc.errno == errno.ENOSPC:
        return ImportRefused(f"the library {library} is full", retry=True)
    return ImportRefused(f"cannot import into {library}: {exc.strerror or exc}", retry=True)


def _write_new(path: Path, text: str) -> None:
    # O_EXCL: a new file, never an existing one (which could be a link to seeding data)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _same_files(final: Path, plan: ImportPlan, sources: list[Path], method: Method) -> bool:
    for placement, source in zip(plan.files, sources, strict=True):
        target = final / placement.target
        try:
            mine, theirs = target.stat(), source.stat()
        except OSError:
            return False
        if method == "hardlink" and (mine.st_ino, mine.st_dev) != (theirs.st_ino, theirs.st_dev):
            return False
        if method == "copy" and (mine.st_size, int(mine.st_mtime)) != (theirs.st_size, int(theirs.st_mtime)):
            return False
    return True
