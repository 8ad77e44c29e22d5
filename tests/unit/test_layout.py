"""The layout is the architecture: small modules, names that do not repeat their package, no import
circle, and a README layout and ARCHITECTURE.md that list the folders that exist."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAMD = ROOT / "mamd"

# The most lines a module of mamd may have: past it, a module wants splitting by responsibility.
MODULE_LINES_LIMIT = 400


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(MAMD.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """Every mamd module `module` imports, wherever the import stands (top level, under
    `TYPE_CHECKING`, inside a function). `from package import name` names the submodule when there is
    one, else the package."""

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [known(alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*kept, *([base] if base else [])])
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else known(base) for a in node.names]
        else:
            continue
        yield from (name for name in names if name is not None and name != module)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in `graph`, as the modules along it, or None."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif target in on_path:
                return [*path[path.index(target) :], target]
            elif target not in done:
                stack.append((target, iter(sorted(graph[target]))))
                path.append(target)
                on_path.add(target)
    return None


def test_the_cycle_finder_finds_a_circle_and_only_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_module_of_mamd_imports_one_that_imports_it_back() -> None:
    modules = _modules()
    graph = {name: set(_imported(name, path, modules)) for name, path in modules.items()}
    assert sum(len(targets) for targets in graph.values()) > 300  # the walk does see mamd's imports
    assert "mamd.runtime" in graph["mamd.daemon"]
    assert _cycle(graph) is None


def test_every_module_of_mamd_stays_under_the_line_limit() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert len(sizes) > 100
    assert {name: lines for name, lines in sizes.items() if lines > MODULE_LINES_LIMIT} == {}


def test_no_file_is_named_with_its_package_or_a_neighbour_as_prefix() -> None:
    """`clients/mam_rows.py` beside `clients/mam.py` is a folder trying to get out: `clients/mam/rows.py`."""
    prefixed = []
    for path in sorted(MAMD.rglob("*.py")):
        neighbours = {p.stem for p in path.parent.glob("*.py")} | {p.name for p in path.parent.iterdir()}
        head, underscore, _ = path.stem.partition("_")
        if underscore and head and (head == path.parent.name or head in neighbours - {path.stem, path.name}):
            prefixed.append(str(path.relative_to(ROOT)))
    assert prefixed == []


def test_each_key_value_key_is_read_and_written_only_by_the_module_that_names_it() -> None:
    """`read_state`/`write_state` take a key constant of the calling module, and no two modules name the
    same key: a part's stored state is reached through that part's typed functions, never by its key."""
    owners: dict[str, list[str]] = {}
    foreign = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value.value, str)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("read_state", "write_state")
                and name != "mamd.store.db"
            ):
                key = node.args[0] if node.args else None
                if isinstance(key, ast.Name) and key.id in constants:
                    owners.setdefault(constants[key.id], []).append(name)
                else:
                    foreign.append(f"{name}: {ast.unparse(node)}")
    assert len(owners) >= 8  # the walk does find mamd's keys
    assert foreign == []
    assert {key: sorted(set(names)) for key, names in owners.items() if len(set(names)) > 1} == {}


def _packages() -> set[str]:
    """Every package of mamd, as the folder it is, relative to the repository (`mamd/sim/abs/`)."""
    return {f"{init.parent.relative_to(ROOT)}/" for init in MAMD.rglob("__init__.py")}


def _readme_layout() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"^## Layout\n\n```\n(.*?)```", readme, re.S | re.M)
    assert block is not None, "README.md has a Layout section with one code block"
    return [line.split()[0] for line in block.group(1).splitlines() if line and not line[0].isspace()]


def _architecture_folders() -> list[str]:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    return re.findall(r"`((?:mamd|tests|contrib|config)(?:/[\w.]+)*/)`", text)


def test_the_readme_layout_lists_every_package_and_only_folders_that_exist() -> None:
    listed = _readme_layout()
    assert "mamd/" in listed
    assert [folder for folder in listed if not (ROOT / folder).is_dir()] == []
    assert sorted(_packages() - set(listed)) == []


def test_architecture_names_every_package_and_only_folders_that_exist() -> None:
    named = _architecture_folders()
    assert "mamd/guarding/" in named
    assert [folder for folder in named if not (ROOT / folder).is_dir()] == []
    assert sorted(_packages() - set(named)) == []
