"""Reading the configuration file and secret files without trusting what the path leads to.

Only a regular file is read, and only up to a size: the path is opened non-blocking (so a
FIFO without a writer does not hang the open), checked with `fstat` on the opened
descriptor (so a symlink swapped in after a check cannot fool it), and read in a daemon
thread that is abandoned after `READ_TIMEOUT_S` (a hung network mount blocks in the kernel,
where nothing else can stop it). `/dev/zero`, a FIFO, a directory or a 4 GiB file each
become one clear refusal instead of a hang or an exhausted memory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mamd import detached

CONFIG_MAX_BYTES = 1024 * 1024
SECRET_MAX_BYTES = 64 * 1024
READ_TIMEOUT_S = 3.0

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class Unreadable(Exception):
    """The file cannot be used. The message says why, to follow the file's name ("does not exist",
    "is a FIFO (named pipe), not a regular file"), and never quotes its content."""


def read_bounded(path: Path, limit: int, within_s: float = READ_TIMEOUT_S) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them; `Unreadable` otherwise."""
    try:
        return detached.call(lambda: _read(path, limit), f"read-{path.name}", within_s)
    except detached.Abandoned:
        raise Unreadable(
            f"did not finish reading within {within_s:g} s; the read was abandoned (a hung network mount?)"
        ) from None


def _read(path: Path, limit: int) -> bytes:
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, for ever
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise Unreadable("does not exist") from None
    except PermissionError:
        raise Unreadable(f"is not readable by this user (uid {os.getuid()})") from None
    except OSError as exc:
        raise Unreadable(f"cannot be opened: {exc.strerror or exc}") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
            raise Unreadable(f"is {kind}, not a regular file")
        if info.st_size > limit:
            raise Unreadable(f"is {info.st_size:,} bytes, more than the {limit:,} mamd reads")
        # a file may grow after fstat, and /proc files claim a size of 0: the read itself is bounded
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(descriptor, min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise Unreadable(f"holds more than the {limit:,} bytes mamd reads")
        return b"".join(chunks)
    except OSError as exc:
        raise Unreadable(f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(descriptor)


def read_secret(path: Path) -> str:
    """The one line of a secret file, without its line ending and surrounding blanks.

    `echo KEY > file` and systemd-creds leave a trailing newline; anything more (a second
    line, a NUL) means the path names something other than a secret, such as `/etc/shadow`
    or `/proc/self/environ`: it is refused, naming the file and never its content.
    """
    raw = read_bounded(path, SECRET_MAX_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("is not UTF-8 text") from None
    value = text.strip()
    if "\n" in value or "\r" in value:
        lines = len(value.splitlines())
        raise Unreadable(f"holds {lines} lines; a secret file holds the secret alone on one line")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise Unreadable("holds control characters; a secret file holds one line of text")
    return value
