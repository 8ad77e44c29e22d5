"""Fixtures for the tests against a real Audiobookshelf: the whole import chain on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.abs_chain import AbsChainFactory
from tests.support.abs_real import RealAbsFactory
from tests.support.qbittorrent import QbittorrentFactory


@pytest.fixture
def make_abs_chain(
    tmp_path: Path, qbittorrent_nox: QbittorrentFactory, real_abs: RealAbsFactory
) -> Iterator[AbsChainFactory]:
    """`make_abs_chain(books, key=…, changes=…)`: Audiobookshelf, qBittorrent and the daemon, ready."""
    factory = AbsChainFactory(tmp_path, qbittorrent_nox, real_abs)
    yield factory
    factory.stop_all()
