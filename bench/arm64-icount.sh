#!/bin/sh
# `make bench-arm64`: what a frame costs the arm64 build, in guest
# instructions counted under qemu-aarch64 -cpu cortex-a76 by the TCG plugin
# bench/qemu_icount.c, for each scale, precision and engine backend; writes
# the arm64 section of docs/benchmarks.md (bench/arm64_report.py).
#
#   bench/arm64-icount.sh HOST_BUILD ARM64_BUILD [OUT.md]
#
# Each configuration runs lcnet-infer twice, single-threaded, with one and
# with 1 + BENCH_FRAMES timed frames after the same warm-up: the difference
# divided by BENCH_FRAMES is one frame's work, without the loading,
# compiling and warm-up both runs share.  int8 uses activation ranges
# calibrated by the host build from the fixtures' calibration frames (the
# ranges are the float model's, the same on any CPU).  Environment:
#   BENCH_FRAMES    frames the second run adds (default 2)
#   BENCH_BACKENDS  default "onednn xnnpack"
set -eu

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 HOST_BUILD ARM64_BUILD [OUT.md]" >&2
    exit 2
fi
host=$1
arm=$2
out=${3:-docs/benchmarks.md}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
FRAMES=${BENCH_FRAMES:-2}
BACKENDS=${BENCH_BACKENDS:-onednn xnnpack}
fix=$host/fixtures
work=$host/bench-arm64
plugin=$(cd "$host/bench" && pwd)/qemu_icount.so
run=$root/tests/arm64/qemu-run.sh
MODELS="timm13_x025:0.25 timm14_x05:0.5 timm13_x10:1.0 timm14_x25:2.5"

for f in "$host/lcnet-infer" "$arm/lcnet-infer" "$plugin"; do
    [ -e "$f" ] || { echo "bench-arm64: $f missing (make bench-arm64 builds it)" >&2; exit 1; }
done
mkdir -p "$work"
# a private copy: a rebuild during the run cannot swap the engine under it
cp "$arm/lcnet-infer" "$work/lcnet-infer"
infer=$work/lcnet-infer

facts=$work/facts.txt
{
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'qemu\t%s\n' "$(qemu-aarch64 --version | head -n 1)"
    printf 'host_cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    printf 'onednn_pkg\t%s\n' "$(dpkg-deb -f "$(ls "$root"/build/arm64-sysroot.debs/libdnnl2_*_arm64.deb 2>/dev/null | head -n 1)" Version 2>/dev/null || echo unknown)"
    printf 'xnnpack_pkg\t%s\n' "$(dpkg-deb -f "$(ls "$root"/build/arm64-sysroot.debs/libxnnpack0_*_arm64.deb 2>/dev/null | head -n 1)" Version 2>/dev/null || echo unknown)"
    printf 'cc\t%s\n' "$(aarch64-linux-gnu-gcc --version 2>/dev/null | head -n 1 || echo native)"
    if rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null); then
        [ -z "$(git -C "$root" status --porcelain -- engine tools 2>/dev/null)" ] || rev="$rev + uncommitted changes in engine/ or tools/"
        printf 'source\t%s\n' "$rev"
    fi
    printf 'frames\t%s\n' "$FRAMES"
} >"$facts"

"$PYTHON" "$here/count_macs.py" $(for m in $MODELS; do printf '%s ' "$fix/${m%%:*}.onnx"; done) >"$work/macs.txt"

# int8 ranges, calibrated natively (see bench/run-bench.sh for the frames)
rm -rf "$work/calib"
mkdir -p "$work/calib"
"$PYTHON" - "$fix/calib224x224.u8" "$work/calib" <<'EOF'
import sys
from PIL import Image
src, dst = sys.argv[1], sys.argv[2]
size = 224 * 224 * 3
with open(src, "rb") as f:
    data = f.read()
for i in range(min(100, len(data) // size)):
    Image.frombytes("RGB", (224, 224), data[i * size:(i + 1) * size]).save(f"{dst}/{i:03d}.png")
EOF
for m in $MODELS; do
    name=${m%%:*}
    "$host/lcnet-infer" --model "$fix/$name.onnx" --calibrate "$work/calib" --resize stretch \
        --calibration "$work/$name.calib" >/dev/null
done

# count OUT ARGS...: one run under the plugin; OUT gets "icount total dp ldst"
count() {
    o=$1
    shift
    rm -f "$o"
    OMP_NUM_THREADS=1 LCNETD_QEMU_ARGS="-plugin $plugin,out=$o" "$run" "$infer" "$@" >/dev/null
}

# per_frame MODEL BACKEND PRECISION [CALIBRATION]: "total simd_dp simd_ldst" of
# one frame, or "n/a REASON" when that configuration does not run
per_frame() {
    set -- --model "$1" --backend "$2" --precision "$3" --threads 1 --warmup 1 \
        ${4:+--calibration "$4"}
    if ! why=$("$run" "$infer" "$@" --plan 2>&1 >/dev/null); then
        # the reason without "lcnet-infer: MODEL: "
        printf 'n/a %s\n' "$(printf '%s' "$why" | tail -n 1 | sed 's/^lcnet-infer: [^ ]*: //')"
        return
    fi
    count "$work/a.txt" "$@" --bench 1
    count "$work/b.txt" "$@" --bench $((1 + FRAMES))
    read -r _ t0 d0 l0 <"$work/a.txt"
    read -r _ t1 d1 l1 <"$work/b.txt"
    echo $(((t1 - t0) / FRAMES)) $(((d1 - d0) / FRAMES)) $(((l1 - l0) / FRAMES))
}

precs_of() {
    case $1 in
    xnnpack) echo "fp32 fp16 int8" ;;
    *) echo "fp32 int8" ;;
    esac
}

res=$work/results.txt
: >"$res"
for backend in $BACKENDS; do
    for m in $MODELS; do
        name=${m%%:*}
        scale=${m#*:}
        for p in $(precs_of "$backend"); do
            r=$(per_frame "$fix/$name.onnx" "$backend" "$p" "$([ "$p" != int8 ] || echo "$work/$name.calib")")
            case $r in
            n/a*) printf '%s\t%s\t%s\t%s\tn/a\t%s\n' "$backend" "$name" "$scale" "$p" "${r#n/a }" ;;
            *) printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$backend" "$name" "$scale" "$p" $r ;;
            esac >>"$res"
            echo "bench-arm64: $backend $name $p: $r"
        done
    done
done

# The shared QDQ model (PP-LCNet x0.5 as ONNX Runtime quantised it) beside
# its dequantised float twin: int8 with the quantiser's own parameters
# (the fixtures above run calibrated, with per-channel activation scales).
# Skipped where ../shared is absent.
shared=${LCNETD_SHARED:-$root/../shared/models}
qres=$work/qdq.txt
: >"$qres"
if [ -r "$shared/nsfw-lite_lcnet_050_nsfw-sfw.int8.onnx" ]; then
    for backend in $BACKENDS; do
        for p in $(precs_of "$backend"); do
            case $p in
            int8) model=$shared/nsfw-lite_lcnet_050_nsfw-sfw.int8.onnx ;;
            *) model=$shared/nsfw-lite_lcnet_050_nsfw-sfw.dequant-fp32.onnx ;;
            esac
            r=$(per_frame "$model" "$backend" "$p")
            case $r in
            n/a*) printf '%s\t%s\t%s\t%s\tn/a\t%s\n' "$backend" "lcnet050" "0.5" "$p" "${r#n/a }" ;;
            *) printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$backend" "lcnet050" "0.5" "$p" $r ;;
            esac >>"$qres"
            echo "bench-arm64: QDQ model $backend $p: $r"
        done
    done
else
    echo "bench-arm64: $shared absent: no QDQ rows" >&2
fi

# One layer type alone: a model with 8 such layers against the same model
# without them (bench/arm64_layers.py), per multiply-accumulate.
layers=$work/layers
"$PYTHON" "$here/arm64_layers.py" "$layers" >"$layers.macs"
lres=$work/layers.txt
: >"$lres"
while read -r kind macs; do
    for backend in $BACKENDS; do
        for p in $(precs_of "$backend"); do
            cal=""
            if [ "$p" = int8 ]; then
                for k in 0 8; do
                    "$host/lcnet-infer" --model "$layers/${kind}_k$k.onnx" --calibrate "$work/calib" \
                        --resize stretch --calibration "$layers/${kind}_k$k.calib" >/dev/null
                done
                cal=1
            fi
            r0=$(per_frame "$layers/${kind}_k0.onnx" "$backend" "$p" ${cal:+"$layers/${kind}_k0.calib"})
            r8=$(per_frame "$layers/${kind}_k8.onnx" "$backend" "$p" ${cal:+"$layers/${kind}_k8.calib"})
            case "$r0 $r8" in
            *n/a*) printf '%s\t%s\t%s\tn/a\n' "$kind" "$backend" "$p" ;;
            *) set -- $r0 $r8
               printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$backend" "$p" $(($4 - $1)) \
                   $(($5 + $6 - $2 - $3)) $((8 * macs)) ;;
            esac >>"$lres"
            echo "bench-arm64: $kind $backend $p: $(tail -n 1 "$lres")"
        done
    done
done <"$layers.macs"

"$PYTHON" "$here/arm64_report.py" "$res" "$work/macs.txt" "$lres" "$facts" "$out" "$qres"
echo "bench-arm64: wrote the arm64 section of $out"
