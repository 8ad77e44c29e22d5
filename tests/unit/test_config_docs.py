"""Documented means tested: the example file and the JSON Schema hold exactly the model's keys."""

from __future__ import annotations

import json
import re
import textwrap
import typing
from dataclasses import dataclass, is_dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import yaml

from mamd.config import ConfigError, load_config
from mamd.config.fields import iter_fields, unwrap_optional, yaml_key
from mamd.config.model import Config
from mamd.config.schema import json_schema, render
from mamd.config.source import parse_text
from mamd.config.units import Bitrate, Duration, Secret, Size
from tests.support.configs import base_config, write_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "mamd.example.yaml"
SCHEMA = ROOT / "config" / "mamd.schema.json"
VALUE_TYPES = (Duration, Size, Bitrate)  # dataclasses too, but written as one value


@dataclass(frozen=True)
class ModelKey:
    path: str  # dotted; items of a list of sections are `notify[].url`
    secret: bool = False
    section: bool = False
    item_type: type | None = None  # for a list of sections, the dataclass of its items


def model_keys(cls: type = Config, prefix: str = "") -> list[ModelKey]:
    """Every key of the model, sections included, in declaration order."""
    out: list[ModelKey] = []
    for f, hint in iter_fields(cls):
        path = prefix + yaml_key(f)
        inner, _ = unwrap_optional(hint)
        if inner is Secret:
            out.append(ModelKey(path, secret=True))
        elif is_dataclass(inner) and inner not in VALUE_TYPES:
            out.append(ModelKey(path, section=True))
            out.extend(model_keys(typing.cast(type, inner), path + "."))
        elif get_origin(inner) is tuple and is_dataclass(get_args(inner)[0]):
            item = typing.cast(type, get_args(inner)[0])
            out.append(ModelKey(path, item_type=item))
            out.extend(model_keys(item, path + "[]."))
        else:
            out.append(ModelKey(path))
    return out


def mapping_keys(data: Any, prefix: str = "") -> set[str]:
    """The dotted path of every mapping key in a YAML document; lists are values."""
    out: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}{key}"
            out.add(path)
            out |= mapping_keys(value, path + ".")
    return out


def schema_keys(node: dict[str, Any], path: str = "") -> set[str]:
    """The dotted path of every property in the schema; array items add `[]`."""
    out: set[str] = set()
    for option in node.get("anyOf", [node]):
        if option.get("type") == "object":
            for key, sub in option["properties"].items():
                child = f"{path}.{key}" if path else key
                out.add(child)
                out |= schema_keys(sub, child)
        elif option.get("type") == "array":
            out |= schema_keys(option["items"], path + "[]")
    return out


def example() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text())
    assert isinstance(data, dict)
    return data


def commented_block(key: tuple[str, ...]) -> tuple[list[str], Any]:
    """The comment lines right under `key` in the example, and the YAML they hold once uncommented."""
    text = EXAMPLE.read_text()
    source, problems = parse_text(text, str(EXAMPLE))
    assert source is not None, problems
    lines = text.splitlines()
    block: list[str] = []
    for line in lines[source.lines[key] :]:  # the line after the key (lines are 1-based)
        if not line.strip().startswith("#"):
            break
        block.append(line)
    uncommented = textwrap.dedent("\n".join(line.split("#", 1)[1] for line in block))
    return block, yaml.safe_load(uncommented)


LISTS_OF_SECTIONS = [k for k in model_keys() if k.item_type is not None]


def test_the_model_walk_finds_every_kind_of_key() -> None:
    """Guards the helpers below: a walk that found nothing would make every check pass."""
    keys = {k.path: k for k in model_keys()}
    assert keys["http.api_key"].secret
    assert keys["rules.wedges"].section
    assert "rules.wedges.min_size" in keys
    assert "import.layout" in keys
    assert keys["notify"].item_type is not None
    assert keys["notify[].url"].secret
    assert [k.path for k in LISTS_OF_SECTIONS] == ["wanted.top", "wanted.manual", "notify"]


# -- the example file -------------------------------------------------------------------------


def test_the_example_documents_every_key_of_the_model() -> None:
    written = mapping_keys(example())
    missing = [
        k.path
        for k in model_keys()
        if "[]" not in k.path
        and not ({k.path, k.path + "_file"} & written if k.secret else k.path in written)
    ]
    assert missing == [], f"mamd.example.yaml does not show {missing}"


def test_the_example_has_no_key_the_model_lacks() -> None:
    known = {k.path for k in model_keys()} | {k.path + "_file" for k in model_keys() if k.secret}
    unknown = sorted(mapping_keys(example()) - known)
    assert unknown == [], f"mamd.example.yaml shows keys mamd does not know: {unknown}"


@pytest.mark.parametrize("list_key", LISTS_OF_SECTIONS, ids=lambda k: k.path)
def test_the_example_shows_every_field_of_a_list_item_in_a_comment_under_the_list(list_key: ModelKey) -> None:
    """`wanted.manual` and `notify` are empty lists in the example; a commented item shows their fields."""
    block, _ = commented_block(tuple(list_key.path.split(".")))
    assert block, f"no commented example right under `{list_key.path}` in mamd.example.yaml"
    assert list_key.item_type is not None
    for f, hint in iter_fields(list_key.item_type):
        names = [yaml_key(f)] + ([yaml_key(f) + "_file"] if unwrap_optional(hint)[0] is Secret else [])
        pattern = re.compile(rf"^\s*#.*?\b({'|'.join(names)}):")
        assert any(pattern.match(line) for line in block), (
            f"the comment under `{list_key.path}` does not show `{yaml_key(f)}:`\n" + "\n".join(block)
        )


@pytest.mark.parametrize("list_key", LISTS_OF_SECTIONS, ids=lambda k: k.path)
def test_the_commented_list_item_uses_only_known_fields(list_key: ModelKey) -> None:
    _, items = commented_block(tuple(list_key.path.split(".")))
    assert isinstance(items, list)
    assert items
    assert list_key.item_type is not None
    fields = {yaml_key(f) for f, _ in iter_fields(list_key.item_type)}
    fields |= {
        yaml_key(f) + "_file"
        for f, hint in iter_fields(list_key.item_type)
        if unwrap_optional(hint)[0] is Secret
    }
    for item in items:
        assert set(item) <= fields, f"`{list_key.path}` example item has unknown keys {set(item) - fields}"


def test_the_commented_list_items_load_once_uncommented(tmp_path: Path) -> None:
    """Copying the commented examples into a file gives a valid file, but for the notify placeholder."""
    _, manual = commented_block(("wanted", "manual"))
    _, notify = commented_block(("notify",))
    data = base_config(tmp_path)
    data["wanted"] = {"manual": manual}
    data["notify"] = notify
    path = tmp_path / "mamd.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert [(p.key, p.message) for p in caught.value.problems] == [
        ("notify[0].url", "still holds the example's placeholder; put the real secret here")
    ]


def test_loading_the_example_fails_only_on_the_placeholder_secrets() -> None:
    """Every other value in the example is valid as written: copying it and filling in secrets is enough."""
    with pytest.raises(ConfigError) as caught:
        load_config(EXAMPLE, env={})
    lines = EXAMPLE.read_text().splitlines()
    found = [(p.key, p.message) for p in caught.value.problems]
    assert found == [
        (key, "still holds the example's placeholder; put the real secret here")
        for key in ("http.api_key", "mam.session", "qbittorrent.password", "audiobookshelf.api_key")
    ]
    for problem in caught.value.problems:
        assert problem.line is not None
        assert "CHANGE-ME" in lines[problem.line - 1], problem


def test_the_example_with_its_secrets_filled_in_loads(tmp_path: Path) -> None:
    filled = EXAMPLE.read_text().replace("CHANGE-ME", "a-real-secret-0123456789")
    path = tmp_path / "mamd.yaml"
    path.write_text(filled)
    config = load_config(path, env={})
    assert config.http.api_key.reveal() == "a-real-secret-0123456789"
    assert config.schedule.search == Duration.parse("1h")


# -- the JSON Schema --------------------------------------------------------------------------


def test_the_shipped_schema_is_the_generated_one() -> None:
    assert SCHEMA.read_text() == render(), (
        "config/mamd.schema.json is out of date with mamd/config/model.py; regenerate it with "
        "`python -m mamd.config.schema > config/mamd.schema.json`"
    )


def test_the_schema_has_exactly_the_models_keys_and_file_alternates_for_secrets() -> None:
    expected = {k.path for k in model_keys()} | {k.path + "_file" for k in model_keys() if k.secret}
    assert schema_keys(json_schema()) == expected


def test_every_object_in_the_schema_refuses_unknown_keys() -> None:
    def objects(node: Any) -> list[dict[str, Any]]:
        if isinstance(node, dict):
            found = [node] if node.get("type") == "object" else []
            return found + [o for value in node.values() for o in objects(value)]
        if isinstance(node, list):
            return [o for value in node for o in objects(value)]
        return []

    found = objects(json_schema())
    assert len(found) == len([k for k in model_keys() if k.section or k.item_type]) + 1
    assert all(o["additionalProperties"] is False for o in found)


@pytest.mark.parametrize(
    ("where", "key", "required"),
    [
        (("http",), "api_key", True),
        (("mam",), "session", True),
        (("audiobookshelf",), "api_key", True),
        (("notify", "items"), "url", True),
        (("qbittorrent",), "password", False),
    ],
)
def test_the_schema_asks_for_a_required_secret_inline_or_as_a_file(
    where: tuple[str, ...], key: str, required: bool
) -> None:
    node = json_schema()["properties"][where[0]]
    if where[1:]:
        node = node["items"]
    rules = [rule["oneOf"] for rule in node.get("allOf", [])]
    assert ([{"required": [key]}, {"required": [key + "_file"]}] in rules) is required
    assert {key, key + "_file"} <= set(node["properties"])


# -- the example against the schema -----------------------------------------------------------

JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def schema_errors(value: Any, node: dict[str, Any], path: str = "") -> list[str]:
    """A small JSON Schema walker: key names, required keys, types, enums, patterns and bounds."""
    where = path or "(top)"
    if "anyOf" in node:
        options = [schema_errors(value, option, path) for option in node["anyOf"]]
        return [] if any(not o for o in options) else [e for o in options for e in o]
    types = node.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        ok = any(
            isinstance(value, JSON_TYPES[n]) and not (isinstance(value, bool) and n in ("integer", "number"))
            for n in names
        )
        if not ok:
            return [f"{where}: {value!r} is not {' or '.join(names)}"]
    errors: list[str] = []
    if "const" in node and value != node["const"]:
        errors.append(f"{where}: {value!r} is not {node['const']!r}")
    if "enum" in node and value not in node["enum"]:
        errors.append(f"{where}: {value!r} is not one of {node['enum']}")
    if isinstance(value, str) and "pattern" in node and not re.search(node["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {node['pattern']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in node and value < node["minimum"]:
            errors.append(f"{where}: {value!r} is below {node['minimum']}")
        if "maximum" in node and value > node["maximum"]:
            errors.append(f"{where}: {value!r} is above {node['maximum']}")
    if isinstance(value, dict):
        properties = node.get("properties", {})
        for key, sub in value.items():
            child = f"{path}.{key}" if path else str(key)
            if key in properties:
                errors += schema_errors(sub, properties[key], child)
            elif node.get("additionalProperties") is False:
                errors.append(f"{child}: not in the schema")
        errors += [f"{path}.{key}: required" for key in node.get("required", []) if key not in value]
        for rule in node.get("allOf", []):
            matched = sum(not schema_errors(value, option, path) for option in rule.get("oneOf", []))
            if "oneOf" in rule and matched != 1:
                errors.append(f"{where}: give exactly one of {rule['oneOf']}")
    if isinstance(value, list):
        if len(value) < node.get("minItems", 0):
            errors.append(f"{where}: needs at least {node['minItems']} items")
        for index, item in enumerate(value):
            errors += schema_errors(item, node.get("items", {}), f"{path}[{index}]")
    return errors


def test_the_schema_walker_catches_extra_and_missing_keys() -> None:
    """Guards the walker: it must fail the documents the real validators fail."""
    data = example()
    data["http"]["prot"] = 8787
    del data["mam"]["session"]
    data["audiobookshelf"]["api_key_file"] = "/run/credentials/mamd/abs"
    data["rules"]["freeleech"] = "sometimes"
    data["schedule"]["search"] = "soon"
    schema = json_schema()
    duration = schema["properties"]["schedule"]["properties"]["search"]["anyOf"][0]["pattern"]
    assert sorted(schema_errors(data, schema)) == sorted(
        [
            "http.prot: not in the schema",
            "mam: give exactly one of [{'required': ['session']}, {'required': ['session_file']}]",
            "audiobookshelf: give exactly one of [{'required': ['api_key']}, {'required': ['api_key_file']}]",
            "rules.freeleech: 'sometimes' is not one of ['any', 'prefer', 'only']",
            f"schedule.search: 'soon' does not match {duration}",
            "schedule.search: 'soon' is not 0",
        ]
    )


def test_the_example_validates_against_the_schema() -> None:
    assert schema_errors(example(), json.loads(SCHEMA.read_text())) == []


@pytest.mark.parametrize("list_key", LISTS_OF_SECTIONS, ids=lambda k: k.path)
def test_the_commented_list_items_validate_against_the_schema(list_key: ModelKey) -> None:
    _, items = commented_block(tuple(list_key.path.split(".")))
    node: dict[str, Any] = json_schema()
    for part in list_key.path.split("."):
        node = node["properties"][part]
    assert schema_errors(items, node, list_key.path) == []


def test_a_configuration_the_loader_accepts_validates_against_the_schema(tmp_path: Path) -> None:
    """The files the tests use are valid for editors too."""
    data = base_config(tmp_path)
    data["notify"] = [{"url": "ntfys://ntfy.sh/topic-0123", "events": ["grabbed"], "min_level": "warning"}]
    data["wanted"] = {"manual": [{"title": "Dune", "author": "Frank Herbert", "position": "1"}]}
    assert schema_errors(data, json_schema()) == []


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"schedule": {"search": "1h"}}, id="duration-text"),
        pytest.param({"schedule": {"search": 0}}, id="duration-zero"),
        pytest.param({"schedule": {"search": 3600}}, id="duration-bare-number"),
        pytest.param({"rules": {"max_size": 1024}}, id="size-in-bytes"),
        pytest.param({"rules": {"min_bitrate": 64}}, id="bitrate-in-kbit"),
        pytest.param({"rules": {"freeleech": "ONLY"}}, id="choice-in-capitals"),
        pytest.param({"http": {"port": 0}}, id="port-zero"),
        pytest.param({"http": {"port": "8787"}}, id="port-as-text"),
        pytest.param(
            {"wanted": {"manual": [{"title": "Dune", "author": "F. Herbert", "position": 3}]}}, id="position"
        ),
    ],
)
def test_the_schema_and_the_loader_agree_on_the_type_of_a_value(
    tmp_path: Path, changes: dict[str, Any]
) -> None:
    """An editor must not flag what mamd accepts, nor pass what mamd refuses.

    Checks the schema cannot express (URLs, paths, templates) are out of scope; types are not.
    """
    path = write_config(tmp_path, changes)
    try:
        load_config(path, env={})
        loader = "accepts"
    except ConfigError as error:
        loader = f"refuses ({error.summary()})"
    errors = schema_errors(yaml.safe_load(path.read_text()), json_schema())
    schema = f"refuses ({errors})" if errors else "accepts"
    assert loader.split()[0] == schema.split()[0], f"the loader {loader}, the schema {schema}"
