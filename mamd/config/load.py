"""Turning the YAML file into a `Config`, collecting every problem on the way.

This is the one place configuration is validated: `mamd check-config`, start-up and reload
all call `load_config`. It never stops at the first problem; a `ConfigError` lists them all.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_type_hints

from mamd.config.build import INVALID, Builder
from mamd.config.fields import iter_fields, yaml_key
from mamd.config.model import Config
from mamd.config.problems import ConfigError, Problem
from mamd.config.source import read_source


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read, parse and validate the file at `path`; raise `ConfigError` listing every problem.

    Nothing else escapes: whatever the file holds, the answer is a `Config` or a `ConfigError`.
    """
    file = Path(path)

    def load() -> Config:
        source, problems = read_source(file)
        if source is None:
            raise ConfigError(problems)
        builder = Builder(source, file.parent, os.environ if env is None else env)
        config = builder.build_root()
        builder.cross_check()
        if builder.problems or config is INVALID:
            raise ConfigError(builder.problems)
        return _resolve_database(typing.cast(Config, config), file)

    return _guarded(file, load)


def load_section(path: str | os.PathLike[str], key: str, env: Mapping[str, str] | None = None) -> Any:
    """Build one top-level section even when the rest of the file is broken.

    The command line uses it to reach a running daemon (its `http` section) while the file
    on disk holds a rejected edit.
    """
    file = Path(path)

    def load() -> Any:
        source, problems = read_source(file)
        if source is None:
            raise ConfigError(problems)
        builder = Builder(source, file.parent, os.environ if env is None else env)
        data = source.data if isinstance(source.data, dict) else {}
        field_ = next(f for f, _ in iter_fields(Config) if yaml_key(f) == key)
        hint = get_type_hints(Config)[field_.name]
        section = builder.convert(hint, data.get(key), (key,), field_.metadata)
        if builder.problems or section is INVALID:
            raise ConfigError(builder.problems)
        return section

    return _guarded(file, load)


T = typing.TypeVar("T")


def _guarded(file: Path, load: typing.Callable[[], T]) -> T:
    """`load()`, with anything but a `ConfigError` turned into one: a file must never stop mamd."""
    try:
        return load()
    except ConfigError:
        raise
    except RecursionError:
        raise ConfigError([Problem(str(file), None, "", "the file is nested too deeply to read")]) from None
    except Exception as exc:
        problem = Problem(str(file), None, "", f"cannot be loaded: {type(exc).__name__}: {exc}")
        raise ConfigError([problem]) from exc


def _resolve_database(config: Config, config_path: Path) -> Config:
    """A relative `state.database` is relative to the configuration file's folder."""
    database = Path(config.state.database).expanduser()
    if not database.is_absolute():
        database = (config_path.parent / database).resolve()
    if str(database) == config.state.database:
        return config
    state = dataclasses.replace(config.state, database=str(database))
    return dataclasses.replace(config, state=state)
