"""Building `Config` from parsed YAML: each value converted and checked, every problem recorded with its
key path and `file:line`, none stopping the build."""

from __future__ import annotations

import difflib
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import MISSING, Field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from mamd.config.checks import is_placeholder
from mamd.config.fields import all_key_paths, iter_fields, kind_of, unwrap_optional, yaml_key
from mamd.config.files import Unreadable, read_secret
from mamd.config.model import Config, RatioConfig
from mamd.config.problems import Problem
from mamd.config.source import KeyPath, Source, dotted, parse_text
from mamd.config.units import Bitrate, Duration, Secret, Size, UnitError

_ENV_RE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Invalid:
    """Marks a value that failed; its problem is already recorded."""


INVALID: Any = _Invalid()


class Builder:
    """Builds the model's dataclasses from the parsed YAML, recording each problem and going on."""

    def __init__(self, source: Source, base_dir: Path, env: Mapping[str, str]) -> None:
        self.source = source
        self.base_dir = base_dir
        self.env = env
        self.problems: list[Problem] = []
        self.sections: dict[str, Any] = {}  # the top-level sections that built without problems

    # -- problems -------------------------------------------------------------------------

    def problem(self, path: KeyPath, message: str) -> Any:
        self.problems.append(Problem(self.source.file, self.source.line_of(path), dotted(path), message))
        return INVALID

    # -- building -------------------------------------------------------------------------

    def build_root(self) -> Any:
        data = self.source.data
        if not isinstance(data, dict):
            return self.problem((), f"the file must be a mapping of sections, not {kind_of(data)}")
        return self.build_dataclass(Config, data, ())

    def build_dataclass(self, cls: type, raw: object, path: KeyPath) -> Any:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            return self.problem(path, f"expected a mapping of keys, got {kind_of(raw)}")
        known: dict[str, Field[Any]] = {}
        for f, hint in iter_fields(cls):
            known[yaml_key(f)] = f
            if unwrap_optional(hint)[0] is Secret:
                known[yaml_key(f) + "_file"] = f
        for key in raw:
            if not isinstance(key, str) or key not in known:
                self.problem((*path, str(key)), "unknown key" + self._suggest(str(key), list(known), path))
        kwargs: dict[str, Any] = {}
        ok = True
        for f, hint in iter_fields(cls):
            key = yaml_key(f)
            value = self.build_field(f, hint, raw, path, key)
            if value is INVALID:
                ok = False
            elif value is not MISSING:
                kwargs[f.name] = value
        if not path:
            self.sections = {yaml_key(f): kwargs[f.name] for f in fields(cls) if f.name in kwargs}
        if not ok:
            return INVALID
        return cls(**kwargs)

    def build_field(self, f: Field[Any], hint: Any, raw: dict[str, Any], path: KeyPath, key: str) -> Any:
        inner, optional = unwrap_optional(hint)
        required = f.default is MISSING and f.default_factory is MISSING
        if inner is Secret:
            return self.build_secret(f, raw, path, key, required=required and not optional)
        sub = (*path, key)
        if key not in raw:
            if is_dataclass(inner) and inner not in (Duration, Size, Bitrate):
                # an absent section is an empty one: what it requires is then named precisely
                return self.build_dataclass(typing.cast(type, inner), {}, sub) if required else MISSING
            if required:
                return self.problem(sub, f"missing required key `{key}`")
            return MISSING
        value = raw[key]
        if value is None and optional:
            return None
        return self.convert(inner, value, sub, f.metadata)

    def build_secret(
        self, f: Field[Any], raw: dict[str, Any], path: KeyPath, key: str, *, required: bool
    ) -> Any:
        file_key = key + "_file"
        has_inline, has_file = raw.get(key) is not None, raw.get(file_key) is not None
        if has_inline and has_file:
            return self.problem((*path, key), f"give either `{key}` or `{file_key}`, not both")
        if not has_inline and not has_file:
            if required:
                return self.problem((*path, key), f"missing required secret (or `{file_key}` naming a file)")
            return None
        if has_inline:
            sub = (*path, key)
            value = self.text(raw[key], sub)
            if value is INVALID:
                return INVALID
            source = dotted(sub)
        else:
            sub = (*path, file_key)
            name = self.text(raw[file_key], sub)
            if name is INVALID:
                return INVALID
            value = self.read_secret_file(name, sub)
            if value is INVALID:
                return INVALID
            source = f"{dotted(sub)} ({name})"
        if not value:
            return self.problem(sub, "the secret is empty")
        if is_placeholder(value):
            return self.problem(sub, "still holds the example's placeholder; put the real secret here")
        min_length = f.metadata.get("min_length")
        if min_length and len(value) < min_length:
            return self.problem(
                sub, f"too short: use at least {min_length} characters (for example `openssl rand -hex 24`)"
            )
        check = f.metadata.get("check")
        if check and check(value):
            return self.problem(sub, f"{check(value)} (the value is a secret and not shown)")
        return Secret(value, source)

    def read_secret_file(self, name: str, path: KeyPath) -> Any:
        file = Path(name).expanduser()
        if not file.is_absolute():
            file = self.base_dir / file
        try:
            return read_secret(file)
        except Unreadable as exc:
            return self.problem(path, f"secret file {file} {exc}")

    def convert(self, hint: Any, value: Any, path: KeyPath, meta: Mapping[str, Any]) -> Any:
        origin = get_origin(hint)
        if value is None and not is_dataclass(hint) and origin is not tuple:
            return self.problem(path, "has no value")
        if hint in (bool, int, float) and isinstance(value, str) and "${" in value:
            substituted = self.substitute(value, path)
            if substituted is INVALID:
                return INVALID
            value = _scalar(substituted)
        if hint in (Duration, Size, Bitrate):
            return self.convert_unit(hint, value, path, meta)
        if is_dataclass(hint):
            return self.build_dataclass(typing.cast(type, hint), value, path)
        if origin is tuple:
            return self.convert_list(get_args(hint)[0], value, path, meta)
        if origin is Literal:
            return self.convert_choice(get_args(hint), value, path)
        if hint is bool:
            if isinstance(value, bool):
                return value
            return self.problem(path, f"expected true or false, got {value!r}")
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                return self.problem(path, f"expected a whole number, got {value!r}")
            return self.bounded(value, value, path, meta)
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return self.problem(path, f"expected a number, got {value!r}")
            return self.bounded(float(value), float(value), path, meta)
        if hint is str:
            free = bool(meta.get("free_text"))
            if not free and not isinstance(value, str):
                return self.problem(path, f"expected text, got {kind_of(value)} (put it in quotes)")
            text = self.text(value, path)
            if text is INVALID:
                return INVALID
            if not free and is_placeholder(text):
                return self.problem(path, "still holds the example's placeholder; put the real value here")
            min_length = meta.get("min_length")
            if min_length and len(text) < min_length:
                return self.problem(path, f"must be at least {min_length} characters")
            return self.checked(text, path, meta)
        raise TypeError(f"configuration type {hint!r} has no converter")  # a programming error

    def convert_unit(self, hint: Any, value: Any, path: KeyPath, meta: Mapping[str, Any]) -> Any:
        if isinstance(value, str):
            value = self.substitute(value, path)
            if value is INVALID:
                return INVALID
        try:
            parsed = hint.parse(value)
        except UnitError as exc:
            return self.problem(path, str(exc))
        if hint is Duration:
            return self.bounded(parsed, parsed.seconds, path, meta, unit=Duration)
        return parsed

    def convert_list(self, item: Any, value: Any, path: KeyPath, meta: Mapping[str, Any]) -> Any:
        if value is None:
            value = []
        if not isinstance(value, list):
            return self.problem(path, f"expected a list, got {kind_of(value)}")
        min_items = meta.get("min_items")
        if min_items and len(value) < min_items:
            return self.problem(path, f"needs at least {min_items} item{'s' if min_items > 1 else ''}")
        item_meta = {"check": meta.get("check"), "free_text": meta.get("free_text")}
        items = [
            self.convert(item, element, (*path, index), item_meta) for index, element in enumerate(value)
        ]
        if any(i is INVALID for i in items):
            return INVALID
        if get_origin(item) is Literal:
            doubled = sorted({i for i in items if items.count(i) > 1})
            if doubled:
                return self.problem(path, f"lists {', '.join(doubled)} more than once")
        return tuple(items)

    def convert_choice(self, choices: tuple[Any, ...], value: Any, path: KeyPath) -> Any:
        if isinstance(value, str) and value in choices:
            return value
        options = ", ".join(str(c) for c in choices)
        hint = self._suggest(str(value), [str(c) for c in choices], None)
        return self.problem(path, f"must be one of {options}; got {value!r}{hint}")

    def checked(self, value: Any, path: KeyPath, meta: Mapping[str, Any]) -> Any:
        check = meta.get("check")
        message = check(value) if check else None
        return self.problem(path, message) if message else value

    def bounded(
        self, result: Any, number: float, path: KeyPath, meta: Mapping[str, Any], unit: type | None = None
    ) -> Any:
        if number == 0 and meta.get("zero_disables"):
            return result

        def show(bound: float) -> str:
            return str(Duration(bound)) if unit is Duration else f"{bound:g}"

        minimum, maximum = meta.get("minimum"), meta.get("maximum")
        if minimum is not None and number < minimum:
            off = " (or 0 to turn it off)" if meta.get("zero_disables") else ""
            return self.problem(path, f"must be at least {show(minimum)}{off}")
        if maximum is not None and number > maximum:
            return self.problem(path, f"must be at most {show(maximum)}")
        return result

    def text(self, value: Any, path: KeyPath) -> Any:
        """A string value with `${ENV}` substituted; numbers are taken as their text."""
        if isinstance(value, bool) or value is None or isinstance(value, dict | list):
            return self.problem(path, f"expected text, got {kind_of(value)}")
        if isinstance(value, float):
            value = str(int(value)) if value.is_integer() else repr(value)
        elif isinstance(value, int) or not isinstance(value, str):
            value = str(value)
        return self.substitute(value, path)

    def substitute(self, value: str, path: KeyPath) -> Any:
        missing: list[str] = []

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            name, default = match.group(1), match.group(2)
            if name in self.env and self.env[name] != "":
                return self.env[name]
            if default is not None:
                return default
            missing.append(name)
            return ""

        result = _ENV_RE.sub(replace, value)
        if missing:
            hint = " (systemd sets it for LoadCredential=)" if "CREDENTIALS_DIRECTORY" in missing else ""
            names = ", ".join(missing)
            return self.problem(path, f"environment variable {names} is not set{hint}")
        return result

    def _suggest(self, key: str, siblings: list[str], path: KeyPath | None) -> str:
        by_lower = {s.lower(): s for s in siblings}
        close = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.6)
        if close:
            return f"; did you mean `{by_lower[close[0]]}`?"
        if path is None:
            return ""
        elsewhere = [p for p in all_key_paths(Config) if p.rsplit(".", 1)[-1] == key]
        if elsewhere:
            return f"; did you mean `{elsewhere[0]}`?"
        return f"; known keys here: {', '.join(sorted(siblings))}" if siblings else ""

    # -- checks across keys -------------------------------------------------------------

    def cross_check(self) -> None:
        """Checks that need several keys; each runs when the sections it reads are valid."""
        ratio = self.sections.get("ratio", RatioConfig())
        if ratio.emergency_below >= ratio.recover_above:
            self.problem(
                ("ratio", "recover_above"),
                f"must be above ratio.emergency_below ({ratio.emergency_below:g}), or the guard "
                "could never leave an emergency",
            )
        qbittorrent, audiobookshelf = self.sections.get("qbittorrent"), self.sections.get("audiobookshelf")
        if qbittorrent is None or audiobookshelf is None:
            return
        save = Path(os.path.normpath(qbittorrent.save_path))
        library = Path(os.path.normpath(audiobookshelf.path))
        if save == library or library in save.parents:
            self.problem(
                ("qbittorrent", "save_path"),
                "must be outside audiobookshelf.path: Audiobookshelf would see every book twice",
            )
        elif save in library.parents:
            self.problem(
                ("audiobookshelf", "path"),
                "must not be inside qbittorrent.save_path: keep seeding data and the library apart",
            )


def _scalar(text: str) -> Any:
    """Text from an environment variable read the way YAML reads a plain value (`8787`, `true`)."""
    source, _ = parse_text(text, "<environment>")  # bounded like the file itself
    value = source.data if source is not None else text
    return value if isinstance(value, bool | int | float) else text
