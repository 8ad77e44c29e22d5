"""Reading the YAML file while remembering where every key stands.

PyYAML's `safe_load` forgets line numbers and silently keeps the last of two equal keys;
here the node tree is composed once, duplicate keys become problems, and every key path
maps to its line so any later problem can point at `file:line`.

The file may be anything a careless save or a hostile hand leaves there, so nothing in it
may stop mamd: a control character, a nesting thousands deep, a few aliases that expand to
billions of values ("billion laughs"), a number too long to convert. The composer counts
every value as if each alias were written out, and stops past `MAX_NODES` or `MAX_DEPTH`;
whatever PyYAML or the constructor raises becomes a problem with its line where one is known.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mamd.config.files import CONFIG_MAX_BYTES, Unreadable, read_bounded
from mamd.config.problems import Problem

KeyPath = tuple[str | int, ...]

MAX_NODES = 10_000  # values in the document with every alias expanded; a full configuration has ~200
MAX_DEPTH = 32  # nesting of mappings and lists; mamd's own is 4 deep


@dataclass
class Source:
    """The parsed document and the line of every key path in it."""

    file: str
    data: object
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of `path`, or of its nearest ancestor that is written in the file."""
        for cut in range(len(path), 0, -1):
            line = self.lines.get(path[:cut])
            if line is not None:
                return line
        return None


def read_source(path: Path) -> tuple[Source | None, list[Problem]]:
    """Read and parse `path`; on failure the problems say exactly why."""
    file = str(path)
    try:
        raw = read_bounded(path, CONFIG_MAX_BYTES)
    except Unreadable as exc:
        return None, [Problem(file, None, "", str(exc))]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(file, line, "", "not valid UTF-8 text")]
    return parse_text(text, file)


class _Refusal(Exception):
    """The document cannot be a configuration (too big, too deep, a value that cannot be read)."""

    def __init__(self, message: str, mark: Any) -> None:  # a PyYAML Mark, or None
        super().__init__(message)
        self.message, self.mark = message, mark


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with the size of the document bounded while it is composed.

    PyYAML composes an alias as a second reference to its anchor's node, so the tree stays
    small, but anything that walks it (the key walk below, the constructor's merge keys,
    the configuration builder) meets every expansion. The count therefore adds, for each
    alias, the size of the value it stands for.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._count = 0
        self._sizes: dict[str, int] = {}  # the expanded size of each anchor composed so far

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
        if isinstance(event, yaml.AliasEvent):
            anchor = str(event.anchor)
            node = super().compose_node(parent, index)  # refuses an undefined alias
            size = self._sizes.get(anchor)
            if size is None:
                raise _Refusal(
                    f"the alias *{anchor} is used inside its own anchor &{anchor}: a value cannot "
                    "contain itself",
                    event.start_mark,
                )
            self._add(size, event.start_mark, f"the alias *{anchor} (of &{anchor}, {size:,} values)")
            return node
        if self._depth >= MAX_DEPTH:
            raise _Refusal(
                f"values are nested more than {MAX_DEPTH} levels deep; mamd's configuration needs 4",
                event.start_mark,
            )
        before = self._count
        self._add(1, event.start_mark, None)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            self._sizes[str(event.anchor)] = self._count - before
        return node

    def _add(self, size: int, mark: Any, alias: str | None) -> None:
        self._count += size
        if self._count <= MAX_NODES:
            return
        if alias is not None:
            raise _Refusal(
                f"{alias} expands the document past {MAX_NODES:,} values; aliases of aliases multiply "
                '(a "billion laughs"), so write the values out instead',
                mark,
            )
        raise _Refusal(
            f"the document holds more than {MAX_NODES:,} values; mamd's configuration needs a few hundred",
            mark,
        )

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, OverflowError, TypeError) as exc:
            # int() of 5,000 digits, a timestamp on 30 February: not YAML errors, but the file's
            reason = str(exc).split(";")[0]
            raise _Refusal(f"cannot read the value {_short(node)}: {reason}", node.start_mark) from exc


def parse_text(text: str, file: str) -> tuple[Source | None, list[Problem]]:
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as exc:
        return None, [_character_problem(exc, text, file)]
    try:
        node = loader.get_single_node()
        if node is None:
            return Source(file, {}), []
        problems: list[Problem] = []
        lines: dict[KeyPath, int] = {}
        _walk(node, (), lines, problems, file)
        data = loader.construct_document(node)
    except _Refusal as exc:
        line = exc.mark.line + 1 if exc.mark is not None else None
        return None, [Problem(file, line, "", exc.message)]
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_problem(exc, file)]
    except yaml.YAMLError as exc:
        return None, [Problem(file, None, "", f"YAML error: {exc}")]
    except RecursionError:
        # every nesting is bounded above; a path PyYAML walks recursively that the bounds missed
        return None, [Problem(file, None, "", "the document is nested too deeply to read")]
    except Exception as exc:  # anything else PyYAML lets through must not stop mamd either
        return None, [Problem(file, None, "", f"cannot be read as YAML: {type(exc).__name__}: {exc}")]
    finally:
        loader.dispose()
    if problems:
        return None, problems
    return Source(file, data, lines), []


def _character_problem(exc: yaml.reader.ReaderError, text: str, file: str) -> Problem:
    """YAML allows no control character anywhere, even in a comment: say which and where."""
    before = text[: exc.position]
    line = before.count("\n") + 1
    column = exc.position - (before.rfind("\n") + 1) + 1
    character = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
    code = ord(character)
    name = _CONTROL_NAMES.get(code) or unicodedata.name(character, "").lower() or "a control character"
    if code in (0xFFFE, 0xFFFF):
        name = "a Unicode noncharacter"
    return Problem(
        file,
        line,
        "",
        f"the character U+{code:04X} ({name}) at column {column} is not allowed anywhere in YAML, "
        "not even in a comment; delete it",
    )


_CONTROL_NAMES = {
    0x00: "NUL",
    0x07: "bell",
    0x08: "backspace",
    0x0B: "vertical tab",
    0x0C: "form feed",
    0x1B: "escape",
    0x7F: "delete",
}


def _short(node: yaml.Node) -> str:
    value = node.value if isinstance(node, yaml.ScalarNode) else f"<{type(node).__name__}>"
    text = str(value)
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> Problem:
    """Point at the line to fix: where the problem is, or where an unfinished construct began."""
    problem = exc.problem_mark.line + 1 if exc.problem_mark else None
    context = exc.context_mark.line + 1 if exc.context_mark else None
    line = problem
    if context is not None and (problem is None or "end of stream" in (exc.problem or "")):
        line = context  # an unclosed quote or bracket is reported at the end of the file
    parts = [
        f"{exc.context} (line {context})" if exc.context and context else exc.context,
        f"{exc.problem} (line {problem})" if exc.problem and problem and problem != line else exc.problem,
    ]
    return Problem(file, line, "", "YAML syntax error: " + ", ".join(p for p in parts if p))


def _walk(
    node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], problems: list[Problem], file: str
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(file, line, dotted(path), "keys must be plain names"))
                continue
            key = str(key_node.value)
            if key == "<<":  # merge keys are resolved by PyYAML itself
                _walk(value_node, path, lines, problems, file)
                continue
            sub = (*path, key)
            if key in seen:
                problems.append(
                    Problem(file, line, dotted(sub), f"duplicate key (first given on line {seen[key]})")
                )
                continue
            seen[key] = line
            lines[sub] = line
            _walk(value_node, sub, lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            sub = (*path, index)
            lines[sub] = item.start_mark.line + 1
            _walk(item, sub, lines, problems, file)


def dotted(path: KeyPath) -> str:
    """`("wanted", "manual", 0, "title")` as `wanted.manual[0].title`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
