"""mamd's HTTP surface through real sockets: health, status, metrics, the qBittorrent hook and the API."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from mamd import __version__
from mamd.clock import iso
from mamd.config import load_config
from mamd.domain.account import AccountSnapshot, Counter
from mamd.logs import Redactor, configure_logging
from mamd.runtime import Runtime
from mamd.schedule import JobContext
from mamd.web import MAX_BODY_BYTES, create_app
from tests.support.clock import FakeClock
from tests.support.configs import ABS_KEY, API_KEY, MAM_SESSION, QBT_PASSWORD

Client = TestClient[Any, Any]

KEY = {"X-Api-Key": API_KEY}
HASH = "0123456789abcdef0123456789abcdef01234567"
MIXED_CASE_HASH = "ABCDEF0123456789abcdef0123456789ABCDEF01"
SECRETS = (API_KEY, MAM_SESSION, ABS_KEY, QBT_PASSWORD)
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


# -- helpers ---------------------------------------------------------------------------------


def inbox_rows(runtime: Runtime) -> list[dict[str, Any]]:
    """The hook inbox as another process sees it: committed rows in the database file."""
    with contextlib.closing(sqlite3.connect(runtime.store.path)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT hash, source, state, times_seen, payload FROM hook_inbox ORDER BY id"
        ).fetchall()
    return [{**dict(row), "payload": json.loads(row["payload"])} for row in rows]


async def error_of(response: Any) -> dict[str, Any]:
    """The error envelope of a response, checked for shape and for the request id it echoes."""
    body = await response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert {"code", "message", "request_id"} <= set(error)
    assert error["message"]
    assert error["request_id"] == response.headers["X-Request-Id"]
    return error


@contextlib.contextmanager
def logging_into(stream: io.StringIO, redactor: Redactor) -> Iterator[None]:
    """mamd's JSON log lines go into `stream` meanwhile; logging is as it was afterwards."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    structlog.reset_defaults()
    configure_logging("info", "json", redactor, stream)
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll `condition` for up to five seconds (the job runs as a task on this loop)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met within 5 s")


def blocking_job(started: asyncio.Event, release: asyncio.Event) -> Callable[[JobContext], Awaitable[None]]:
    async def job(context: JobContext) -> None:
        started.set()
        await release.wait()

    return job


SAMPLE_LINE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)"
    r'(?P<labels>\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})?'
    r" (?P<value>\S+)$"
)
COMMENT_LINE = re.compile(r"^# (?P<kind>HELP|TYPE) (?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*) (?P<text>.+)$")


def parse_metrics(text: str) -> dict[str, float]:
    """Every line must be a sample or a # HELP / # TYPE line; samples keyed as `name{labels}`."""
    assert text.endswith("\n")
    samples: dict[str, float] = {}
    typed: set[str] = set()
    for line in text.splitlines():
        comment = COMMENT_LINE.match(line)
        if comment:
            if comment["kind"] == "TYPE":
                assert comment["text"] in ("counter", "gauge", "histogram", "summary", "untyped"), line
                typed.add(comment["name"])
            continue
        sample = SAMPLE_LINE.match(line)
        assert sample, f"not a Prometheus text line: {line!r}"
        assert sample["name"] in typed, f"sample before its # TYPE line: {line!r}"
        samples[sample["name"] + (sample["labels"] or "")] = float(sample["value"])
    return samples


@pytest.fixture
async def strict(
    config_file: Callable[..., Path], clock: FakeClock, aiohttp_client: Any
) -> AsyncIterator[Client]:
    """A client over an app whose configuration says `http.status_from_loopback: false`."""
    path = config_file({"http": {"status_from_loopback": False}}, name="strict.yaml")
    live = Runtime(load_config(path), path, clock=clock, redactor=Redactor())
    await live.store.open()
    await live.scheduler.load()
    client: Client = await aiohttp_client(create_app(live))
    yield client
    await live.tasks.drain(1.0)
    await live.store.close()


# -- /healthz and /readyz --------------------------------------------------------------------


async def test_healthz_answers_ok_without_a_key(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_answers_ready_with_no_problems_when_the_database_is_open(client: Client) -> None:
    response = await client.get("/readyz")
    assert response.status == 200
    assert await response.json() == {"ready": True, "problems": []}


async def test_readyz_answers_503_with_a_database_problem_when_the_store_has_failed(
    client: Client, runtime: Runtime
) -> None:
    runtime.store.fail("cannot write the database: the disk is full")
    response = await client.get("/readyz")
    assert response.status == 503
    body = await response.json()
    assert body["ready"] is False
    assert {
        "id": "database",
        "severity": "error",
        "summary": "cannot write the database: the disk is full",
    } in body["problems"]


async def test_readyz_answers_503_with_a_database_problem_when_the_store_is_closed(
    client: Client, runtime: Runtime
) -> None:
    await runtime.store.close()
    response = await client.get("/readyz")
    assert response.status == 503
    body = await response.json()
    assert body["ready"] is False
    assert [p["id"] for p in body["problems"]] == ["database"]
    assert body["problems"][0]["severity"] == "error"
    assert body["problems"][0]["summary"]


async def test_readyz_answers_503_while_mamd_is_shutting_down(client: Client, runtime: Runtime) -> None:
    runtime.stopping = True
    response = await client.get("/readyz")
    assert response.status == 503
    body = await response.json()
    assert body["ready"] is False
    assert body["problems"][0]["id"] == "stopping"
    assert body["problems"][0]["severity"] == "error"


# -- /status -----------------------------------------------------------------------------------


async def test_status_from_loopback_needs_no_key_and_has_every_documented_section(
    client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    clock.advance(90)
    response = await client.get("/status")
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["version"] == __version__
    assert body["started_at"] == iso(runtime.started_at)
    assert ISO_Z.match(body["started_at"])
    assert body["uptime_s"] == 90.0
    assert body["dry_run"] is False
    config = body["config"]
    assert config["path"] == str(runtime.config_state.path)
    assert config["generation"] == 1
    assert config["loaded_at"] == iso(runtime.started_at)
    assert config["last_error"] is None
    assert body["jobs"] == {}
    assert body["services"] == {}
    assert body["inbox"] == {"pending": 0}
    assert body["imports"] == {"waiting_for_library": 0, "not_in_library": []}
    account = body["account"]
    assert account["at"] is None  # no snapshot yet
    assert account["guard"] == "caution"
    assert account["guard_detail"]["grabs"] == "freeleech"
    assert account["torrents_at_risk"] == []
    assert body["recent"] == []


async def test_status_shows_the_last_account_snapshot(
    client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    counters = {"unsat": Counter(12, 50), "seedHnr": Counter(0), "inactHnr": Counter(1)}
    await runtime.account.add(
        AccountSnapshot(
            at=clock.now(),
            classname="Power User",
            ratio=2.5,
            uploaded=300 * 1024**3,
            downloaded=120 * 1024**3,
            seedbonus=62500.0,
            wedges=4,
            counters=counters,
        )
    )
    clock.advance(30)
    account = (await (await client.get("/status")).json())["account"]
    assert account["at"] == iso(clock.now() - 30)
    assert account["age_s"] == 30.0
    assert (account["ratio"], account["classname"], account["seedbonus"]) == (2.5, "Power User", 62500.0)
    assert (account["unsatisfied"], account["unsatisfied_limit"], account["hnr"]) == (12, 50, 1)
    assert account["uploaded"] == 300 * 1024**3
    assert account["guard"] == "caution"  # a hit-and-run
    assert account["guard_detail"]["grabs"] == "none"
    assert "MAM counts 1 hit-and-run torrent(s)" in account["guard_detail"]["reasons"]
    assert account["next_decisions"][0] == "grabs: none"
    assert "bonus.enabled is false" in account["next_decisions"][1]


async def test_status_lists_jobs_pending_hooks_and_recent_events(
    client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    async def quick(context: JobContext) -> None:
        return None

    runtime.use_jobs({"quick": quick})
    await runtime.events.add(clock.now(), "grab", "grabbed Book One", "book-1")
    hook = await client.post("/hooks/qbittorrent", data={"hash": HASH}, headers=KEY)
    assert hook.status == 202

    body = await (await client.get("/status")).json()
    assert set(body["jobs"]["quick"]) >= {
        "interval_s",
        "running",
        "last_started_at",
        "last_finished_at",
        "last_result",
        "last_error",
        "next_due_at",
    }
    assert body["jobs"]["quick"]["running"] is False
    assert body["inbox"] == {"pending": 1}
    assert [(e["kind"], e["message"], e["subject"]) for e in body["recent"]] == [
        ("grab", "grabbed Book One", "book-1")
    ]
    assert body["recent"][0]["at"] == iso(clock.now())


async def test_status_shows_an_upstream_service_state(client: Client, runtime: Runtime) -> None:
    runtime.health.service("audiobookshelf", "down", "connection refused")
    body = await (await client.get("/status")).json()
    assert body["services"]["audiobookshelf"]["state"] == "down"
    assert body["services"]["audiobookshelf"]["last_error"] == "connection refused"
    assert ISO_Z.match(body["services"]["audiobookshelf"]["since"])


async def test_status_and_metrics_need_the_key_when_loopback_is_not_trusted(strict: Client) -> None:
    for path in ("/status", "/metrics"):
        anonymous = await strict.get(path)
        assert anonymous.status == 401, path
        assert (await error_of(anonymous))["code"] == "unauthorized"

        wrong = await strict.get(path, headers={"X-Api-Key": "not-the-key-0000000000"})
        assert wrong.status == 401, path

        by_header = await strict.get(path, headers=KEY)
        assert by_header.status == 200, path
        by_query = await strict.get(path, params={"apikey": API_KEY})
        assert by_query.status == 200, path


async def test_health_probes_stay_open_when_loopback_is_not_trusted(strict: Client) -> None:
    assert (await strict.get("/healthz")).status == 200
    assert (await strict.get("/readyz")).status == 200


# -- /metrics ----------------------------------------------------------------------------------


async def test_metrics_are_prometheus_text_with_the_documented_series(client: Client) -> None:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = parse_metrics(await response.text())
    assert samples[f'mamd_info{{version="{__version__}"}}'] == 1
    assert samples["mamd_config_generation"] == 1
    assert samples["mamd_config_last_reload_ok"] == 1
    assert samples["mamd_ready"] == 1
    assert samples["mamd_uptime_seconds"] == 0
    assert samples["mamd_hook_inbox_pending"] == 0
    assert samples['mamd_guard_level{level="caution"}'] == 1  # no account snapshot yet
    assert samples['mamd_guard_level{level="ok"}'] == 0
    assert samples["mamd_torrents_at_risk"] == 0
    assert "mamd_account_ratio" not in samples


async def test_metrics_show_the_account_as_last_read(
    client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    counters = {"unsat": Counter(12, 50), "seedHnr": Counter(0), "inactHnr": Counter(0)}
    await runtime.account.add(
        AccountSnapshot(at=clock.now(), ratio=float("inf"), seedbonus=99_999.0, counters=counters)
    )
    samples = parse_metrics(await (await client.get("/metrics")).text())
    assert samples["mamd_account_ratio"] == float("inf")
    assert samples["mamd_account_bonus_points"] == 99_999
    assert (samples["mamd_account_unsatisfied"], samples["mamd_account_unsatisfied_limit"]) == (12, 50)
    assert samples["mamd_account_hit_and_runs"] == 0
    assert samples['mamd_guard_level{level="ok"}'] == 1


async def test_metrics_count_hooks_and_job_runs(client: Client, runtime: Runtime) -> None:
    async def quick(context: JobContext) -> None:
        return None

    runtime.use_jobs({"quick": quick})
    assert (await client.post("/hooks/qbittorrent", data={"hash": HASH}, headers=KEY)).status == 202
    assert (await client.post("/hooks/qbittorrent", data={"hash": HASH}, headers=KEY)).status == 202
    assert (await client.post("/api/v1/jobs/quick", headers=KEY)).status == 202
    await wait_until(lambda: runtime.scheduler.counts[("quick", "ok")] == 1)

    samples = parse_metrics(await (await client.get("/metrics")).text())
    assert samples['mamd_hooks_total{outcome="accepted"}'] == 1
    assert samples['mamd_hooks_total{outcome="duplicate"}'] == 1
    assert samples["mamd_hook_inbox_pending"] == 1
    assert samples['mamd_job_runs_total{job="quick",result="ok"}'] == 1
    assert samples['mamd_job_running{job="quick"}'] == 0
    assert samples['mamd_http_responses_total{code="202"}'] == 3


async def test_metrics_job_finish_timestamps_keep_second_precision(
    client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    async def quick(context: JobContext) -> None:
        return None

    runtime.use_jobs({"quick": quick})
    clock.advance(12_345.0)
    assert (await client.post("/api/v1/jobs/quick", headers=KEY)).status == 202
    await wait_until(lambda: runtime.scheduler.states["quick"].last_finished_at is not None)

    samples = parse_metrics(await (await client.get("/metrics")).text())
    assert samples['mamd_job_last_finished_timestamp_seconds{job="quick"}'] == pytest.approx(
        clock.now(), abs=1.0
    )


async def test_metrics_say_not_ready_and_still_parse_when_the_store_is_closed(
    client: Client, runtime: Runtime
) -> None:
    await runtime.store.close()
    response = await client.get("/metrics")
    assert response.status == 200
    samples = parse_metrics(await response.text())
    assert samples["mamd_ready"] == 0


# -- POST /hooks/qbittorrent: accepted ----------------------------------------------------------


async def test_hook_as_a_urlencoded_form_like_curl_is_stored_before_the_answer(
    client: Client, runtime: Runtime
) -> None:
    # what `curl --data-urlencode "hash=%I" --data-urlencode "name=%N" --data-urlencode "category=%L"` sends
    body = "hash=" + MIXED_CASE_HASH + "&name=Book%20One%20%26%20Two%20%2B%20%C3%BC&category=mamd"
    response = await client.post(
        f"/hooks/qbittorrent?apikey={API_KEY}",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    rows = inbox_rows(runtime)  # no await in between: the row was committed before the answer came
    assert response.status == 202
    assert await response.json() == {"accepted": True, "hash": MIXED_CASE_HASH.lower(), "duplicate": False}
    assert len(rows) == 1
    assert rows[0]["hash"] == MIXED_CASE_HASH.lower()
    assert rows[0]["state"] == "pending"
    assert rows[0]["source"] == "webhook"
    assert rows[0]["payload"] == {"name": "Book One & Two + ü", "category": "mamd"}


async def test_hook_as_json_is_stored_before_the_answer(client: Client, runtime: Runtime) -> None:
    response = await client.post(
        "/hooks/qbittorrent", json={"hash": MIXED_CASE_HASH, "name": "Book One"}, headers=KEY
    )
    rows = inbox_rows(runtime)
    assert response.status == 202
    assert await response.json() == {"accepted": True, "hash": MIXED_CASE_HASH.lower(), "duplicate": False}
    assert [(r["hash"], r["state"], r["payload"]) for r in rows] == [
        (MIXED_CASE_HASH.lower(), "pending", {"name": "Book One"})
    ]


async def test_hook_as_multipart_form_is_stored_before_the_answer(client: Client, runtime: Runtime) -> None:
    form = FormData(default_to_multipart=True)
    form.add_field("hash", HASH)
    form.add_field("name", "Book One")
    form.add_field("size", "1024")
    response = await client.post("/hooks/qbittorrent", data=form, headers=KEY)
    rows = inbox_rows(runtime)
    assert response.status == 202
    assert await response.json() == {"accepted": True, "hash": HASH, "duplicate": False}
    assert [(r["hash"], r["payload"]) for r in rows] == [(HASH, {"name": "Book One", "size": 1024})]


async def test_hook_stores_every_optional_field_with_numbers_as_numbers(
    client: Client, runtime: Runtime
) -> None:
    fields = {
        "hash": HASH,
        "name": "The Book",
        "category": "mamd",
        "tags": "mamd,audiobook",
        "content_path": "/srv/torrents/audiobooks/The Book",
        "root_path": "/srv/torrents/audiobooks/The Book",
        "save_path": "/srv/torrents/audiobooks",
        "num_files": "12",
        "size": "734003200",
        "tracker": "https://t.myanonamouse.net/tracker.php/aB3dE5fG7hJ9kL1mN3pQ5rS7/announce",
    }
    response = await client.post("/hooks/qbittorrent", data=fields, headers=KEY)
    assert response.status == 202
    [row] = inbox_rows(runtime)
    expected = {k: v for k, v in fields.items() if k != "hash"}
    expected.update(num_files=12, size=734003200)
    expected["tracker"] = "https://t.myanonamouse.net/tracker.php/***/announce"
    assert row["payload"] == expected


async def test_the_passkey_in_a_hooks_tracker_is_neither_stored_nor_logged(
    client: Client, runtime: Runtime
) -> None:
    passkey = "aB3dE5fG7hJ9kL1mN3pQ5rS7"
    stream = io.StringIO()
    with logging_into(stream, runtime.redactor):
        response = await client.post(
            "/hooks/qbittorrent",
            data={"hash": HASH, "tracker": f"https://t.myanonamouse.net/tracker.php/{passkey}/announce"},
            headers=KEY,
        )
    assert response.status == 202
    [row] = inbox_rows(runtime)
    [accepted] = [json.loads(line) for line in stream.getvalue().splitlines() if "hook.accepted" in line]
    assert (
        accepted["tracker"]
        == row["payload"]["tracker"]
        == "https://t.myanonamouse.net/tracker.php/***/announce"
    )
    with contextlib.closing(sqlite3.connect(runtime.store.path)) as db:
        assert passkey not in "\n".join(db.iterdump())


async def test_hook_leaves_empty_optional_fields_out_of_the_payload(client: Client, runtime: Runtime) -> None:
    response = await client.post(
        "/hooks/qbittorrent", data={"hash": HASH, "name": "", "size": ""}, headers=KEY
    )
    assert response.status == 202
    assert inbox_rows(runtime)[0]["payload"] == {}


async def test_a_duplicate_hook_is_accepted_without_a_second_pending_row(
    client: Client, runtime: Runtime
) -> None:
    first = await client.post("/hooks/qbittorrent", data={"hash": HASH}, headers=KEY)
    again = await client.post("/hooks/qbittorrent", json={"hash": HASH.upper()}, headers=KEY)
    assert first.status == again.status == 202
    assert (await first.json())["duplicate"] is False
    assert await again.json() == {"accepted": True, "hash": HASH, "duplicate": True}
    rows = inbox_rows(runtime)
    assert [(r["hash"], r["state"], r["times_seen"]) for r in rows] == [(HASH, "pending", 2)]


async def test_hook_accepts_the_key_in_the_header_and_in_the_query(client: Client, runtime: Runtime) -> None:
    other = "f" * 40
    by_header = await client.post("/hooks/qbittorrent", data={"hash": HASH}, headers=KEY)
    by_query = await client.post("/hooks/qbittorrent", params={"apikey": API_KEY}, data={"hash": other})
    assert by_header.status == 202
    assert by_query.status == 202
    assert sorted(r["hash"] for r in inbox_rows(runtime)) == sorted([HASH, other])


# -- POST /hooks/qbittorrent: refused -----------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        pytest.param({}, {}, id="no key"),
        pytest.param({}, {"X-Api-Key": "wrong-key-0123456789abcdef"}, id="wrong header key"),
        pytest.param({"apikey": "wrong-key-0123456789abcdef"}, {}, id="wrong query key"),
        pytest.param({}, {"X-Api-Key": API_KEY[:-1]}, id="key missing its last character"),
    ],
)
async def test_hook_without_the_right_key_is_refused_and_not_stored(
    client: Client, runtime: Runtime, params: dict[str, str], headers: dict[str, str]
) -> None:
    response = await client.post("/hooks/qbittorrent", params=params, headers=headers, data={"hash": HASH})
    assert response.status == 401
    error = await error_of(response)
    assert error["code"] == "unauthorized"
    assert inbox_rows(runtime) == []


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"name": "Book"}, id="missing hash"),
        pytest.param({"hash": ""}, id="empty hash"),
        pytest.param({"hash": "g" * 40}, id="non-hex hash"),
        pytest.param({"hash": HASH[:39]}, id="39 characters"),
        pytest.param({"hash": HASH + "0"}, id="41 characters"),
        pytest.param({"hash": HASH, "size": "big"}, id="non-numeric size"),
        pytest.param({"hash": HASH, "size": "-1"}, id="negative size"),
        pytest.param({"hash": HASH, "num_files": "1.5"}, id="fractional num_files"),
        pytest.param({"hash": HASH, "name": "n" * 4097}, id="over-long name"),
    ],
)
async def test_hook_with_a_bad_form_field_is_a_bad_request(
    client: Client, runtime: Runtime, fields: dict[str, str]
) -> None:
    response = await client.post("/hooks/qbittorrent", data=fields, headers=KEY)
    assert response.status == 400
    assert (await error_of(response))["code"] == "bad_request"
    assert inbox_rows(runtime) == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"name": "Book"}, id="missing hash"),
        pytest.param({"hash": 1234}, id="hash is a number"),
        pytest.param({"hash": None}, id="hash is null"),
        pytest.param({"hash": HASH, "size": "big"}, id="non-numeric size"),
        pytest.param({"hash": HASH, "size": 1.5}, id="fractional size"),
        pytest.param({"hash": HASH, "size": True}, id="boolean size"),
        pytest.param({"hash": HASH, "size": -1}, id="negative size"),
        pytest.param({"hash": HASH, "name": ["a", "list"]}, id="name is a list"),
        pytest.param({"hash": HASH, "name": "n" * 4097}, id="over-long name"),
    ],
)
async def test_hook_with_a_bad_json_field_is_a_bad_request(
    client: Client, runtime: Runtime, body: dict[str, Any]
) -> None:
    response = await client.post("/hooks/qbittorrent", json=body, headers=KEY)
    assert response.status == 400
    assert (await error_of(response))["code"] == "bad_request"
    assert inbox_rows(runtime) == []


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        pytest.param(b"{not json", "application/json", id="invalid JSON"),
        pytest.param(b"\xff\xfe\x00", "application/json", id="not UTF-8"),
        pytest.param(json.dumps([{"hash": HASH}]).encode(), "application/json", id="JSON list"),
        pytest.param(json.dumps(HASH).encode(), "application/json", id="JSON string"),
        pytest.param(f"hash={HASH}".encode(), "text/plain", id="text/plain"),
    ],
)
async def test_hook_with_a_body_it_cannot_read_is_a_bad_request(
    client: Client, runtime: Runtime, data: bytes, content_type: str
) -> None:
    response = await client.post(
        "/hooks/qbittorrent", data=data, headers={**KEY, "Content-Type": content_type}
    )
    assert response.status == 400
    assert (await error_of(response))["code"] == "bad_request"
    assert inbox_rows(runtime) == []


async def test_hook_without_a_content_type_is_a_bad_request(client: Client, runtime: Runtime) -> None:
    response = await client.post(
        "/hooks/qbittorrent",
        data=f"hash={HASH}".encode(),
        headers=KEY,
        skip_auto_headers=("Content-Type",),
    )
    assert response.status == 400
    assert (await error_of(response))["code"] == "bad_request"
    assert inbox_rows(runtime) == []


@pytest.mark.parametrize("encoding", ["form", "json"])
async def test_hook_with_a_body_over_64_kib_is_refused_as_too_large(
    client: Client, runtime: Runtime, encoding: str
) -> None:
    fields = {"hash": HASH, "name": "x" * (MAX_BODY_BYTES + 1024)}
    if encoding == "form":
        response = await client.post("/hooks/qbittorrent", data=fields, headers=KEY)
    else:
        response = await client.post("/hooks/qbittorrent", json=fields, headers=KEY)
    assert response.status == 413
    assert (await error_of(response))["code"] == "payload_too_large"
    assert inbox_rows(runtime) == []


async def test_hook_answers_503_and_never_202_when_the_store_is_closed(
    client: Client, runtime: Runtime
) -> None:
    await runtime.store.close()
    response = await client.post("/hooks/qbittorrent", data={"hash": HASH}, headers=KEY)
    assert response.status == 503
    error = await error_of(response)
    assert error["code"] == "unavailable"
    assert "reconcile" in error["message"]
    assert inbox_rows(runtime) == []


async def test_hook_answers_503_when_another_process_locks_the_database(
    client: Client, runtime: Runtime
) -> None:
    with contextlib.closing(sqlite3.connect(runtime.store.path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        try:
            # mamd waits out its busy timeout (5 s) before it gives up
            response = await client.post("/hooks/qbittorrent", data={"hash": HASH}, headers=KEY)
        finally:
            other.execute("ROLLBACK")
    assert response.status == 503
    assert (await error_of(response))["code"] == "unavailable"
    assert (await client.get("/readyz")).status == 503
    assert inbox_rows(runtime) == []

    # once the lock is gone the next hook is stored and the database is ready again
    retry = await client.post("/hooks/qbittorrent", data={"hash": HASH}, headers=KEY)
    assert retry.status == 202
    assert len(inbox_rows(runtime)) == 1
    assert (await client.get("/readyz")).status == 200


# -- POST /api/v1/jobs/{name} -------------------------------------------------------------------


async def test_run_job_starts_it_and_refuses_a_second_run_while_it_runs(
    client: Client, runtime: Runtime
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    runtime.use_jobs({"slow": blocking_job(started, release)})

    response = await client.post("/api/v1/jobs/slow", headers=KEY)
    assert response.status == 202
    assert await response.json() == {"job": "slow", "started": True}
    async with asyncio.timeout(5):
        await started.wait()

    again = await client.post("/api/v1/jobs/slow", headers=KEY)
    assert again.status == 409
    error = await error_of(again)
    assert error["code"] == "conflict"
    assert "slow" in error["message"]

    release.set()
    await wait_until(lambda: not runtime.scheduler.states["slow"].running)
    assert runtime.scheduler.states["slow"].last_result == "ok"
    after = await client.post("/api/v1/jobs/slow", headers=KEY)
    assert after.status == 202


async def test_run_job_for_an_unknown_name_is_404_and_lists_the_known_jobs(
    client: Client, runtime: Runtime
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    runtime.use_jobs({"slow": blocking_job(started, release), "other": blocking_job(started, release)})
    response = await client.post("/api/v1/jobs/nope", headers=KEY)
    assert response.status == 404
    error = await error_of(response)
    assert error["code"] == "not_found"
    assert "nope" in error["message"]
    assert "slow" in error["message"]
    assert "other" in error["message"]
    assert not started.is_set()


async def test_run_job_without_a_key_is_refused_and_starts_nothing(client: Client, runtime: Runtime) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    release.set()
    runtime.use_jobs({"slow": blocking_job(started, release)})
    response = await client.post("/api/v1/jobs/slow")
    assert response.status == 401
    assert (await error_of(response))["code"] == "unauthorized"
    await asyncio.sleep(0.05)
    assert not started.is_set()
    assert runtime.scheduler.states["slow"].last_started_at is None


async def test_run_job_answers_503_while_the_database_is_unavailable(
    client: Client, runtime: Runtime
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    release.set()
    runtime.use_jobs({"slow": blocking_job(started, release)})
    await runtime.store.close()
    response = await client.post("/api/v1/jobs/slow", headers=KEY)
    assert response.status == 503
    assert (await error_of(response))["code"] == "unavailable"
    assert not started.is_set()


# -- GET /api/v1/events -------------------------------------------------------------------------


@pytest.fixture
async def three_events(runtime: Runtime, clock: FakeClock) -> list[int]:
    """Events one minute apart, at clock time +0 s, +60 s and +120 s."""
    start = clock.now()
    return [
        await runtime.events.add(start, "grab", "grabbed A", "a"),
        await runtime.events.add(start + 60, "import", "imported A", "a"),
        await runtime.events.add(start + 120, "guard", "guard caution"),
    ]


async def test_events_without_since_lists_all_in_order(client: Client, three_events: list[int]) -> None:
    response = await client.get("/api/v1/events", headers=KEY)
    assert response.status == 200
    body = await response.json()
    assert [e["id"] for e in body["events"]] == three_events
    assert [e["kind"] for e in body["events"]] == ["grab", "import", "guard"]
    assert body["next"] == three_events[-1]


async def test_events_since_an_id_lists_only_later_events(client: Client, three_events: list[int]) -> None:
    body = await (await client.get("/api/v1/events", params={"since": three_events[0]}, headers=KEY)).json()
    assert [e["id"] for e in body["events"]] == three_events[1:]
    assert body["next"] == three_events[-1]


async def test_events_since_the_last_id_is_empty_and_keeps_the_cursor(
    client: Client, three_events: list[int]
) -> None:
    body = await (await client.get("/api/v1/events", params={"since": three_events[-1]}, headers=KEY)).json()
    assert body == {"events": [], "next": three_events[-1]}


async def test_events_since_an_iso_time_in_utc_lists_events_from_that_time_on(
    client: Client, clock: FakeClock, three_events: list[int]
) -> None:
    since = iso(clock.now() + 60)
    assert since is not None
    assert since.endswith("Z")
    body = await (await client.get("/api/v1/events", params={"since": since}, headers=KEY)).json()
    assert [e["id"] for e in body["events"]] == three_events[1:]
    assert body["events"][0]["at"] == since


async def test_events_since_an_iso_time_with_an_offset_is_understood(
    client: Client, clock: FakeClock, three_events: list[int]
) -> None:
    since = iso(clock.now() + 120)
    assert since is not None
    as_offset = since.removesuffix("Z") + "+00:00"
    body = await (await client.get("/api/v1/events", params={"since": as_offset}, headers=KEY)).json()
    assert [e["id"] for e in body["events"]] == three_events[2:]


async def test_events_limit_caps_the_answer_and_next_continues_from_it(
    client: Client, three_events: list[int]
) -> None:
    first = await (await client.get("/api/v1/events", params={"limit": 2}, headers=KEY)).json()
    assert [e["id"] for e in first["events"]] == three_events[:2]
    rest = await (
        await client.get("/api/v1/events", params={"since": first["next"], "limit": 2}, headers=KEY)
    ).json()
    assert [e["id"] for e in rest["events"]] == three_events[2:]


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"limit": "0"}, id="limit 0"),
        pytest.param({"limit": "1001"}, id="limit 1001"),
        pytest.param({"limit": "x"}, id="limit x"),
        pytest.param({"limit": "-5"}, id="limit negative"),
        pytest.param({"since": "2027-01-15T08:00:00"}, id="since without a time zone"),
        pytest.param({"since": "yesterday"}, id="since that is neither id nor time"),
    ],
)
async def test_events_with_a_bad_query_is_a_bad_request(client: Client, params: dict[str, str]) -> None:
    response = await client.get("/api/v1/events", params=params, headers=KEY)
    assert response.status == 400
    assert (await error_of(response))["code"] == "bad_request"


async def test_events_since_without_a_time_zone_says_a_zone_is_needed(client: Client) -> None:
    response = await client.get("/api/v1/events", params={"since": "2027-01-15T08:00:00"}, headers=KEY)
    assert "zone" in (await error_of(response))["message"]


async def test_events_limit_at_the_bounds_is_allowed(client: Client, three_events: list[int]) -> None:
    for limit in ("1", "1000"):
        response = await client.get("/api/v1/events", params={"limit": limit}, headers=KEY)
        assert response.status == 200, limit


async def test_events_need_the_key(client: Client) -> None:
    response = await client.get("/api/v1/events")
    assert response.status == 401
    assert (await error_of(response))["code"] == "unauthorized"


# -- routing, envelope, request ids --------------------------------------------------------------


async def test_an_unknown_path_is_404_in_the_error_envelope(client: Client) -> None:
    response = await client.get("/no/such/thing")
    assert response.status == 404
    assert response.content_type == "application/json"
    assert (await error_of(response))["code"] == "not_found"


async def test_a_wrong_method_is_405_in_the_error_envelope_with_allow(client: Client) -> None:
    response = await client.get("/hooks/qbittorrent", headers=KEY)
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    error = await error_of(response)
    assert error["code"] == "method_not_allowed"
    assert "POST" in error["message"]


async def test_an_unauthorized_answer_carries_the_request_id_of_its_header(client: Client) -> None:
    response = await client.post("/hooks/qbittorrent", data={"hash": HASH})
    assert response.status == 401
    error = await error_of(response)
    assert error == {
        "code": "unauthorized",
        "message": error["message"],
        "request_id": response.headers["X-Request-Id"],
    }
    assert re.fullmatch(r"[0-9a-f]{16}", error["request_id"])


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        pytest.param("GET", "/healthz", {}, 200, id="healthz"),
        pytest.param("GET", "/readyz", {}, 200, id="readyz"),
        pytest.param("GET", "/status", {}, 200, id="status"),
        pytest.param("GET", "/metrics", {}, 200, id="metrics"),
        pytest.param("POST", "/hooks/qbittorrent", {"data": {"hash": HASH}, "headers": KEY}, 202, id="hook"),
        pytest.param("POST", "/hooks/qbittorrent", {"data": {"hash": "x"}, "headers": KEY}, 400, id="400"),
        pytest.param("POST", "/hooks/qbittorrent", {"data": {"hash": HASH}}, 401, id="401"),
        pytest.param("GET", "/nowhere", {}, 404, id="404"),
        pytest.param("DELETE", "/status", {}, 405, id="405"),
        pytest.param(
            "POST",
            "/hooks/qbittorrent",
            {"data": {"hash": HASH, "name": "x" * (MAX_BODY_BYTES + 1)}, "headers": KEY},
            413,
            id="413",
        ),
    ],
)
async def test_every_response_carries_a_request_id(
    client: Client, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    response = await client.request(method, path, **kwargs)
    assert response.status == status
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["X-Request-Id"])


async def test_a_sane_incoming_request_id_is_echoed_in_header_and_envelope(client: Client) -> None:
    ok = await client.get("/healthz", headers={"X-Request-Id": "trace-42.a_B"})
    assert ok.headers["X-Request-Id"] == "trace-42.a_B"
    failed = await client.get("/nowhere", headers={"X-Request-Id": "trace-43"})
    assert failed.headers["X-Request-Id"] == "trace-43"
    assert (await error_of(failed))["request_id"] == "trace-43"


@pytest.mark.parametrize(
    "incoming",
    [
        pytest.param("has spaces in it", id="spaces"),
        pytest.param("x" * 65, id="65 characters"),
        pytest.param("semi;colon", id="punctuation"),
    ],
)
async def test_an_insane_incoming_request_id_is_replaced(client: Client, incoming: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": incoming})
    assert response.headers["X-Request-Id"] != incoming
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["X-Request-Id"])


# -- secrets -------------------------------------------------------------------------------------


async def test_secrets_never_appear_in_status_or_metrics(client: Client, runtime: Runtime) -> None:
    async def leaky(context: JobContext) -> None:
        raise RuntimeError(f"login refused for mam_id {MAM_SESSION} and password {QBT_PASSWORD}")

    runtime.use_jobs({"leaky": leaky})
    assert (await client.post("/api/v1/jobs/leaky", params={"apikey": API_KEY})).status == 202
    await wait_until(lambda: runtime.scheduler.states["leaky"].last_result == "error")

    status = await (await client.get("/status", params={"apikey": API_KEY})).text()
    metrics = await (await client.get("/metrics", headers=KEY)).text()
    assert "leaky" in status
    assert json.loads(status)["jobs"]["leaky"]["last_error"].startswith("RuntimeError: login refused")
    for secret in SECRETS:
        assert secret not in status
        assert secret not in metrics


async def test_a_secret_in_an_upstream_error_never_appears_in_status(
    client: Client, runtime: Runtime
) -> None:
    runtime.health.service(
        "audiobookshelf",
        "unauthorized",
        f"401 Unauthorized for http://127.0.0.1:13378/api/me?token={ABS_KEY}",
    )
    runtime.health.service("mam", "down", f"cookie mam_id={MAM_SESSION} was refused")
    response = await client.get("/status")
    text = await response.text()
    assert json.loads(text)["services"]["audiobookshelf"]["state"] == "unauthorized"
    for secret in SECRETS:
        assert secret not in text
