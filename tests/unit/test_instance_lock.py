"""One daemon per database: the lock beside the SQLite file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mamd.store.lock import AlreadyRunning, InstanceLock


def test_a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go(tmp_path: Path) -> None:
    database = tmp_path / "state" / "mamd.db"
    first, second = InstanceLock(database), InstanceLock(database)
    first.acquire()
    first.acquire()  # again: nothing changes
    with pytest.raises(AlreadyRunning, match=f"another mamd \\(pid {os.getpid()}\\) .* {database}"):
        second.acquire()
    assert not second.held
    first.release()
    second.acquire()
    assert second.held
    assert (tmp_path / "state" / "mamd.db.lock").read_text() == f"{os.getpid()}\n"
    second.release()


def test_a_lock_file_left_behind_does_not_keep_mamd_from_starting(tmp_path: Path) -> None:
    database = tmp_path / "mamd.db"
    (tmp_path / "mamd.db.lock").write_text("999999\n")  # a daemon that died; the kernel freed its lock
    lock = InstanceLock(database)
    lock.acquire()
    assert lock.held
    lock.release()
