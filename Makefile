# lcnetd: real-time PP-LCNet video classification daemon.  See README.md.
#
# Every public goal first runs tools/deps.sh (installs missing Debian packages),
# then re-enters make with LCNETD_DEPS=1 so that the pkg-config queries below
# run only once the packages they ask about are there.

BUILD   ?= build
PUBLIC  := all check check-unit check-int check-isa check-cpu check-asan check-asan-core check-tsan bench bench-e2e fuzz fuzz-build fuzz-regress \
           soak recovery demo install train-default-model fixtures clips check-outputs bench-ab \
           check-arm64 arm64-build arm64-subset bench-arm64
NPROC   := $(shell nproc 2>/dev/null || echo 2)

ifeq ($(LCNETD_DEPS),)

.PHONY: $(PUBLIC) clean distclean
$(PUBLIC):
	@./tools/deps.sh
	@$(MAKE) --no-print-directory -j$(NPROC) LCNETD_DEPS=1 $@

# a file of the build (make build/tests/test_engine): the same two steps
$(BUILD)/%: FORCE
	@./tools/deps.sh
	@$(MAKE) --no-print-directory -j$(NPROC) LCNETD_DEPS=1 $@

.PHONY: FORCE
FORCE:

clean:
	rm -rf build

else # ---------------------------------------------------------------- real rules

CC      ?= gcc
ifeq ($(CC),cc)
CC      := gcc
endif
PKGS    := libavformat libavdevice libavcodec libswscale libavutil inih libsystemd libprotobuf-c libcjson yaml-0.1 \
           libmosquitto libmicrohttpd
PKGCF   := $(shell pkg-config --cflags $(PKGS))
PKGLIBS := $(shell pkg-config --libs $(PKGS))
OPT     ?= -O2
SAN     ?=
# Debian's oneDNN runs on GNU libgomp: clang must use it too, not its libomp.
ifneq ($(findstring clang,$(CC)),)
OMPFLAG ?= -fopenmp=libgomp
WNOTRUNC :=
else
OMPFLAG ?= -fopenmp
WNOTRUNC := -Wno-format-truncation
endif
CFLAGS  := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror $(WNOTRUNC) $(OMPFLAG) -fno-strict-aliasing \
           -D_GNU_SOURCE -MMD -MP -I. -I$(BUILD)/gen $(PKGCF) $(SAN) $(EXTRA_CFLAGS)
# Test builds compile in fault hooks (LCNETD_TESTING) that production builds lack.
TCFLAGS := $(CFLAGS) -DLCNETD_TESTING
LDLIBS  := $(PKGLIBS) -ldnnl -lXNNPACK -lpthreadpool -lm -lpthread $(OMPFLAG) $(SAN)

GEN_PB  := $(BUILD)/gen/onnx/onnx.pb-c.c $(BUILD)/gen/engine/import/paddle_framework.pb-c.c
GEN_H   := $(GEN_PB:.c=.h)
ENG_SRC := $(sort $(wildcard engine/*.c engine/*/*.c)) $(GEN_PB)
CFG_SRC := $(sort $(wildcard config/*.c))
MED_SRC := $(sort $(wildcard media/*.c))
DMN_SRC := $(filter-out daemon/main.c,$(sort $(wildcard daemon/*.c)))
obj      = $(patsubst %.c,$(BUILD)/obj/%.o,$(patsubst $(BUILD)/%,%,$(1)))
tobj     = $(patsubst %.c,$(BUILD)/tobj/%.o,$(patsubst $(BUILD)/%,%,$(1)))

LIBENG  := $(BUILD)/libengine.a
LIBCFG  := $(BUILD)/libconfig.a
LIBMED  := $(BUILD)/libmedia.a
TLIBMED := $(BUILD)/libmedia-test.a
LIBDMN  := $(BUILD)/libdaemon.a
TLIBDMN := $(BUILD)/libdaemon-test.a

BINS    := $(BUILD)/lcnetd $(BUILD)/lcnet-infer
TESTBIN := $(BUILD)/lcnetd-test
UNIT    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(sort $(wildcard tests/test_*.c)))
# What every suite may use (tests/testutil.c); the config suites' helpers
# and the fake CPU set only where asked.
TUTIL   := $(call tobj,tests/testutil.c)
TCFGTEST := $(call tobj,tests/cfgtest.c)
TFAKECPU := $(call tobj,tests/fakecpus.c)

.PHONY: $(PUBLIC) asan-build tsan-build
.DEFAULT_GOAL := all
all: $(BINS) $(TESTBIN)

$(BUILD)/gen/onnx/onnx.pb-c.c: /usr/include/onnx/onnx.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -I/usr/include onnx/onnx.proto
$(BUILD)/gen/onnx/onnx.pb-c.h: $(BUILD)/gen/onnx/onnx.pb-c.c
# Paddle 2.x's ProgramDesc: the subset of Paddle's framework.proto we read.
$(BUILD)/gen/engine/import/paddle_framework.pb-c.c: engine/import/paddle_framework.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -I. engine/import/paddle_framework.proto
$(BUILD)/gen/engine/import/paddle_framework.pb-c.h: $(BUILD)/gen/engine/import/paddle_framework.pb-c.c

# Generated code is not ours to hold to -Werror.
$(BUILD)/obj/gen/%.o $(BUILD)/tobj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Werror -Wextra,$(CFLAGS)) -c $< -o $@

$(BUILD)/obj/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/tobj/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) -c $< -o $@

# The resampler's and the int8 element loops are what vectorisation is for; -O2 leaves them scalar.
$(call obj,media/resample.c): CFLAGS += -O3
$(call tobj,media/resample.c): TCFLAGS += -O3
$(call obj,engine/dnn/q8_elem.c): CFLAGS += -O3
# Its float steps must stay those of oneDNN's kernels, one rounding each: no
# multiply and add fused behind its back.
$(call obj,engine/dnn/int8_gemm_avx2.c engine/dnn/int8_dw_avx2.c): CFLAGS += -ffp-contract=off

$(LIBENG): $(call obj,$(ENG_SRC))
	@rm -f $@; ar rcs $@ $^
$(LIBCFG): $(call obj,$(CFG_SRC))
	@rm -f $@; ar rcs $@ $^
$(LIBMED): $(call obj,$(MED_SRC))
	@rm -f $@; ar rcs $@ $^
$(TLIBMED): $(call tobj,$(MED_SRC))
	@rm -f $@; ar rcs $@ $^
$(LIBDMN): $(call obj,$(DMN_SRC))
	@rm -f $@; ar rcs $@ $^
$(TLIBDMN): $(call tobj,$(DMN_SRC))
	@rm -f $@; ar rcs $@ $^

$(BUILD)/lcnetd: $(call obj,daemon/main.c) $(LIBDMN) $(LIBCFG) $(LIBMED) $(LIBENG)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
# The daemon the integration tests run: same code plus the test-only fault hooks.
$(BUILD)/lcnetd-test: $(call tobj,daemon/main.c) $(TLIBDMN) $(LIBCFG) $(TLIBMED) $(LIBENG)
	$(CC) $(TCFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/lcnet-infer: $(call obj,tools/lcnet-infer.c) $(LIBMED) $(LIBENG)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(call tobj,tests/%.c) $(TUTIL) $(TLIBDMN) $(LIBCFG) $(TLIBMED) $(LIBENG)
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(filter $(BUILD)/tests/test_config%,$(UNIT)): $(TCFGTEST)
$(BUILD)/tests/test_config_values $(BUILD)/tests/test_config_cpus $(BUILD)/tests/test_sched: $(TFAKECPU)

# --------------------------------------------------------------- tests
PY      := /usr/bin/python3
FIXDIR  := $(BUILD)/fixtures

fixtures: $(FIXDIR)/.stamp
$(FIXDIR)/.stamp: tests/fixtures/gen-fixtures.sh $(wildcard tests/fixtures/*.py tests/fixtures/*.js) \
                  tools/pplcnet.py engine/import/paddle_framework.proto
	tests/fixtures/gen-fixtures.sh $(FIXDIR)
	@touch $@

clips: $(BUILD)/clips/.stamp
$(BUILD)/clips/.stamp: tests/fixtures/gen-clips.sh
	sh tests/fixtures/gen-clips.sh $(BUILD)/clips
	@touch $@

# make check holds every #include to README.md's Layout (tests/layers.sh),
# runs the whole suite, then the sanitizers' share that fits the
# 20-minute budget: every cmocka suite and the stream-fault suite (the
# reconnect and corrupt-input loops) on the ASan/UBSan/LSan build.  The
# whole suite under the sanitizers doubles the run: make check-asan.
# The ISA-capped runs follow the uncapped one, whose int8 outputs they must
# match byte for byte (tests/run-isa.sh: oneDNN capped, then CPUID masked).
# Last, the engine's parity for arm64, cross-built and run under qemu
# (tests/arm64/arm64.mk).
check: all $(UNIT) fixtures clips fuzz-regress
	tests/layers.sh
	rm -rf $(FIXDIR)/isa-ref
	tests/run.sh $(BUILD)
	tests/run-isa.sh $(BUILD)
	$(MAKE) --no-print-directory check-asan-core
	$(MAKE) --no-print-directory arm64-subset

ASAN_BUILD := build/asan
ASAN_ENV   := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
              LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 \
              UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
asan-build: fixtures clips
	$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CC=clang OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	    all $(patsubst $(BUILD)/%,$(ASAN_BUILD)/%,$(UNIT))
	ln -sfn $(abspath $(BUILD)/fixtures) $(ASAN_BUILD)/fixtures
	ln -sfn $(abspath $(BUILD)/clips) $(ASAN_BUILD)/clips

# The whole suite again, built by clang with ASan, UBSan and LeakSanitizer.
check-asan: asan-build
	$(ASAN_ENV) tests/run.sh $(ASAN_BUILD)

check-asan-core: asan-build
	$(ASAN_ENV) LCNETD_INTEGRATION=test_faults tests/run.sh $(ASAN_BUILD)

# The daemon's suites on a ThreadSanitizer build: the threads meet at the
# stream queues, the scheduler and the event queue, and a data race there is
# found only where the threads really run.  libgomp and oneDNN are not
# instrumented, so their own synchronisation is invisible to TSan: the
# suppressions (tests/tsan.supp) cover those libraries' frames and nothing of
# ours.  Any other report fails the test that ran the daemon (harness.py).
TSAN_BUILD := build/tsan
TSAN_ENV   := TSAN_OPTIONS=suppressions=$(abspath tests/tsan.supp):halt_on_error=0:second_deadlock_stack=1 \
              OMP_NUM_THREADS=1
TSAN_SUITES ?= test_daemon test_faults
tsan-build: fixtures clips
	$(MAKE) --no-print-directory BUILD=$(TSAN_BUILD) CC=clang OPT=-O1 \
	    SAN="-fsanitize=thread -fno-omit-frame-pointer" $(TSAN_BUILD)/lcnetd-test $(TSAN_BUILD)/lcnet-infer
	ln -sfn $(abspath $(BUILD)/fixtures) $(TSAN_BUILD)/fixtures
	ln -sfn $(abspath $(BUILD)/clips) $(TSAN_BUILD)/clips

check-tsan: tsan-build
	$(TSAN_ENV) LCNETD_INTEGRATION="$(TSAN_SUITES)" tests/run.sh $(TSAN_BUILD) integration

check-unit: all $(UNIT) fixtures
	tests/layers.sh
	tests/run.sh $(BUILD) unit

# The engine suites alone, uncapped and then capped at each lower ISA.
check-isa: all $(UNIT) fixtures
	rm -rf $(FIXDIR)/isa-ref
	ONEDNN_MAX_CPU_ISA=ALL $(BUILD)/tests/test_int8
	tests/run-isa.sh $(BUILD)

# The whole suite again with CPUID answering as an older CPU class, for
# every library in every process (tests/run-masked.sh): CPU_CLASS=avx2 (the
# default) or sse41.  Not in make check, whose budget it would double; run
# it before closing work that touches what a CPU chooses.
CPU_CLASS ?= avx2
check-cpu: all $(UNIT) fixtures clips
	tests/run-masked.sh $(BUILD) $(CPU_CLASS)

check-int: all fixtures clips
	tests/run.sh $(BUILD) integration

# Every fixture model's outputs in every precision this CPU runs, digested
# and compared with the digest kept for this ISA (tests/tools/outputs-digest):
# a change to the engine that must not move a bit shows here.  With
# ONEDNN_MAX_CPU_ISA=AVX2 it compares the capped run with its own digest.
check-outputs: all fixtures
	tests/tools/outputs-digest --check tests/tools/digests $(BUILD)

# Long run under load with RTSP server restarts; writes docs/soak.md, fails on RSS or fd growth.
SOAK_MINUTES ?= 30
soak: all fixtures clips
	LCNETD_BUILD=$(BUILD) $(PY) tests/soak/soak.py --minutes $(SOAK_MINUTES) --report docs/soak.md

demo: all
	tools/demo.sh $(BUILD)

train-default-model:
	/usr/bin/python3 tools/train_default_model.py --out models

# Install: PREFIX for programs and data; the config lives in /etc/lcnetd
# (the unit's ConfigurationDirectory=), units where pkg-config says.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(shell pkg-config --variable=systemdsystemunitdir systemd)
SYSUSERSDIR ?= $(shell pkg-config --variable=sysusersdir systemd)
TMPFILESDIR ?= $(shell pkg-config --variable=tmpfilesdir systemd)
D          := $(DESTDIR)

install: $(BINS)
	install -d $(D)$(BINDIR) $(D)$(UNITDIR) $(D)$(SYSUSERSDIR) $(D)$(TMPFILESDIR) \
	    $(D)$(MANDIR)/man8 $(D)$(MANDIR)/man5 $(D)$(DATADIR)/lcnetd $(D)$(DATADIR)/doc/lcnetd \
	    $(D)$(SYSCONFDIR)/lcnetd
	install -m 0755 $(BUILD)/lcnetd $(BUILD)/lcnet-infer $(D)$(BINDIR)/
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    systemd/lcnetd.service.in >$(D)$(UNITDIR)/lcnetd.service
	install -m 0644 systemd/lcnetd.socket $(D)$(UNITDIR)/
	install -m 0644 systemd/lcnetd.sysusers $(D)$(SYSUSERSDIR)/lcnetd.conf
	sed -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' systemd/lcnetd.tmpfiles >$(D)$(TMPFILESDIR)/lcnetd.conf
	install -m 0644 systemd/lcnetd-v4l2.conf $(D)$(DATADIR)/doc/lcnetd/
	install -m 0644 daemon/lcnetd.8 $(D)$(MANDIR)/man8/
	install -m 0644 config/lcnetd.ini.5 $(D)$(MANDIR)/man5/
	for f in models/camera-health.onnx models/camera-health.labels; do \
	    [ ! -f $$f ] || install -m 0644 $$f $(D)$(DATADIR)/lcnetd/; done
	sed -e 's|/usr/share/lcnetd/|$(DATADIR)/lcnetd/|g' config/lcnetd.ini.example \
	    >$(D)$(DATADIR)/doc/lcnetd/lcnetd.ini.example
	[ -f $(D)$(SYSCONFDIR)/lcnetd/lcnetd.ini ] || \
	    install -m 0640 $(D)$(DATADIR)/doc/lcnetd/lcnetd.ini.example $(D)$(SYSCONFDIR)/lcnetd/lcnetd.ini
	@# camera passwords: root and group lcnetd only, an older 0644 file too; the
	@# group where it exists (else systemd-tmpfiles --create sets it)
	chmod 0640 $(D)$(SYSCONFDIR)/lcnetd/lcnetd.ini
	-[ "$$(id -u)" != 0 ] || ! getent group lcnetd >/dev/null || \
	    chgrp lcnetd $(D)$(SYSCONFDIR)/lcnetd/lcnetd.ini

# Fuzzing (libFuzzer, clang) and benchmarks keep their rules beside their sources.
include tests/fuzz/fuzz.mk
include bench/bench.mk
include tests/arm64/arm64.mk

-include $(shell find $(BUILD)/obj $(BUILD)/tobj -name '*.d' 2>/dev/null)

endif
