#!/bin/sh
# Runs one arm64 program of the cross build on this machine, under
# qemu-aarch64 with the Debian 12 arm64 sysroot (tools/arm64-sysroot.sh):
#
#   tests/arm64/qemu-run.sh PROGRAM ARGS...
#
# tests/run.sh and the integration harness put it in front of every
# program they start when LCNETD_EXEC names it.  LCNETD_QEMU_CPU picks the
# CPU model: cortex-a76 (Raspberry Pi 5, RK3588: Neon, FP16 arithmetic, dot
# products) by default, cortex-a72 for a CPU without the last two.
# LCNETD_QEMU_ARGS adds options (a TCG plugin: bench/arm64-icount.sh).
# LCNETD_EMULATED tells the suites that real-time rates are out of reach.
root=$(cd "$(dirname "$0")/../.." && pwd)
sysroot=${LCNETD_ARM64_SYSROOT:-$root/build/arm64-sysroot}
if [ ! -x "$sysroot/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1" ]; then
    echo "qemu-run: no arm64 sysroot at $sysroot: run make check-arm64" >&2
    exit 127
fi
export LCNETD_EMULATED="qemu-aarch64 -cpu ${LCNETD_QEMU_CPU:-cortex-a76}"
# shellcheck disable=SC2086
exec qemu-aarch64 -cpu "${LCNETD_QEMU_CPU:-cortex-a76}" -L "$sysroot" ${LCNETD_QEMU_ARGS:-} "$@"
