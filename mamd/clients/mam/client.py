"""The MyAnonamouse client: the JSON API with the session cookie only, politely.

Its parts, each by what it talks to: the session and request chokepoint (`session`), search (`search`),
downloads and the account (`downloads`), the bonus store (`store`) and the dynamic seedbox (`seedbox`).
"""

from __future__ import annotations

from mamd.clients.mam.downloads import Downloads
from mamd.clients.mam.search import Searches
from mamd.clients.mam.seedbox import Seedbox
from mamd.clients.mam.store import BonusStore


class MamClient(Searches, Downloads, BonusStore, Seedbox):
    """One MAM account's client: one session, one chokepoint, every request MAM is sent."""
