#!/bin/sh
# qBittorrent 5.x for the tests, beside the system's own: Debian trixie's qbittorrent-nox (5.1) and the
# newest in trixie-backports (5.3 today), each installed by debootstrap and apt into a chroot cached
# outside the repository, in ${MAMD_TEST_CACHE:-$HOME/.cache/mamd-tests}/qbittorrent-<suite>-<week>.
# The key is the suite and the ISO week of the build, so a newer package arrives within a week; the
# chroots of older weeks are removed.
#
# Prints the launcher of each chroot (give it to the tests as MAMD_QBITTORRENT), one per line, building
# what is missing. Building needs root, debootstrap (installed with apt when missing) and the network;
# without them this says why on stderr and exits 1. A chroot is built under a temporary name and renamed
# once complete, so a half-built one is never used; each build runs in a mount namespace of its own,
# so nothing it mounts outlives it.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
cache="${MAMD_TEST_CACHE:-$HOME/.cache/mamd-tests}"
week="$(date -u +%G-W%V)"
last_week="$(date -u -d '7 days ago' +%G-W%V)"

say() { echo "qbittorrent-chroots: $*" >&2; }

cannot() {
    say "cannot build the qBittorrent 5.x chroots: $*"
    exit 1
}

[ "$(id -u)" = 0 ] || cannot "it needs root (debootstrap, chroot, mount namespaces); run the tests as root"
for tool in unshare chroot flock; do
    command -v "$tool" >/dev/null 2>&1 || cannot "$tool is missing (util-linux, coreutils)"
done
if ! command -v debootstrap >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || cannot "debootstrap is missing and there is no apt-get to install it"
    # the apt lock may be held by another install on this machine: wait for it rather than fail
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
        --no-install-recommends debootstrap debian-archive-keyring >/dev/null \
        || cannot "apt-get could not install debootstrap"
fi

# the Debian mirror apt already uses here, else the default one
mirror="$(apt-get indextargets --format '$(REPO_URI) $(LABEL)' 2>/dev/null \
    | awk '$2 == "Debian" { print $1; exit }')"
mirror="${mirror:-http://deb.debian.org/debian/}"

mkdir -p "$cache"
exec 9>"$cache/qbittorrent-chroots.lock"
flock -w 1800 9 || cannot "another build holds $cache/qbittorrent-chroots.lock"

# Whatever is still mounted under $1 (a build killed half-way by something else than this script),
# deepest first; then the tree, never crossing into another filesystem.
remove_tree() {
    awk -v tree="$1" '$5 == tree || index($5, tree "/") == 1 { print $5 }' /proc/self/mountinfo \
        | sort -r | while read -r point; do umount -l "$point" || true; done
    rm -rf --one-file-system "$1"
}

# Copy the launcher in (afresh on every run: it is small and must match this checkout), then rename
# the build into place.
install_launcher() {
    cp "$here/qbittorrent-chroot-launcher.sh" "$1/qbittorrent-nox.partial"
    chmod 0755 "$1/qbittorrent-nox.partial"
    mv -f "$1/qbittorrent-nox.partial" "$1/qbittorrent-nox"
}

finish() {
    built="$1" final="$2" started="$3"
    mkdir -p "$built/root/run/host"
    chroot "$built/root" dpkg-query -W -f '${Version}\n' qbittorrent-nox >"$built/version"
    install_launcher "$built"
    mv "$built" "$final"
    say "built $(basename "$final") (qbittorrent-nox $(cat "$final/version")) in $(($(date +%s) - started)) s"
}

# debootstrap's own mounts (proc, sys) happen inside a private namespace and vanish with it
build_trixie() {
    final="$1" partial="$1.partial" started="$(date +%s)"
    remove_tree "$partial"
    mkdir -p "$partial"
    if ! unshare --mount --propagation private -- debootstrap --variant=minbase \
        --include=qbittorrent-nox trixie "$partial/root" "$mirror" >"$partial/build.log" 2>&1; then
        tail -n 20 "$partial/build.log" >&2
        cannot "debootstrap of trixie from $mirror failed (the log above)"
    fi
    finish "$partial" "$final" "$started"
}

# trixie-backports' qbittorrent-nox, over a copy of the trixie chroot: one debootstrap fewer
build_backports() {
    final="$1" base="$2" partial="$1.partial" started="$(date +%s)"
    remove_tree "$partial"
    mkdir -p "$partial"
    cp -a --reflink=auto "$base/root" "$partial/root"
    echo "deb $mirror trixie-backports main" >"$partial/root/etc/apt/sources.list.d/backports.list"
    if ! unshare --mount --propagation private -- sh -euc '
        mount -t proc proc "$1/proc"
        chroot "$1" apt-get update -q
        DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get install -y -q --no-install-recommends \
            -t trixie-backports qbittorrent-nox
        chroot "$1" apt-get clean
    ' sh "$partial/root" >"$partial/build.log" 2>&1; then
        tail -n 20 "$partial/build.log" >&2
        cannot "installing qbittorrent-nox from trixie-backports failed (the log above)"
    fi
    finish "$partial" "$final" "$started"
}

prune() {
    for old in "$cache/qbittorrent-$1-"[0-9]*; do
        case "$old" in
            "$cache/qbittorrent-$1-$week" | "$cache/qbittorrent-$1-$last_week" | *"*"*) ;;
            *) remove_tree "$old" ;;
        esac
    done
}

trixie="$cache/qbittorrent-trixie-$week"
backports="$cache/qbittorrent-trixie-backports-$week"
[ -d "$trixie" ] || build_trixie "$trixie"
[ -d "$backports" ] || build_backports "$backports" "$trixie"
prune trixie
prune trixie-backports
for built in "$trixie" "$backports"; do
    install_launcher "$built"
    echo "$built/qbittorrent-nox"
done
