"""Durations, sizes and bitrates parse what users write and print it back canonically; secrets never show."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mamd.config.model import HttpConfig, NotifyTarget
from mamd.config.units import Bitrate, Duration, Secret, Size, UnitError

# -- Duration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("6h", 21600),
        ("3d", 259200),
        ("2w", 1209600),
        ("500ms", 0.5),
        ("1.5h", 5400),
        ("1 H", 3600),
        (" 10M ", 600),
        ("0", 0),
        ("0s", 0),
        (0, 0),
        (0.0, 0),
    ],
)
def test_a_duration_parses_number_and_unit_into_seconds(text: object, seconds: float) -> None:
    """Units are ms, s, m, h, d, w in any case, with optional spaces; a bare 0 means off."""
    assert Duration.parse(text) == Duration(float(seconds))


@pytest.mark.parametrize("text", ["soon", "-1h", "1y", "", "h", "1.h", "1e3s", "3600", 5, 3600, True, None])
def test_a_duration_without_a_known_unit_is_refused_with_an_example(text: object) -> None:
    """Only 0 may be written without a unit: `search: 3600` would be ambiguous."""
    with pytest.raises(UnitError, match="expected a duration like 90s, 15m, 6h or 3d"):
        Duration.parse(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("90s", "90s"),
        ("60s", "1m"),
        ("3600s", "1h"),
        ("1.5h", "90m"),
        ("72h", "3d"),
        ("7d", "1w"),
        ("500ms", "500ms"),
        ("1500ms", "1500ms"),
        ("0.5s", "500ms"),
        ("0s", "0"),
    ],
)
def test_a_duration_prints_in_the_largest_unit_that_divides_it(text: str, canonical: str) -> None:
    assert str(Duration.parse(text)) == canonical


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["ms", "s", "m", "h", "d", "w"]))
def test_a_printed_duration_parses_back_to_the_same_duration(number: int, unit: str) -> None:
    """Diffs and /status print durations; what they print must mean the same span."""
    duration = Duration.parse(f"{number}{unit}")
    assert Duration.parse(str(duration)) == duration


def test_durations_compare_by_length() -> None:
    assert Duration.parse("59m") < Duration.parse("1h") < Duration.parse("61m")


# -- Size -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("500MiB", 500 * 1024**2),
        ("2GiB", 2 * 1024**3),
        ("1TiB", 1024**4),
        ("1536KiB", 1536 * 1024),
        ("1.5 gib", 1536 * 1024**2),
        ("20GB", 20 * 1000**3),
        ("1000kb", 1000**2),
        ("1b", 1),
        ("0", 0),
        (1024, 1024),
        (0, 0),
    ],
)
def test_a_size_parses_binary_and_decimal_units_into_bytes(text: object, size: int) -> None:
    """KiB/MiB/GiB/TiB are powers of 1024, kB/MB/GB/TB powers of 1000, a whole number is bytes."""
    assert Size.parse(text) == Size(size)


@pytest.mark.parametrize("text", ["huge", "4G", "-1MiB", "MiB", "", "1024", -5, 1.5, True, None])
def test_a_size_without_a_byte_unit_is_refused_with_an_example(text: object) -> None:
    with pytest.raises(UnitError, match="expected a size like 500MiB or 2GiB"):
        Size.parse(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("500MiB", "500MiB"),
        ("2GiB", "2GiB"),
        ("2048MiB", "2GiB"),
        ("1.5GiB", "1536MiB"),
        ("1TiB", "1TiB"),
        ("1.5KiB", "1536B"),
        ("0", "0B"),
    ],
)
def test_a_size_prints_in_the_largest_binary_unit_that_divides_it(text: str, canonical: str) -> None:
    assert str(Size.parse(text)) == canonical


@pytest.mark.parametrize(("text", "canonical"), [("20GB", "20GB"), ("500MB", "500MB")])
def test_a_size_written_in_decimal_units_prints_back_in_decimal_units(text: str, canonical: str) -> None:
    """units.py promises that diffs and /status show values the way the user wrote them.

    `limits.min_free_space: 20GB` must not appear in a reload diff as `19531250KiB`.
    """
    assert str(Size.parse(text)) == canonical


@given(st.integers(min_value=0, max_value=2**50))
def test_a_printed_size_parses_back_to_the_same_number_of_bytes(number: int) -> None:
    """Up to a PiB; beyond 2**53 bytes the float in `parse` cannot hold every byte count."""
    size = Size(number)
    assert Size.parse(str(size)) == size


# -- Bitrate ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bps"),
    [
        ("64k", 64_000),
        ("320K", 320_000),
        ("1.2m", 1_200_000),
        ("2Mbps", 2_000_000),
        ("128kbps", 128_000),
        ("96kb/s", 96_000),
        ("1.5k", 1_500),
        ("64", 64_000),
        (64, 64_000),
        ("0", 0),
        (0, 0),
    ],
)
def test_a_bitrate_parses_like_mam_mediainfo_writes_it(text: object, bps: int) -> None:
    """A number without a unit is in kbit/s, as MAM's listings show bitrates."""
    assert Bitrate.parse(text) == Bitrate(bps)


@pytest.mark.parametrize("text", ["fast", "-64k", "64kbit", "", -1, 1.5, True, None])
def test_a_bitrate_that_is_not_a_rate_is_refused_with_an_example(text: object) -> None:
    with pytest.raises(UnitError, match="expected a bitrate like 64k"):
        Bitrate.parse(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("64k", "64k"), ("1.2m", "1200k"), ("1.5k", "1.5k"), ("0", "0k"), ("128kbps", "128k")],
)
def test_a_bitrate_prints_in_kbit_per_second(text: str, canonical: str) -> None:
    assert str(Bitrate.parse(text)) == canonical


@pytest.mark.parametrize("bps", [64_000, 1_500, 1_234, 123_456, 1_234_567])
def test_a_printed_bitrate_parses_back_to_the_same_bitrate(bps: int) -> None:
    """`{:g}` keeps six significant digits; a printed rate must not silently change the value."""
    bitrate = Bitrate(bps)
    assert Bitrate.parse(str(bitrate)) == bitrate


# -- Secret -----------------------------------------------------------------------------------

VALUE = "hunter2-very-secret-token-0123"


def test_a_secret_reveals_its_value_only_when_asked() -> None:
    assert Secret(VALUE).reveal() == VALUE


@pytest.mark.parametrize(
    "render",
    [repr, str, lambda s: f"{s}", lambda s: f"{s!r}", lambda s: "%s" % s, lambda s: "{}".format(s)],  # noqa: UP031, UP032
    ids=["repr", "str", "f-string", "f-string-repr", "percent", "format"],
)
def test_a_secret_never_shows_its_value_when_printed(render: Callable[[Secret], str]) -> None:
    text = render(Secret(VALUE))
    assert VALUE not in text
    assert "***" in text


def test_a_secret_stays_hidden_inside_containers_and_dataclasses() -> None:
    """Logging a whole section or a list of notify targets must not leak a value."""
    http = HttpConfig(api_key=Secret(VALUE))
    target = NotifyTarget(url=Secret("ntfys://ntfy.sh/" + VALUE))
    for text in (repr(http), str(http), repr([Secret(VALUE)]), repr({"k": Secret(VALUE)}), repr((target,))):
        assert VALUE not in text
    assert VALUE not in repr(dataclasses.asdict(http))


def test_secrets_compare_and_hash_by_value() -> None:
    """A reload diff sees a changed secret, and an unchanged one as unchanged."""
    assert Secret(VALUE) == Secret(VALUE)
    assert Secret(VALUE) != Secret(VALUE + "x")
    assert Secret(VALUE) != VALUE
    assert len({Secret(VALUE), Secret(VALUE)}) == 1
