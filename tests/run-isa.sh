#!/bin/sh
# The engine's suites again with oneDNN's ISA capped (ONEDNN_MAX_CPU_ISA),
# so that one machine runs what an older CPU would: every tier below this
# CPU's own that an edge box may have; then with CPUID masked (below).  The
# int8 suite compares its outputs with those of the uncapped run before it
# (byte for byte), so run this after tests/run.sh.  test_pixels capped
# below AVX2 tests the portable pixel loop.
#
#   tests/run-isa.sh BUILD
set -u
build=${1:-build}
export LCNETD_BUILD=$build
export LCNETD_FIXTURES=$build/fixtures
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }

caps=""
if has avx512_vnni && has avx512bw; then
    caps="$caps AVX512_CORE"          # AVX-512 without VNNI: int8 as on AVX2
fi
if has avx_vnni; then
    caps="$caps AVX2_VNNI"
fi
if has avx2; then
    caps="$caps AVX2"
fi
if has sse4_1; then
    caps="$caps SSE41"
fi
if [ -z "$caps" ]; then
    echo "run-isa: not an x86-64 CPU oneDNN can cap; nothing to run"
    exit 0
fi

failed=""
total=0
for cap in $caps; do
    for t in test_engine test_int8 test_scale test_pixels; do
        total=$((total + 1))
        echo "=== $t (ONEDNN_MAX_CPU_ISA=$cap)"
        if ONEDNN_MAX_CPU_ISA=$cap "$build/tests/$t"; then
            echo "=== $t ($cap): ok"
        else
            echo "=== $t ($cap): FAILED"
            failed="$failed $t($cap)"
        fi
    done
done
# Then with the CPUID instruction itself answering as each older class
# (bench/cpuid_mask.c, as make check-cpu runs the whole suite), so that
# XNNPACK and FFmpeg choose their code as on such a CPU too, not oneDNN and
# our loops alone.  Where the CPU cannot make CPUID fault, it says so.
lib=$(cd "$build/bench" 2>/dev/null && pwd)/cpuid_mask.so
if has cpuid_fault && [ -f "$lib" ]; then
    classes=""
    # as AVX2 only where that hides something (on an AVX2 CPU it is the run above)
    if has avx2 && has fma && { has avx512f || has avx_vnni; }; then
        classes="avx2"
    fi
    has sse4_1 && classes="$classes sse41"
    for class in $classes; do
        for t in test_engine test_int8 test_xnn test_scale test_pixels; do
            total=$((total + 1))
            echo "=== $t (CPUID_MASK=$class)"
            if CPUID_MASK=$class LD_AUDIT=$lib LD_PRELOAD=$lib "$build/tests/$t"; then
                echo "=== $t (CPUID $class): ok"
            else
                echo "=== $t (CPUID $class): FAILED"
                failed="$failed $t(CPUID:$class)"
            fi
        done
    done
else
    echo "run-isa: no CPUID faulting here (or no $build/bench/cpuid_mask.so): the masked runs are skipped"
fi
if [ -n "$failed" ]; then
    echo "FAILED:$failed (of $total capped runs)"
    exit 1
fi
echo "all $total capped runs passed"
