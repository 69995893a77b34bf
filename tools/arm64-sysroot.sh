#!/bin/sh
# An arm64 Debian 12 sysroot for the cross build and for qemu-aarch64 -L:
#
#   tools/arm64-sysroot.sh DIR
#
# Debian's :arm64 packages are fetched with `apt-get download` and unpacked
# with `dpkg-deb -x`, never installed: some of them cannot sit beside the
# amd64 ones the host build uses (libdnnl-dev's dnnl_config.h differs,
# libxnnpack0 is single-architecture), and installing the rest would tie
# the amd64 libraries' upgrades to them.  tools/deps.sh has already added
# the arm64 architecture to apt; this script needs no root.
#
# The downloaded .deb files stay in DIR.debs, so that a rebuilt sysroot
# downloads nothing twice.
set -eu

dir=${1:?usage: tools/arm64-sysroot.sh DIR}
debs=$dir.debs

# What the build links and includes (without their own -dev dependencies:
# shared libraries need only their runtime closure) ...
DEV="libc6-dev linux-libc-dev libcrypt-dev
libavformat-dev libavdevice-dev libavcodec-dev libswscale-dev libavutil-dev
libavfilter-dev libswresample-dev libpostproc-dev
libinih-dev libsystemd-dev libcmocka-dev libprotobuf-c-dev libcjson-dev libyaml-dev
libmosquitto-dev libmicrohttpd-dev
libdnnl-dev libxnnpack-dev libpthreadpool-dev libcpuinfo-dev"
# ... and what the programs load when they run.
RUNTIME="libc6 libgcc-s1 libgomp1 libstdc++6
libavformat59 libavdevice59 libavcodec59 libswscale6 libavutil57 libavfilter8 libswresample4
libpostproc56 libinih1 libsystemd0 libcmocka0 libprotobuf-c1 libcjson1 libyaml-0-2
libmosquitto1 libmicrohttpd12
libdnnl2 libxnnpack0 libpthreadpool0 libcpuinfo0"

arm() { for p in "$@"; do printf '%s:arm64\n' "$p"; done; }

if ! apt-cache show libc6:arm64 >/dev/null 2>&1; then
    echo "arm64-sysroot: apt knows no arm64 packages; as root: dpkg --add-architecture arm64 && apt-get update" >&2
    exit 1
fi

# shellcheck disable=SC2086
closure=$( { arm $DEV; apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances $(arm $RUNTIME) | grep -v '^ ' | grep ':arm64$'; } |
    sort -u)

mkdir -p "$debs"
# One apt-cache call for all (virtual packages have no candidate).
need=$(apt-cache policy $closure | awk '/^[^ ]/ { p = $1 } /Candidate:/ { print p, $2 }' |
    while read -r p ver; do
        p=${p%:}
        [ "$ver" != "(none)" ] || continue
        file=$(printf '%s_%s_arm64.deb' "${p%:arm64}" "$ver" | sed 's/:/%3a/')
        [ -f "$debs/$file" ] || echo "$p"
    done)
if [ -n "$need" ]; then
    echo "arm64-sysroot: downloading $(echo $need | wc -w) packages into $debs"
    # shellcheck disable=SC2086
    (cd "$debs" && apt-get download -q $need 2>&1 | grep -v -e '^Get:' -e 'unsandboxed' || true)
fi

tmp=$dir.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
for f in "$debs"/*.deb; do
    dpkg-deb -x "$f" "$tmp"
done

# Merge /lib into /usr/lib as a Debian 12 system does: the libraries' own
# symlinks and libc.so's linker script name both.
if [ -d "$tmp/lib" ] && [ ! -L "$tmp/lib" ]; then
    mkdir -p "$tmp/usr/lib"
    cp -a "$tmp/lib/." "$tmp/usr/lib/"
    rm -rf "$tmp/lib"
    ln -s usr/lib "$tmp/lib"
fi
# Absolute symlinks would point into the host: make them relative.
find "$tmp" -type l | while read -r l; do
    t=$(readlink "$l")
    case $t in
    /*)
        rel=$(realpath -m --relative-to="$(dirname "$l")" "$tmp$t")
        ln -sfn "$rel" "$l" ;;
    esac
done
# Libraries that Debian reaches through update-alternatives (BLAS, LAPACK)
for d in "$tmp"/usr/lib/aarch64-linux-gnu/*/; do
    for so in "$d"lib*.so.*; do
        [ -f "$so" ] || continue
        b=$(basename "$so")
        [ -e "$tmp/usr/lib/aarch64-linux-gnu/$b" ] || ln -s "$(basename "$d")/$b" "$tmp/usr/lib/aarch64-linux-gnu/$b"
    done
done

rm -rf "$dir"
mv "$tmp" "$dir"
echo "arm64-sysroot: $dir ready"
