"""What changed between two configurations, key by key, and which changes wait for a restart."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator
from dataclasses import dataclass, is_dataclass
from typing import Any

from mamd.config.fields import iter_fields, unwrap_optional, yaml_key
from mamd.config.model import Config
from mamd.config.units import Bitrate, Duration, Secret, Size


@dataclass(frozen=True)
class Change:
    key: str
    old: str
    new: str
    restart: bool


def flatten(config: Any, prefix: str = "") -> dict[str, tuple[Any, bool]]:
    """Every leaf key as `dotted.path -> (value, needs_restart)`; lists are leaves."""
    out: dict[str, tuple[Any, bool]] = {}
    for f, hint in iter_fields(type(config)):
        key = prefix + yaml_key(f)
        value = getattr(config, f.name)
        inner, _ = unwrap_optional(hint)
        if is_dataclass(inner) and inner not in (Duration, Size, Bitrate) and value is not None:
            out.update(flatten(value, key + "."))
        else:
            out[key] = (value, bool(f.metadata.get("restart")))
    return out


def show(value: Any) -> str:
    """A value as a log line may show it: secrets never appear."""
    if isinstance(value, Secret):
        return "***"
    if isinstance(value, Duration | Size | Bitrate):
        return str(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if is_dataclass(value) and not isinstance(value, type):
        parts = (f"{yaml_key(f)}: {show(getattr(value, f.name))}" for f, _ in iter_fields(type(value)))
        return "{" + ", ".join(parts) + "}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def diff(old: Config, new: Config) -> list[Change]:
    """The keys whose values differ; a changed secret shows as `***` on both sides."""
    before, after = flatten(old), flatten(new)
    return [
        Change(key, show(before[key][0]), show(value), restart)
        for key, (value, restart) in after.items()
        if before[key][0] != value
    ]


def iter_secrets(value: Any) -> Iterator[str]:
    """Every secret value held anywhere in a configuration (for log redaction)."""
    if isinstance(value, Secret):
        yield value.reveal()
    elif isinstance(value, tuple):
        for item in value:
            yield from iter_secrets(item)
    elif is_dataclass(value) and not isinstance(value, type):
        for f, _ in iter_fields(type(value)):
            yield from iter_secrets(getattr(value, f.name))


def keep_restart_keys(running: Config, new: Config) -> tuple[Config, list[str]]:
    """`new` with every restart-only key held at its running value, and the keys held back."""
    pending = [c.key for c in diff(running, new) if c.restart]
    return typing.cast(Config, _hold(running, new)), pending


def _hold(running: Any, new: Any) -> Any:
    changes: dict[str, Any] = {}
    for f, hint in iter_fields(type(new)):
        inner, _ = unwrap_optional(hint)
        if f.metadata.get("restart"):
            changes[f.name] = getattr(running, f.name)
        elif is_dataclass(inner) and inner not in (Duration, Size, Bitrate):
            changes[f.name] = _hold(getattr(running, f.name), getattr(new, f.name))
    return dataclasses.replace(new, **changes)
