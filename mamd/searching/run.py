"""One run of the search job: what it works with and what it has done so far."""

from __future__ import annotations

from dataclasses import dataclass

from mamd.clients.mam import MamClient
from mamd.domain.account import AccountSnapshot
from mamd.domain.budget import BudgetFacts
from mamd.domain.discovery import OwnedIndex
from mamd.runtime import Runtime
from mamd.schedule import JobContext


@dataclass
class Run:
    runtime: Runtime
    context: JobContext
    mam: MamClient
    snapshot: AccountSnapshot | None
    facts: BudgetFacts
    owned: OwnedIndex
    library_version: tuple[int, float]
    searched: int = 0
    grabbed: int = 0
    would_grab: int = 0
    skipped: int = 0
    blocked: int = 0
    follows_added: int = 0
    requests: int = 0  # MAM searches sent for the wanted books
    most_requests: int = 0  # the most sent for one book
    held: str | None = None
