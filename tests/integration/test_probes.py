"""Services that are unavailable are asked again on a short backoff, and at once after a settings change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp

from mamd.config import load_config
from mamd.probes import PROBE
from mamd.runtime import Runtime
from tests.support.clock import FakeClock, InstantClock
from tests.support.configs import free_port


def test_probes_come_within_seconds_and_slow_to_a_minute() -> None:
    assert [PROBE.delay(n) for n in (1, 2, 3, 4, 5, 6, 7, 50)] == [2, 4, 8, 16, 32, 60, 60, 60]


async def test_a_service_going_down_is_scheduled_for_a_probe_and_one_coming_back_is_not(
    runtime: Runtime, clock: FakeClock
) -> None:
    runtime.health.service("audiobookshelf", "down", "cannot connect")
    assert runtime.probes.scheduled() == {"audiobookshelf": clock.now() + 2}
    runtime.health.service("audiobookshelf", "ok")
    assert runtime.probes.scheduled() == {}


async def test_a_qbittorrent_refusing_the_password_is_not_probed_since_it_bans_after_a_few_tries(
    runtime: Runtime,
) -> None:
    runtime.health.service("qbittorrent", "unauthorized", "refused")
    runtime.health.service("mam", "down", "timeout")
    assert runtime.probes.scheduled() == {}
    runtime.health.service("qbittorrent", "down", "refused connection")
    assert list(runtime.probes.scheduled()) == ["qbittorrent"]


async def test_a_failed_probe_waits_longer_and_a_settings_change_asks_at_once(
    config_file: Callable[..., Path],
) -> None:
    clock = InstantClock()  # the client's own retries pass at once
    path = config_file({"audiobookshelf": {"url": f"http://127.0.0.1:{free_port()}"}})
    runtime = Runtime(load_config(path), path, clock=clock)
    await runtime.store.open()
    try:
        async with aiohttp.ClientSession() as session:
            runtime.connect(session)
            runtime.probes.probe_now("audiobookshelf")
            assert not await runtime.probes.probe("audiobookshelf")
            assert runtime.health.services["audiobookshelf"].state == "down"
            assert runtime.probes.scheduled() == {"audiobookshelf": clock.now() + 2}
            assert not await runtime.probes.probe("audiobookshelf")
            assert runtime.probes.scheduled() == {"audiobookshelf": clock.now() + 4}
            runtime.probes.probe_now("audiobookshelf")  # what a reload that changes its settings does
            assert runtime.probes.scheduled() == {"audiobookshelf": 0.0}
    finally:
        await runtime.store.close()
