#!/bin/sh
# The whole test suite on a fresh machine: installs what it needs, then lint, types and tests.
# Extra arguments go to pytest (for example: sh tests/run.sh -k reload).
set -eu
cd "$(dirname "$0")/.."

missing=""
command -v qbittorrent-nox >/dev/null 2>&1 || missing="$missing qbittorrent-nox"
command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        # shellcheck disable=SC2086  # the package list is meant to split
        apt-get install -y -q --no-install-recommends $missing >/dev/null \
            || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null; }
    else
        echo "tests/run.sh: missing$missing; install with: sudo apt-get install$missing" >&2
    fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/pytest "$@"
