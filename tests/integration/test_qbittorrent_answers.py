"""How the qBittorrent client reads answers to an add that no real qBittorrent gives on demand.

The real answers of 4.5, 5.1 and 5.3 (`Ok.`, `Fails.`, JSON, 409) are tested against the real binaries
in tests/system/test_qbittorrent_client.py; here a WebUI on 127.0.0.1 answers exactly what the test sets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from mamd.clients.errors import Rejected, Unauthorized, Unavailable
from mamd.clients.qbittorrent import QbittorrentClient, add_outcome
from mamd.config.model import QbittorrentConfig
from mamd.config.units import Secret
from tests.support.mam_client import serving
from tests.support.qbittorrent_answers import AddAnswers

HASH = "ab" * 20
ADDED = {"added_torrent_ids": [HASH], "failure_count": 0, "pending_count": 0, "success_count": 1}
NOT_ADDED = {"added_torrent_ids": [], "failure_count": 1, "pending_count": 0, "success_count": 0}


@pytest.fixture
async def standin() -> AsyncIterator[tuple[AddAnswers, QbittorrentClient, list[tuple[str, Any]]]]:
    answers = AddAnswers()
    async with serving(answers.app()) as url:
        settings = QbittorrentConfig(url=url, username="mamd", password=Secret("a-password-for-tests"))
        states: list[tuple[str, Any]] = []
        client = QbittorrentClient(
            lambda: settings, on_state=lambda state, error: states.append((state, error))
        )
        yield answers, client, states


async def add(client: QbittorrentClient) -> str:
    return await client.add(b"d4:infode", HASH, save_path="/srv/torrents", category="mamd", tags=["mamd"])


async def test_a_json_answer_that_counts_one_success_is_added(standin: Any) -> None:
    answers, client, states = standin
    answers.json(ADDED)
    assert await add(client) == "added"
    assert states[-1] == ("ok", None)


async def test_a_json_answer_with_failure_count_one_is_present_when_qbittorrent_lists_the_torrent(
    standin: Any,
) -> None:
    answers, client, _ = standin
    answers.json(NOT_ADDED)
    answers.listed.add(HASH)
    assert await add(client) == "present"


async def test_a_json_answer_with_failure_count_one_is_refused_naming_it_when_the_torrent_is_not_listed(
    standin: Any,
) -> None:
    answers, client, states = standin
    answers.json(NOT_ADDED)
    with pytest.raises(Rejected) as refused:
        await add(client)
    assert f"did not add the torrent {HASH} and does not list it" in refused.value.message
    assert '"failure_count":1' in refused.value.message
    assert states[-1] == ("ok", None)  # qBittorrent answered: the service is fine


async def test_a_409_is_present_when_listed_and_otherwise_refused_naming_it(standin: Any) -> None:
    answers, client, _ = standin
    answers.text("Conflict", status=409)
    with pytest.raises(Rejected, match="it answered 409 Conflict") as refused:
        await add(client)
    assert refused.value.status == 409
    answers.listed.add(HASH)
    assert await add(client) == "present"


async def test_fails_for_a_torrent_that_is_not_listed_is_refused_naming_the_answer(standin: Any) -> None:
    answers, client, _ = standin
    answers.text("Fails.")
    with pytest.raises(Rejected, match=r"it answered 'Fails\.'"):
        await add(client)


@pytest.mark.parametrize(
    "answer",
    [
        {"something": "else"},
        {"success_count": "1", "failure_count": 0},  # counts that are not numbers are not read as numbers
        {"success_count": True, "failure_count": False},
        {"success_count": 1, "failure_count": 1},  # one torrent sent: both cannot be true
        ["Ok."],
    ],
)
async def test_a_json_answer_of_another_shape_is_read_not_assumed(standin: Any, answer: Any) -> None:
    answers, client, _ = standin
    answers.json(answer)
    with pytest.raises(Rejected, match="does not list it; it answered"):
        await add(client)
    answers.listed.add(HASH)
    assert await add(client) == "added"  # listed afterwards: whatever the answer meant, it is there


async def test_an_unexpected_text_answer_is_named(standin: Any) -> None:
    answers, client, _ = standin
    answers.text("Unexpected thing happened")
    with pytest.raises(Rejected, match="'Unexpected thing happened'"):
        await add(client)


async def test_a_server_error_names_qbittorrents_answer_and_marks_the_service_down(standin: Any) -> None:
    answers, client, states = standin
    answers.text("Disk full, torrent not saved", status=500)
    with pytest.raises(Unavailable, match="Disk full, torrent not saved"):
        await add(client)
    assert states[-1][0] == "down"


async def test_a_401_after_login_explains_the_host_header_check(standin: Any) -> None:
    answers, client, states = standin
    answers.text("Unauthorized", status=401)
    with pytest.raises(Unauthorized) as refused:
        await add(client)
    assert "Host header" in refused.value.message
    assert "Enable Host header validation" in refused.value.message
    assert "banned" not in refused.value.message
    assert states[-1][0] == "unauthorized"


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ("Ok.", "added"),
        ("Ok.\n", "added"),
        ("Fails.", "not added"),
        ("", "unclear"),
        (ADDED, "added"),
        (NOT_ADDED, "not added"),
        ({**ADDED, "success_count": 2}, "added"),
        ({"success_count": 0, "failure_count": 0, "pending_count": 1}, "unclear"),
        ({"success_count": -1, "failure_count": 1}, "unclear"),
        (None, "unclear"),
        (7, "unclear"),
    ],
)
def test_every_shape_of_answer_reads_as_one_outcome(answer: Any, outcome: str) -> None:
    assert add_outcome(answer) == outcome
