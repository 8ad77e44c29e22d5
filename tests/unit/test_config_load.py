"""Loading the YAML file: every bad input is a problem with its file, line and dotted key, all at once."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from mamd.config import Bitrate, Config, ConfigError, Duration, Problem, Size, load_config
from mamd.config.load import load_section
from mamd.config.model import HttpConfig
from tests.support.configs import ABS_KEY, API_KEY, MAM_SESSION, QBT_PASSWORD

ConfigFile = Callable[..., Path]

HTTP = f"http:\n  api_key: {API_KEY}\n"
MAM = f"mam:\n  session: {MAM_SESSION}\n"
ABS = f"audiobookshelf:\n  api_key: {ABS_KEY}\n"
MINIMAL = HTTP + MAM + ABS  # the smallest valid file: six lines


def write(folder: Path, text: str, name: str = "mamd.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def problems_of(path: Path, env: Mapping[str, str] | None = None) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={} if env is None else env)
    return caught.value.problems


def only_problem(path: Path, env: Mapping[str, str] | None = None) -> Problem:
    problems = problems_of(path, env)
    assert len(problems) == 1, "\n".join(map(str, problems))
    problem = problems[0]
    assert problem.file == str(path)
    return problem


def line_of(path: Path, pattern: str) -> int:
    """The one line of `path` that matches the regular expression `pattern`."""
    lines = path.read_text().splitlines()
    hits = [number for number, line in enumerate(lines, 1) if re.search(pattern, line)]
    assert len(hits) == 1, f"{pattern!r} matches lines {hits} of\n{path.read_text()}"
    return hits[0]


def assert_problem(problem: Problem, path: Path, key: str, line_pattern: str, message: str) -> None:
    assert (problem.key, problem.line) == (key, line_of(path, line_pattern)), str(problem)
    assert message in problem.message, str(problem)


# -- a valid file -------------------------------------------------------------------------------


def test_a_valid_file_loads_with_its_values_and_the_defaults(config_file: ConfigFile, tmp_path: Path) -> None:
    config = load_config(config_file())

    assert isinstance(config, Config)
    assert config.http.api_key.reveal() == API_KEY
    assert config.mam.session.reveal() == MAM_SESSION
    assert config.qbittorrent.password is not None
    assert config.qbittorrent.password.reveal() == QBT_PASSWORD
    assert config.audiobookshelf.api_key.reveal() == ABS_KEY
    assert config.logging.level == "debug"
    assert config.state.database == str(tmp_path / "state" / "mamd.db")
    assert config.schedule.search == Duration(0)
    # keys the file leaves out take the documented defaults
    assert config.mam.base_url == "https://www.myanonamouse.net"
    assert config.mam.languages == ("ENG",)
    assert config.rules.formats == ("m4b", "mp3")
    assert config.rules.max_size == Size.parse("4GiB")
    assert config.import_.layout == "{author}/{series}/{position} - {title}"
    assert config.seeding.min_seed_time == Duration.parse("72h")
    assert config.notify == ()


def test_values_are_parsed_into_their_types(config_file: ConfigFile) -> None:
    config = load_config(
        config_file(
            {
                "schedule": {"search": "90m", "account": 0},
                "rules": {
                    "max_size": "2GiB",
                    "min_bitrate": "128k",
                    "freeleech": "only",
                    "formats": ["mp3"],
                },
                "wanted": {"manual": [{"title": "Dune", "author": "Frank Herbert", "position": 1}]},
                "notify": [{"url": "ntfys://ntfy.sh/mamd-topic-0123", "events": ["grabbed", "guard"]}],
                "qbittorrent": {"password": None},
            }
        )
    )

    assert config.schedule.search == Duration(5400)
    assert config.schedule.account == Duration(0)
    assert config.rules.max_size == Size(2 * 1024**3)
    assert config.rules.min_bitrate == Bitrate(128_000)
    assert config.rules.freeleech == "only"
    assert config.rules.formats == ("mp3",)
    assert config.wanted.manual[0].position == "1"
    assert config.notify[0].url.reveal() == "ntfys://ntfy.sh/mamd-topic-0123"
    assert config.notify[0].events == ("grabbed", "guard")
    assert config.qbittorrent.password is None


def test_a_problem_prints_as_file_line_key_and_message(config_file: ConfigFile) -> None:
    path = config_file({"http": {"port": "abc"}})
    problem = only_problem(path)
    line = line_of(path, r"^  port: abc$")
    assert str(problem) == f"{path}:{line}: http.port: expected a whole number, got 'abc'"


# -- the file itself ----------------------------------------------------------------------------


def test_a_missing_file_is_one_problem_without_a_line(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    problem = only_problem(path)
    assert (problem.line, problem.key, problem.message) == (None, "", "does not exist")


def test_a_directory_given_as_the_file_is_refused(tmp_path: Path) -> None:
    problem = only_problem(tmp_path)
    assert (problem.line, problem.key, problem.message) == (None, "", "is a directory, not a regular file")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param(
            MINIMAL + "schedule:\n  search: 1h\n account: 15m\n",
            9,
            "expected <block end>, but found '<block mapping start>'",
            id="bad-indentation",
        ),
        pytest.param(
            MINIMAL + "schedule:\n\tsearch: 1h\n",
            8,
            "found character '\\t' that cannot start any token",
            id="tab",
        ),
        pytest.param(
            "http:\n  api_key: 'unterminated\nmam:\n  session: x\n",
            2,  # where the quote opens: the end of the stream is past the file's last line
            "while scanning a quoted scalar (line 2), found unexpected end of stream (line 5)",
            id="unterminated-quote",
        ),
    ],
)
def test_a_yaml_syntax_error_points_at_its_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.key) == (line, "")
    assert problem.message.startswith("YAML syntax error: ")
    assert message in problem.message


def test_a_file_that_is_not_valid_utf8_points_at_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "mamd.yaml"
    path.write_bytes(MINIMAL.encode() + b"rules:\n  prefer_narrators: [Jos\xe9]\n")
    problem = only_problem(path)
    assert (problem.line, problem.key, problem.message) == (8, "", "not valid UTF-8 text")


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- http\n- mam\n", "a list"), ("just some text\n", "text"), ("42\n", "int")],
)
def test_a_file_that_is_not_a_mapping_of_sections_is_refused(tmp_path: Path, text: str, kind: str) -> None:
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.key) == (None, "")
    assert problem.message == f"the file must be a mapping of sections, not {kind}"


@pytest.mark.parametrize("text", ["", "\n", "# nothing here yet\n"], ids=["empty", "blank", "comment-only"])
def test_an_empty_file_reports_every_missing_secret(tmp_path: Path, text: str) -> None:
    """A new user learns in one run everything they must fill in, not the sections first."""
    problems = problems_of(write(tmp_path, text))
    assert [(p.key, p.line) for p in problems] == [
        ("audiobookshelf.api_key", None),
        ("http.api_key", None),
        ("mam.session", None),
    ]
    assert problems[0].message == "missing required secret (or `api_key_file` naming a file)"
    assert problems[2].message == "missing required secret (or `session_file` naming a file)"


def test_duplicate_keys_are_refused_with_both_lines(tmp_path: Path) -> None:
    """PyYAML silently keeps the last of two equal keys; mamd refuses the file instead."""
    path = write(tmp_path, MINIMAL + "schedule:\n  search: 1h\n  account: 15m\n  search: 2h\n")
    problem = only_problem(path)
    assert (problem.key, problem.line) == ("schedule.search", 10)
    assert problem.message == "duplicate key (first given on line 8)"


def test_a_duplicated_section_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "schedule:\n  search: 1h\nschedule:\n  account: 15m\n")
    problem = only_problem(path)
    assert (problem.key, problem.line) == ("schedule", 9)
    assert problem.message == "duplicate key (first given on line 7)"


# -- wrong types --------------------------------------------------------------------------------

WRONG_TYPES = [
    pytest.param(
        {"http": {"port": "abc"}}, "http.port", r"port: abc", "expected a whole number, got 'abc'", id="int"
    ),
    pytest.param(
        {"limits": {"grabs_per_day": 2.5}},
        "limits.grabs_per_day",
        r"grabs_per_day: 2.5",
        "expected a whole number, got 2.5",
        id="int-not-float",
    ),
    pytest.param(
        {"limits": {"grabs_per_day": True}},
        "limits.grabs_per_day",
        r"grabs_per_day: true",
        "expected a whole number, got True",
        id="int-not-bool",
    ),
    pytest.param(
        {"http": {"port": 70000}}, "http.port", r"port: 70000", "must be at most 65535", id="int-max"
    ),
    pytest.param(
        {"limits": {"active_downloads": -1}},
        "limits.active_downloads",
        r"active_downloads: -1",
        "must be at least 0",
        id="int-min",
    ),
    pytest.param(
        {"bonus": {"upload_credit": {"gib_per_buy": 10}}},
        "bonus.upload_credit.gib_per_buy",
        r"gib_per_buy: 10",
        "must be at least 50",
        id="int-min-nested",
    ),
    pytest.param(
        {"ratio": {"floor": "high"}},
        "ratio.floor",
        r"floor: high",
        "expected a number, got 'high'",
        id="float",
    ),
    pytest.param(
        {"dry_run": "yes"}, "dry_run", r"^dry_run:", "expected true or false, got 'yes'", id="bool-not-text"
    ),
    pytest.param(
        {"http": {"status_from_loopback": 1}},
        "http.status_from_loopback",
        r"status_from_loopback: 1",
        "expected true or false, got 1",
        id="bool-not-int",
    ),
    pytest.param(
        {"mam": {"languages": "ENG"}},
        "mam.languages",
        r"languages: ENG",
        "expected a list, got text",
        id="list",
    ),
    pytest.param(
        {"mam": {"languages": []}},
        "mam.languages",
        r"languages: \[\]",
        "needs at least 1 item",
        id="list-empty",
    ),
    pytest.param(
        {"schedule": {"search": "soon"}},
        "schedule.search",
        r"search: soon",
        "expected a duration like 90s, 15m, 6h or 3d, got 'soon'",
        id="duration",
    ),
    pytest.param(
        {"rules": {"max_size": "huge"}},
        "rules.max_size",
        r"max_size: huge",
        "expected a size like 500MiB or 2GiB, got 'huge'",
        id="size",
    ),
    pytest.param(
        {"limits": {"min_free_space": "20G"}},
        "limits.min_free_space",
        r"min_free_space: 20G",
        "expected a size like 500MiB or 2GiB, got '20G'",
        id="size-without-b",
    ),
    pytest.param(
        {"rules": {"min_bitrate": "fast"}},
        "rules.min_bitrate",
        r"min_bitrate: fast",
        "expected a bitrate like 64k, got 'fast'",
        id="bitrate",
    ),
    pytest.param(
        {"rules": {"freeleech": "preferr"}},
        "rules.freeleech",
        r"freeleech: preferr",
        "must be one of any, prefer, only; got 'preferr'; did you mean `prefer`?",
        id="enum",
    ),
    pytest.param(
        {"logging": {"level": "infoo"}},
        "logging.level",
        r"level: infoo",
        "must be one of debug, info, warning, error; got 'infoo'; did you mean `info`?",
        id="enum-logging",
    ),
    pytest.param(
        {"rules": {"wedges": {"use": "always"}}},
        "rules.wedges.use",
        r"use: always",
        "must be one of never, prefer, require; got 'always'",
        id="enum-without-close-match",
    ),
    pytest.param(
        {"rules": {"formats": ["m4b", "mp4"]}},
        "rules.formats[1]",
        r"^  - mp4$",
        "got 'mp4'; did you mean `mp3`?",
        id="enum-in-list",
    ),
    pytest.param(
        {"rules": {"dramatized": "sometimes"}},
        "rules.dramatized",
        r"dramatized: sometimes",
        "must be one of never, fallback, allow; got 'sometimes'",
        id="enum-dramatized",
    ),
    pytest.param(
        {"rules": {"prefer": ["format", "freelech"]}},
        "rules.prefer[1]",
        r"^  - freelech$",
        "got 'freelech'; did you mean `freeleech`?",
        id="enum-in-prefer",
    ),
    pytest.param(
        {"http": "localhost"},
        "http",
        r"^http: localhost",
        "expected a mapping of keys, got text",
        id="section",
    ),
    pytest.param({"http": {"host": None}}, "http.host", r"host: null", "has no value", id="null"),
    pytest.param({"http": {"host": "  "}}, "http.host", r"host: '  '", "must not be empty", id="blank"),
    pytest.param(
        {"http": {"api_key": ["a", "b"]}},
        "http.api_key",
        r"^  api_key:$",
        "expected text, got a list",
        id="secret",
    ),
]


@pytest.mark.parametrize(("changes", "key", "line", "message"), WRONG_TYPES)
def test_a_value_of_the_wrong_type_names_its_key_line_and_what_was_expected(
    config_file: ConfigFile, changes: dict[str, Any], key: str, line: str, message: str
) -> None:
    path = config_file(changes)
    assert_problem(only_problem(path), path, key, line, message)


# -- unknown keys -------------------------------------------------------------------------------

UNKNOWN_KEYS = [
    pytest.param({"http": {"prot": 1}}, "http.prot", r"prot: 1", "did you mean `port`?", id="typo"),
    pytest.param({"ratoi": {"floor": 1.5}}, "ratoi", r"^ratoi:", "did you mean `ratio`?", id="typo-section"),
    pytest.param(
        {"rules": {"wedges": {"usee": "never"}}},
        "rules.wedges.usee",
        r"usee: never",
        "did you mean `use`?",
        id="typo-nested",
    ),
    pytest.param(
        {"http": {"apikey": "x" * 20}}, "http.apikey", r"apikey:", "did you mean `api_key`?", id="typo-secret"
    ),
    pytest.param(
        {"search_interval": "2s"},
        "search_interval",
        r"^search_interval: 2s",
        "did you mean `mam.search_interval`?",
        id="top-level-belongs-in-mam",
    ),
    pytest.param(
        {"http": {"min_seed_time": "72h"}},
        "http.min_seed_time",
        r"min_seed_time: 72h",
        "did you mean `seeding.min_seed_time`?",
        id="wrong-section",
    ),
    pytest.param(
        {"http": {"zzqqy": 1}},
        "http.zzqqy",
        r"zzqqy: 1",
        "known keys here: allowed_hosts, api_key, api_key_file, host, port, public_url, status_from_loopback",
        id="no-close-match",
    ),
    pytest.param(
        {"notify": [{"url": "ntfys://ntfy.sh/topic-0123", "evnts": ["grabbed"]}]},
        "notify[0].evnts",
        r"evnts:",
        "did you mean `events`?",
        id="in-a-list-item",
    ),
]


@pytest.mark.parametrize(("changes", "key", "line", "message"), UNKNOWN_KEYS)
def test_an_unknown_key_suggests_the_closest_known_key(
    config_file: ConfigFile, changes: dict[str, Any], key: str, line: str, message: str
) -> None:
    path = config_file(changes)
    problem = only_problem(path)
    assert_problem(problem, path, key, line, message)
    assert problem.message.startswith("unknown key")


# -- secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "section", "secret"),
    [
        ("http:\n  port: 8787\n" + MAM + ABS, "http", "api_key"),
        (HTTP + "mam:\n  languages: [ENG]\n" + ABS, "mam", "session"),
        (HTTP + MAM + "audiobookshelf:\n  library: Books\n", "audiobookshelf", "api_key"),
    ],
    ids=["http.api_key", "mam.session", "audiobookshelf.api_key"],
)
def test_a_missing_secret_is_reported_at_its_section(
    tmp_path: Path, text: str, section: str, secret: str
) -> None:
    """The key is the missing secret, the line its section's; the message names its `_file` form."""
    path = write(tmp_path, text)
    problem = only_problem(path)
    assert (problem.key, problem.line) == (f"{section}.{secret}", line_of(path, f"^{section}:"))
    assert problem.message == f"missing required secret (or `{secret}_file` naming a file)"


def test_a_missing_section_that_holds_a_required_secret_reports_the_secret(tmp_path: Path) -> None:
    """Leaving out `mam:` is the same mistake as leaving out `mam.session`, and says so."""
    path = write(tmp_path, HTTP + ABS)
    problem = only_problem(path)
    assert (problem.key, problem.line) == ("mam.session", None)
    assert problem.message == "missing required secret (or `session_file` naming a file)"


def test_a_secret_given_both_inline_and_as_a_file_is_refused(config_file: ConfigFile, tmp_path: Path) -> None:
    secret = write(tmp_path, API_KEY, "api_key")
    path = config_file({"http": {"api_key_file": str(secret)}})
    problem = only_problem(path)
    assert_problem(
        problem, path, "http.api_key", rf"api_key: {API_KEY}", "give either `api_key` or `api_key_file`"
    )


def test_a_secret_file_is_read_and_its_trailing_newline_stripped(
    config_file: ConfigFile, tmp_path: Path
) -> None:
    """`echo KEY > file` and systemd-creds both leave a newline that is not part of the key."""
    write(tmp_path, API_KEY + "\n", "api_key")
    session = write(tmp_path, MAM_SESSION + "\r\n", "session")
    config = load_config(
        config_file(
            {
                "http": {"api_key": None, "api_key_file": "api_key"},
                "mam": {"session": None, "session_file": str(session)},
            }
        ),
        env={},
    )
    assert config.http.api_key.reveal() == API_KEY
    assert config.mam.session.reveal() == MAM_SESSION


def test_a_relative_secret_file_is_found_beside_the_config_file(
    config_file: ConfigFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secrets").mkdir()
    write(tmp_path / "secrets", API_KEY, "api_key")
    monkeypatch.chdir(tmp_path / "secrets")  # not where the file is looked up
    config = load_config(config_file({"http": {"api_key": None, "api_key_file": "secrets/api_key"}}), env={})
    assert config.http.api_key.reveal() == API_KEY


def _unreadable_by_mode(folder: Path) -> tuple[Path, str]:
    secret = write(folder, API_KEY, "api_key")
    secret.chmod(0)
    return secret, f"is not readable by this user (uid {os.getuid()})"


def _unreadable_below_a_file(folder: Path) -> tuple[Path, str]:
    """Opening `file/api_key` fails with ENOTDIR, for root too."""
    return write(folder, "plain file", "not-a-folder") / "api_key", ": Not a directory"


def _not_utf8(folder: Path) -> tuple[Path, str]:
    secret = folder / "api_key"
    secret.write_bytes(b"\xff\xfe\x00key")
    return secret, "is not UTF-8 text"


BAD_SECRET_FILES = [
    pytest.param(lambda folder: (folder / "nope", "does not exist"), id="missing"),
    pytest.param(lambda folder: (folder, "is a directory"), id="directory"),
    pytest.param(
        _unreadable_by_mode,
        id="mode-000",
        marks=pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode"),
    ),
    pytest.param(_unreadable_below_a_file, id="path-below-a-file"),
    pytest.param(_not_utf8, id="not-utf8"),
]


@pytest.mark.parametrize("make", BAD_SECRET_FILES)
def test_a_secret_file_that_cannot_be_read_names_the_file_and_why(
    config_file: ConfigFile, tmp_path: Path, make: Callable[[Path], tuple[Path, str]]
) -> None:
    secret, why = make(tmp_path)
    path = config_file({"http": {"api_key": None, "api_key_file": str(secret)}})
    problem = only_problem(path)
    assert_problem(problem, path, "http.api_key_file", r"api_key_file:", why)
    assert str(secret) in problem.message


@pytest.mark.parametrize("content", ["", "\n", "  \n\n"], ids=["empty", "newline", "whitespace"])
def test_an_empty_secret_file_is_refused(config_file: ConfigFile, tmp_path: Path, content: str) -> None:
    secret = write(tmp_path, content, "api_key")
    path = config_file({"http": {"api_key": None, "api_key_file": str(secret)}})
    assert_problem(only_problem(path), path, "http.api_key_file", r"api_key_file:", "the secret is empty")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("CHANGE-ME\n", "still holds the example's placeholder"),
        ("short-key\n", "too short: use at least 16 characters"),
    ],
)
def test_a_secret_file_is_checked_like_an_inline_secret(
    config_file: ConfigFile, tmp_path: Path, content: str, message: str
) -> None:
    secret = write(tmp_path, content, "api_key")
    path = config_file({"http": {"api_key": None, "api_key_file": str(secret)}})
    assert_problem(only_problem(path), path, "http.api_key_file", r"api_key_file:", message)


@pytest.mark.parametrize("length", [1, 15])
def test_an_api_key_shorter_than_16_characters_is_refused(config_file: ConfigFile, length: int) -> None:
    path = config_file({"http": {"api_key": "k" * length}})
    problem = only_problem(path)
    assert_problem(problem, path, "http.api_key", rf"api_key: k{{{length}}}$", "too short: use at least 16")
    assert "openssl rand -hex 24" in problem.message


def test_an_api_key_of_16_characters_is_accepted(config_file: ConfigFile) -> None:
    assert load_config(config_file({"http": {"api_key": "k" * 16}})).http.api_key.reveal() == "k" * 16


# -- environment substitution -------------------------------------------------------------------


def test_env_variables_are_substituted_in_secrets_text_and_durations(config_file: ConfigFile) -> None:
    path = config_file(
        {
            "http": {"api_key": "${MAMD_API_KEY}"},
            "qbittorrent": {"username": "user-${QB_USER}"},
            "schedule": {"search": "${SEARCH_EVERY}"},
        }
    )
    config = load_config(path, env={"MAMD_API_KEY": API_KEY, "QB_USER": "nas", "SEARCH_EVERY": "2h"})
    assert config.http.api_key.reveal() == API_KEY
    assert config.qbittorrent.username == "user-nas"
    assert config.schedule.search == Duration(7200)


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, "fallback-user"), ({"QB_USER": ""}, "fallback-user"), ({"QB_USER": "nas"}, "nas")],
    ids=["unset", "empty", "set"],
)
def test_an_env_default_applies_when_the_variable_is_unset_or_empty(
    config_file: ConfigFile, env: dict[str, str], expected: str
) -> None:
    path = config_file({"qbittorrent": {"username": "${QB_USER:-fallback-user}"}})
    assert load_config(path, env=env).qbittorrent.username == expected


def test_env_variables_can_give_numbers_and_booleans(config_file: ConfigFile) -> None:
    """The example promises that "any value may use ${ENV_VAR}", so `port: ${MAMD_PORT:-8787}` works."""
    path = config_file(
        {"http": {"port": "${MAMD_PORT:-8787}"}, "dry_run": "${MAMD_DRY_RUN}", "ratio": {"floor": "${FLOOR}"}}
    )
    config = load_config(path, env={"MAMD_PORT": "9000", "MAMD_DRY_RUN": "true", "FLOOR": "2.5"})
    assert (config.http.port, config.dry_run, config.ratio.floor) == (9000, True, 2.5)


def test_a_doubled_dollar_writes_a_literal_dollar_brace(config_file: ConfigFile) -> None:
    path = config_file({"qbittorrent": {"username": "a$${QB_USER}b"}})
    assert load_config(path, env={"QB_USER": "nas"}).qbittorrent.username == "a${QB_USER}b"


def test_a_missing_env_variable_is_refused_by_name(config_file: ConfigFile) -> None:
    path = config_file({"http": {"api_key": "${MAMD_API_KEY}"}})
    problem = only_problem(path, env={"OTHER": "x"})
    assert_problem(
        problem, path, "http.api_key", r"\$\{MAMD_API_KEY\}", "environment variable MAMD_API_KEY is not set"
    )


def test_a_missing_credentials_directory_hints_at_systemd(config_file: ConfigFile) -> None:
    path = config_file({"http": {"api_key": None, "api_key_file": "${CREDENTIALS_DIRECTORY}/api_key"}})
    problem = only_problem(path)
    assert_problem(
        problem,
        path,
        "http.api_key_file",
        r"api_key_file:",
        "environment variable CREDENTIALS_DIRECTORY is not set (systemd sets it for LoadCredential=)",
    )


def test_a_secret_file_under_the_credentials_directory_is_read(
    config_file: ConfigFile, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    write(credentials, API_KEY + "\n", "api_key")
    path = config_file({"http": {"api_key": None, "api_key_file": "${CREDENTIALS_DIRECTORY}/api_key"}})
    config = load_config(path, env={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert config.http.api_key.reveal() == API_KEY


# -- placeholders -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "placeholder",
    [
        "CHANGE-ME",
        "changeme",
        "Change_Me",
        "REPLACE-ME",
        "<your key>",
        "<api key>",
        "xxx",
        "XXXXXXXXXXXXXXXXXXXX",
        "your-api-key",
        "your_token_here_0123",
        "...",
        "…",
        "TODO",
    ],
)
def test_a_placeholder_secret_is_refused(config_file: ConfigFile, placeholder: str) -> None:
    path = config_file({"http": {"api_key": placeholder}})
    problem = only_problem(path)
    assert (problem.key, problem.line) == ("http.api_key", line_of(path, r"^  api_key: (?!test-)"))
    assert problem.message == "still holds the example's placeholder; put the real secret here"


def test_a_placeholder_reached_through_an_env_default_is_refused(config_file: ConfigFile) -> None:
    path = config_file({"mam": {"session": "${MAM_SESSION:-CHANGE-ME}"}})
    assert_problem(
        only_problem(path), path, "mam.session", r"session:", "still holds the example's placeholder"
    )


@pytest.mark.parametrize(
    ("changes", "key", "line"),
    [
        ({"audiobookshelf": {"library": "CHANGE-ME"}}, "audiobookshelf.library", r"library: CHANGE-ME"),
        ({"qbittorrent": {"username": "<your user>"}}, "qbittorrent.username", r"username: <your user>"),
        ({"qbittorrent": {"category": "xxx"}}, "qbittorrent.category", r"category: xxx"),
        ({"http": {"host": "changeme"}}, "http.host", r"host: changeme"),
    ],
)
def test_a_placeholder_in_a_plain_value_is_refused(
    config_file: ConfigFile, changes: dict[str, Any], key: str, line: str
) -> None:
    path = config_file(changes)
    problem = only_problem(path)
    assert_problem(problem, path, key, line, "still holds the example's placeholder; put the real value here")


@pytest.mark.parametrize("name", ["Secret", "Password", "Change Me", "Your Secret"])
def test_a_book_whose_title_looks_like_a_placeholder_can_still_be_wanted(
    config_file: ConfigFile, name: str
) -> None:
    """Book titles, authors and series are free text: real books are called "Secret" or "Change Me"."""
    path = config_file(
        {
            "wanted": {
                "manual": [{"title": name, "author": "Jane Doe"}],
                "ignore": [name],
                "follow": {"series": [name]},
            }
        }
    )
    config = load_config(path, env={})
    assert config.wanted.manual[0].title == name
    assert config.wanted.ignore == (name,)


def test_real_values_are_not_mistaken_for_placeholders(config_file: ConfigFile) -> None:
    path = config_file(
        {
            "http": {"api_key": "xxx-0123456789abcdef-xxx"},
            "audiobookshelf": {"library": "Changes"},
            "qbittorrent": {"username": "yourname"},
        }
    )
    config = load_config(path, env={})
    assert config.http.api_key.reveal() == "xxx-0123456789abcdef-xxx"
    assert config.audiobookshelf.library == "Changes"


# -- bounds and checks of single values ---------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "value", "minimum"),
    [
        ("search", "9m", "10m"),
        ("search", "599s", "10m"),
        ("account", "4m", "5m"),
        ("library_sync", "30s", "1m"),
        ("discover", "59s", "1m"),
        ("reconcile", "500ms", "1m"),
        ("retention", "30m", "1h"),
    ],
)
def test_a_job_interval_below_its_minimum_is_refused(
    config_file: ConfigFile, job: str, value: str, minimum: str
) -> None:
    path = config_file({"schedule": {job: value}})
    assert_problem(
        only_problem(path),
        path,
        f"schedule.{job}",
        rf"^  {job}: {value}$",
        f"must be at least {minimum} (or 0 to turn it off)",
    )


@pytest.mark.parametrize("value", [0, "0", "0s", "0m", "10m", "1h"])
def test_a_search_interval_of_zero_or_at_least_ten_minutes_is_accepted(
    config_file: ConfigFile, value: object
) -> None:
    config = load_config(config_file({"schedule": {"search": value}}))
    assert config.schedule.search == Duration.parse(value)


@pytest.mark.parametrize("value", ["500ms", 0])
def test_the_mam_request_spacing_cannot_be_turned_off(config_file: ConfigFile, value: object) -> None:
    """Unlike a job interval, 0 is not "off" here: it would hammer MAM."""
    path = config_file({"mam": {"search_interval": value}})
    assert_problem(
        only_problem(path), path, "mam.search_interval", r"search_interval:", "must be at least 1s"
    )


@pytest.mark.parametrize("value", ["71h", "1d", 0])
def test_a_minimum_seed_time_below_72_hours_is_refused(config_file: ConfigFile, value: object) -> None:
    path = config_file({"seeding": {"min_seed_time": value}})
    problem = only_problem(path)
    assert_problem(problem, path, "seeding.min_seed_time", r"min_seed_time:", "must be at least 3d")
    assert "turn it off" not in problem.message


@pytest.mark.parametrize("value", ["72h", "3d", "1w"])
def test_a_minimum_seed_time_of_72_hours_or_more_is_accepted(config_file: ConfigFile, value: str) -> None:
    assert load_config(
        config_file({"seeding": {"min_seed_time": value}})
    ).seeding.min_seed_time == Duration.parse(value)


@pytest.mark.parametrize(("emergency", "recover"), [(1.4, 1.4), (1.5, 1.4)])
def test_the_ratio_recovery_must_be_above_the_emergency(
    config_file: ConfigFile, emergency: float, recover: float
) -> None:
    path = config_file({"ratio": {"emergency_below": emergency, "recover_above": recover}})
    problem = only_problem(path)
    assert_problem(
        problem, path, "ratio.recover_above", r"recover_above:", "must be above ratio.emergency_below"
    )
    assert "could never leave an emergency" in problem.message


def test_a_cross_check_on_an_unwritten_key_points_at_its_section(config_file: ConfigFile) -> None:
    """recover_above keeps its default 1.4, so its line is the `ratio:` line."""
    path = config_file({"ratio": {"emergency_below": 1.5}})
    assert_problem(
        only_problem(path),
        path,
        "ratio.recover_above",
        r"^ratio:",
        "must be above ratio.emergency_below (1.5)",
    )


@pytest.mark.parametrize(
    ("save_path", "library", "key", "line", "message"),
    [
        (
            "library/torrents",
            "library",
            "qbittorrent.save_path",
            r"save_path:",
            "must be outside audiobookshelf.path",
        ),
        ("library", "library", "qbittorrent.save_path", r"save_path:", "must be outside audiobookshelf.path"),
        (
            "library/",
            "library",
            "qbittorrent.save_path",
            r"save_path:",
            "must be outside audiobookshelf.path",
        ),
        (
            "torrents",
            "torrents/library",
            "audiobookshelf.path",
            r"^  path:",
            "must not be inside qbittorrent.save_path",
        ),
        (
            "other/../library/t",
            "library",
            "qbittorrent.save_path",
            r"save_path:",
            "must be outside audiobookshelf.path",
        ),
    ],
    ids=["save-inside-library", "same-folder", "trailing-slash", "library-inside-save", "through-dotdot"],
)
def test_seeding_data_and_the_library_must_be_separate_folders(
    config_file: ConfigFile, tmp_path: Path, save_path: str, library: str, key: str, line: str, message: str
) -> None:
    path = config_file(
        {
            "qbittorrent": {"save_path": f"{tmp_path}/{save_path}"},
            "audiobookshelf": {"path": f"{tmp_path}/{library}"},
        }
    )
    assert_problem(only_problem(path), path, key, line, message)


def test_neighbouring_folders_with_a_common_prefix_are_separate(
    config_file: ConfigFile, tmp_path: Path
) -> None:
    """`media-torrents` is not inside `media`: the check compares path parts, not text."""
    path = config_file(
        {
            "qbittorrent": {"save_path": f"{tmp_path}/media-torrents"},
            "audiobookshelf": {"path": f"{tmp_path}/media"},
        }
    )
    assert load_config(path).qbittorrent.save_path == f"{tmp_path}/media-torrents"


@pytest.mark.parametrize(
    ("changes", "key", "line", "value"),
    [
        (
            {"qbittorrent": {"save_path": "torrents"}},
            "qbittorrent.save_path",
            r"save_path: torrents",
            "torrents",
        ),
        ({"audiobookshelf": {"path": "./library"}}, "audiobookshelf.path", r"path: ./library", "./library"),
    ],
)
def test_a_relative_download_or_library_folder_is_refused(
    config_file: ConfigFile, changes: dict[str, Any], key: str, line: str, value: str
) -> None:
    """qBittorrent and Audiobookshelf resolve paths against their own working folders, not mamd's."""
    path = config_file(changes)
    assert_problem(only_problem(path), path, key, line, f"must be an absolute path, got {value!r}")


@pytest.mark.parametrize(
    ("changes", "key", "line"),
    [
        ({"qbittorrent": {"url": "localhost:8080"}}, "qbittorrent.url", r"url: localhost:8080"),
        ({"audiobookshelf": {"url": "ftp://nas:13378"}}, "audiobookshelf.url", r"url: ftp://nas:13378"),
        ({"mam": {"base_url": "https://"}}, "mam.base_url", r"base_url: https://"),
        ({"mam": {"base_url": "www.myanonamouse.net"}}, "mam.base_url", r"base_url: www"),
    ],
)
def test_an_address_that_is_not_http_is_refused(
    config_file: ConfigFile, changes: dict[str, Any], key: str, line: str
) -> None:
    path = config_file(changes)
    assert_problem(only_problem(path), path, key, line, "expected an http:// or https:// address")


def test_a_bad_notify_url_is_refused_without_showing_it(config_file: ConfigFile) -> None:
    """Notify addresses often carry a token (ntfy topics, Discord webhooks): the error must not repeat it."""
    token = "s3cr3t-topic-9f8e7d6c5b4a"
    path = config_file({"notify": [{"url": f"ntfy.sh/{token}"}]})
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    (problem,) = caught.value.problems
    assert (problem.key, problem.line) == ("notify[0].url", line_of(path, r"url: ntfy.sh"))
    assert problem.message == (
        "expected an Apprise URL such as ntfy://ntfy.sh/TOPIC or json://HOST/PATH (the value is a secret and "
        "not shown)"
    )
    assert token not in str(caught.value)
    assert token not in caught.value.summary()
    assert token not in repr(caught.value.problems)


def test_a_bad_notify_url_read_from_a_file_is_not_shown_either(
    config_file: ConfigFile, tmp_path: Path
) -> None:
    token = "s3cr3t-topic-9f8e7d6c5b4a"
    write(tmp_path, f"discord.com/api/webhooks/{token}\n", "notify-url")
    path = config_file({"notify": [{"url_file": "notify-url"}]})
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    (problem,) = caught.value.problems
    assert (problem.key, problem.line) == ("notify[0].url_file", line_of(path, r"url_file:"))
    assert token not in str(caught.value)


def test_a_notify_target_needs_a_url(config_file: ConfigFile) -> None:
    path = config_file({"notify": [{"events": ["grabbed"]}]})
    problem = only_problem(path)
    assert (problem.key, problem.line) == ("notify[0].url", line_of(path, r"- events:"))
    assert problem.message == "missing required secret (or `url_file` naming a file)"


@pytest.mark.parametrize(
    ("languages", "key", "bad"),
    [(["ENG", "english"], "mam.languages[1]", "english"), (["EN"], "mam.languages[0]", "EN")],
)
def test_a_language_that_is_not_a_mam_code_is_refused(
    config_file: ConfigFile, languages: list[str], key: str, bad: str
) -> None:
    path = config_file({"mam": {"languages": languages}})
    assert_problem(
        only_problem(path), path, key, rf"^  - {bad}$", f"expected a MAM language code like ENG, got {bad!r}"
    )


@pytest.mark.parametrize(
    ("tags", "key", "line"),
    [(["mamd", "a,b"], "qbittorrent.tags[1]", r"- a,b"), ([" "], "qbittorrent.tags[0]", r"- ' '")],
)
def test_a_qbittorrent_tag_with_a_comma_or_nothing_in_it_is_refused(
    config_file: ConfigFile, tags: list[str], key: str, line: str
) -> None:
    """qBittorrent splits its tag list on commas: `a,b` would become two tags."""
    path = config_file({"qbittorrent": {"tags": tags}})
    assert_problem(only_problem(path), path, key, line, "a tag must be non-empty and hold no comma")


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        (
            "{author}/{titel}",
            "unknown placeholder {titel}; the template may use {asin}, {author}, {narrator}",
        ),
        ("{author}/{series}", "must contain {title}"),
        ("/{author}/{title}", "must be a relative path inside the library, without `..`"),
        ("{author}/../{title}", "must be a relative path inside the library, without `..`"),
        ("{author/{title}", "is not a valid template"),
    ],
    ids=["unknown-placeholder", "without-title", "absolute", "dotdot", "unbalanced-brace"],
)
def test_an_import_layout_that_could_escape_or_lose_the_title_is_refused(
    config_file: ConfigFile, layout: str, message: str
) -> None:
    path = config_file({"import": {"layout": layout}})
    assert_problem(only_problem(path), path, "import.layout", r"layout:", message)


@pytest.mark.parametrize(
    ("changes", "key", "line", "message"),
    [
        (
            {"rules": {"formats": ["m4b", "mp3", "m4b"]}},
            "rules.formats",
            r"formats:",
            "lists m4b more than once",
        ),
        (
            {"rules": {"prefer": ["format", "freeleech", "format"]}},
            "rules.prefer",
            r"prefer:",
            "lists format more than once",
        ),
        (
            {"notify": [{"url": "ntfys://ntfy.sh/topic-0123", "events": ["guard", "guard"]}]},
            "notify[0].events",
            r"events:",
            "lists guard more than once",
        ),
    ],
)
def test_a_choice_listed_twice_is_refused(
    config_file: ConfigFile, changes: dict[str, Any], key: str, line: str, message: str
) -> None:
    path = config_file(changes)
    assert_problem(only_problem(path), path, key, line, message)


def test_the_order_of_preferences_is_read_as_written(config_file: ConfigFile) -> None:
    """`rules.prefer` keeps the order written; the defaults are those of the documentation."""
    written = load_config(config_file({"rules": {"prefer": ["format", "freeleech"], "dramatized": "never"}}))
    assert written.rules.prefer == ("format", "freeleech")
    assert written.rules.dramatized == "never"
    default = load_config(config_file())
    assert default.rules.prefer == ("freeleech", "narrator", "format", "seeders", "bitrate")
    assert default.rules.dramatized == "fallback"


def test_a_manual_want_without_an_author_is_refused_at_its_item(config_file: ConfigFile) -> None:
    path = config_file({"wanted": {"manual": [{"title": "Dune"}]}})
    problem = only_problem(path)
    assert (problem.key, problem.line) == ("wanted.manual[0].author", line_of(path, r"- title: Dune"))
    assert problem.message == "missing required key `author`"


# -- the database path --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "resolved"), [("data/mamd.db", "etc/data/mamd.db"), ("../var/mamd.db", "var/mamd.db")]
)
def test_a_relative_database_is_resolved_against_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: str, resolved: str
) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # not the folder it resolves against
    path = write(tmp_path / "etc", MINIMAL + f"state:\n  database: {written}\n")
    assert load_config(path, env={}).state.database == str(tmp_path / resolved)


def test_an_absolute_database_is_kept_as_written(config_file: ConfigFile, tmp_path: Path) -> None:
    config = load_config(config_file({"state": {"database": f"{tmp_path}/db/mamd.db"}}))
    assert config.state.database == f"{tmp_path}/db/mamd.db"


def test_a_database_under_the_home_folder_is_expanded(
    config_file: ConfigFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`~/mamd.db` means the user's home, not a folder named `~` beside wherever mamd was started."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = load_config(config_file({"state": {"database": "~/mamd.db"}}))
    assert config.state.database == str(tmp_path / "home" / "mamd.db")


# -- many problems at once ----------------------------------------------------------------------

MANY_PROBLEMS = f"""\
http:
  api_key: short
  prot: 8787
mam:
  session: {MAM_SESSION}
  languages: [english]
audiobookshelf:
  api_key: {ABS_KEY}
  url: nas:13378
schedule:
  search: 5m
search_interval: 2s
rules:
  formats: [m4b, m4b]
  freeleech: preferr
ratio:
  emergency_below: 1.5
seeding:
  min_seed_time: 24h
"""


def test_a_file_with_many_problems_reports_all_of_them_sorted_by_line(tmp_path: Path) -> None:
    path = write(tmp_path, MANY_PROBLEMS)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    error = caught.value
    assert [(p.line, p.key) for p in error.problems] == [
        (2, "http.api_key"),
        (3, "http.prot"),
        (6, "mam.languages[0]"),
        (9, "audiobookshelf.url"),
        (11, "schedule.search"),
        (12, "search_interval"),
        (14, "rules.formats"),
        (15, "rules.freeleech"),
        (16, "ratio.recover_above"),
        (19, "seeding.min_seed_time"),
    ]
    assert all(p.file == str(path) for p in error.problems)
    assert str(error).splitlines() == [str(p) for p in error.problems]
    assert error.summary() == f"{error.problems[0]} (and 9 more problems)"


def test_problems_are_sorted_by_line_whatever_order_they_are_found_in(tmp_path: Path) -> None:
    """Cross-key checks run last, but their problem still appears at its line."""
    path = write(tmp_path, MINIMAL.replace("mam:\n", "ratio:\n  emergency_below: 2.0\nmam:\n  prot: 1\n"))
    assert [(p.line, p.key) for p in problems_of(path)] == [(3, "ratio.recover_above"), (6, "mam.prot")]


# -- one section of a broken file ---------------------------------------------------------------


def test_load_section_returns_the_http_section_while_another_section_is_broken(tmp_path: Path) -> None:
    """`mamd status` must reach the running daemon even when the file holds a rejected edit."""
    path = write(
        tmp_path, HTTP + "  port: 9999\nmam:\n  session: CHANGE-ME\nbogus: 1\nschedule:\n  search: 1m\n"
    )
    with pytest.raises(ConfigError):
        load_config(path, env={})
    http = load_section(path, "http", env={})
    assert isinstance(http, HttpConfig)
    assert http.port == 9999
    assert http.api_key.reveal() == API_KEY
    assert http.host == "127.0.0.1"


def test_load_section_reads_secret_files_beside_the_config_file(tmp_path: Path) -> None:
    write(tmp_path, API_KEY + "\n", "api_key")
    path = write(tmp_path, "http:\n  api_key_file: api_key\nmam: broken\n")
    assert load_section(path, "http", env={}).api_key.reveal() == API_KEY


def test_load_section_reports_only_the_problems_of_that_section(tmp_path: Path) -> None:
    path = write(tmp_path, "http:\n  port: high\n  api_key: short\nmam: broken\nschedule:\n  search: 1m\n")
    with pytest.raises(ConfigError) as caught:
        load_section(path, "http", env={})
    assert [(p.line, p.key) for p in caught.value.problems] == [(2, "http.port"), (3, "http.api_key")]


def test_load_section_of_a_file_with_a_syntax_error_reports_the_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, f"http:\n  api_key: {API_KEY}\n port: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_section(path, "http", env={})
    (problem,) = caught.value.problems
    assert (problem.line, problem.key) == (3, "")
    assert problem.message.startswith("YAML syntax error")


def test_a_choice_in_capitals_is_refused_with_the_spelling_mamd_knows(config_file: ConfigFile) -> None:
    """Choices are exact, as the JSON Schema states them; the message shows the accepted spelling."""
    path = config_file({"rules": {"formats": ["M4B"]}})
    problem = only_problem(path)
    assert problem.key == "rules.formats[0]"
    assert problem.message.endswith("got 'M4B'; did you mean `m4b`?")


# -- http.allowed_hosts -----------------------------------------------------------------------------


def test_allowed_hosts_takes_host_names(config_file: ConfigFile) -> None:
    config = load_config(config_file({"http": {"allowed_hosts": ["nas.example.lan", "nas", "media-box."]}}))
    assert config.http.allowed_hosts == ("nas.example.lan", "nas", "media-box.")


@pytest.mark.parametrize("value", ["http://nas.example.lan", "nas:8787", "nas/status", "two words", ""])
def test_allowed_hosts_refuses_what_is_not_a_host_name(config_file: ConfigFile, value: str) -> None:
    path = config_file({"http": {"allowed_hosts": [value]}})
    problem = only_problem(path)
    assert problem.key == "http.allowed_hosts[0]"
    assert "expected a host name such as nas.example.lan (no scheme, port or path)" in problem.message
