"""mamd's state: an SQLite database (WAL) with numbered migrations."""

from mamd.store.db import Store, StoreError, StoreUnavailable
from mamd.store.events import Event, Events
from mamd.store.inbox import Accepted, Inbox, InboxEntry
from mamd.store.jobruns import JobRun, JobRuns

__all__ = [
    "Accepted",
    "Event",
    "Events",
    "Inbox",
    "InboxEntry",
    "JobRun",
    "JobRuns",
    "Store",
    "StoreError",
    "StoreUnavailable",
]
