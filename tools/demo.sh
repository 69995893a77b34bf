#!/bin/sh
# make demo: the whole pipeline on the embedded default, in the foreground.
#
# A demo clip (real photographs, then a covered lens, blur, noise, colour
# bars, glare) is served over RTSP on loopback by a real RTSP server; lcnetd
# classifies it with the project's trained camera-health model and its
# events are shown as they come, with `nc -U` on the event socket, until
# Ctrl-C.  DEMO_SECONDS=N stops it after N seconds (used by tests).
#
#   tools/demo.sh BUILD
set -eu
build=${1:-build}
mkdir -p "$build/demo"
build=$(cd "$build" && pwd)      # lcnetd.ini wants absolute paths
dir=$build/demo
here=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3

model=$here/models/camera-health.onnx
labels=$here/models/camera-health.labels
if [ ! -f "$model" ]; then
    # no trained model in this checkout: a generated PP-LCNet (random weights)
    # still shows the whole pipeline, with meaningless labels
    echo "demo: $model is missing; using a generated x0.25 model (make train-default-model)" >&2
    make -C "$here" --no-print-directory LCNETD_DEPS=1 BUILD="$build" fixtures >/dev/null
    model=$build/fixtures/timm13_x025.onnx
    labels=
fi
clip=$dir/demo.mp4
if [ ! -s "$clip" ]; then
    echo "demo: generating the demo clip"
    "$PY" "$here/tools/gen_demo_clip.py" "$clip"
fi

pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

fifo=$dir/rtsp.out
rm -f "$fifo"
mkfifo "$fifo"
"$PY" "$here/tests/tools/rtsp_server.py" --port 0 --loop "demo=$clip" >"$fifo" &
pids="$pids $!"
read -r ready port <"$fifo"
[ "$ready" = READY ] || { echo "demo: the RTSP server did not start" >&2; exit 1; }

sock=$dir/events.sock
cat >"$dir/lcnetd.ini" <<INI
; written by tools/demo.sh
[daemon]
socket = $sock
stats_interval = 15
allow_root = yes          ; the demo runs as whoever started it

[model]
path = $model
labels = $labels
top_k = 2
resize = stretch

[stream:demo]
url = rtsp://127.0.0.1:$port/demo
sample_fps = 5
publish = change          ; a line when the scene's label changes
hysteresis = 3
INI

echo "demo: lcnetd on rtsp://127.0.0.1:$port/demo; events from $sock (Ctrl-C to stop)"
"$build/lcnetd" -c "$dir/lcnetd.ini" &
pids="$pids $!"
i=0
while [ ! -S "$sock" ]; do
    i=$((i + 1))
    [ $i -lt 300 ] || { echo "demo: lcnetd did not start" >&2; exit 1; }
    sleep 0.1
done
if [ -n "${DEMO_SECONDS:-}" ]; then
    timeout "$DEMO_SECONDS" nc -U "$sock" || true
else
    nc -U "$sock"
fi
