#!/bin/sh
# The whole test suite on a fresh machine: installs what it needs, then lint, types and tests.
# Extra arguments go to pytest (for example: sh tests/run.sh -k reload).
set -eu
cd "$(dirname "$0")/.."
sh contrib/dev/system-packages.sh
# a real Audiobookshelf for the tests that need one, built once into a cache outside the repository;
# without it those tests skip, except under CI, where a failed build fails the run
sh contrib/dev/audiobookshelf.sh >/dev/null || [ -z "${CI:-}" ]
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/pytest "$@"
