"""One daemon per database: two mamd processes on one state file would each grab and spend.

The lock is an advisory `flock` on `<database>.lock`, held for the daemon's life. The kernel
lets go of it when the process ends, however it ends (`kill -9` included), so a stale lock
file never keeps mamd from starting. The file holds the owner's PID, for the error message.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path


class AlreadyRunning(Exception):
    """Another process holds the database's lock."""


class InstanceLock:
    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock (again a no-op once held).

        Raises `AlreadyRunning` when another process holds it, `OSError` when the file cannot be
        created or opened (its folder is missing and cannot be made, or is not writable).
        """
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES) or not self.path.exists():
                raise
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)  # a lock needs no write access
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _pid_in(fd)
            os.close(fd)
            who = f"another mamd (pid {holder})" if holder else "another mamd"
            raise AlreadyRunning(
                f"{who} is running with the database {self.database}; two would grab and "
                "spend twice: stop the other one, or give this one its own state.database"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        with contextlib.suppress(
            OSError
        ):  # the PID is only for the message; a read-only file keeps the old one
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        """Let go of the lock; the file stays (removing it would race with the next owner)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _pid_in(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
