#!/bin/sh
# Install the Debian packages lcnetd needs to build, test and demo, if any is missing.
# Run by `make` before anything else, so that a fresh Debian 12 machine needs nothing but make.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev libomp-14-dev llvm
libdnnl-dev libxnnpack-dev libpthreadpool-dev
libavformat-dev libavdevice-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg
libinih-dev libsystemd-dev systemd libcmocka-dev
libmosquitto-dev mosquitto mosquitto-clients openssl libmicrohttpd-dev prometheus
libprotobuf-c-dev protobuf-c-compiler libcjson-dev libyaml-dev protobuf-compiler python3-protobuf
libonnx-dev libonnx-testdata
python3 python3-torch python3-onnx python3-numpy python3-gi python3-skimage python3-pil palapeli-data
gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
vlc-bin vlc-plugin-base
netcat-openbsd socat procps iproute2 man-db groff-base
fonts-dejavu-core"
# Elsewhere than on arm64, make check cross-builds for arm64 and runs the
# result under qemu: the cross compiler and qemu are amd64 packages; the
# arm64 libraries are unpacked into a sysroot by tools/arm64-sysroot.sh
# (never installed: some cannot sit beside their amd64 twins), which needs
# apt to know the arm64 architecture.
arch=$(dpkg --print-architecture)
if [ "$arch" != arm64 ]; then
    PKGS="$PKGS gcc-aarch64-linux-gnu qemu-user"
fi

missing=""
for p in $PKGS; do
    s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$s" = "installed" ] || missing="$missing $p"
done
# Node.js and npm (for ONNX Runtime, the tests' reference) may come from elsewhere
# than Debian; only install Debian's when the commands are absent.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
need_arm64=""
if [ "$arch" != arm64 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    need_arm64=1
fi

if [ -n "$missing" ] || [ -n "$need_arm64" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            SUDO=sudo
        else
            echo "deps: not root and no sudo; run as root:${need_arm64:+ dpkg --add-architecture arm64 &&}" \
                 "apt-get update && apt-get install$missing" >&2
            exit 1
        fi
    else
        SUDO=
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [ -n "$need_arm64" ]; then
        echo "deps: adding the arm64 architecture to apt (for the arm64 sysroot)"
        $SUDO dpkg --add-architecture arm64
    fi
    $SUDO apt-get update -qq
fi
if [ -n "$missing" ]; then
    echo "deps: installing:$missing"
    # Never remove a package to make room: whatever apt would remove is
    # something another build on this machine may use.
    # shellcheck disable=SC2086
    if $SUDO apt-get install -s --no-install-recommends $missing | grep -q '^Remv '; then
        echo "deps: installing$missing would remove packages; not done:" >&2
        # shellcheck disable=SC2086
        $SUDO apt-get install -s --no-install-recommends $missing | grep '^Remv ' >&2
        exit 1
    fi
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# VLC, one of the RTSP servers the tests run, refuses to run as root: as root,
# tests/tools/vlc_rtsp.py starts it as this system user, which owns nothing.
if [ "$(id -u)" -eq 0 ] && ! getent passwd lcnetd-test >/dev/null; then
    echo "deps: adding system user lcnetd-test (runs VLC in the tests)"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        lcnetd-test
fi
