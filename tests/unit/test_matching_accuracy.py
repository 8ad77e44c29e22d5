"""How often mamd takes the right MAM torrent, measured over hand-labelled sets of search results.

Goal, on each set: never a wrong book (precision 1.0) and the right one at least 97 % of the time
(recall). Run with `-s` to see the figures of each set.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from mamd.clients.mam.rows import parse_row
from mamd.config.load import load_section
from tests.support.matching_set import (
    FAMILIES,
    MIN_PER_FAMILY,
    MIN_PER_SECOND_FAMILY,
    OTHER_TAGS,
    SECOND_FAMILIES,
    SECOND_OTHER_TAGS,
    SETS,
    describe,
    expected_ids,
    figures,
    load_cases,
    run_all,
)

JSON_FIELDS = ("author_info", "narrator_info", "series_info", "categories", "mediainfo", "ownership")
_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}


def rules_broken(row: dict[str, Any], rules: dict[str, Any]) -> list[str]:
    """What in a row's own fields rules it out under the case's rules, read here without mamd's code.

    A check of the labels: a row listed in `expect` must break none of these. (Whether a row is the
    right book is the label's business; this only catches a label that forgot a rule.) A dramatisation
    may be expected under the default `rules.dramatized: fallback`, when no reading passes.
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
    if 10 in json.loads(row.get("categories") or "[]") and rules.get("dramatized") == "never":
        broken.append("dramatisation category")
    formats = set(str(row.get("filetype") or "").lower().replace(",", " ").split())
    if not formats & set(rules.get("formats") or ("m4b", "mp3")):
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


@pytest.mark.parametrize("name", SETS)
def test_matching_accuracy(name: str) -> None:
    outcomes = run_all(name)
    result = figures(outcomes)
    precision, recall = result["precision"], result["recall"]
    print(f"matching precision {precision:.3f} recall {recall:.3f} over {result['cases']} cases ({name} set)")
    failures = [describe(o) for o in outcomes if o.wrong or o.missed]
    summary = (
        f"{name} set: precision {precision:.3f} (goal 1.0), recall {recall:.3f} (goal 0.97); "
        f"{len(result['wrong'])} wrong choice(s), {len(result['missed'])} miss(es) "
        f"over {result['cases']} cases"
    )
    on_goal = precision == 1.0 and recall >= 0.97
    assert on_goal, summary + "\n\n" + "\n\n".join(failures)


SOUNDNESS = {
    # set: (fewest cases, fewest cases where no row is acceptable, its families, other tags, per family)
    "first": (200, 40, FAMILIES, OTHER_TAGS, MIN_PER_FAMILY),
    "second": (150, 25, SECOND_FAMILIES, SECOND_OTHER_TAGS, MIN_PER_SECOND_FAMILY),
}


def test_the_sets_are_kept_apart() -> None:
    first = {case["id"] for case in load_cases("first")}
    second = {case["id"] for case in load_cases("second")}
    assert first.isdisjoint(second)
    first_rows = {int(row["id"]) for case in load_cases("first") for row in case["rows"]}
    second_rows = {int(row["id"]) for case in load_cases("second") for row in case["rows"]}
    assert first_rows.isdisjoint(second_rows)


@pytest.mark.parametrize("name", SETS)
def test_the_set_is_sound(name: str, tmp_path: Path) -> None:
    least, least_nulls, families_wanted, other_tags, per_family = SOUNDNESS[name]
    cases = load_cases(name)
    assert len(cases) >= least, f"only {len(cases)} cases"
    ids = Counter(case["id"] for case in cases)
    assert not [i for i, n in ids.items() if n > 1], "case ids repeat"
    problems: list[str] = []
    families: Counter[str] = Counter()
    for case in cases:
        problems.extend(_case_problems(case, tmp_path, set(families_wanted) | set(other_tags)))
        families.update(set(case.get("trap") or []))
    assert not problems, "\n".join(problems)
    nulls = sum(1 for case in cases if case.get("expect") is None)
    assert nulls >= least_nulls, f"only {nulls} cases where no row is acceptable"
    thin = {family: families[family] for family in families_wanted if families[family] < per_family}
    assert not thin, f"trap families with fewer than {per_family} cases: {json.dumps(thin)}"


def _case_problems(case: dict[str, Any], folder: Path, tags_known: set[str]) -> list[str]:
    name = case["id"]
    problems: list[str] = []
    if not case.get("why"):
        problems.append(f"{name}: no why")
    want = case.get("want") or {}
    if not want.get("authors"):
        problems.append(f"{name}: the want has no author")
    if not want.get("title") and not (want.get("series") and want.get("position") is not None):
        problems.append(f"{name}: the want has neither a title nor a series position")
    rules = case.get("rules") or {}
    if rules:  # the case's rules are checked by the loader of the configuration, as a user's would be
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"rules": rules}))
        load_section(path, "rules")
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
        if int(row["id"]) in expected_ids(case) and rules_broken(row, rules):
            problems.append(f"{name}: expected row {row['id']} breaks a rule: {rules_broken(row, rules)}")
    unknown = set(case.get("trap") or []) - tags_known
    if unknown:
        problems.append(f"{name}: unknown trap tags {sorted(unknown)}")
    return problems
