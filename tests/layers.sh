#!/bin/sh
# What each folder may include (README.md, "Layout" and, inside engine/,
# "How the engine is built"), checked: every
# #include that breaks a rule is printed as file:line with the rule, and
# the script fails.  Run from the repository root (make check does).
#
#   rule FOLDER FORBIDDEN [ALLOWED] WHY
#
# FORBIDDEN and ALLOWED are extended regular expressions: FORBIDDEN on what
# is included, ALLOWED on the whole `file:line:#include ...` line, for the
# exceptions a rule has.
set -u
bad=0

rule() {
    dir=$1 forbidden=$2 allowed=$3 why=$4
    # the folder's subfolders too (engine/ may grow some)
    hits=$(find "$dir" -name '*.[ch]' -exec grep -HnE \
               "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($forbidden)" {} + | sort)
    [ -n "$allowed" ] && hits=$(printf '%s\n' "$hits" | grep -vE "$allowed")
    if [ -n "$hits" ]; then
        printf '%s\n' "$hits" | sed "s|\$|    <- $why|"
        bad=1
    fi
}

FFMPEG='libav|libsw'
NET='sys/socket\.h|sys/un\.h|netinet/|arpa/|netdb\.h'
PUBLIC_ENGINE='#[[:space:]]*include[[:space:]]*"engine/(engine|simd)\.h"'

rule engine "$FFMPEG|$NET|systemd/|daemon/|config/|media/|tools/|pthread\.h" "" \
    "engine/ is pure compute: no FFmpeg, sockets, systemd, threads of its own or callers' headers"
# Inside the engine, layers that depend one way (README.md, "How the
# engine is built"): import -> graph <- dnn, graph <- xnn; the two backends
# side by side, each seen by the rest only through engine/backend.h's
# table; engine.c and pick.c over them all.  oneDNN is seen in dnn/ only,
# XNNPACK in xnn/ only.
rule engine "oneapi/dnnl" '^engine/dnn/' \
    "only engine/dnn/ sees oneDNN"
rule engine "xnnpack\.h|pthreadpool\.h" '^engine/xnn/' \
    "only engine/xnn/ sees XNNPACK"
rule engine "engine/dnn/|engine/xnn/" '^engine/(dnn|xnn)/|^engine/pick\.c:' \
    "a backend's folder is seen through engine/backend.h; engine/pick.c alone names them"
rule engine/import "engine/dnn/|engine/graph/" '#[[:space:]]*include[[:space:]]*"engine/graph/(graph|ops)\.h"' \
    "engine/import/ builds a graph: graph.h and ops.h of engine/graph/, nothing of dnn/"
rule engine/graph "engine/dnn/|engine/import/" "" \
    "engine/graph/ is the graph and its passes: nothing of import/ or dnn/"
rule engine/dnn "engine/import/|engine/file\.h|engine/xnn/|engine/pick\.h" "" \
    "engine/dnn/ compiles a graph: nothing of import/ or xnn/, no file reading"
rule engine/xnn "engine/import/|engine/file\.h|engine/dnn/|engine/pick\.h" "" \
    "engine/xnn/ compiles a graph: nothing of import/ or dnn/, no file reading"
rule engine/graph "engine/xnn/|engine/backend\.h|engine/pick\.h" "" \
    "engine/graph/ is the graph and its passes: no backend"
rule media "daemon/|config/|tools/|$NET|systemd/|engine/" "$PUBLIC_ENGINE" \
    "media/ takes FFmpeg and the engine's public headers (engine.h, simd.h), nothing of the daemon"
rule config "daemon/|media/|tools/|$FFMPEG|$NET|systemd/|engine/" \
    '#[[:space:]]*include[[:space:]]*"engine/engine\.h"|^config/value_text\.c:[0-9]+:#include <arpa/inet\.h>' \
    "config/ is the ini schema: the engine's public header for its values, no more (inet_pton, a text parser, checks [metrics] listen)"
rule daemon "engine/|tools/" "$PUBLIC_ENGINE" \
    "the daemon sees the engine through its public headers only"
rule daemon "systemd/" '^daemon/svc\.c:' \
    "libsystemd belongs to the systemd glue, daemon/svc.c"
rule tools "daemon/|config/|engine/" "$PUBLIC_ENGINE" \
    "lcnet-infer uses the engine and media/, not the daemon"

if [ "$bad" != 0 ]; then
    echo "layers: includes above break README.md's Layout rules"
    exit 1
fi
echo "layers: every include within its folder's rules"
