"""Blocking work that may never return, run where nobody has to wait for it.

Reading a file can block for ever: a FIFO opened without a writer, a hung NFS or FUSE mount.
Work in `asyncio.to_thread` or a `ThreadPoolExecutor` cannot be abandoned: the interpreter
joins those threads at exit (`concurrent.futures` registers an atexit join, and
`asyncio.run` waits for its default executor), so one stuck read keeps the process alive
after SIGTERM. Here each call gets its own daemon thread, which the interpreter does not
wait for; the caller stops waiting after `within_s` seconds and the thread is left to finish
(or not) on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Abandoned(Exception):
    """The call did not finish within its time; its thread was left behind."""

    def __init__(self, what: str, within_s: float) -> None:
        super().__init__(f"{what} did not finish within {within_s:g} s and was abandoned")
        self.what, self.within_s = what, within_s


def _start(fn: Callable[[], Any], name: str, deliver: Callable[[bool, Any], None]) -> None:
    def target() -> None:
        try:
            result = fn()
        except BaseException as exc:  # handed to the caller, who decides what it means
            deliver(False, exc)
        else:
            deliver(True, result)

    threading.Thread(target=target, name=name, daemon=True).start()


def call(fn: Callable[[], T], what: str, within_s: float) -> T:
    """`fn()` in a daemon thread; its result, its exception, or `Abandoned` after `within_s` seconds."""
    done = threading.Event()
    box: list[tuple[bool, Any]] = []

    def deliver(ok: bool, value: Any) -> None:
        box.append((ok, value))
        done.set()

    _start(fn, f"mamd-{what}", deliver)
    if not done.wait(within_s):
        raise Abandoned(what, within_s)
    ok, value = box[0]
    if ok:
        return value  # type: ignore[no-any-return]  # fn's own result
    raise value


async def run(fn: Callable[[], T], what: str, within_s: float) -> T:
    """`call` for the event loop: awaiting it never blocks the loop, and cancelling it returns at once."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.done():
            return  # abandoned or cancelled meanwhile
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def deliver(ok: bool, value: Any) -> None:
        # the loop may be closed by the time an abandoned call returns: nobody is listening then
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, ok, value)

    _start(fn, f"mamd-{what}", deliver)
    try:
        return await asyncio.wait_for(asyncio.shield(future), within_s)
    except TimeoutError:
        raise Abandoned(what, within_s) from None
    finally:
        if not future.done():
            future.cancel()
