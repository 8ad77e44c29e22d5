"""The Audiobookshelf client against answers the simulator never gives: odd types, odd shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from mamd.clients.audiobookshelf import AudiobookshelfClient
from mamd.clients.errors import Unavailable
from mamd.clients.upstream import NO_RETRY
from mamd.config.model import AudiobookshelfConfig
from mamd.config.units import Secret


@pytest.fixture
async def client_for(aiohttp_server: Any) -> AsyncIterator[Any]:
    sessions: list[aiohttp.ClientSession] = []

    async def make(answers: dict[str, Any]) -> AudiobookshelfClient:
        async def answer(request: web.Request) -> web.StreamResponse:
            body = answers[request.path]
            return web.Response(text=body, content_type="application/json")

        app = web.Application()
        for path in answers:
            app.router.add_route("*", path, answer)
        server = await aiohttp_server(app)
        settings = AudiobookshelfConfig(api_key=Secret("k" * 20), url=str(server.make_url("")))
        session = aiohttp.ClientSession()
        sessions.append(session)

        async def no_wait(seconds: float) -> None:
            return None

        return AudiobookshelfClient.create(
            session,
            lambda: settings,
            on_state=lambda s, e: None,
            sleep=no_wait,
            retry=NO_RETRY,
        )

    yield make
    for session in sessions:
        await session.close()


async def test_an_item_with_a_number_for_a_title_is_read_through_the_tolerant_reader(client_for: Any) -> None:
    metadata = '{"title": 1984, "authors": [{"name": "Orwell"}]}'
    odd = '{"libraryItems": [{"id": "a", "media": {"metadata": ' + metadata + "}}]}"
    client = await client_for({"/api/items/batch/get": odd})
    [book] = await client.books(["a"])
    assert (book.title, book.authors) == ("1984", ("Orwell",))


async def test_a_page_with_rows_that_are_not_items_counts_them_as_unreadable(client_for: Any) -> None:
    page = '{"results": [{"id": "a", "updatedAt": 1}, "junk", {"no": "id"}], "total": 3}'
    client = await client_for({"/api/libraries/L/items": page})
    answer = await client.items_page("L", 0, 10)
    assert [item.id for item in answer.items] == ["a"]
    assert (answer.total, answer.unreadable) == (3, 2)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"results": []}', "no total"),
        ('{"total": 3}', "without `results`"),
        ("[1, 2]", "without `results`"),
        ("<html>", "not JSON"),
    ],
)
async def test_a_page_that_is_not_an_items_list_is_unavailable(
    client_for: Any, body: str, message: str
) -> None:
    client = await client_for({"/api/libraries/L/items": body})
    with pytest.raises(Unavailable, match=message):
        await client.items_page("L", 0, 10)


async def test_authors_are_read_in_both_shapes(client_for: Any) -> None:
    plain = '{"authors": [{"id": "a1", "name": "Brandon Sanderson", "numBooks": 6}]}'
    client = await client_for({"/api/libraries/L/authors": plain})
    [author] = await client.authors("L")
    assert (author.name, author.books) == ("Brandon Sanderson", 6)
    paged = '{"results": [{"id": "a1", "name": "Brandon Sanderson", "numBooks": 6}], "total": 1}'
    client = await client_for({"/api/libraries/L/authors": paged})
    assert [a.name for a in await client.authors("L", page=0, limit=3)] == ["Brandon Sanderson"]
