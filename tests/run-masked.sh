#!/bin/sh
# The whole suite with the CPUID instruction answering as an older x86 CPU
# class (bench/cpuid_mask.c), so that everything in every process the tests
# start, the daemon, oneDNN, XNNPACK, FFmpeg, ONNX Runtime and our own
# loops, picks the code it would pick on such a CPU: the nearest this
# machine comes to being an AVX2-only or SSE4.1-only edge box.
# ONEDNN_MAX_CPU_ISA (tests/run-isa.sh) caps oneDNN alone; this caps all.
# The caches, clocks and execution ports stay this CPU's.
#
#   tests/run-masked.sh BUILD avx2|sse41 [unit|integration|all]
#
# Needs a CPU and kernel with CPUID faulting (the cpuid_fault flag in
# /proc/cpuinfo); without it the run says so and passes nothing off as
# tested (exit 0, nothing run).
set -u
build=${1:-build}
class=${2:-avx2}
what=${3:-all}
case $class in
    avx2 | sse41) ;;
    *)
        echo "run-masked: unknown CPU class '$class' (avx2 or sse41)" >&2
        exit 2
        ;;
esac
lib=$(cd "$build/bench" 2>/dev/null && pwd)/cpuid_mask.so
if [ ! -f "$lib" ]; then
    echo "run-masked: $build/bench/cpuid_mask.so is missing (make all builds it)" >&2
    exit 2
fi
if ! grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | grep -qw cpuid_fault; then
    echo "run-masked: this CPU or kernel cannot make CPUID fault; nothing run"
    exit 0
fi
if ! CPUID_MASK=$class LD_AUDIT=$lib LD_PRELOAD=$lib /bin/true; then
    echo "run-masked: the mask does not load here; nothing run" >&2
    exit 1
fi
echo "run-masked: the whole suite as on a CPU of class $class"
CPUID_MASK=$class LD_AUDIT=$lib LD_PRELOAD=$lib exec tests/run.sh "$build" "$what"
