"""Searching MAM's audiobooks: one page, a torrent by id, several pages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mamd.clients.errors import Rejected, Unavailable
from mamd.clients.mam.rows import LANGUAGE_IDS, parse_row
from mamd.clients.mam.session import SERVICE, MamSession
from mamd.domain.release import Release

SEARCH_PATH = "/tor/js/loadSearchJSONbasic.php"
NOTHING = "Nothing returned, out of"


@dataclass(frozen=True)
class SearchPage:
    releases: list[Release]
    found: int  # matches of the whole query
    start: int
    rows: int  # rows on this page, read or not
    unreadable: int


class Searches(MamSession):
    """MAM's search, as `MamClient` offers it."""

    async def search(
        self,
        text: str,
        *,
        fields: Sequence[str] = ("title", "author"),
        languages: Iterable[str] = (),
        sort: str = "default",
        active_only: bool = True,
        start: int = 0,
        perpage: int = 100,
        description: bool = True,
        torrent_id: int = 0,
        categories: Sequence[int] = (),
        start_date: str = "",
    ) -> SearchPage:
        """One page of audiobook search results (main category 13); `torrent_id` looks up one torrent.
        With `description`, each row carries the uploader's description, where an abridged edition MAM
        did not flag may be said. `categories` (audiobook sub-category ids) and `start_date` (`YYYY-MM-DD`,
        uploads from that day on) narrow it: with an empty text, a browse."""
        ids = sorted({LANGUAGE_IDS[c] for c in (x.upper() for x in languages) if c in LANGUAGE_IDS})
        body = {
            "tor": {
                "text": text,
                "srchIn": dict.fromkeys(fields, "true"),
                "searchType": "active" if active_only else "all",
                "searchIn": "torrents",
                "main_cat": ["13"],
                "cat": [str(c) for c in categories] or ["0"],
                "browse_lang": ids,
                "browseFlagsHideVsShow": "0",
                "browseFlags": [],
                "startDate": start_date,
                "endDate": "",
                "hash": "",
                "sortType": sort,
                "startNumber": str(start),  # a string, not a number
                "id": torrent_id,
            },
            "perpage": perpage,  # at the top level: inside `tor` MAM ignores it
            "isbn": True,
            "description": description,
            "dlLink": False,
        }
        raw = json.dumps(body).encode()  # the exact bytes: a re-encoded body gets an empty answer
        reply = await self._request(
            "search", "POST", SEARCH_PATH, data=raw, headers={"Content-Type": "application/json"}
        )
        data = reply.data
        if isinstance(data, dict) and "error" in data:
            message = str(data.get("error"))
            if message.startswith(NOTHING):
                return SearchPage([], _found(message), start, 0, 0)
            raise Rejected(SERVICE, f"the search was refused: {message}")
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise Unavailable(SERVICE, "the search answer has no `data` list")
        rows = data["data"]
        releases = [release for release in (parse_row(row) for row in rows) if release is not None]
        found = data.get("found")
        return SearchPage(
            releases,
            found if isinstance(found, int) else len(rows),
            start,
            len(rows),
            len(rows) - len(releases),
        )

    async def release(self, mam_id: int) -> Release | None:
        """One torrent as MAM shows it now (whether this account snatched it, whether it is free for it)."""
        page = await self.search("", active_only=False, torrent_id=mam_id, perpage=5)  # MAM's least is 5
        return next((release for release in page.releases if release.id == mam_id), None)

    async def pages(
        self, text: str, *, pages: int = 3, perpage: int = 100, **options: Any
    ) -> AsyncIterator[SearchPage]:
        """Up to `pages` pages, one request each; `startNumber` moves by the rows actually returned, and
        the last page is the one that reaches `found` (or comes back empty)."""
        start = 0
        for _ in range(pages):
            page = await self.search(text, start=start, perpage=perpage, **options)
            yield page
            start += page.rows
            if page.rows == 0 or start >= page.found:
                return

    async def search_all(
        self, text: str, *, pages: int = 3, perpage: int = 100, **options: Any
    ) -> list[Release]:
        """The releases of up to `pages` pages."""
        return [
            r
            async for page in self.pages(text, pages=pages, perpage=perpage, **options)
            for r in page.releases
        ]


def _found(message: str) -> int:
    digits = "".join(c for c in message[len(NOTHING) :] if c.isdigit())
    return int(digits) if digits else 0
