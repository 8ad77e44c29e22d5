"""Nothing in a file stops mamd: every hostile configuration or secret file is one clear refusal.

Each case here once killed, hung or swelled the daemon: a stray control character, a nesting
thousands deep, a "billion laughs" of aliases, the file (or a secret) being a FIFO, `/dev/zero`
or a directory, `/etc/shadow` given as a secret.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mamd import detached
from mamd.config import ConfigError, Problem, load_config
from mamd.config.files import CONFIG_MAX_BYTES, SECRET_MAX_BYTES, Unreadable, read_bounded, read_secret
from mamd.config.source import MAX_DEPTH, MAX_NODES
from tests.support.configs import API_KEY, write_config

MIB = 1024 * 1024
LAUGHS = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}' if prev else 'lol'] * 9)}]\n"
    for prev, name in zip(["", "a", "b", "c", "d", "e", "f", "g", "h"], "abcdefghi", strict=True)
)  # ~700 bytes; nine levels of nine: 387 million values once expanded


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    return caught.value.problems


def only_problem(path: Path) -> Problem:
    problems = problems_of(path)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def valid_text(folder: Path) -> str:
    return write_config(folder, name="valid.yaml").read_text()


# -- characters YAML does not allow -----------------------------------------------------------------

FORBIDDEN = [
    pytest.param("\x00", "NUL", id="nul"),
    pytest.param("\x1b", "escape", id="esc"),
    pytest.param("\x0c", "form feed", id="form-feed"),
    pytest.param("\x7f", "delete", id="del"),
    pytest.param("\ufffe", "a Unicode noncharacter", id="u-fffe"),
]


@pytest.mark.parametrize(("character", "name"), FORBIDDEN)
@pytest.mark.parametrize("where", ["comment", "value"])
def test_a_forbidden_character_anywhere_is_refused_with_its_line_and_name(
    tmp_path: Path, character: str, name: str, where: str
) -> None:
    text = valid_text(tmp_path)
    lines = text.splitlines(keepends=True)
    added = f"# a comment with {character} in it\n" if where == "comment" else f"dry_run: fa{character}lse\n"
    lines.insert(3, added)
    path = tmp_path / "mamd.yaml"
    path.write_text("".join(lines))
    problem = only_problem(path)
    assert problem.line == 4
    assert f"U+{ord(character):04X} ({name})" in problem.message
    assert "not allowed anywhere in YAML" in problem.message


# -- nesting, aliases, size --------------------------------------------------------------------------

DEEP = [
    # 1,400 is as deep as one-space indentation fits in 1 MiB; deeper files are refused by their size
    pytest.param("root:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 1400)), id="block-maps-1400"),
    pytest.param("root: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n", id="flow-maps-10000"),
    pytest.param("root: " + "[" * 10_000 + "]" * 10_000 + "\n", id="flow-lists-10000"),
    pytest.param("root:\n" + "- " * 3000 + "x\n", id="block-lists-3000"),
]


@pytest.mark.parametrize("text", DEEP)
def test_nesting_deeper_than_the_bound_is_refused_not_a_recursion_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "mamd.yaml"
    path.write_text(text)
    assert path.stat().st_size <= CONFIG_MAX_BYTES
    problem = only_problem(path)
    assert f"nested more than {MAX_DEPTH} levels deep" in problem.message
    assert problem.line is not None


def test_block_mappings_2000_deep_are_refused_by_their_size(tmp_path: Path) -> None:
    path = tmp_path / "mamd.yaml"
    path.write_text("root:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 2000)))
    assert "more than the 1,048,576 mamd reads" in only_problem(path).message


def test_a_billion_laughs_is_refused_naming_the_anchor_within_a_small_memory_bound(tmp_path: Path) -> None:
    path = tmp_path / "mamd.yaml"
    path.write_text(valid_text(tmp_path) + LAUGHS + "wanted:\n  ignore: *i\n")
    assert len(LAUGHS) < 800
    tracemalloc.start()
    try:
        problem = only_problem(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * MIB
    assert "expands the document past 10,000 values" in problem.message
    assert "*d (of &d" in problem.message  # the first alias whose expansion crosses the bound …
    assert problem.line == len(valid_text(tmp_path).splitlines()) + 5  # … on the line of `e: &e [*d, …]`


def test_an_alias_used_within_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mamd.yaml"
    path.write_text(valid_text(tmp_path) + "wanted:\n  ignore: &loop [a, *loop]\n")
    problem = only_problem(path)
    assert "the alias *loop is used inside its own anchor &loop" in problem.message


def test_a_few_aliases_within_the_bound_load(tmp_path: Path) -> None:
    """Anchors are fine in moderation: the bound counts values, it does not forbid aliases."""
    path = tmp_path / "mamd.yaml"
    path.write_text(
        valid_text(tmp_path).replace("rules:", "rules_unused_anchor_holder: null\nrules:", 0)
        + "wanted:\n  follow:\n    authors: &people [Brandon Sanderson, Robin Hobb]\n"
        "rules:\n  prefer_narrators: *people\n"
    )
    config = load_config(path, env={})
    assert config.rules.prefer_narrators == ("Brandon Sanderson", "Robin Hobb")


def test_more_values_than_the_bound_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mamd.yaml"
    path.write_text(valid_text(tmp_path) + "wanted:\n  ignore: [" + "x, " * (MAX_NODES + 1) + "]\n")
    assert path.stat().st_size < CONFIG_MAX_BYTES
    problem = only_problem(path)
    assert f"more than {MAX_NODES:,} values" in problem.message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("9" * 5000, "cannot read the value '9999", id="5000-digits"),
        pytest.param("2026-02-30", "day is out of range for month", id="30-february"),
        pytest.param("!!binary not-base64!", "failed to decode base64", id="bad-binary"),
        pytest.param("!!python/object:os.system x", "could not determine a constructor", id="python-tag"),
    ],
)
def test_a_value_the_constructor_cannot_build_is_a_problem_with_its_line(
    tmp_path: Path, value: str, message: str
) -> None:
    text = valid_text(tmp_path)
    path = tmp_path / "mamd.yaml"
    path.write_text(text + f"dry_run: {value}\n")
    problem = only_problem(path)
    assert problem.line == len(text.splitlines()) + 1
    assert message in problem.message


def test_a_problem_quoting_a_huge_key_or_value_stays_short(tmp_path: Path) -> None:
    path = tmp_path / "mamd.yaml"
    path.write_text(valid_text(tmp_path) + f"{'k' * 100_000}: 1\ndry_run: {'x' * 100_000}\n")
    for problem in problems_of(path):
        assert len(str(problem)) < 2000


def test_a_file_over_one_mib_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "mamd.yaml"
    path.write_text(valid_text(tmp_path) + "#" * CONFIG_MAX_BYTES + "\n")
    problem = only_problem(path)
    assert problem.line is None
    assert f"more than the {CONFIG_MAX_BYTES:,} mamd reads" in problem.message


def test_an_environment_value_is_read_within_the_same_bounds(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"http": {"port": "${PORT}"}})
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={"PORT": "[" * 10_000})
    assert [p.key for p in caught.value.problems] == ["http.port"]


# -- the configuration file itself is not a regular file -------------------------------------------


def _fifo(folder: Path) -> tuple[Path, str]:
    path = folder / "mamd.yaml"
    os.mkfifo(path)
    return path, "is a FIFO (named pipe), not a regular file"


def _dev_zero(folder: Path) -> tuple[Path, str]:
    path = folder / "mamd.yaml"
    path.symlink_to("/dev/zero")
    return path, "is a character device, not a regular file"


def _directory(folder: Path) -> tuple[Path, str]:
    path = folder / "mamd.yaml"
    path.mkdir()
    return path, "is a directory, not a regular file"


SPECIAL = [
    pytest.param(_fifo, id="fifo"),
    pytest.param(_dev_zero, id="dev-zero-symlink"),
    pytest.param(_directory, id="directory"),
]


@pytest.mark.parametrize("make", SPECIAL)
def test_a_configuration_that_is_no_regular_file_is_refused_at_once(tmp_path: Path, make: object) -> None:
    path, why = make(tmp_path)  # type: ignore[operator]
    started = time.monotonic()
    problem = only_problem(path)
    assert problem.message == why
    assert time.monotonic() - started < 2.5  # refused on fstat, not after the read's time limit


# -- secret files ----------------------------------------------------------------------------------


def secret_problem(folder: Path, secret: Path | str) -> Problem:
    path = write_config(folder, {"http": {"api_key": None, "api_key_file": str(secret)}})
    problem = only_problem(path)
    assert problem.key == "http.api_key_file"
    assert str(secret) in problem.message
    return problem


@pytest.mark.parametrize("make", SPECIAL)
def test_a_secret_file_that_is_no_regular_file_is_refused_at_once(tmp_path: Path, make: object) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    secret, why = make(secrets)  # type: ignore[operator]
    assert why in secret_problem(tmp_path, secret).message


def test_dev_zero_itself_as_a_secret_is_refused(tmp_path: Path) -> None:
    assert "is a character device" in secret_problem(tmp_path, "/dev/zero").message


def test_a_secret_file_over_64_kib_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "api_key"
    secret.write_text("k" * (SECRET_MAX_BYTES + 1))
    assert f"more than the {SECRET_MAX_BYTES:,} mamd reads" in secret_problem(tmp_path, secret).message


def test_a_secret_file_of_several_lines_is_refused_without_showing_them(tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text(f"root:{API_KEY}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    problem = secret_problem(tmp_path, secret)
    assert "holds 2 lines; a secret file holds the secret alone on one line" in problem.message
    assert API_KEY not in str(problem)
    assert "root:" not in str(problem)


@pytest.mark.skipif(not os.access("/etc/shadow", os.R_OK), reason="only root can read /etc/shadow")
def test_etc_shadow_as_a_secret_is_refused(tmp_path: Path) -> None:
    problem = secret_problem(tmp_path, "/etc/shadow")
    assert "lines; a secret file holds the secret alone on one line" in problem.message
    assert "root:" not in problem.message


def test_proc_self_environ_as_a_secret_is_refused(tmp_path: Path) -> None:
    """A /proc file claims a size of 0 and holds NUL-separated text: the read and the line check catch it."""
    assert os.stat("/proc/self/environ").st_size == 0
    problem = secret_problem(tmp_path, "/proc/self/environ")
    assert "control characters" in problem.message or "lines" in problem.message


@pytest.mark.parametrize("content", ["key-with-a\x00nul-0123456789", "key-with-an\x1besc-0123456789"])
def test_a_secret_with_a_control_character_is_refused(tmp_path: Path, content: str) -> None:
    secret = tmp_path / "api_key"
    secret.write_text(content + "\n")
    assert "holds control characters" in secret_problem(tmp_path, secret).message


def test_a_secret_file_keeps_working_with_a_trailing_newline_or_crlf(tmp_path: Path) -> None:
    for ending in ("\n", "\r\n", ""):
        secret = tmp_path / "api_key"
        secret.write_text(API_KEY + ending)
        assert read_secret(secret) == API_KEY


# -- reads that hang are abandoned -----------------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    yield path
    # let a thread still blocked opening it for reading go: a writer that opens and closes at once
    with contextlib.suppress(OSError):  # ENXIO: nobody is reading
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def test_a_read_that_blocks_is_abandoned_after_its_time_and_leaves_a_daemon_thread(fifo: Path) -> None:
    """The kind of read mamd must survive: blocked in the kernel, where nothing can interrupt it."""
    before = {t.ident for t in threading.enumerate()}
    started = time.monotonic()
    with pytest.raises(detached.Abandoned, match=r"did not finish within 0\.2 s"):
        detached.call(lambda: Path(fifo).read_bytes(), "blocking-read", 0.2)
    assert time.monotonic() - started < 2
    stuck = [t for t in threading.enumerate() if t.ident not in before]
    assert stuck
    assert all(t.daemon for t in stuck)  # the interpreter does not wait for them at exit


def test_read_bounded_opens_a_fifo_without_waiting_for_a_writer(fifo: Path) -> None:
    started = time.monotonic()
    with pytest.raises(Unreadable, match="is a FIFO"):
        read_bounded(fifo, 100, within_s=5)
    assert time.monotonic() - started < 2.5


def test_a_file_over_its_limit_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 10)
    assert read_bounded(path, 10) == b"x" * 10
    path.write_bytes(b"x" * 11)
    with pytest.raises(Unreadable, match="is 11 bytes, more than the 10 mamd reads"):
        read_bounded(path, 10)


def test_a_file_that_claims_no_size_is_cut_at_its_limit_by_the_read_itself() -> None:
    """/proc files report a size of 0 whatever they hold: only the bounded read catches them."""
    status = Path("/proc/self/status")
    assert status.stat().st_size == 0
    with pytest.raises(Unreadable, match="holds more than the 10 bytes mamd reads"):
        read_bounded(status, 10)


def test_special_files_are_what_the_tests_say_they_are(tmp_path: Path) -> None:
    """Guards the fixtures above: each special file really is of its kind."""
    for param in SPECIAL:
        folder = tmp_path / param.id
        folder.mkdir()
        path, _ = param.values[0](folder)  # type: ignore[operator]
        mode = os.stat(path).st_mode
        assert not stat.S_ISREG(mode)


# -- fuzzing ---------------------------------------------------------------------------------------

CONTROL = st.sampled_from(
    ["\x00", "\x01", "\x07", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\ufffe", "\ud800"]
)


@st.composite
def nested(draw: st.DrawFn) -> str:
    depth = draw(st.integers(1, 3000))
    style = draw(st.sampled_from(["list", "map", "block"]))
    if style == "list":
        return "[" * depth + "]" * depth
    if style == "map":
        return "{a: " * depth + "1" + "}" * depth
    return "\n" + "".join("  " * i + "k:\n" for i in range(1, depth))


@st.composite
def laughs(draw: st.DrawFn) -> str:
    levels = draw(st.integers(1, 12))
    fan = draw(st.integers(1, 12))
    flow = draw(st.booleans())
    lines = [f"l0: &l0 [{draw(st.text(max_size=5))!r}]"]
    for level in range(1, levels):
        items = [f"*l{level - 1}"] * fan
        if flow:
            lines.append(f"l{level}: &l{level} [{', '.join(items)}]")
        else:
            lines.append(f"l{level}: &l{level}\n" + "".join(f"  - {item}\n" for item in items).rstrip())
    merge = draw(st.booleans())
    if merge:
        lines.append(f"m: &m {{x: 1}}\nmerged: {{<<: [{', '.join(['*m'] * fan)}]}}")
    return "\n" + "\n".join(lines) + f"\nlast: *l{levels - 1}"


@st.composite
def huge_scalar(draw: st.DrawFn) -> str:
    size = draw(st.integers(1000, 300_000))
    kind = draw(st.sampled_from(["x", "9", "'", '"', "#"]))
    if kind in ("'", '"'):
        return kind + "y" * size + kind
    return kind * size


def sprinkle(text: str, data: st.DataObject) -> str:
    """`text` with a few control characters put in at drawn places."""
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(CONTROL) + text[at:]
    return text


HOSTILE = st.one_of(nested(), laughs(), huge_scalar(), st.text(max_size=200))


@pytest.fixture(scope="module")
def fuzz_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_generated_document_loads_or_is_refused_within_a_memory_bound(
    fuzz_folder: Path, data: st.DataObject
) -> None:
    """The loader's only answers are a configuration or a `ConfigError`, and neither costs much memory."""
    base = valid_text(fuzz_folder)
    where = data.draw(st.sampled_from(["alone", "wanted.ignore", "after"]))
    hostile = sprinkle(data.draw(HOSTILE), data)
    if where == "alone":
        text = hostile
    elif where == "wanted.ignore":
        text = base + "wanted:\n  ignore: " + hostile + "\n"
    else:
        text = base + hostile
    path = fuzz_folder / "mamd.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    problems: list[Problem] = []
    tracemalloc.start()
    try:
        try:
            load_config(path, env={})
        except ConfigError as error:
            problems = error.problems or [Problem(str(path), None, "", "")]  # an empty list fails below
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert all(p.message and len(str(p)) < 2000 for p in problems)
    assert peak < 32 * MIB
