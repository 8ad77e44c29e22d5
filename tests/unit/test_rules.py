"""The rules: every release gets a decision with its reasons, and wedges go only where they help."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from mamd.config.model import RulesConfig, WedgeRules
from mamd.config.units import Bitrate, Size
from mamd.domain.matching import Want
from mamd.domain.release import Release, SeriesTag
from mamd.domain.rules import AccountView, choose, decide

GIB = 1024**3
WANT = Want("The Hero of Ages", ("Brandon Sanderson",), "Mistborn", "3")
USER = AccountView(classname="Power User", wedges=10)
VIP = AccountView(classname="VIP", wedges=10)
RULES = RulesConfig()


def release(**changes: Any) -> Release:
    base = Release(
        id=100,
        title="The Hero of Ages",
        authors=("Brandon Sanderson",),
        narrators=("Michael Kramer",),
        series=(SeriesTag("Mistborn", "3"),),
        filetypes=("m4b",),
        size=2 * GIB,
        seeders=12,
        main_cat=13,
        lang_code="ENG",
        bitrate=64_000,
    )
    return replace(base, **changes)


def rules(**changes: Any) -> RulesConfig:
    return replace(RULES, **changes)


def wedges(**changes: Any) -> RulesConfig:
    return rules(wedges=replace(WedgeRules(), **changes))


def test_a_good_release_is_accepted_with_its_reasons() -> None:
    decision = decide(WANT, release(), RULES, ["ENG"], USER)
    assert decision.accepted
    assert decision.score > 0
    assert "same author" in decision.reasons
    assert "same title" in decision.reasons
    assert "format: m4b, 1st of rules.formats" in decision.reasons
    assert "ranked by rules.prefer: freeleech, then format, then seeders, then bitrate; then by spelling" in (
        decision.reasons
    )
    assert not decision.free
    assert not decision.use_wedge


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"my_snatched": True}, "downloaded it before"),
        ({"lang_code": "GER"}, "in GER"),
        ({"browseflags": 32}, "abridged"),
        ({"filetypes": ("flac",)}, "not among rules.formats"),
        ({"filetypes": ()}, "gives no format"),
        ({"bitrate": 32_000}, "below rules.min_bitrate"),
        ({"size": None}, "size is unknown"),
        ({"size": 5 * GIB}, "above rules.max_size"),
        ({"seeders": 0}, "fewer than rules.min_seeders"),
        ({"vip": True, "fl_vip": True}, "VIP-only"),
        ({"main_cat": 14, "filetypes": ("epub",)}, "not an audiobook"),
        ({"authors": ("Someone Else",)}, "not Brandon Sanderson"),
        ({"title": "The Well of Ascension", "series": (SeriesTag("Mistborn", "2"),)}, "not #3"),
    ],
)
def test_refusals_say_why(changes: dict[str, Any], reason: str) -> None:
    decision = decide(WANT, release(**changes), RULES, ["ENG"], USER)
    assert not decision.accepted
    assert any(reason in r for r in decision.reasons), decision.reasons


def test_an_unknown_bitrate_is_not_a_bad_bitrate() -> None:
    assert decide(WANT, release(bitrate=None), RULES, ["ENG"], USER).accepted


def test_abridged_and_bundles_are_accepted_when_the_rules_allow_them() -> None:
    bundle = release(title="Mistborn Trilogy", series=(SeriesTag("Mistborn", "1-3"),))
    assert not decide(WANT, bundle, RULES, ["ENG"], USER).accepted
    allowed = decide(WANT, bundle, rules(allow_bundles=True), ["ENG"], USER)
    assert allowed.accepted
    assert allowed.bundle
    assert decide(WANT, release(browseflags=32), rules(allow_abridged=True), ["ENG"], USER).accepted


def test_languages_compare_without_case() -> None:
    assert decide(WANT, release(lang_code="ger"), RULES, ["GER"], USER).accepted


def test_freeleech_is_judged_for_this_account() -> None:
    assert decide(WANT, release(free=True), RULES, ["ENG"], USER).free
    assert decide(WANT, release(personal_freeleech=True), RULES, ["ENG"], USER).free
    assert not decide(WANT, release(fl_vip=True), RULES, ["ENG"], USER).free
    assert decide(WANT, release(fl_vip=True), RULES, ["ENG"], VIP).free
    vip_only = decide(WANT, release(vip=True), RULES, ["ENG"], VIP)
    assert vip_only.accepted
    assert vip_only.free


def test_freeleech_only_refuses_a_paid_torrent_and_prefer_ranks_free_first() -> None:
    paid = release(id=1, seeders=50)
    free = release(id=2, free=True, seeders=3)
    only = rules(freeleech="only")
    assert not decide(WANT, paid, only, ["ENG"], USER).accepted
    assert decide(WANT, free, only, ["ENG"], USER).accepted
    preferred = choose(WANT, [paid, free], rules(freeleech="prefer"), ["ENG"], USER)
    assert preferred.best is not None
    assert preferred.best.release.id == 2
    plain = choose(WANT, [paid, free], rules(freeleech="any"), ["ENG"], USER)
    assert plain.best is not None
    assert plain.best.release.id == 1


def test_formats_rank_in_the_order_given() -> None:
    mp3 = release(id=1, filetypes=("mp3",), seeders=100)
    m4b = release(id=2, filetypes=("m4b",), seeders=2)
    chosen = choose(WANT, [mp3, m4b], RULES, ["ENG"], USER)
    assert chosen.best is not None
    assert chosen.best.release.id == 2
    mp3_first = choose(WANT, [mp3, m4b], rules(formats=("mp3", "m4b")), ["ENG"], USER)
    assert mp3_first.best is not None
    assert mp3_first.best.release.id == 1


def test_a_preferred_narrator_wins() -> None:
    kramer = release(id=1, seeders=5)
    other = release(id=2, narrators=("Somebody Else",), seeders=40)
    chosen = choose(WANT, [other, kramer], rules(prefer_narrators=("michael kramer",)), ["ENG"], USER)
    assert chosen.best is not None
    assert chosen.best.release.id == 1
    assert "narrator: Michael Kramer, a preferred narrator" in chosen.best.reasons


def test_every_release_gets_a_decision_best_first() -> None:
    releases = [release(id=1, seeders=2), release(id=2, lang_code="FRE"), release(id=3, seeders=30)]
    chosen = choose(WANT, releases, RULES, ["ENG"], USER)
    assert [d.release.id for d in chosen.decisions] == [3, 1, 2]
    assert chosen.best is chosen.decisions[0]


def test_nothing_acceptable_means_no_choice() -> None:
    chosen = choose(WANT, [release(lang_code="FRE")], RULES, ["ENG"], USER)
    assert chosen.best is None
    assert len(chosen.decisions) == 1
    assert choose(WANT, [], RULES, ["ENG"], USER).best is None


class TestWedges:
    def test_never_spends_one(self) -> None:
        decision = decide(WANT, release(), wedges(use="never"), ["ENG"], USER)
        assert decision.accepted
        assert not decision.use_wedge
        assert not decision.freeleech

    def test_prefer_spends_one_on_a_large_paid_torrent(self) -> None:
        decision = decide(WANT, release(), wedges(use="prefer"), ["ENG"], USER)
        assert decision.accepted
        assert decision.use_wedge
        assert decision.freeleech
        assert "freeleech: a wedge makes it freeleech" in decision.reasons

    @pytest.mark.parametrize(
        "changes", [{"free": True}, {"personal_freeleech": True}, {"fl_vip": True}, {"vip": True}]
    )
    def test_never_on_a_torrent_already_free_for_this_account(self, changes: dict[str, Any]) -> None:
        decision = decide(WANT, release(**changes), wedges(use="require"), ["ENG"], VIP)
        assert decision.accepted
        assert decision.free
        assert not decision.use_wedge

    def test_not_below_the_minimum_size(self) -> None:
        small = release(size=300 * 1024**2)
        assert not decide(WANT, small, wedges(use="prefer"), ["ENG"], USER).use_wedge
        refused = decide(WANT, small, wedges(use="require"), ["ENG"], USER)
        assert not refused.accepted
        assert any("rules.wedges.min_size" in r for r in refused.reasons)

    def test_the_reserve_is_kept(self) -> None:
        few = AccountView(classname="User", wedges=5)
        assert not decide(WANT, release(), wedges(use="prefer", keep=5), ["ENG"], few).use_wedge
        refused = decide(WANT, release(), wedges(use="require", keep=5), ["ENG"], few)
        assert not refused.accepted
        assert any("no wedge to spare" in r for r in refused.reasons)
        unknown = AccountView(classname="User", wedges=None)
        assert not decide(WANT, release(), wedges(use="prefer", keep=0), ["ENG"], unknown).use_wedge

    def test_a_wedge_satisfies_freeleech_only(self) -> None:
        policy = replace(
            RULES, freeleech="only", wedges=WedgeRules(use="prefer", min_size=Size.parse("1GiB"))
        )
        decision = decide(WANT, release(), policy, ["ENG"], USER)
        assert decision.accepted
        assert decision.use_wedge


def test_min_bitrate_from_the_configuration() -> None:
    strict = rules(min_bitrate=Bitrate.parse("128k"))
    assert not decide(WANT, release(bitrate=96_000), strict, ["ENG"], USER).accepted
    assert decide(WANT, release(bitrate=128_000), strict, ["ENG"], USER).accepted


# -- the order of preferences -------------------------------------------------------------------


def best_of(releases: list[Release], policy: RulesConfig = RULES, account: AccountView = USER) -> int:
    chosen = choose(WANT, releases, policy, ["ENG"], account)
    assert chosen.best is not None
    return chosen.best.release.id


def test_by_default_freeleech_comes_before_format() -> None:
    paid_m4b = release(id=1, seeders=80)
    free_mp3 = release(id=2, filetypes=("mp3",), free=True, seeders=35)
    assert best_of([paid_m4b, free_mp3]) == 2
    assert best_of([paid_m4b, free_mp3], rules(prefer=("format", "freeleech"))) == 1
    assert best_of([paid_m4b, free_mp3], rules(prefer=("format",))) == 1  # the rest follow in default order


def test_a_preferred_narrator_comes_before_format_unless_the_rules_say_otherwise() -> None:
    other_m4b = release(id=1, narrators=("Somebody Else",))
    kramer_mp3 = release(id=2, filetypes=("mp3",))
    narrators = rules(prefer_narrators=("Michael Kramer",))
    assert best_of([other_m4b, kramer_mp3], narrators) == 2
    assert best_of([other_m4b, kramer_mp3], replace(narrators, prefer=("format", "narrator"))) == 1


def test_seeders_count_in_doublings_so_bitrate_can_decide() -> None:
    thirteen = release(id=1, seeders=13, bitrate=64_000)
    nine_hq = release(id=2, seeders=9, bitrate=128_000)
    forty = release(id=3, seeders=40, bitrate=64_000)
    assert best_of([thirteen, nine_hq]) == 2
    assert best_of([thirteen, nine_hq, forty]) == 3
    assert best_of([thirteen, nine_hq, forty], rules(prefer=("bitrate",))) == 2


def test_the_order_applied_is_written_in_every_accepted_decision() -> None:
    decision = decide(WANT, release(free=True), rules(prefer=("format", "seeders")), ["ENG"], USER)
    assert decision.reasons[-5:] == (
        "ranked by rules.prefer: format, then seeders, then freeleech, then bitrate; then by spelling",
        "format: m4b, 1st of rules.formats",
        "seeders: 12",
        "freeleech: freeleech for this account",
        "bitrate: 64k",
    )


def test_freeleech_any_leaves_freeleech_out_of_the_order() -> None:
    decision = decide(WANT, release(free=True), rules(freeleech="any"), ["ENG"], USER)
    assert not any(r.startswith("freeleech:") for r in decision.reasons)
    assert "ranked by rules.prefer: format, then seeders, then bitrate; then by spelling" in decision.reasons


def test_the_score_orders_as_the_preferences_do() -> None:
    releases = [
        release(id=1, seeders=3),
        release(id=2, seeders=40, filetypes=("mp3",)),
        release(id=3, free=True, filetypes=("mp3",), seeders=1),
        release(id=4, seeders=3, bitrate=128_000),
    ]
    chosen = choose(WANT, releases, RULES, ["ENG"], USER)
    assert [d.release.id for d in chosen.decisions] == [3, 4, 1, 2]
    scores = [d.score for d in chosen.decisions]
    assert scores == sorted(scores, reverse=True)


# -- full-cast and dramatised productions -------------------------------------------------------

PRODUCTION = release(
    id=10, title="The Hero of Ages [Dramatized Adaptation]", narrators=("GraphicAudio",), free=True
)


def test_fallback_takes_a_production_only_when_no_reading_passes() -> None:
    reading = release(id=1)
    assert best_of([reading, PRODUCTION]) == 1
    refused = next(
        d for d in choose(WANT, [reading, PRODUCTION], RULES, ["ENG"], USER).decisions if d.release.id == 10
    )
    assert not refused.accepted
    assert "a standard narration passes the rules (rules.dramatized is fallback)" in refused.reasons
    vip_reading = release(id=1, vip=True)  # refused by the rules: the production is taken
    chosen = choose(WANT, [vip_reading, PRODUCTION], RULES, ["ENG"], USER)
    assert chosen.best is not None
    assert chosen.best.release.id == 10
    assert "taken only because no standard narration passes the rules" in chosen.best.reasons


def test_never_refuses_a_production_and_allow_ranks_it_like_a_reading() -> None:
    never = choose(WANT, [PRODUCTION], rules(dramatized="never"), ["ENG"], USER)
    assert never.best is None
    assert "rules.dramatized is never" in never.decisions[0].reasons[-1]
    assert best_of([release(id=1), PRODUCTION], rules(dramatized="allow")) == 10  # it is free


# -- what the other releases show ---------------------------------------------------------------


def test_an_untagged_release_is_refused_when_another_book_has_the_same_title() -> None:
    want = Want("Ember", ("Mara Kestrel",), "The Ashfall Saga", "2")
    base: dict[str, Any] = {"title": "Ember", "authors": ("Mara Kestrel",), "narrators": ("Imogen Church",)}
    other = release(id=1, series=(SeriesTag("Hollow Crown", "1"),), **base)
    untagged = release(id=2, series=(), **base)
    assert choose(want, [untagged], RULES, ["ENG"], USER).best is not None  # nothing says otherwise
    chosen = choose(want, [other, untagged], RULES, ["ENG"], USER)
    assert chosen.best is None
    assert "Hollow Crown #1" in chosen.decisions[0].reasons[-1]
    right = release(id=3, series=(SeriesTag("The Ashfall Saga", "2"),), **base)
    told = choose(want, [other, untagged, right], RULES, ["ENG"], USER).best
    assert told is not None
    assert told.release.id == 3


def test_a_release_crediting_every_wanted_author_is_preferred_to_refusing_the_others() -> None:
    want = Want("Fever", ("Mira Holt & Dean Ashby",))
    solo = release(id=1, title="Fever", authors=("Dean Ashby",), series=(), free=True, seeders=30)
    both = release(id=2, title="Fever", authors=("Dean Ashby", "Mira Holt"), series=(), seeders=3)
    chosen = choose(want, [solo, both], RULES, ["ENG"], USER)
    assert chosen.best is not None
    assert chosen.best.release.id == 2
    assert choose(want, [solo], RULES, ["ENG"], USER).best is not None  # alone, one author is enough
