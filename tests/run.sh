#!/bin/sh
# The whole test suite on a fresh machine: installs what it needs, then lint, types and tests.
# Extra arguments go to pytest (for example: sh tests/run.sh -k reload), against the qBittorrent that
# MAMD_QBITTORRENT names, else the qbittorrent-nox on PATH. Without arguments, the tests that talk to
# qBittorrent then run again against qBittorrent 5.1 and 5.3 (the block at the end).
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
[ $# -eq 0 ] || exec .venv/bin/pytest "$@"

# qBittorrent 5.1 (Debian trixie) and the newest of trixie-backports (5.3), from chroots cached outside
# the repository; built first, so that a machine that cannot build them says so before the long run.
# Each run's header names the qBittorrent version it used.
if launchers="$(sh contrib/dev/qbittorrent-chroots.sh)"; then
    skipped=""
elif [ -n "${CI:-}" ]; then
    echo "tests/run.sh: CI must run the tests against qBittorrent 5.x, and the chroots could not be built" >&2
    exit 1
else
    launchers=""
    skipped="the qBittorrent 5.1 and 5.3 runs are skipped (why: above); to include them, run this as root with debootstrap and the network"
fi
.venv/bin/pytest
for launcher in $launchers; do
    echo "tests/run.sh: the tests that talk to qBittorrent, again with $launcher"
    MAMD_QBITTORRENT="$launcher" .venv/bin/pytest -m qbittorrent
done
[ -z "$skipped" ] || echo "tests/run.sh: $skipped" >&2
