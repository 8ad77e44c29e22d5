"""Giving freed memory back to the system, so that months of uptime do not leave mamd fatter each week.

CPython hands what it frees back to the C library's heaps, and glibc keeps those pages: a job that
reads the whole library every few hours leaves its high-water mark behind as resident memory, in
holes that later allocations seldom fill. `malloc_trim(0)` returns every wholly free page to the
system. It exists in glibc only; elsewhere `release()` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    return trim


def release() -> bool:
    """Return freed heap pages to the system (blocks for about a millisecond); False when not possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
