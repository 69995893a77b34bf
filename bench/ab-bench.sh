#!/bin/sh
# Two builds of lcnet-infer timed back to back on the same fixtures, to show
# that a change to the engine left its speed alone: every configuration runs
# A then B (B then A on even rounds, so that a drift in machine load falls on
# both sides), and the report gives, per side, the best of the rounds' median
# and fastest run, and B/A for both.  On a machine others load, the fastest
# run is the steadier figure: contention only ever adds time.
#
#   bench/ab-bench.sh A_LCNET_INFER B_LCNET_INFER [BUILD]
#
# BUILD (default build) holds the fixtures and is where the int8 ranges are
# calibrated (by B) into BUILD/ab-bench.  Environment: AB_MODELS (fixture
# names, default timm14_x05 timm13_x10), AB_PRECS (default fp32 bf16 int8;
# bf16 is left out where the CPU lacks it), AB_BATCHES (1 8), AB_THREADS
# (1), AB_ROUNDS (5), AB_RUNS (timed runs per measurement, 60).
set -eu

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 A_LCNET_INFER B_LCNET_INFER [BUILD]" >&2
    exit 2
fi
a=$1 b=$2 build=${3:-build}
fix=$build/fixtures
work=$build/ab-bench
PYTHON=${PYTHON:-/usr/bin/python3}
MODELS=${AB_MODELS:-timm14_x05 timm13_x10}
PRECS=${AB_PRECS:-fp32 bf16 int8}
BATCHES=${AB_BATCHES:-1 8}
THREADS=${AB_THREADS:-1}
ROUNDS=${AB_ROUNDS:-5}
RUNS=${AB_RUNS:-60}

mkdir -p "$work"
# private copies: a rebuild during the run cannot swap either engine
cp "$a" "$work/a" && cp "$b" "$work/b"
a=$work/a b=$work/b
first=${MODELS%% *}
if ! "$b" --model "$fix/$first.onnx" --precision bf16 --plan >/dev/null 2>&1; then
    PRECS=$(printf '%s\n' $PRECS | grep -v '^bf16$' | tr '\n' ' ')
fi

# int8 ranges from the fixtures' calibration frames, once per model
rm -rf "$work/calib" && mkdir -p "$work/calib"
"$PYTHON" "$(dirname "$0")/calib_frames.py" "$fix/calib224x224.u8" "$work/calib"
for m in $MODELS; do
    "$b" --model "$fix/$m.onnx" --calibrate "$work/calib" --resize stretch \
        --calibration "$work/$m.calib" >/dev/null
done

res=$work/results.txt
: >"$res"
figures() { sed -n 's/.*"median_ms":\([0-9.]*\).*"min_ms":\([0-9.]*\).*/\1 \2/p'; }
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for m in $MODELS; do
        for p in $PRECS; do
            for bt in $BATCHES; do
                for t in $THREADS; do
                    set -- --model "$fix/$m.onnx" --precision "$p" --batch "$bt" --threads "$t" \
                        --bench "$RUNS" --warmup 10
                    [ "$p" != int8 ] || set -- "$@" --calibration "$work/$m.calib"
                    if [ $((r % 2)) -eq 1 ]; then order="a b"; else order="b a"; fi
                    for who in $order; do
                        ms=$("$work/$who" "$@" | figures)
                        printf '%s %s %s B%s T%s %s\n' "$who" "$m" "$p" "$bt" "$t" "$ms" >>"$res"
                    done
                done
            done
        done
    done
    echo "ab-bench: round $r of $ROUNDS done" >&2
    r=$((r + 1))
done

# per side and configuration: the best median and the fastest run, and B/A
awk '{ k = $2 " " $3 " " $4 " " $5
       if (!(k in ma)) { ma[k] = mb[k] = na[k] = nb[k] = 1e30; order[n++] = k }
       if ($1 == "a") { if ($6 < ma[k]) ma[k] = $6; if ($7 < na[k]) na[k] = $7 }
       if ($1 == "b") { if ($6 < mb[k]) mb[k] = $6; if ($7 < nb[k]) nb[k] = $7 } }
     END { printf "%-26s %9s %9s %6s  %9s %9s %6s\n", "configuration", "A median", "B median",
                  "B/A", "A min", "B min", "B/A"
           for (i = 0; i < n; i++) { k = order[i]
               printf "%-26s %9.3f %9.3f %6.3f  %9.3f %9.3f %6.3f\n", k, ma[k], mb[k], mb[k] / ma[k],
                      na[k], nb[k], nb[k] / na[k] } }' "$res"
