# `make bench`: lcnet-infer against ONNX Runtime on the fixture models; writes
# docs/benchmarks.md (see bench/run-bench.sh).  Included by the Makefile's
# real-rules section, so $(BUILD), $(CC), fixtures and $(BUILD)/lcnet-infer
# are defined.

# Clock and FMA-peak probe: hand-written AVX-512 / AVX2 loops in asm, no
# project flags, no vector code of the compiler's (it runs on AVX2 CPUs).
$(BUILD)/bench/fmapeak: bench/fmapeak.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -o $@ $<

# BENCH_CPU=avx2|sse41 runs both sides on a masked CPUID (bench/cpuid_mask.c);
# in `all` so that every `make check` compiles it, where it can run: x86-64.
ifeq ($(shell uname -m),x86_64)
all: $(BUILD)/bench/cpuid_mask.so
endif
$(BUILD)/bench/cpuid_mask.so: bench/cpuid_mask.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -shared -fPIC -o $@ $< -ldl

bench: $(BUILD)/lcnet-infer fixtures $(BUILD)/bench/fmapeak $(BUILD)/bench/cpuid_mask.so
	CC="$(CC)" bench/run-bench.sh $(BUILD) docs/benchmarks.md

# `make bench-ab AB_BASE=OTHER/lcnet-infer`: another build's lcnet-infer (A)
# against this one's (B), back to back on the same fixtures; prints B/A per
# configuration (bench/ab-bench.sh has the knobs).  For a change that must
# not move the speed: build the code before it into another folder first.
bench-ab: $(BUILD)/lcnet-infer fixtures
	@[ -n "$(AB_BASE)" ] || { echo "bench-ab: set AB_BASE to the other build's lcnet-infer" >&2; exit 2; }
	bench/ab-bench.sh $(AB_BASE) $(BUILD)/lcnet-infer $(BUILD)

# `make bench-e2e`: lcnetd end to end on real-time RTSP streams from loopback,
# against ffmpeg + onnxruntime-node; writes the "End to end" section of
# docs/benchmarks.md (see bench/e2e.py for the environment knobs).
$(BUILD)/clips/cam720.mp4 $(BUILD)/clips/cam1080.mp4:
	sh tests/fixtures/gen-clips.sh --bench $(BUILD)/clips

bench-e2e: $(BUILD)/lcnetd $(BUILD)/lcnetd-test $(BUILD)/lcnet-infer $(BUILD)/rtsp-replay $(BUILD)/latsub fixtures \
           $(BUILD)/clips/cam720.mp4 $(BUILD)/clips/cam1080.mp4
	/usr/bin/python3 bench/e2e.py $(BUILD) docs/benchmarks.md

# The benchmark's RTSP server (bench/rtsp_replay.c): part of `all`, so that
# `make check` builds it for tests/integration/test_replay.py.
REPLAY_LIBS := $(shell pkg-config --libs libavformat libavcodec libavutil)
all: $(BUILD)/rtsp-replay
$(BUILD)/rtsp-replay: $(call obj,bench/rtsp_replay.c)
	$(CC) $(CFLAGS) -o $@ $^ $(REPLAY_LIBS)

# The latency probe of bench-e2e (bench/latsub.c); in `all` so that it is
# compiled, warnings and all, by every `make check`.
all: $(BUILD)/latsub
$(BUILD)/latsub: $(call obj,bench/latsub.c)
	$(CC) $(CFLAGS) -o $@ $^

# `make recovery`: after a source comes back (GStreamer RTSP, VLC RTSP, HTTP
# MPEG-TS, a file), the time to the first label; prints a table for
# docs/reliability.md (see bench/recovery.py; RECOVERY_ARGS passes options).
RECOVERY_ARGS ?=
recovery: $(BUILD)/lcnetd-test fixtures clips
	LCNETD_BUILD=$(BUILD) LCNETD_FIXTURES=$(BUILD)/fixtures /usr/bin/python3 bench/recovery.py $(RECOVERY_ARGS)
