"""The search job's cascade for one wanted book: the queries of `mamd.domain.queries`, sent in turn.

It stops at the first query after which a release is sure (a standard narration that passes the
rules: a production taken as the fallback may yet give way to a reading another spelling finds),
asks for the author's audiobooks only when no title query found anything acceptable, and never
sends more than `MAX_REQUESTS_PER_BOOK` requests, pages included.
"""

from __future__ import annotations

from dataclasses import dataclass

from mamd.clients.mam import MamClient
from mamd.config import Config
from mamd.domain.matching import Want
from mamd.domain.queries import MAX_REQUESTS_PER_BOOK, Query, author_queries, title_queries
from mamd.domain.release import Release
from mamd.domain.rules import AccountView, Choice, choose
from mamd.store.wanted import WantedBook


@dataclass
class Found:
    """Every release the cascade saw for one book, the choice among them, the requests it sent."""

    releases: dict[int, Release]
    choice: Choice
    requests: int = 0


def sure(choice: Choice) -> bool:
    best = choice.best
    return best is not None and not best.dramatised


async def find(mam: MamClient, config: Config, account: AccountView, want: Want, book: WantedBook) -> Found:
    author = want.authors[0] if want.authors else ""
    found = Found({}, Choice(None, ()))
    for query in title_queries(book.title, author, book.series, book.position):
        await _ask(mam, config, account, want, query, found)
        if sure(found.choice) or found.requests >= MAX_REQUESTS_PER_BOOK:
            return found
    if found.choice.best is None:
        for query in author_queries(author):
            rows = await _ask(mam, config, account, want, query, found)
            if rows or found.choice.best is not None or found.requests >= MAX_REQUESTS_PER_BOOK:
                break  # the surname alone only when MAM knows nothing by the whole name
    return found


async def _ask(
    mam: MamClient, config: Config, account: AccountView, want: Want, query: Query, found: Found
) -> int:
    """One query, page by page within the bound, then a decision on every release seen so far; the rows
    MAM returned."""
    rows = 0
    async for page in mam.pages(
        query.text,
        fields=query.fields,
        languages=config.mam.languages,
        active_only=config.rules.min_seeders > 0,
        sort=query.sort,
        pages=min(query.pages, MAX_REQUESTS_PER_BOOK - found.requests),
    ):
        found.requests += 1
        rows += page.rows
        found.releases.update({r.id: r for r in page.releases})
    found.choice = choose(want, found.releases.values(), config.rules, config.mam.languages, account)
    return rows
