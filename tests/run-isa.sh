#!/bin/sh
# The engine's suites again with oneDNN's ISA capped (ONEDNN_MAX_CPU_ISA),
# so that one machine runs what an older CPU would: every tier below this
# CPU's own that an edge box may have.  The int8 suite compares its outputs
# with those of the uncapped run before it (byte for byte), so run this
# after tests/run.sh.  test_pixels capped below AVX2 tests the portable pixel loop.
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
if [ -n "$failed" ]; then
    echo "FAILED:$failed (of $total capped runs)"
    exit 1
fi
echo "all $total capped runs passed"
