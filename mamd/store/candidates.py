"""The releases considered for each wanted book, and what was decided about each, with why."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mamd.clock import iso
from mamd.domain.rules import Choice
from mamd.store.db import Store

KEPT_PER_BOOK = 50  # the best ones; a search can see hundreds of releases


@dataclass(frozen=True)
class CandidateRow:
    mam_id: int
    title: str
    authors: list[str]
    accepted: bool
    chosen: bool
    score: float
    reasons: list[str]
    details: dict[str, Any]
    decided_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "torrent_id": self.mam_id,  # MAM's tid; "mam_id" is the name of MAM's session cookie
            "title": self.title,
            "authors": self.authors,
            "decision": "chosen" if self.chosen else "accepted" if self.accepted else "rejected",
            "score": self.score,
            "reasons": self.reasons,
            **self.details,
            "decided_at": iso(self.decided_at),
        }


@dataclass(frozen=True)
class ChosenRelease:
    """The release chosen for a wanted book at its last search (grabbed, or blocked by a budget)."""

    mam_id: int
    title: str
    decided_at: float

    def as_dict(self) -> dict[str, Any]:
        return {"torrent_id": self.mam_id, "title": self.title, "decided_at": iso(self.decided_at)}


class Candidates:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def chosen(self, wanted_ids: Iterable[int]) -> dict[int, ChosenRelease]:
        """The chosen release of each of these wanted books that has one, by wanted id."""
        rows = await self._store.fetchall(
            """
            SELECT wanted_id, mam_id, title, decided_at FROM candidates
            WHERE chosen = 1 AND wanted_id IN (SELECT value FROM json_each(?))
            """,
            (json.dumps(list(wanted_ids)),),
        )
        return {int(r[0]): ChosenRelease(int(r[1]), r[2], r[3]) for r in rows}

    async def record(self, wanted_id: int, choice: Choice, now: float) -> None:
        """Replace what was decided for this book by this search's decisions."""
        rows = []
        for decision in choice.decisions[:KEPT_PER_BOOK]:
            release = decision.release
            details = {
                "size": release.size,
                "formats": list(release.filetypes),
                "seeders": release.seeders,
                "freeleech": decision.free,
                "wedge": decision.use_wedge,
                "bundle": decision.bundle,
                "language": release.lang_code,
            }
            rows.append(
                (
                    wanted_id,
                    release.id,
                    release.title,
                    json.dumps(list(release.authors)),
                    int(decision.accepted),
                    int(choice.best is not None and decision.release.id == choice.best.release.id),
                    decision.score,
                    json.dumps(list(decision.reasons)),
                    json.dumps(details),
                    now,
                )
            )
        async with self._store.transaction() as db:
            await db.execute("DELETE FROM candidates WHERE wanted_id = ?", (wanted_id,))
            await db.executemany(
                """
                INSERT OR REPLACE INTO candidates (wanted_id, mam_id, title, authors, accepted, chosen, score,
                    reasons, details, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                rows,
            )

    async def of(self, wanted_id: int) -> list[CandidateRow]:
        rows = await self._store.fetchall(
            """
            SELECT mam_id, title, authors, accepted, chosen, score, reasons, details, decided_at
            FROM candidates WHERE wanted_id = ? ORDER BY chosen DESC, accepted DESC, score DESC, mam_id
            """,
            (wanted_id,),
        )
        return [
            CandidateRow(
                r[0],
                r[1],
                json.loads(r[2]),
                bool(r[3]),
                bool(r[4]),
                r[5],
                json.loads(r[6]),
                json.loads(r[7]),
                r[8],
            )
            for r in rows
        ]
