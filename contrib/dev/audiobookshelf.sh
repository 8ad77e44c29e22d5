#!/bin/sh
# A real Audiobookshelf server for the tests that run mamd against one: its vendored source
# (../shared/vendor/audiobookshelf-2.36.0-server.tar.gz beside this repository, or $MAMD_ABS_TARBALL)
# unpacked with its npm dependencies into a cache outside the repository,
# ${MAMD_TEST_CACHE:-$HOME/.cache/mamd-tests}/audiobookshelf-<sha256 of the tarball>.
#
# The build (about 1.5 minutes: sqlite3 compiles from source) happens only when that folder is missing.
# It is made under a temporary name and renamed when complete, so a half-built cache is never used, and
# a lock lets two test runs on one machine share one build. Prints the folder on success; prints one line
# saying what is missing and exits 0 otherwise (the tests then skip, or fail under CI).
set -eu
repo="$(cd "$(dirname "$0")/../.." && pwd)"
tarball="${MAMD_ABS_TARBALL:-$repo/../shared/vendor/audiobookshelf-2.36.0-server.tar.gz}"
source_hint="get the source of https://github.com/advplyr/audiobookshelf at tag v2.36.0 as a tarball of index.js, package.json, package-lock.json and server/, and set MAMD_ABS_TARBALL to it"

if [ ! -f "$tarball" ]; then
    echo "audiobookshelf: $tarball is missing; $source_hint" >&2
    exit 0
fi

# Node and a compiler for sqlite3; Debian's nodejs puts the headers npm builds against in /usr/include/node
missing=""
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
command -v g++ >/dev/null 2>&1 && command -v make >/dev/null 2>&1 || missing="$missing build-essential"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        # shellcheck disable=SC2086  # the package list is meant to split
        apt-get install -y -q --no-install-recommends $missing >/dev/null \
            || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null; }
    else
        echo "audiobookshelf: cannot build it, missing:$missing; install with: sudo apt-get install$missing" >&2
        exit 0
    fi
fi

key="$(sha256sum "$tarball" | cut -c1-16)"
cache="${MAMD_TEST_CACHE:-$HOME/.cache/mamd-tests}"
target="$cache/audiobookshelf-$key"
mkdir -p "$cache"
exec 9>"$cache/audiobookshelf-$key.lock"
flock 9  # another test run may be building it right now: wait for it, then use its result
if [ ! -d "$target" ]; then
    started="$(date +%s)"
    work="$(mktemp -d "$cache/.audiobookshelf-$key.XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    tar -xzf "$tarball" -C "$work"
    nodedir=""
    [ -f /usr/include/node/node.h ] && nodedir=/usr
    # `npm ci` refuses this lock file (it lacks fsevents); building sqlite3 from source downloads nothing
    # but the npm packages themselves
    if ! (cd "$work" && npm_config_build_from_source=true npm_config_nodedir="$nodedir" \
        npm install --omit=dev --no-audit --no-fund --loglevel=error >"$work/npm-install.log" 2>&1); then
        echo "audiobookshelf: npm install failed; the end of its log:" >&2
        tail -n 30 "$work/npm-install.log" >&2
        exit 1
    fi
    if ! (cd "$work" && node -e "require('sqlite3')") >/dev/null 2>&1; then
        echo "audiobookshelf: sqlite3 did not build (see $work/npm-install.log)" >&2
        exit 1
    fi
    mv -T "$work" "$target"
    trap - EXIT
    echo "audiobookshelf: built in $(($(date +%s) - started)) s" >&2
fi
echo "$target"
