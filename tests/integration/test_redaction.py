"""Secrets learnt while mamd runs stay hidden, and only those that still matter are remembered.

A runtime over a real database file talks to the MAM simulator on 127.0.0.1, which rotates the
session cookie on every answer, as MAM does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from mamd.config import iter_secrets, load_config
from mamd.logs import Redactor
from mamd.reload import Reloader
from mamd.runtime import Runtime
from tests.support.clock import InstantClock
from tests.support.configs import MAM_SESSION, write_config
from tests.support.mam_client import mam_harness


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[Runtime, Path]]:
    """A runtime whose MAM client talks to the simulator; the simulator starts from MAM_SESSION."""
    async with mam_harness() as harness, aiohttp.ClientSession() as session:
        harness.sim.new_session(MAM_SESSION)
        path = write_config(tmp_path, {"mam": {"base_url": harness.url, "session": MAM_SESSION}})
        runtime = Runtime(load_config(path), path, clock=InstantClock(), redactor=Redactor())
        await runtime.store.open()
        runtime.connect(session)
        runtime.mam = runtime.mam_client(session, spacing_s=0)
        try:
            yield runtime, path
        finally:
            await runtime.store.close()


async def test_the_redactor_remembers_only_the_current_and_previous_cookie(
    live: tuple[Runtime, Path],
) -> None:
    runtime, _ = live
    configured = set(iter_secrets(runtime.config))
    seen: list[str] = []
    for _ in range(40):
        await runtime.require_mam().account()  # each answer rotates the cookie
        seen.append(str((await runtime.account.cookie_state())["current"]))
    assert len(set(seen)) == 40
    assert set(runtime.redactor.secrets) == configured | {seen[-1], seen[-2]}
    assert runtime.redactor.text(f"{seen[-1]} {seen[-2]}") == "*** ***"


async def test_a_reload_that_changes_nothing_else_keeps_the_current_cookie_hidden(
    live: tuple[Runtime, Path],
) -> None:
    runtime, path = live
    await runtime.require_mam().account()
    current = str((await runtime.account.cookie_state())["current"])
    assert current != MAM_SESSION
    assert runtime.redactor.text(current) == "***"
    path.write_text(path.read_text().replace("backups: 2", "backups: 3"))  # one unrelated key changes
    assert await Reloader(runtime, lambda old, new: None).reload("test")
    assert runtime.config.state.backups == 3
    assert runtime.redactor.text(f"cookie {current}") == "cookie ***"
