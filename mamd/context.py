"""The runtime as its long-lived parts see it: what the importer, the library scans, the import probe,
the service probes and the notifications may use of it.

`Runtime` builds those parts and hands itself to them; they know it only through these Protocols, so
none of them imports `mamd.runtime` and the runtime can import them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mamd.clients.audiobookshelf import AudiobookshelfClient
from mamd.clients.qbittorrent import QbittorrentClient
from mamd.clock import Clock
from mamd.config import Config
from mamd.domain.library import Library
from mamd.guarding.records import GuardRecords
from mamd.health import Health
from mamd.logs import Redactor
from mamd.schedule import Scheduler
from mamd.store import Events, Inbox, Store
from mamd.store.account import AccountHistory
from mamd.store.library import LibraryItems
from mamd.store.torrents import Torrents
from mamd.store.wanted import Wanted
from mamd.tasks import TaskOwner


class Scans(Protocol):
    """Audiobookshelf scans for finished imports (`mamd.importing.scans.LibraryScans`)."""

    def request(self) -> None: ...

    async def scan_again(self, hashes: Sequence[str] | None = None) -> None: ...


class ImportQueue(Protocol):
    """The inbox worker as others nudge it (`mamd.importing.worker.Importer`)."""

    def service_back(self) -> None: ...


class Context(Protocol):
    """Live state shared by the runtime's parts: configuration, clock, records, clients, health."""

    @property
    def config(self) -> Config: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def redactor(self) -> Redactor: ...
    @property
    def store(self) -> Store: ...
    @property
    def events(self) -> Events: ...
    @property
    def inbox(self) -> Inbox: ...
    @property
    def library(self) -> LibraryItems: ...
    @property
    def wanted(self) -> Wanted: ...
    @property
    def torrents(self) -> Torrents: ...
    @property
    def account(self) -> AccountHistory: ...
    @property
    def guard(self) -> GuardRecords: ...
    @property
    def health(self) -> Health: ...
    @property
    def tasks(self) -> TaskOwner: ...
    @property
    def scheduler(self) -> Scheduler: ...
    @property
    def stopping(self) -> bool: ...

    def require_qbittorrent(self) -> QbittorrentClient: ...

    def require_audiobookshelf(self) -> AudiobookshelfClient: ...

    async def abs_library(self) -> Library: ...

    def request_job(self, name: str) -> bool: ...

    def publish_status(self) -> None: ...


class ImportContext(Context, Protocol):
    """What the inbox worker also uses: the scans that confirm its imports."""

    @property
    def scans(self) -> Scans: ...


class ProbeContext(Context, Protocol):
    """What the service probes also use: the importer and the scans they wake when a service is back."""

    @property
    def importer(self) -> ImportQueue: ...
    @property
    def scans(self) -> Scans: ...
