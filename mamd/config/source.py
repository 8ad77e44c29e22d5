"""Reading the YAML file while remembering where every key stands.

PyYAML's `safe_load` forgets line numbers and silently keeps the last of two equal keys;
here the node tree is composed once, duplicate keys become problems, and every key path
maps to its line so any later problem can point at `file:line`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mamd.config.problems import Problem

KeyPath = tuple[str | int, ...]


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
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, [Problem(file, None, "", "file not found")]
    except IsADirectoryError:
        return None, [Problem(file, None, "", "is a directory, not a YAML file")]
    except OSError as exc:
        return None, [Problem(file, None, "", f"cannot read: {exc.strerror or exc}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(file, line, "", "not valid UTF-8 text")]
    return parse_text(text, file)


def parse_text(text: str, file: str) -> tuple[Source | None, list[Problem]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Source(file, {}), []
        problems: list[Problem] = []
        lines: dict[KeyPath, int] = {}
        _walk(node, (), lines, problems, file)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_problem(exc, file)]
    except yaml.YAMLError as exc:
        return None, [Problem(file, None, "", f"YAML error: {exc}")]
    finally:
        loader.dispose()
    if problems:
        return None, problems
    return Source(file, data, lines), []


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
