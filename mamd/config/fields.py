"""The fields of the model's dataclasses: how they are declared (`meta`, `yaml_key`) and read back as data
(their types, optional hints, every key path)."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import Field, fields, is_dataclass
from typing import Any, get_args, get_origin, get_type_hints


def meta(
    doc: str,
    *,
    restart: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    min_items: int | None = None,
    min_length: int | None = None,
    zero_disables: bool = False,
    check: Callable[[Any], str | None] | None = None,
    free_text: bool = False,
) -> dict[str, Any]:
    """Field metadata understood by the loader and the schema generator.

    `minimum`/`maximum` bound numbers, and durations in seconds; with `zero_disables`, 0 is
    also allowed and means "off". `min_length` bounds strings and secrets. `check` is a
    function from `mamd.config.checks` applied to the parsed value (to each item of a list).
    `free_text` marks names and titles: any text is fine there (a book may be called
    "Secret" or "1984"), so numbers are taken as text and no placeholder check applies.
    """
    return {
        "doc": doc,
        "restart": restart,
        "minimum": minimum,
        "maximum": maximum,
        "min_items": min_items,
        "min_length": min_length,
        "zero_disables": zero_disables,
        "check": check,
        "free_text": free_text,
    }


def yaml_key(f: Any) -> str:
    """The YAML key of a dataclass field (`import_` is written `import`)."""
    key: str = f.metadata.get("key", f.name)
    return key


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
