"""The model's dataclasses read as data: their fields and types, optional hints, every key path."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import Field, fields, is_dataclass
from typing import Any, get_args, get_origin, get_type_hints

from mamd.config.model import yaml_key


def iter_fields(cls: type) -> Iterator[tuple[Field[Any], Any]]:
    """Each dataclass field of `cls` with its resolved type."""
    hints = get_type_hints(cls)
    for f in fields(cls):
        yield f, hints[f.name]


def unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """`X | None` → (X, True); anything else → (hint, False)."""
    if get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(get_args(hint)) == 2:
            return args[0], True
    return hint, False


def kind_of(value: object) -> str:
    """What a YAML value is, in the words a problem uses ("a mapping", "text", "nothing")."""
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


def all_key_paths(cls: type, prefix: str = "") -> list[str]:
    """Every dotted key the model declares under `cls`, nested sections included."""
    out: list[str] = []
    for f, hint in iter_fields(cls):
        name = prefix + yaml_key(f)
        out.append(name)
        inner, _ = unwrap_optional(hint)
        if is_dataclass(inner):
            out.extend(all_key_paths(typing.cast(type, inner), name + "."))
    return out
