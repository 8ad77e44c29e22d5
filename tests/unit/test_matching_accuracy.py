"""How often mamd takes the right MAM torrent, measured over a hand-labelled set of search results.

Goal: never a wrong book (precision 1.0) and the right one at least 95 % of the time (recall).
Run with `-s` to see the figures.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from mamd.clients.mam_rows import parse_row
from tests.support.matching_set import (
    FAMILIES,
    MIN_PER_FAMILY,
    OTHER_TAGS,
    describe,
    expected_ids,
    figures,
    load_cases,
    run_all,
)

JSON_FIELDS = ("author_info", "narrator_info", "series_info", "categories", "mediainfo", "ownership")
_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}


def default_rules_broken(row: dict[str, Any]) -> list[str]:
    """What in a row's own fields rules it out under the default rules, read here without mamd's code.

    A check of the labels: a row listed in `expect` must break none of these. (Whether a row is the
    right book is the label's business; this only catches a label that forgot a rule.)
    """
    broken = []
    language = row.get("lang_code") or ("ENG" if row.get("language") == 1 else row.get("language"))
    if str(language).upper() != "ENG":
        broken.append(f"language {language}")
    if row.get("main_cat", 13) != 13 or row.get("mediatype", 1) != 1:
        broken.append("not an audiobook")
    if int(row.get("seeders") or 0) < 1:
        broken.append("no seeders")
    if row.get("my_snatched"):
        broken.append("snatched")
    if row.get("vip") and not (row.get("free") or row.get("personal_freeleech")):
        broken.append("VIP-only")
    if int(row.get("browseflags") or 0) & 32:
        broken.append("abridged flag")
    if 10 in json.loads(row.get("categories") or "[]"):
        broken.append("dramatisation category")
    formats = set(str(row.get("filetype") or "").lower().replace(",", " ").split())
    if not formats & {"m4b", "mp3"}:
        broken.append(f"format {formats or 'unknown'}")
    size = str(row.get("size") or "")
    number, _, unit = size.partition(" ")
    if not size or float(number) * _UNITS.get(unit or "B", 1) > 4 * 1024**3:
        broken.append(f"size {size or 'unknown'}")
    try:
        bitrate = json.loads(row.get("mediainfo") or "{}").get("Audio1", {}).get("BitRate")
    except ValueError:
        bitrate = None
    found = re.match(r"\s*(\d+)", str(bitrate or ""))
    if found and int(found.group(1)) < 64:
        broken.append(f"bitrate {bitrate}")
    return broken


def test_matching_accuracy() -> None:
    outcomes = run_all()
    result = figures(outcomes)
    precision, recall = result["precision"], result["recall"]
    print(f"matching precision {precision:.3f} recall {recall:.3f} over {result['cases']} cases")
    failures = [describe(o) for o in outcomes if o.wrong or o.missed]
    summary = (
        f"precision {precision:.3f} (goal 1.0), recall {recall:.3f} (goal 0.95); "
        f"{len(result['wrong'])} wrong choice(s), {len(result['missed'])} miss(es) "
        f"over {result['cases']} cases"
    )
    on_goal = precision == 1.0 and recall >= 0.95
    assert on_goal, summary + "\n\n" + "\n\n".join(failures)


def test_the_set_is_sound() -> None:
    cases = load_cases()
    assert len(cases) >= 200, f"only {len(cases)} cases"
    ids = Counter(case["id"] for case in cases)
    assert not [i for i, n in ids.items() if n > 1], "case ids repeat"
    problems: list[str] = []
    families: Counter[str] = Counter()
    for case in cases:
        name = case["id"]
        if not case.get("why"):
            problems.append(f"{name}: no why")
        want = case.get("want") or {}
        if not want.get("authors"):
            problems.append(f"{name}: the want has no author")
        if not want.get("title") and not (want.get("series") and want.get("position") is not None):
            problems.append(f"{name}: the want has neither a title nor a series position")
        rows = case.get("rows") or []
        if not rows:
            problems.append(f"{name}: no rows")
        row_ids = [int(row["id"]) for row in rows]
        if len(set(row_ids)) != len(row_ids):
            problems.append(f"{name}: row ids repeat")
        for row in rows:
            for field in JSON_FIELDS:
                value = row.get(field)
                if value is not None and not isinstance(value, str):
                    problems.append(f"{name}: {field} of {row['id']} is not a string, as MAM sends it")
        parsed = {r.id for r in (parse_row(row) for row in rows) if r is not None}
        missing = expected_ids(case) - set(row_ids)
        if missing:
            problems.append(f"{name}: expected id(s) {sorted(missing)} are not among its rows")
        elif expected_ids(case) - parsed:
            problems.append(f"{name}: an expected row has no id or title")
        for row in rows:
            if int(row["id"]) in expected_ids(case) and default_rules_broken(row):
                problems.append(
                    f"{name}: expected row {row['id']} breaks a rule: {default_rules_broken(row)}"
                )
        tags = case.get("trap") or []
        unknown = set(tags) - set(FAMILIES) - set(OTHER_TAGS)
        if unknown:
            problems.append(f"{name}: unknown trap tags {sorted(unknown)}")
        families.update(set(tags))
    assert not problems, "\n".join(problems)
    nulls = sum(1 for case in cases if case.get("expect") is None)
    assert nulls >= 40, f"only {nulls} cases where no row is acceptable"
    thin = {family: families[family] for family in FAMILIES if families[family] < MIN_PER_FAMILY}
    assert not thin, f"trap families with fewer than {MIN_PER_FAMILY} cases: {json.dumps(thin)}"
