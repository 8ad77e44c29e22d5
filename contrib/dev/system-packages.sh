#!/bin/sh
# The Debian packages the demo and the tests use: qbittorrent-nox (a real qBittorrent on loopback),
# systemd-analyze (to verify the unit file), curl (qBittorrent's completion hook), ffmpeg (audiobooks
# for a real Audiobookshelf) and chromium (the status page in a real browser, headless). Installed with
# apt when missing and run as root; otherwise this says what to install and carries on.
set -eu
missing=""
command -v qbittorrent-nox >/dev/null 2>&1 || missing="$missing qbittorrent-nox"
command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
# ffmpeg: the tests write real audiobooks with it, and Audiobookshelf probes them with its ffprobe
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || missing="$missing ffmpeg"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -n "$missing" ] || exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    # another apt on the machine holds its lock for a while: wait for it rather than fail
    wait_lock="-o DPkg::Lock::Timeout=600"
    # shellcheck disable=SC2086  # the package and option lists are meant to split
    apt-get install $wait_lock -y -q --no-install-recommends $missing >/dev/null \
        || { apt-get update $wait_lock -q >/dev/null \
            && apt-get install $wait_lock -y -q --no-install-recommends $missing >/dev/null; }
else
    echo "missing:$missing; install with: sudo apt-get install$missing" >&2
fi
