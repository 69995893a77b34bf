#!/bin/sh
# `make bench`: lcnet-infer (fp32, bf16, int8) against ONNX Runtime (fp32) on
# the same ONNX files, same machine, same thread counts, in one run; writes the
# Markdown report.  int8 runs the float models with activation ranges
# calibrated here, in the work folder, from the fixtures' calibration frames.
#
#   bench/run-bench.sh BUILD [OUT.md]        (OUT defaults to docs/benchmarks.md)
#
# Needs BUILD/lcnet-infer, BUILD/bench/fmapeak and the fixtures (make targets
# of the same names).  Raw results stay in BUILD/bench.  Environment:
#   BENCH_MS      timed work per run in ms, N is chosen from it (default 300)
#   BENCH_ROUNDS  rounds over every configuration, best median kept (default 2)
#   NODE, PYTHON  interpreters (default node, /usr/bin/python3; PYTHON needs PIL,
#                 to write the int8 calibration frames as PNGs)
#   ONEDNN_MAX_CPU_ISA  caps what lcnetd's side runs (ONNX Runtime ignores it):
#                 the report says so, and its section is the capped ISA's
#   BENCH_CPU     avx2 or sse41: both sides see a CPU of that class, their
#                 CPUID masked (bench/cpuid_mask.c; needs CPUID faulting, which
#                 the report's machine table confirms); a fair stand-in for
#                 such a CPU on a bigger one, same micro-architecture
#
# The report has one section per ISA oneDNN dispatched to: a run replaces its
# own ISA's section and keeps the others (and bench-e2e's).  Precisions the
# CPU lacks (bf16 without native bf16) are marked in their rows.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 BUILD [OUT.md]" >&2
    exit 2
fi
build=$1
out=${2:-docs/benchmarks.md}
here=$(cd "$(dirname "$0")" && pwd)
NODE=${NODE:-node}
PYTHON=${PYTHON:-/usr/bin/python3}
BENCH_MS=${BENCH_MS:-300}
BENCH_ROUNDS=${BENCH_ROUNDS:-2}
infer=$build/lcnet-infer
fix=$build/fixtures
work=$build/bench
NODE_PATH=$(cd "$fix/node" && pwd)/node_modules
export NODE_PATH

# name scale: one architecture (timm export), four widths
MODELS="timm13_x025:0.25 timm14_x05:0.5 timm13_x10:1.0 timm14_x25:2.5"
THREADS="1 2"
BATCHES="1 8"

for f in "$infer" "$work/fmapeak"; do
    [ -x "$f" ] || { echo "bench: $f missing (make $f)" >&2; exit 1; }
done
for m in $MODELS; do
    [ -f "$fix/${m%%:*}.onnx" ] || { echo "bench: $fix/${m%%:*}.onnx missing (make fixtures)" >&2; exit 1; }
done
mkdir -p "$work" "$(dirname "$out")"
start=$(date +%s)
if [ -n "${BENCH_CPU:-}" ]; then
    mask=$(cd "$build/bench" && pwd)/cpuid_mask.so
    [ -f "$mask" ] || { echo "bench: $mask missing (make $build/bench/cpuid_mask.so)" >&2; exit 1; }
    # every child from here on sees the masked CPU
    export CPUID_MASK="$BENCH_CPU" LD_AUDIT="$mask" LD_PRELOAD="$mask"
    "$infer" --model "$fix/${MODELS%%:*}.onnx" --plan >/dev/null ||
        { echo "bench: lcnet-infer does not run with BENCH_CPU=$BENCH_CPU" >&2; exit 1; }
fi
# Run a private copy, so that a rebuild during the run cannot swap the
# engine under the benchmark.
cp "$infer" "$work/lcnet-infer"
infer=$work/lcnet-infer

# ------------------------------------------------------------ machine facts
facts=$work/facts.txt
cpu_field() { sed -n "s/^$1[[:space:]]*: //p" /proc/cpuinfo | head -n 1; }
{
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'cpu_model\t%s\n' "$(cpu_field 'model name')"
    printf 'cpu_family\t%s\n' "$(cpu_field 'cpu family')"
    printf 'cpu_model_id\t%s\n' "$(cpu_field 'model')"
    printf 'cpu_stepping\t%s\n' "$(cpu_field 'stepping')"
    printf 'cpu_mhz_cpuinfo\t%s\n' "$(cpu_field 'cpu MHz')"
    printf 'logical_cpus\t%s\n' "$(nproc)"
    printf 'cores_per_socket\t%s\n' "$(LC_ALL=C lscpu | sed -n 's/^Core(s) per socket:[[:space:]]*//p')"
    printf 'threads_per_core\t%s\n' "$(LC_ALL=C lscpu | sed -n 's/^Thread(s) per core:[[:space:]]*//p')"
    printf 'sockets\t%s\n' "$(LC_ALL=C lscpu | sed -n 's/^Socket(s):[[:space:]]*//p')"
    if grep -qw hypervisor /proc/cpuinfo; then
        printf 'hypervisor\tyes %s\n' "$(LC_ALL=C lscpu | sed -n 's/^Hypervisor vendor:[[:space:]]*//p')"
    else
        printf 'hypervisor\tno\n'
    fi
    printf 'isa\t%s\n' "$(for f in avx2 fma avx512f avx512_bf16 avx512_vnni amx_bf16; do grep -qw $f /proc/cpuinfo && printf '%s ' $f; done)"
    printf 'mem\t%s\n' "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    printf 'kernel\t%s\n' "$(uname -sr)"
    printf 'onednn_pkg\t%s\n' "$(dpkg-query -W -f='${Version}' libdnnl-dev 2>/dev/null || echo unknown)"
    printf 'ort\t%s\n' "$("$NODE" "$here/ort_bench.js" --version)"
    printf 'node\t%s\n' "$("$NODE" --version)"
    printf 'cc\t%s\n' "$(${CC:-gcc} --version | head -n 1)"
    if rev=$(git -C "$here/.." rev-parse --short HEAD 2>/dev/null); then
        [ -z "$(git -C "$here/.." status --porcelain -- engine tools 2>/dev/null)" ] || rev="$rev + uncommitted changes in engine/ or tools/"
        printf 'source\t%s\n' "$rev"
    else
        printf 'source\tunknown\n'
    fi
    printf 'load_start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'max_cpu_isa\t%s\n' "${ONEDNN_MAX_CPU_ISA:-}"
    printf 'cpu_mask\t%s\n' "${BENCH_CPU:-}"
} >"$facts"

# What oneDNN dispatches to, and which precisions run on it: the plan's
# header line says "# PRECISION on ISA: why".
first=${MODELS%%:*}
isa=$("$infer" --model "$fix/$first.onnx" --plan | sed -n '1s/^# [a-z0-9]* on \([a-z0-9_-]*\):.*/\1/p')
[ -n "$isa" ] || { echo "bench: cannot tell the ISA from lcnet-infer --plan" >&2; exit 1; }
printf 'onednn_isa\t%s\n' "$isa" >>"$facts"
PRECS=""
for p in fp32 bf16 int8; do
    if [ "$p" = bf16 ] && ! why=$("$infer" --model "$fix/$first.onnx" --precision bf16 --plan 2>&1 >/dev/null); then
        printf 'skipped_bf16\t%s\n' "$(printf '%s' "$why" | tail -n 1)" >>"$facts"
        continue
    fi
    PRECS="$PRECS lcnetd-$p"
done
echo "bench: lcnetd on $isa:$PRECS"

# ------------------------------------------------------------ MACs and peak
"$PYTHON" "$here/count_macs.py" $(for m in $MODELS; do printf '%s ' "$fix/${m%%:*}.onnx"; done) >"$work/macs.txt"
macs_of() { awk -v f="$fix/$1.onnx" '$1 == f { print $2 }' "$work/macs.txt"; }
# the probe's widest loops are AVX-512 code: an AVX2 mask, or an AVX2 CPU,
# gets the 256-bit peak and the exact int8 ceiling; other CPUs have no peak
# to report
peak() {
    if grep -qw avx512f /proc/cpuinfo; then
        case ${BENCH_CPU:-} in
        "") "$work/fmapeak" ;;
        avx2) "$work/fmapeak" ymm ;;
        esac
    elif grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && [ "${BENCH_CPU:-avx2}" = avx2 ]; then
        "$work/fmapeak" ymm
    fi
}
echo "bench: clock and FMA peak"
peak >"$work/fmapeak.txt"

# ------------------------------------------------------------ int8 calibration
# The fixtures' calibration frames (raw 224x224 RGB u8, never the evaluation
# frames) as PNGs, since --calibrate reads a folder of images; 224x224 with
# --resize stretch so the engine sees each frame unchanged.  The ranges go to
# the work folder: the fixtures are shared and may be read-only.
calib_frames=$fix/calib224x224.u8
[ -f "$calib_frames" ] || { echo "bench: $calib_frames missing (make fixtures)" >&2; exit 1; }
rm -rf "$work/calib"
mkdir -p "$work/calib"
"$PYTHON" "$here/calib_frames.py" "$calib_frames" "$work/calib"
calib_of() { printf '%s/%s.calib' "$work" "$1"; }
for m in $MODELS; do
    name=${m%%:*}
    echo "bench: int8 calibration of $name"
    "$infer" --model "$fix/$name.onnx" --calibrate "$work/calib" --resize stretch \
        --calibration "$(calib_of "$name")" >"$work/calib-$name.json"
done

# ------------------------------------------------------------ timed runs
# N: about BENCH_MS of timed work at a guessed 40 GMAC/s, 15..500 runs;
# warm-up N/10, 3..20 runs (it also covers lcnet-infer's lazy compile).
res=$work/results.jsonl
: >"$res"
# seconds of CPU used by this shell's finished children, from `times`
# (written to a file: a command substitution would run it in a subshell)
child_cpu() {
    awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); t += p[1] * 60 + p[2] } print t }' "$1"
}
# busy CPU seconds of the whole machine so far, steal (time the hypervisor
# gave to other guests) included
busy_cpu() {
    awk -v hz="$HZ" '$1 == "cpu" { print ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat
}
HZ=$(getconf CLK_TCK)
run_one() {  # round runner name scale threads batch n warmup
    r=$1 who=$2 name=$3 scale=$4 t=$5 b=$6 n=$7 w=$8
    model=$fix/$name.onnx
    load=$(cut -d' ' -f1 /proc/loadavg)
    b0=$(busy_cpu)
    t0=$(date +%s.%N)
    times >"$work/.times0"
    case $who in
    lcnetd-fp32) line=$("$infer" --model "$model" --bench "$n" --warmup "$w" --threads "$t" --batch "$b" --precision fp32) ;;
    lcnetd-bf16) line=$("$infer" --model "$model" --bench "$n" --warmup "$w" --threads "$t" --batch "$b" --precision bf16) ;;
    lcnetd-int8) line=$("$infer" --model "$model" --bench "$n" --warmup "$w" --threads "$t" --batch "$b" --precision int8 \
                        --calibration "$(calib_of "$name")") ;;
    ort-fp32) line=$("$NODE" "$here/ort_bench.js" --model "$model" --bench "$n" --warmup "$w" --threads "$t" --batch "$b") ;;
    esac
    times >"$work/.times1"
    t1=$(date +%s.%N)
    b1=$(busy_cpu)
    # Over the run's wall time (model load included): the CPUs it used, and
    # the CPUs everything else on the machine used (busy time minus its own).
    own=$(awk -v c0="$(child_cpu "$work/.times0")" -v c1="$(child_cpu "$work/.times1")" \
        -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.2f", (c1 - c0) / (t1 - t0) }')
    others=$(awk -v b0="$b0" -v b1="$b1" -v own="$own" -v t0="$t0" -v t1="$t1" \
        'BEGIN { x = (b1 - b0) / (t1 - t0) - own; if (x < 0) x = 0; printf "%.2f", x }')
    printf '{"round":%d,"runner":"%s","name":"%s","scale":"%s","threads":%d,"batch":%d,"load":"%s","own_cpus":%s,"other_cpus":%s,"result":%s}\n' \
        "$r" "$who" "$name" "$scale" "$t" "$b" "$load" "$own" "$others" "$line" >>"$res"
    printf 'bench: round %d  %-6s x%-4s T%d B%d  %-11s %10s ms  cpus: own %s, others %s\n' "$r" "$name" "$scale" \
        "$t" "$b" "$who" "$(printf '%s' "$line" | sed -n 's/.*"median_ms":\([0-9.]*\).*/\1/p')" "$own" "$others"
}
round=1
while [ "$round" -le "$BENCH_ROUNDS" ]; do
    # alternate who goes first, so that a drift in machine load does not
    # always fall on the same side
    if [ $((round % 2)) -eq 1 ]; then order="$PRECS ort-fp32"
    else order="ort-fp32 $(printf '%s\n' $PRECS | tac | tr '\n' ' ')"; fi
    for m in $MODELS; do
        name=${m%%:*} scale=${m#*:}
        macs=$(macs_of "$name")
        for t in $THREADS; do
            for b in $BATCHES; do
                n=$(awk -v m="$macs" -v b="$b" -v ms="$BENCH_MS" 'BEGIN {
                    n = int(ms / (m * b / 40e6)); if (n < 15) n = 15; if (n > 500) n = 500; print n }')
                w=$((n / 10)); [ "$w" -lt 3 ] && w=3; [ "$w" -gt 20 ] && w=20
                for who in $order; do
                    run_one "$round" "$who" "$name" "$scale" "$t" "$b" "$n" "$w"
                done
            done
        done
    done
    peak >>"$work/fmapeak.txt"
    round=$((round + 1))
done

# ------------------------------------------------------------ where the time goes
# x1.0, batch 1, 1 thread, each precision: per-primitive times from oneDNN's
# verbose log, steps named from the compiled plan.
for p in $(printf '%s\n' $PRECS | sed 's/^lcnetd-//'); do
    echo "bench: oneDNN verbose breakdown, x1.0 B1 T1 $p"
    set -- --model "$fix/timm13_x10.onnx" --batch 1 --precision "$p"
    if [ "$p" = int8 ]; then set -- "$@" --calibration "$(calib_of timm13_x10)"; fi
    "$infer" "$@" --plan >"$work/plan-$p.txt"
    ONEDNN_VERBOSE=1 "$infer" "$@" --bench 50 --warmup 10 --threads 1 >"$work/verbose-$p.log"
    # the steps the engine runs itself (its loops, its own int8 kernels)
    # print no verbose line: lcnetd times every step itself
    "$infer" "$@" --bench 50 --warmup 10 --threads 1 --steps >"$work/steps-$p.txt"
done
printf 'load_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$facts"
printf 'elapsed_s\t%s\n' "$(($(date +%s) - start))" >>"$facts"

rm -f "$work/.times0" "$work/.times1"
"$PYTHON" "$here/report.py" --work "$work" --verbose-iters 60 --verbose-keep 50 --bench-ms "$BENCH_MS" \
    >"$work/section.md"
"$PYTHON" "$here/report.py" --merge "$work/section.md" --isa "$isa" --into "$out" >"$out.tmp"
mv "$out.tmp" "$out"
echo "bench: wrote $out ($(($(date +%s) - start)) s)"
