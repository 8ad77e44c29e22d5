#!/bin/sh
# Runs the qbittorrent-nox of the Debian chroot beside this file (./root), as qbittorrent-chroots.sh
# built it; the tests, the demo and the benchmarks reach it through MAMD_QBITTORRENT.
#
# Each run gets a mount namespace of its own: what is mounted below vanishes with the process, so
# nothing is ever left mounted on this machine, and every step execs, so the PID is qBittorrent's.
# Inside, /tmp, $TMPDIR and the folder holding --profile are this machine's own, so profiles, save
# paths and payloads have the same paths on both sides. This machine's / is also at /run/host: the
# completion program (a program of this machine, such as `mamd hook %I`) runs from there, and the
# next line tells the harness so:
# mamd-host-program-prefix: /usr/sbin/chroot /run/host
set -eu
root="$(dirname "$(readlink -f "$0")")/root"
exec unshare --mount --propagation private -- /bin/sh -eu -c '
root=$1
shift
share() {
    # $1 at the same path inside, unless it is visible there already (a folder under /tmp)
    [ -n "$1" ] && [ -d "$1" ] || return 0
    [ "$(stat -L -c %d:%i "$1")" = "$(stat -L -c %d:%i "$root$1" 2>/dev/null)" ] && return 0
    mkdir -p "$root$1"
    mount --rbind "$1" "$root$1"
}
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind / "$root/run/host"
share /tmp
share "${TMPDIR:-}"
for argument in "$@"; do
    case $argument in --profile=*) share "$(dirname "${argument#--profile=}")" ;; esac
done
exec chroot "$root" /usr/bin/qbittorrent-nox "$@"
' qbittorrent-chroot "$root" "$@"
