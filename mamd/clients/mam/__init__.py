"""MyAnonamouse: the client (`client`, built from its parts) and the reading of MAM's rows (`rows`)."""

from mamd.clients.mam.client import MamClient
from mamd.clients.mam.cookies import CookieStore, fingerprint
from mamd.clients.mam.search import SearchPage
from mamd.clients.mam.seedbox import SeedboxAnswer, SeedboxState
from mamd.clients.mam.session import FAILURES_BEFORE_PAUSE, seedbox_url, store_url
from mamd.clients.mam.store import StoreReceipt

__all__ = [
    "FAILURES_BEFORE_PAUSE",
    "CookieStore",
    "MamClient",
    "SearchPage",
    "SeedboxAnswer",
    "SeedboxState",
    "StoreReceipt",
    "fingerprint",
    "seedbox_url",
    "store_url",
]
