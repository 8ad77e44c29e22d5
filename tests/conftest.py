"""Fixtures shared by every test: configuration files, a runtime on a real SQLite file, the web app."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from mamd.config import Config, load_config
from mamd.logs import Redactor
from mamd.runtime import Runtime
from mamd.sim.qbittorrent import binary as qbittorrent_binary
from mamd.web import create_app
from tests.support.abs_real import RealAbs, RealAbsFactory, require_ffmpeg
from tests.support.audiobooks import write_library
from tests.support.clock import FakeClock
from tests.support.configs import write_config
from tests.support.qbittorrent import QbittorrentFactory, require_qbittorrent

pytest_plugins = [
    "tests.support.mam_env"
]  # the `make_env` fixture: the runtime, the MAM simulator, qBittorrent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that starts a real qBittorrent carries the `qbittorrent` marker, so that
    `-m qbittorrent` (the 5.x runs of tests/run.sh) selects all of them."""
    for item in items:
        if "qbittorrent_nox" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.qbittorrent)


def pytest_report_header(config: pytest.Config) -> str:
    """Which qBittorrent this run talks to (`MAMD_QBITTORRENT`, else qbittorrent-nox on PATH)."""
    return qbittorrent_binary.describe()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a valid configuration with some keys changed: `config_file({"http": {"port": 1}})`."""

    def make(changes: dict[str, Any] | None = None, name: str = "mamd.yaml") -> Path:
        return write_config(tmp_path, changes, name)

    return make


@pytest.fixture
def config(config_file: Callable[..., Path]) -> Config:
    return load_config(config_file())


@pytest.fixture
async def runtime(config_file: Callable[..., Path], clock: FakeClock) -> AsyncIterator[Runtime]:
    """A runtime over a real database file, opened and with the scheduler loaded (no jobs)."""
    path = config_file()
    live = Runtime(load_config(path), path, clock=clock, redactor=Redactor())
    await live.store.open()
    await live.scheduler.load()
    yield live
    await live.tasks.drain(1.0)
    await live.store.close()


@pytest.fixture
async def client(runtime: Runtime, aiohttp_client: Any) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(create_app(runtime))
    return client


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember on the test item whether its setup or body failed, for fixtures that dump diagnostics."""
    report: pytest.TestReport = yield
    if report.failed:
        item.stash[_FAILED] = True
    return report


@pytest.fixture
def qbittorrent_nox(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[QbittorrentFactory]:
    """Start real qbittorrent-nox instances: `qbittorrent_nox(autorun_program=...)` returns one, ready.

    Skips without the binary (fails under CI); stops every instance by PID at the end and prints the end
    of their logs when the test failed.
    """
    require_qbittorrent()
    factory = QbittorrentFactory(tmp_path / "qbittorrent")
    yield factory
    factory.stop_all(dump_logs=request.node.stash.get(_FAILED, False))


@pytest.fixture
def real_abs(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RealAbsFactory]:
    """Start real Audiobookshelf servers: `real_abs(library_folder)` returns one, set up and scanned.

    Skips without the vendored source or a build (fails under CI); stops every server by PID at the end
    and prints the end of their logs when the test failed.
    """
    factory = RealAbsFactory(tmp_path / "audiobookshelf")
    yield factory
    factory.stop_all(dump_logs=request.node.stash.get(_FAILED, False))


@pytest.fixture(scope="session")
def generated_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The library of `tests.support.audiobooks`, written once per session; copy it before changing it."""
    require_ffmpeg()
    root = tmp_path_factory.mktemp("generated") / "library"
    write_library(root)
    return root


@pytest.fixture(scope="session")
def generated_abs(generated_library: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealAbs]:
    """One real Audiobookshelf serving a copy of the generated library, scanned, shared by the tests
    that only read it."""
    home = tmp_path_factory.mktemp("generated-abs")
    factory = RealAbsFactory(home)
    library = home / "library"
    shutil.copytree(generated_library, library)
    try:
        yield factory(library)
    finally:
        factory.stop_all(dump_logs=False)
