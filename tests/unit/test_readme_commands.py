"""The README's command table names every `mamd` command, and its API table every route of the API."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from mamd.cli import _parser
from mamd.config import load_config
from mamd.logs import Redactor
from mamd.runtime import Runtime
from mamd.web import create_app
from tests.support.clock import FakeClock
from tests.support.configs import write_config

README = (Path(__file__).parents[2] / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    return README[start : README.index("\n## ", start + 1)]


def test_every_command_is_in_the_readme_table() -> None:
    [commands] = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    table = section("Commands")
    listed = set(re.findall(r"`mamd ([a-z-]+)", table))
    assert set(commands.choices) <= listed, set(commands.choices) - listed


def test_every_api_route_is_in_the_readme_table(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    app = create_app(Runtime(load_config(path), path, clock=FakeClock(), redactor=Redactor()))
    cells = [
        line.split("|")[1] for line in section("Ask mamd how it is").splitlines() if line.startswith("| `")
    ]
    for route in app.router.routes():
        shown = route.resource.canonical if route.resource is not None else ""
        if route.method == "HEAD" or not shown.startswith("/api/"):
            continue
        parent, tail = shown.rsplit("/", 1)
        exact = re.compile(re.escape(f"{route.method} {shown}") + "[`?]")
        named = [
            c for c in cells if exact.search(c) or (f"{route.method} {parent}/" in c and f"`/{tail}`" in c)
        ]
        assert named, f"README's API table has no row for {route.method} {shown}"
