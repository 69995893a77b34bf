#!/bin/sh
# Run the test suites: every cmocka binary in BUILD/tests, then the
# integration tests (tests/integration/test_*.py, which run the real daemon).
#
#   tests/run.sh BUILD [unit|integration|all]
#
# LCNETD_INTEGRATION, a space-separated list of names (test_faults ...),
# narrows the integration suites to those, LCNETD_UNIT the cmocka ones.  LCNETD_EXEC, a program put in
# front of each test binary and daemon (tests/arm64/qemu-run.sh), runs a
# cross build's suites.
set -u
build=${1:-build}
what=${2:-all}
export LCNETD_BUILD=$build
export LCNETD_FIXTURES=$build/fixtures
PY=/usr/bin/python3
failed=""
total=0

run() {
    name=$1
    shift
    total=$((total + 1))
    echo "=== $name"
    start=$(date +%s)
    if "$@"; then
        echo "=== $name: ok ($(( $(date +%s) - start )) s)"
    else
        echo "=== $name: FAILED ($(( $(date +%s) - start )) s)"
        failed="$failed $name"
    fi
}

if [ "$what" != integration ]; then
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        if [ -n "${LCNETD_UNIT:-}" ]; then
            case " $LCNETD_UNIT " in *" $(basename "$t") "*) ;; *) continue ;; esac
        fi
        # shellcheck disable=SC2086
        run "$(basename "$t")" ${LCNETD_EXEC:-} "$t"
    done
fi
if [ "$what" != unit ]; then
    for t in tests/integration/test_*.py; do
        [ -f "$t" ] || continue
        if [ -n "${LCNETD_INTEGRATION:-}" ]; then
            case " $LCNETD_INTEGRATION " in *" $(basename "$t" .py) "*) ;; *) continue ;; esac
        fi
        run "$(basename "$t" .py)" "$PY" "$t"
    done
fi

if [ -n "$failed" ]; then
    echo "FAILED:$failed (of $total suites)"
    exit 1
fi
echo "all $total suites passed"
