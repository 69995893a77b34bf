# fuzz.mk: libFuzzer harness for the model loader; included by the Makefile.
#
#   make fuzz [FUZZ_SECONDS=600] [FUZZ_TARGET=onnx|paddle|config|pubcmd|redact]
#                                  build, then fuzz a copy of the seed corpus
#   make fuzz-build                build only
#   make fuzz-regress              run each past crash and each seed once
#
# The engine is compiled again by clang, with coverage and ASan/UBSan, into
# $(FUZZ_DIR); oneDNN is the system library, not instrumented.  Debian's
# oneDNN runs on GNU libgomp, so OpenMP comes from libgomp here too: two
# OpenMP runtimes in one process do not get along.  ASan needs no
# suppressions for oneDNN: its JIT code is not instrumented, and leaks are
# checked per input, where oneDNN's process-long caches do not show.

FUZZ_CC      ?= clang
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_BIN     := $(FUZZ_DIR)/fuzz_onnx
FUZZ_SEEDS   := tests/fuzz/corpus/onnx
FUZZ_REGRESS := tests/fuzz/regress
# The Paddle folder loader (fuzz_paddle.c); its past crashes are regress/paddle-*.
FUZZ_PBIN    := $(FUZZ_DIR)/fuzz_paddle
FUZZ_PSEEDS  := tests/fuzz/corpus/paddle
FUZZ_TARGET  ?= onnx
FUZZ_SECONDS ?= 600
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# gcc's -fopenmp and $(SAN) out; clang does not know -Wformat-truncation.
FUZZ_CFLAGS  := $(filter-out -fopenmp -Wno-format-truncation $(SAN),$(CFLAGS)) -fopenmp=libgomp $(FUZZ_SAN)
FUZZ_LIBS    := $(shell pkg-config --libs libprotobuf-c libcjson yaml-0.1) -ldnnl -lXNNPACK -lpthreadpool -lm -lpthread
# One thread for oneDNN (the machine is shared), no primitive cache (each
# input compiles afresh, as it would alone).
FUZZ_ENV     := OMP_NUM_THREADS=1 DNNL_PRIMITIVE_CACHE_CAPACITY=0 UBSAN_OPTIONS=print_stacktrace=1
FUZZ_OPTS    := -max_len=65536 -timeout=10 -rss_limit_mb=2048 -dict=tests/fuzz/onnx.dict
FUZZ_POPTS   := -max_len=65536 -timeout=10 -rss_limit_mb=2048 -dict=tests/fuzz/paddle.dict
fuzzobj       = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(patsubst $(BUILD)/%,%,$(1)))
# Headers generated from the engine's .proto files, wanted before any compile.
FUZZ_GENH    := $(patsubst %.c,%.h,$(filter $(BUILD)/gen/%,$(ENG_SRC)))

.PHONY: fuzz-build fuzz-regress

$(FUZZ_DIR)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out -Werror -Wextra,$(FUZZ_CFLAGS)) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_DIR)/obj/%.o: %.c | $(FUZZ_GENH)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BIN): $(call fuzzobj,tests/fuzz/fuzz_onnx.c $(ENG_SRC))
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

$(FUZZ_PBIN): $(call fuzzobj,tests/fuzz/fuzz_paddle.c $(ENG_SRC))
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

# The configuration parser and the subscriber command parser.
FUZZ_CBIN    := $(FUZZ_DIR)/fuzz_config
FUZZ_SBIN    := $(FUZZ_DIR)/fuzz_pubcmd
$(FUZZ_CBIN): $(call fuzzobj,tests/fuzz/fuzz_config.c $(CFG_SRC))
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(shell pkg-config --libs inih)
$(FUZZ_SBIN): $(call fuzzobj,tests/fuzz/fuzz_pubcmd.c daemon/pubcmd.c)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^
# The stream password redactor: URLs, passwords and messages from servers.
FUZZ_RBIN    := $(FUZZ_DIR)/fuzz_redact
$(FUZZ_RBIN): $(call fuzzobj,tests/fuzz/fuzz_redact.c daemon/redact.c)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ -lpthread

fuzz-build: $(FUZZ_BIN) $(FUZZ_PBIN) $(FUZZ_CBIN) $(FUZZ_SBIN) $(FUZZ_RBIN)

# What `make fuzz` runs: the ONNX loader (corpus/) or the Paddle one (corpus-paddle/).
ifeq ($(FUZZ_TARGET),paddle)
FZ_BIN := $(FUZZ_PBIN)
FZ_SEEDS := $(FUZZ_PSEEDS)
FZ_OPTS := $(FUZZ_POPTS)
FZ_TAG := -paddle
else ifeq ($(FUZZ_TARGET),config)
FZ_BIN := $(FUZZ_CBIN)
FZ_SEEDS := tests/fuzz/corpus/config
FZ_OPTS := -max_len=8192 -timeout=10 -rss_limit_mb=2048
FZ_TAG := -config
else ifeq ($(FUZZ_TARGET),pubcmd)
FZ_BIN := $(FUZZ_SBIN)
FZ_SEEDS := tests/fuzz/corpus/pubcmd
FZ_OPTS := -max_len=16384 -timeout=10 -rss_limit_mb=2048
FZ_TAG := -pubcmd
else ifeq ($(FUZZ_TARGET),redact)
FZ_BIN := $(FUZZ_RBIN)
FZ_SEEDS := tests/fuzz/corpus/redact
FZ_OPTS := -max_len=4096 -timeout=10 -rss_limit_mb=2048
FZ_TAG := -redact
else
FZ_BIN := $(FUZZ_BIN)
FZ_SEEDS := $(FUZZ_SEEDS)
FZ_OPTS := $(FUZZ_OPTS)
FZ_TAG :=
endif

# New inputs accumulate in $(FUZZ_DIR)/corpus across runs; crashes land in
# $(FUZZ_DIR) as crash-*, leak-*, timeout-*: minimise, then add to regress/.
fuzz: $(FZ_BIN)
	@mkdir -p $(FUZZ_DIR)/corpus$(FZ_TAG)
	cp $(FZ_SEEDS)/* $(FUZZ_DIR)/corpus$(FZ_TAG)/
	@t0=$$(date +%s); \
	{ $(FUZZ_ENV) $(FZ_BIN) $(FZ_OPTS) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus$(FZ_TAG); echo $$? >$(FUZZ_DIR)/fuzz$(FZ_TAG).rc; } \
	    2>&1 | tee $(FUZZ_DIR)/fuzz$(FZ_TAG).log; \
	rc=$$(cat $(FUZZ_DIR)/fuzz$(FZ_TAG).rc); \
	echo "fuzz: $$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_DIR)/fuzz$(FZ_TAG).log) execs" \
	    "in $$(($$(date +%s) - t0)) s, corpus $$(ls $(FUZZ_DIR)/corpus$(FZ_TAG) | wc -l) inputs," \
	    "exit $$rc; log in $(FUZZ_DIR)/fuzz$(FZ_TAG).log"; \
	exit $$rc

# Every past crash and every seed, each run once (no mutation): a second or
# two, for make check.  The sanitizer report is printed only on failure.
FUZZ_PREG     = $(sort $(wildcard $(FUZZ_REGRESS)/paddle-*))
FUZZ_RUNS     = $(filter-out $(FUZZ_PREG),$(sort $(wildcard $(FUZZ_REGRESS)/*))) $(sort $(wildcard $(FUZZ_SEEDS)/*))
FUZZ_PRUNS    = $(FUZZ_PREG) $(sort $(wildcard $(FUZZ_PSEEDS)/*))
fuzz-regress: $(FUZZ_BIN) $(FUZZ_PBIN) $(FUZZ_CBIN) $(FUZZ_SBIN) $(FUZZ_RBIN)
	@$(FUZZ_ENV) $(FUZZ_BIN) $(FUZZ_OPTS) $(FUZZ_RUNS) >$(FUZZ_DIR)/regress.log 2>&1 || \
	    { cat $(FUZZ_DIR)/regress.log; echo "fuzz-regress: FAILED; log in $(FUZZ_DIR)/regress.log"; exit 1; }
	@$(FUZZ_ENV) $(FUZZ_PBIN) $(FUZZ_POPTS) $(FUZZ_PRUNS) >$(FUZZ_DIR)/regress-paddle.log 2>&1 || \
	    { cat $(FUZZ_DIR)/regress-paddle.log; echo "fuzz-regress: FAILED; log in $(FUZZ_DIR)/regress-paddle.log"; exit 1; }
	@$(FUZZ_CBIN) $(sort $(wildcard tests/fuzz/corpus/config/*)) >$(FUZZ_DIR)/regress-config.log 2>&1 || \
	    { cat $(FUZZ_DIR)/regress-config.log; echo "fuzz-regress: FAILED (config)"; exit 1; }
	@$(FUZZ_SBIN) $(sort $(wildcard tests/fuzz/corpus/pubcmd/*)) >$(FUZZ_DIR)/regress-pubcmd.log 2>&1 || \
	    { cat $(FUZZ_DIR)/regress-pubcmd.log; echo "fuzz-regress: FAILED (pubcmd)"; exit 1; }
	@$(FUZZ_RBIN) $(sort $(wildcard tests/fuzz/corpus/redact/*)) >$(FUZZ_DIR)/regress-redact.log 2>&1 || \
	    { cat $(FUZZ_DIR)/regress-redact.log; echo "fuzz-regress: FAILED (redact)"; exit 1; }
	@echo "fuzz-regress: $(words $(FUZZ_RUNS) $(FUZZ_PRUNS)) inputs ($(words $(wildcard $(FUZZ_REGRESS)/*)) past crashes) ok"

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
