# arm64.mk: lcnetd for arm64 boards (Raspberry Pi 5, RK3588), tested here.
# Included by the Makefile's real-rules section.
#
#   make check-arm64      every cmocka suite and test_daemon, on arm64
#   make arm64-subset     the short engine parity subset make check runs
#   make bench-arm64      instructions a frame, counted under qemu
#                         (bench/arm64-icount.sh, bench/qemu_icount.c)
#
# Elsewhere than on arm64 both cross-compile into $(ARM64_BUILD) against a
# sysroot of Debian 12's arm64 packages ($(ARM64_SYSROOT), made by
# tools/arm64-sysroot.sh) and run the programs under qemu-aarch64 -cpu
# cortex-a76 (tests/arm64/qemu-run.sh).  Emulation runs a program ten to a
# hundred times slower than a board would: suites that need real-time
# rates skip there, saying so.  On an arm64 host make check itself is the
# native run, and check-arm64 is make check.

ARM64_SYSROOT := build/arm64-sysroot
ARM64_BUILD   := build/arm64
ARM64_EXEC    := $(abspath tests/arm64/qemu-run.sh)
HOST_ARCH     := $(shell uname -m)

.PHONY: check-arm64 arm64-build arm64-subset bench-arm64 arm64-links

ifeq ($(HOST_ARCH),aarch64)

check-arm64: check
arm64-subset:
	@echo "arm64-subset: this is an arm64 machine; make check ran the engine suites natively"
bench-arm64:
	@echo "bench-arm64 counts instructions under qemu from an x86-64 host; on the board, time the engine: build/lcnet-infer --model M --bench 200"

else

ARM64_ROOT := $(abspath $(ARM64_SYSROOT))
# pkg-config answers for the sysroot; the compiler looks only there.
ARM64_ENV  := PKG_CONFIG_LIBDIR=$(ARM64_ROOT)/usr/lib/aarch64-linux-gnu/pkgconfig:$(ARM64_ROOT)/usr/share/pkgconfig \
              PKG_CONFIG_SYSROOT_DIR=$(ARM64_ROOT)
ARM64_MAKE := $(ARM64_ENV) $(MAKE) --no-print-directory BUILD=$(ARM64_BUILD) \
              CC="aarch64-linux-gnu-gcc --sysroot=$(ARM64_ROOT)" OPT=-O2 SAN= EXTRA_CFLAGS=
ARM64_RUN  := LCNETD_EXEC=$(ARM64_EXEC) LCNETD_FIXTURES=$(abspath $(FIXDIR))
ARM64_UNIT := $(patsubst $(BUILD)/%,$(ARM64_BUILD)/%,$(UNIT))

$(ARM64_SYSROOT)/.stamp: tools/arm64-sysroot.sh
	tools/arm64-sysroot.sh $(ARM64_SYSROOT)
	@touch $@

# the fixtures and clips are the host's: same files, any architecture
arm64-links: fixtures clips
	@mkdir -p $(ARM64_BUILD)
	ln -sfn $(abspath $(FIXDIR)) $(ARM64_BUILD)/fixtures
	ln -sfn $(abspath $(BUILD)/clips) $(ARM64_BUILD)/clips

arm64-build: $(ARM64_SYSROOT)/.stamp arm64-links
	+$(ARM64_MAKE) $(ARM64_BUILD)/lcnetd $(ARM64_BUILD)/lcnetd-test $(ARM64_BUILD)/lcnet-infer $(ARM64_UNIT)

# The suites run on the engine's own choice (XNNPACK); oneDNN's parity
# follows on the small models, so that backend = onednn stays tested.  A
# qemu process emulates one thread: the longest suite runs beside the
# rest, one on each of two cores (the second's log follows the first's).
ARM64_SIDE := test_xnn
ARM64_REST := $(filter-out $(ARM64_SIDE),$(notdir $(ARM64_UNIT)))
check-arm64: arm64-build
	@rm -f $(ARM64_BUILD)/side.log; \
	$(ARM64_RUN) LCNETD_UNIT="$(ARM64_SIDE)" tests/run.sh $(ARM64_BUILD) unit \
	    >$(ARM64_BUILD)/side.log 2>&1 & side=$$!; \
	ok=0; \
	$(ARM64_RUN) LCNETD_UNIT="$(ARM64_REST)" tests/run.sh $(ARM64_BUILD) unit || ok=1; \
	$(ARM64_RUN) LCNETD_TEST_BACKEND=onednn LCNETD_TEST_FILTER='parity_*x025' \
	    $(ARM64_EXEC) $(ARM64_BUILD)/tests/test_engine || ok=1; \
	$(ARM64_RUN) LCNETD_INTEGRATION=test_daemon tests/run.sh $(ARM64_BUILD) integration || ok=1; \
	wait $$side || ok=1; \
	cat $(ARM64_BUILD)/side.log; \
	exit $$ok

# make check's share, on the small models: parity with ONNX Runtime on both
# backends, fp16 against fp32 on a Cortex-A76 (the text-line model: the
# smallest frames, the first 50 of them: emulated fp16 is slow), int8 on
# XNNPACK against ONNX Runtime's QDQ outputs and its refusals (the 200 photo
# crops' agreement is check-arm64's), calibrated int8 on XNNPACK against the
# outputs the x86 run of test_xnn just recorded (make check runs it first),
# and fp16's refusal on a Cortex-A72, which has no FP16 arithmetic.
arm64-subset: $(ARM64_SYSROOT)/.stamp arm64-links
	+$(ARM64_MAKE) $(ARM64_BUILD)/tests/test_engine $(ARM64_BUILD)/tests/test_xnn
	$(ARM64_RUN) LCNETD_TEST_BACKEND=onednn LCNETD_TEST_FILTER='parity_*x025' \
	    $(ARM64_EXEC) $(ARM64_BUILD)/tests/test_engine
	$(ARM64_RUN) LCNETD_TEST_FRAMES=50 \
	    LCNETD_TEST_FILTER='xnn_parity_*x025,test_shared_*,test_fp16_textlines,test_int8_qdq,test_int8_calibrated_*,test_int8_refusal,test_backend_choice' \
	    $(ARM64_EXEC) $(ARM64_BUILD)/tests/test_xnn
	$(ARM64_RUN) LCNETD_QEMU_CPU=cortex-a72 LCNETD_TEST_FILTER='test_fp16_refused,test_backend_choice' \
	    $(ARM64_EXEC) $(ARM64_BUILD)/tests/test_xnn

# The instruction-count plugin, built for the host's qemu; in `all` so that
# every make check compiles it.
all: $(BUILD)/bench/qemu_icount.so
$(BUILD)/bench/qemu_icount.so: bench/qemu_icount.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -shared -fPIC -o $@ $<

bench-arm64: arm64-build $(BUILD)/lcnet-infer $(BUILD)/bench/qemu_icount.so fixtures
	bench/arm64-icount.sh $(BUILD) $(ARM64_BUILD) docs/benchmarks.md

endif
