"""Reading MAM's search rows and account answers, including the odd ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mamd.clients.mam.rows import parse_account, parse_bitrate, parse_duration, parse_row, parse_size
from mamd.domain.release import SeriesTag

EXAMPLE: dict[str, Any] = {
    "id": 1001,
    "title": "Example Book One",
    "author_info": '{"111": "Jane Author"}',
    "narrator_info": '{"222": "Sam Narrator"}',
    "series_info": '{"333": ["Example Saga", "1"]}',
    "filetype": "m4b",
    "size": "451.8 MiB",
    "numfiles": 1,
    "seeders": 16,
    "leechers": 0,
    "times_completed": 18,
    "added": "2026-10-01 15:36:00",
    "vip": 1,
    "vip_expire": 0,
    "free": 0,
    "fl_vip": 1,
    "personal_freeleech": 0,
    "my_snatched": 0,
    "main_cat": 13,
    "category": 41,
    "catname": "Audiobooks - Fantasy",
    "cat": '<div class="cat41">&nbsp;</div>',
    "language": 1,
    "lang_code": "ENG",
    "mediatype": 1,
    "maincat": 1,
    "categories": "[13]",
    "tags": "epic fantasy",
    "browseflags": 0,
    "w": 1,
    "comments": 0,
    "bookmarked": None,
    "poster_type": "image/jpeg",
    "mediainfo": json.dumps(
        {
            "General": {"Format": "MPEG-4", "Duration": "12:01:07"},
            "Audio1": {"Format": "AAC", "BitRate": "66k", "Channels": 2},
        }
    ),
    "ownership": '[200001, "someuploader"]',
}


def row(**changes: Any) -> dict[str, Any]:
    return {**EXAMPLE, **changes}


def test_the_documented_example_row_reads_into_typed_fields() -> None:
    release = parse_row(EXAMPLE)
    assert release is not None
    assert release.id == 1001
    assert release.title == "Example Book One"
    assert release.authors == ("Jane Author",)
    assert release.narrators == ("Sam Narrator",)
    assert release.series == (SeriesTag("Example Saga", "1"),)
    assert release.filetypes == ("m4b",)
    assert release.size == round(451.8 * 1024**2)
    assert (release.seeders, release.leechers, release.snatched, release.files) == (16, 0, 18, 1)
    assert release.vip
    assert release.fl_vip
    assert not release.free
    assert not release.personal_freeleech
    assert release.main_cat == 13
    assert release.audiobook
    assert release.lang_code == "ENG"
    assert release.categories == (13,)
    assert release.bitrate == 66_000
    assert release.duration_s == 12 * 3600 + 67
    assert release.problems == ()


def test_several_authors_and_a_series_range_are_kept() -> None:
    release = parse_row(
        row(
            author_info='{"1": "James S. A. Corey", "2": "Daniel Abraham"}',
            series_info='{"67": ["Love at Stake", "01-16, 13.5"], "68": ["Other", 3]}',
        )
    )
    assert release is not None
    assert release.authors == ("James S. A. Corey", "Daniel Abraham")
    assert release.series == (SeriesTag("Love at Stake", "01-16, 13.5"), SeriesTag("Other", "3"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("451.8 MiB", round(451.8 * 1024**2)),
        ("1.2 GiB", round(1.2 * 1024**3)),
        ("211.9 KiB", round(211.9 * 1024)),
        ("1.2 GB", round(1.2 * 1024**3)),  # MAM's "GB" is powers of 1024 too
        ("2 TiB", 2 * 1024**4),
        ("473753190", 473753190),  # a plain byte count as a string
        ("1,024 KiB", 1024 * 1024),
        (473753190, 473753190),
        ("12 B", 12),
        ("  3mib ", 3 * 1024**2),
    ],
)
def test_sizes_in_any_unit_mam_uses(text: Any, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "big", "12 parsecs", "-5", -5, None, True, [1], "1.2.3 MiB"])
def test_sizes_that_cannot_be_read_are_unknown(text: Any) -> None:
    assert parse_size(text) is None


def test_a_row_whose_size_cannot_be_read_names_the_problem() -> None:
    release = parse_row(row(size="12 parsecs"))
    assert release is not None
    assert release.size is None
    assert "size" in release.problems


@pytest.mark.parametrize(
    ("text", "expected"), [("126k", 126_000), ("64 kb/s", 64_000), ("1.4M", 1_400_000), (128, 128_000)]
)
def test_bitrates(text: Any, expected: int) -> None:
    assert parse_bitrate(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("8:17:09", 29829), ("45:00", 2700), ("", None), ("8h", None)]
)
def test_durations(text: str, expected: int | None) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("field", ["author_info", "narrator_info", "series_info", "mediainfo", "categories"])
def test_a_json_string_field_that_is_not_json_is_named_not_guessed(field: str) -> None:
    release = parse_row(row(**{field: "{not json"}))
    assert release is not None
    assert field in release.problems


def test_author_info_that_is_not_json_leaves_no_author_so_it_never_matches() -> None:
    release = parse_row(row(author_info="Jane Author"))
    assert release is not None
    assert release.authors == ()


@pytest.mark.parametrize("empty", [None, "", "{}", "[]"])
def test_empty_json_fields_are_empty_without_a_problem(empty: Any) -> None:
    release = parse_row(row(narrator_info=empty, series_info=empty, mediainfo=empty))
    assert release is not None
    assert release.narrators == ()
    assert release.series == ()
    assert release.bitrate is None
    assert release.duration_s is None
    assert release.problems == ()


def test_fields_already_decoded_are_accepted() -> None:
    release = parse_row(row(author_info={"1": "Jane Author"}, categories=[13, "10"]))
    assert release is not None
    assert release.authors == ("Jane Author",)
    assert release.categories == (13, 10)


def test_numbers_sent_as_text_and_flags_as_strings() -> None:
    release = parse_row(row(id="1233592", seeders="7", free="1", vip="0", main_cat="13"))
    assert release is not None
    assert (release.id, release.seeders, release.free, release.vip, release.main_cat) == (
        1233592,
        7,
        True,
        False,
        13,
    )


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "a string",
        [1, 2],
        {"title": "No id"},
        {"id": 5},
        {"id": 5, "title": "   "},
        {"id": "x12", "title": "Bad id"},
        {"id": 5, "title": 12},
    ],
)
def test_rows_without_an_id_or_a_title_are_dropped(raw: Any) -> None:
    assert parse_row(raw) is None


def test_a_row_with_only_an_id_and_a_title_reads_with_everything_else_unknown() -> None:
    release = parse_row({"id": 9, "title": "Bare"})
    assert release is not None
    assert release.authors == ()
    assert release.size is None
    assert release.seeders == 0
    assert release.filetypes == ()
    assert release.lang_code is None
    assert not release.free


@pytest.mark.parametrize(
    "changes",
    [
        {"seeders": "many"},
        {"seeders": None},
        {"free": "yes"},
        {"filetype": 42},
        {"lang_code": 1},
        {"browseflags": "abridged"},
        {"mediainfo": '{"Audio1": "not an object"}'},
        {"mediainfo": '{"Audio1": {"BitRate": []}, "General": {"Duration": 12}}'},
        {"series_info": '{"1": "no list"}'},
        {"series_info": '{"1": [42, "3"]}'},
        {"author_info": '{"1": null, "2": ""}'},
        {"author_info": "[1, 2]"},
        {"categories": '"13"'},
        {"isbn": 9781234567890},
        {"added": 1700000000},
    ],
)
def test_wrong_types_never_raise_and_never_invent_a_value(changes: dict[str, Any]) -> None:
    release = parse_row(row(**changes))
    assert release is not None
    assert release.id == 1001


def test_an_abridged_flag_and_an_abridged_title() -> None:
    flagged = parse_row(row(browseflags=32))
    titled = parse_row(row(title="Example Book One (Abridged)"))
    assert flagged is not None
    assert flagged.abridged
    assert titled is not None
    assert titled.abridged


@pytest.mark.parametrize(
    ("changes", "abridged"),
    [
        ({"tags": "legal thriller, abridged"}, True),
        ({"description": "<p>Format: <b>Abridged</b> audiobook, 5 CDs</p>"}, True),
        ({"title": "The Partner (Abr.)"}, True),
        ({"tags": "unabridged, thriller"}, False),
        ({"description": "<p>Non-abridged audio edition.</p>"}, False),
        ({"description": "<p>An abridged edition came out in 1995; this is the unabridged one.</p>"}, False),
    ],
)
def test_abridged_in_the_tags_or_the_description(changes: dict[str, Any], abridged: bool) -> None:
    release = parse_row(row(**changes))
    assert release is not None
    assert release.abridged is abridged


def test_tags_description_and_the_files_own_title_are_read() -> None:
    release = parse_row(row(tags="epic fantasy", description="<p>Read by Sam.</p>"))
    assert release is not None
    assert (release.tags, release.description) == ("epic fantasy", "<p>Read by Sam.</p>")
    mediainfo = '{"General": {"Format": "MPEG-4", "Title": "Example Book One (1 of 2)"}}'
    tagged = parse_row(row(mediainfo=mediainfo))
    assert tagged is not None
    assert tagged.file_title == "Example Book One (1 of 2)"
    bare = parse_row(row(description=None, tags=7))
    assert bare is not None
    assert (bare.tags, bare.description) == ("", "")


@pytest.mark.parametrize(
    "changes",
    [
        {"narrator_info": '{"1": "GraphicAudio"}'},
        {"narrator_info": '{"1": "Full Cast", "2": "James McAvoy"}'},
        {"tags": "graphicaudio, dramatized"},
        {"categories": "[10, 13]"},
    ],
)
def test_a_production_is_told_by_its_narrators_tags_or_category(changes: dict[str, Any]) -> None:
    release = parse_row(row(**changes))
    assert release is not None
    assert release.dramatized
    blurb = parse_row(row(description="<p>Now a BBC Radio drama.</p>"))  # the description is not read
    assert blurb is not None
    assert not blurb.dramatized


def test_an_asin_in_the_isbn_field() -> None:
    release = parse_row(row(isbn="ASIN:B00ABC1234"))
    assert release is not None
    assert (release.asin, release.isbn) == ("B00ABC1234", None)


def test_several_filetypes_and_the_alternative_key() -> None:
    ebook = parse_row(row(filetype="epub mobi pdf", main_cat=14))
    other = parse_row({"id": 1, "title": "t", "filetypes": "MP3,m4b"})
    assert ebook is not None
    assert ebook.filetypes == ("epub", "mobi", "pdf")
    assert not ebook.audiobook
    assert other is not None
    assert other.filetypes == ("mp3", "m4b")


ACCOUNT: dict[str, Any] = {
    "classname": "VIP",
    "uid": 100001,
    "username": "someuser",
    "ratio": 1.5,
    "seedbonus": 1000,
    "wedges": 10,
    "vip_until": "2027-01-01 00:00:00",
    "uploaded": "10.00 GiB",
    "uploaded_bytes": 10737418240,
    "downloaded": "1.00 GiB",
    "downloaded_bytes": 1073741824,
}
COUNTERS: dict[str, Any] = {
    "connectable": "yes",
    "unsat": {"name": "Unsatisfied", "count": 42, "limit": 50, "size": 123456789},
    "seedUnsat": {"name": "Seeding - Not Yet Satisfied", "count": 145, "size": 1845293712},
    "inactHnr": {"name": "Not Seeding - H&R - Not Yet Satisfied", "count": 0, "size": None},
    "ite": {"name": "Important Tracker Errors", "count": 0, "latest": 0},
}


def test_the_account_in_the_new_shape_with_counters_under_snatch_summary() -> None:
    snapshot = parse_account({**ACCOUNT, "unsat": None, "snatch_summary": COUNTERS}, at=5.0)
    assert snapshot.at == 5.0
    assert snapshot.classname == "VIP"
    assert snapshot.vip
    assert (snapshot.uploaded, snapshot.downloaded) == (10737418240, 1073741824)
    assert (snapshot.ratio, snapshot.seedbonus, snapshot.wedges) == (1.5, 1000.0, 10)
    assert snapshot.unsat is not None
    assert (snapshot.unsat.count, snapshot.unsat.limit) == (42, 50)
    assert snapshot.count("seedUnsat") == 145
    assert snapshot.count("inactHnr") == 0


def test_the_account_in_the_old_shape_with_unsat_at_the_top_level() -> None:
    snapshot = parse_account({**ACCOUNT, **{k: v for k, v in COUNTERS.items() if k != "connectable"}}, 1.0)
    assert snapshot.unsat is not None
    assert (snapshot.unsat.count, snapshot.unsat.limit) == (42, 50)


def test_snatch_summary_wins_over_a_stale_top_level_counter() -> None:
    old = {"count": 1, "limit": 99}
    snapshot = parse_account({**ACCOUNT, "unsat": old, "snatch_summary": COUNTERS}, 1.0)
    assert snapshot.unsat is not None
    assert snapshot.unsat.count == 42


def test_without_unsat_anywhere_the_budget_is_unknown() -> None:
    snapshot = parse_account({**ACCOUNT, "unsat": None, "snatch_summary": {"unsat": "gone"}}, 1.0)
    assert snapshot.unsat is None


def test_human_totals_are_used_when_the_byte_counts_are_missing() -> None:
    data = {k: v for k, v in ACCOUNT.items() if not k.endswith("_bytes")}
    snapshot = parse_account(data, 1.0)
    assert (snapshot.uploaded, snapshot.downloaded) == (10 * 1024**3, 1024**3)


@pytest.mark.parametrize("raw", [None, [], "<html>login</html>", {"ratio": "∞"}, {"ratio": {"x": 1}}])
def test_odd_account_answers_read_as_unknowns(raw: Any) -> None:
    snapshot = parse_account(raw, 1.0)
    assert snapshot.unsat is None
    assert snapshot.uploaded is None
    assert snapshot.ratio in (None, float("inf"))


def test_a_ratio_written_as_text_with_separators() -> None:
    assert parse_account({"ratio": "91,184.8"}, 1.0).ratio == 91184.8


@pytest.mark.parametrize(("language", "code"), [(1, "ENG"), (37, "GER"), (4, "SPA"), (999, "language 999")])
def test_the_language_id_stands_in_for_a_missing_lang_code(language: int, code: str) -> None:
    release = parse_row({**row(language=language), "lang_code": None})
    assert release is not None
    assert release.lang_code == code


@pytest.mark.parametrize(
    ("raw", "ratio"),
    [
        ({"ratio": "Inf"}, float("inf")),
        ({"ratio": "inf"}, float("inf")),
        ({"ratio": "1.73"}, 1.73),
        ({"ratio": 91184.8}, 91184.8),
        ({"ratio": "1e309"}, float("inf")),
        ({"ratio": "NaN?"}, None),
        ({"ratio": "nan"}, None),
        ({"ratio": float("nan")}, None),
        ({"ratio": True}, None),
    ],
)
def test_ratios_in_the_forms_mam_sends(raw: dict[str, Any], ratio: float | None) -> None:
    assert parse_account(raw, 1.0).ratio == ratio


def test_huge_totals_are_kept_exactly() -> None:
    snapshot = parse_account({"uploaded_bytes": 9_094_496_082_151_000, "downloaded_bytes": "0"}, 1.0)
    assert (snapshot.uploaded, snapshot.downloaded) == (9_094_496_082_151_000, 0)
