"""The labelled accuracy sets for MAM matching: load them, run `choose` over them, count right and wrong.

Two sets, kept apart: the first (`tests/fixtures/matching/*.yaml`, 476 searches) is the one the
matcher was first built on; the second (`tests/fixtures/matching_second/*.yaml`) was written later,
by another hand, around traps the first did not cover (split editions, spellings, full-cast
productions, abridged editions only the description shows, translations, a series name used as a
title, one title in two series, co-authors, the order of preferences). Each case has a `want`,
MAM's search `rows` as MAM returns them (JSON inside strings, human sizes, flags), optionally
`rules` that differ from the defaults, and `expect`: the id of the row a careful person would take
under those rules, a list of ids when several are equally right, or null when no row is acceptable.
The labels were judged by hand, not taken from mamd.

precision = right choices / all choices (a choice of a wrong row, or any choice where `expect` is
null, is an error); recall = right choices / cases whose `expect` is not null. The unit test and the
benchmark both call `accuracy()`, which gives the figures of each set.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from mamd.clients.mam.rows import parse_row
from mamd.config.model import RulesConfig
from mamd.domain.matching import Want
from mamd.domain.release import Release
from mamd.domain.rules import AccountView, Choice, Decision, choose

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SETS = {"first": FIXTURES / "matching", "second": FIXTURES / "matching_second"}
LANGUAGES = ("ENG",)

# Every trap family the set must cover (at least MIN_PER_FAMILY cases each), and the other tags in use.
FAMILIES = (
    "messy-title",
    "author-spelling",
    "same-title-other-author",
    "title-prefix",
    "series-number",
    "continuation",
    "bundle",
    "abridged",
    "dramatised",
    "language",
    "ebook",
    "vip",
    "too-large",
    "low-bitrate",
    "no-seeders",
    "format",
    "snatched",
    "missing-fields",
    "novella-prequel",
    "gap-no-series",
    "asin",
    "several-copies",
    "unicode",
    "series-article",
)
OTHER_TAGS = ("gap", "alt-title")
MIN_PER_FAMILY = 15
# the second set's trap families, each with at least MIN_PER_SECOND_FAMILY cases
SECOND_FAMILIES = (
    "split-edition",
    "spelling",
    "dramatised",
    "abridged",
    "translation",
    "series-name-title",
    "same-title-two-series",
    "co-authors",
    "preference",
    "messy-title",
)
SECOND_OTHER_TAGS = ("bundle", "vip", "low-bitrate")
MIN_PER_SECOND_FAMILY = 6
RULE_KEYS = frozenset(f.name for f in fields(RulesConfig))
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@lru_cache(maxsize=len(SETS))
def load_cases(name: str = "first") -> tuple[dict[str, Any], ...]:
    """Every case of every YAML file of one set, in file order."""
    cases: list[dict[str, Any]] = []
    for path in sorted(SETS[name].glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        for case in data or ():
            cases.append({**case, "file": path.name, "set": name})
    return tuple(cases)


def expected_ids(case: dict[str, Any]) -> frozenset[int]:
    expect = case.get("expect")
    if expect is None:
        return frozenset()
    return frozenset(int(x) for x in (expect if isinstance(expect, list) else [expect]))


def want_of(case: dict[str, Any]) -> Want:
    want = case["want"]
    return Want(
        title=want.get("title"),
        authors=tuple(want.get("authors") or ()),
        series=want.get("series"),
        position=None if want.get("position") is None else str(want["position"]),
        asin=want.get("asin"),
    )


@dataclass(frozen=True)
class Outcome:
    case: dict[str, Any]
    want: Want
    expected: frozenset[int]
    releases: tuple[Release, ...]
    choice: Choice

    @property
    def chosen(self) -> Decision | None:
        return self.choice.best

    @property
    def right(self) -> bool:
        return self.chosen is not None and self.chosen.release.id in self.expected

    @property
    def wrong(self) -> bool:
        """A row was taken, and it is not one of the right ones (or none was right)."""
        return self.chosen is not None and self.chosen.release.id not in self.expected

    @property
    def missed(self) -> bool:
        """A right row was there, and nothing was taken."""
        return self.chosen is None and bool(self.expected)


def rules_of(case: dict[str, Any]) -> RulesConfig:
    """The default rules, changed by the case's own `rules` (lists as tuples)."""
    changes = case.get("rules") or {}
    unknown = set(changes) - RULE_KEYS
    if unknown:
        raise ValueError(f"{case['id']}: rules has unknown keys {sorted(unknown)}")
    return replace(RulesConfig(), **{k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()})


def run_case(case: dict[str, Any]) -> Outcome:
    releases = tuple(r for r in (parse_row(raw) for raw in case["rows"]) if r is not None)
    want = want_of(case)
    choice = choose(want, releases, rules_of(case), LANGUAGES, AccountView())
    return Outcome(case, want, expected_ids(case), releases, choice)


def run_all(name: str = "first") -> list[Outcome]:
    return [run_case(case) for case in load_cases(name)]


def figures(outcomes: list[Outcome]) -> dict[str, Any]:
    chosen = [o for o in outcomes if o.chosen is not None]
    answerable = [o for o in outcomes if o.expected]
    right = sum(o.right for o in outcomes)
    return {
        "precision": right / len(chosen) if chosen else 1.0,
        "recall": right / len(answerable) if answerable else 1.0,
        "cases": len(outcomes),
        "choices": len(chosen),
        "answerable": len(answerable),
        "right": right,
        "wrong": [o.case["id"] for o in outcomes if o.wrong],
        "missed": [o.case["id"] for o in outcomes if o.missed],
    }


def accuracy() -> dict[str, dict[str, Any]]:
    """Per set: precision, recall and the number of cases (plus the ids of wrong choices and misses)."""
    return {name: figures(run_all(name)) for name in SETS}


def _row(release: Release) -> str:
    series = ", ".join(f"{s.name} #{s.number or '?'}" for s in release.series) or "no series"
    flags = [
        name
        for name, on in (
            ("vip", release.vip),
            ("free", release.free),
            ("abridged", release.abridged),
            ("snatched", release.my_snatched),
        )
        if on
    ]
    return (
        f"{release.id} {release.title!r} by {', '.join(release.authors) or '?'} ({series}); "
        f"{' '.join(release.filetypes) or '?'} {release.lang_code or '?'} cat {release.main_cat} "
        f"{release.seeders} seeders{' ' + ' '.join(flags) if flags else ''}"
    )


def describe(outcome: Outcome) -> str:
    """Everything a developer needs to see why a case went wrong."""
    case = outcome.case
    want = outcome.want
    what = "WRONG CHOICE" if outcome.wrong else "MISS"
    lines = [
        f"{what} {case['id']} ({case['set']} set, {case['file']}): {case['why']}",
        f"  want: title={want.title!r} authors={list(want.authors)} series={want.series!r} "
        f"position={want.position!r} asin={want.asin!r}",
        f"  expected: {sorted(outcome.expected) or 'nothing'}",
        f"  chosen: {outcome.chosen.release.id if outcome.chosen else 'nothing'}",
    ]
    for decision in outcome.choice.decisions:
        mark = "accepted" if decision.accepted else "refused"
        if decision.release.id in outcome.expected:
            mark += ", expected"
        lines.append(f"    - {_row(decision.release)}")
        lines.append(f"      {mark} (score {decision.score}): {'; '.join(decision.reasons)}")
    unparsed = len(case["rows"]) - len(outcome.releases)
    if unparsed:
        lines.append(f"    ({unparsed} row(s) could not be parsed at all)")
    return "\n".join(lines)
