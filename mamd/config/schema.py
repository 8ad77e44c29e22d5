"""The JSON Schema of the YAML file, generated from the dataclasses (for editors).

`python -m mamd.config.schema > config/mamd.schema.json` rewrites the shipped file; a test
keeps the two in step.
"""

from __future__ import annotations

import json
import typing
from dataclasses import MISSING, is_dataclass
from typing import Any, Literal, get_args, get_origin

from mamd.config.fields import iter_fields, unwrap_optional, yaml_key
from mamd.config.model import Config
from mamd.config.units import BITRATE_PATTERN, DURATION_PATTERN, SIZE_PATTERN, Bitrate, Duration, Secret, Size


def json_schema() -> dict[str, Any]:
    schema = _object(Config)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mamd configuration",
        **schema,
    }


def _object(cls: type) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    one_of: list[dict[str, Any]] = []
    for f, hint in iter_fields(cls):
        key = yaml_key(f)
        inner, optional = unwrap_optional(hint)
        doc = f.metadata.get("doc", "")
        if f.metadata.get("restart"):
            doc += " (a change needs a restart)"
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        if inner is Secret:
            properties[key] = {"type": "string", "description": doc}
            properties[key + "_file"] = {"type": "string", "description": f"file holding {key}"}
            if not has_default and not optional:
                one_of.append({"oneOf": [{"required": [key]}, {"required": [key + "_file"]}]})
            continue
        prop = _type(inner, f.metadata)
        prop["description"] = doc
        if has_default:
            default = f.default if f.default is not MISSING else _make_default(f)
            encoded = _default(default)
            if encoded is not None:
                prop["default"] = encoded
        elif not optional:
            required.append(key)
        if optional:
            prop = {"anyOf": [prop, {"type": "null"}], "description": doc}
        properties[key] = prop
    out: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        out["required"] = required
    if one_of:
        out["allOf"] = one_of
    return out


def _type(hint: Any, meta: typing.Mapping[str, Any]) -> dict[str, Any]:
    origin = get_origin(hint)
    if hint is Duration:
        return {"anyOf": [{"type": "string", "pattern": DURATION_PATTERN}, {"const": 0}]}
    if hint is Size:
        return {"type": ["string", "integer"], "pattern": SIZE_PATTERN}
    if hint is Bitrate:
        return {"type": ["string", "integer"], "pattern": BITRATE_PATTERN}
    if is_dataclass(hint):
        return _object(typing.cast(type, hint))
    if origin is tuple:
        item = _type(get_args(hint)[0], {"free_text": meta.get("free_text")})
        out: dict[str, Any] = {"type": "array", "items": item}
        if meta.get("min_items"):
            out["minItems"] = meta["min_items"]
        if get_origin(get_args(hint)[0]) is Literal:
            out["uniqueItems"] = True  # the loader refuses a choice listed twice
        return out
    if origin is Literal:
        return {"enum": list(get_args(hint))}
    if hint is bool:
        return {"type": "boolean"}
    if hint in (int, float):
        out = {"type": "integer" if hint is int else "number"}
        if meta.get("minimum") is not None:
            out["minimum"] = meta["minimum"]
        if meta.get("maximum") is not None:
            out["maximum"] = meta["maximum"]
        return out
    if hint is str:
        out = {"type": ["string", "number"]} if meta.get("free_text") else {"type": "string"}
        if meta.get("min_length"):
            out["minLength"] = meta["min_length"]
        return out
    raise TypeError(f"no JSON Schema for {hint!r}")


def _make_default(f: Any) -> Any:
    factory = f.default_factory
    return factory()


def _default(value: Any) -> Any:
    if isinstance(value, Duration | Size | Bitrate):
        return str(value)
    if isinstance(value, tuple):
        return [_default(v) for v in value]
    if is_dataclass(value):
        return None  # nested sections document their own defaults
    return value


def render() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
