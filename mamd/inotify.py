"""Linux inotify on the event loop: file changes arrive as readable-fd callbacks, nothing polls.

The configuration watcher uses it because it costs nothing while idle. watchfiles wakes its
thread every `step` milliseconds to look for a stop request (measured here: ~80 µs per wake,
0.07 CPU seconds a minute at a 100 ms step), which would spend the whole idle budget; a
longer step would break the one-second reload promise. Where inotify is missing (not Linux,
or the kernel refuses an instance), `mamd.reload` falls back to watchfiles.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import os
import struct
import sys
from collections.abc import Iterable
from pathlib import Path

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
FILE_CHANGES = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE

_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len — then `len` bytes of NUL-padded name


class InotifyUnavailable(OSError):
    pass


class FolderWatch:
    """Watches folders (not recursively) and reports the names of files that changed in them."""

    def __init__(self, folders: Iterable[Path], names: Iterable[str] | None = None) -> None:
        """Watch `folders`; with `names`, only changes to files of those names count."""
        if not sys.platform.startswith("linux"):
            raise InotifyUnavailable(errno.ENOSYS, "inotify exists only on Linux")
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self._add_watch = libc.inotify_add_watch
        self._add_watch.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
        self._fd: int = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            code = ctypes.get_errno()
            raise InotifyUnavailable(code, f"inotify_init1: {os.strerror(code)}")
        self._folders = {str(folder): folder for folder in folders}
        self._names = frozenset(names) if names is not None else None
        self._watches: dict[int, str] = {}
        self._changed: set[str] = set()
        self._wakeup = asyncio.Event()
        self._reading = False
        for folder in self._folders:
            self._watch(folder)

    def _watch(self, folder: str) -> bool:
        wd = self._add_watch(self._fd, os.fsencode(folder), FILE_CHANGES | IN_ONLYDIR)
        if wd < 0:
            return False
        self._watches[wd] = folder
        return True

    @property
    def watching(self) -> list[str]:
        return sorted(self._watches.values())

    def start(self) -> None:
        asyncio.get_running_loop().add_reader(self._fd, self._read)
        self._reading = True

    def _read(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        offset, relevant = 0, False
        while offset + _EVENT.size <= len(data):
            wd, mask, _, length = _EVENT.unpack_from(data, offset)
            name = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
            offset += _EVENT.size + length
            if mask & IN_Q_OVERFLOW:
                self._changed.add("")  # events were lost: treat every file as changed
                relevant = True
            elif mask & IN_IGNORED:
                self._watches.pop(wd, None)  # the folder went away; `changes()` re-adds it
                relevant = True
            else:
                decoded = os.fsdecode(name)
                if self._names is not None and decoded not in self._names:
                    continue  # another file in the same folder (a log, a backup): not ours
                self._changed.add(decoded)
                relevant = True
        if relevant:  # other files' events must neither wake nor prolong a burst
            self._wakeup.set()

    async def changes(self, quiet_s: float, longest_s: float, retry_s: float = 5.0) -> set[str]:
        """Names that changed, once a burst of changes has been quiet for `quiet_s` (or lasted `longest_s`).

        A name of "" means events were lost. While a watched folder is missing, it is looked
        for again every `retry_s` seconds.
        """
        while not self._changed:
            self._wakeup.clear()
            lost = [f for f in self._folders if f not in self._watches.values()]
            if lost:
                for folder in lost:
                    self._watch(folder)
                try:
                    await asyncio.wait_for(self._wakeup.wait(), retry_s)
                except TimeoutError:
                    continue
            else:
                await self._wakeup.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + longest_s
        while loop.time() < deadline:
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), min(quiet_s, deadline - loop.time()))
            except TimeoutError:
                break
        changed, self._changed = self._changed, set()
        return changed

    def close(self) -> None:
        if self._fd >= 0:
            if self._reading:
                asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
