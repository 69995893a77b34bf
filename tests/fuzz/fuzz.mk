# fuzz.mk: libFuzzer harness for the model loader; included by the Makefile.
#
#   make fuzz [FUZZ_SECONDS=600]   build, then fuzz a copy of the seed corpus
#   make fuzz-build                build only
#   make fuzz-regress              rerun every input in tests/fuzz/regress/ once
#
# The engine is compiled again by clang, with coverage and ASan/UBSan, into
# $(FUZZ_DIR); oneDNN is the system library, not instrumented.  Debian's
# oneDNN runs on GNU libgomp, so OpenMP comes from libgomp here too: two
# OpenMP runtimes in one process do not get along.

FUZZ_CC      ?= clang
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_BIN     := $(FUZZ_DIR)/fuzz_onnx
FUZZ_SEEDS   := tests/fuzz/corpus/onnx
FUZZ_REGRESS := tests/fuzz/regress
FUZZ_SECONDS ?= 600
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# gcc's -fopenmp and $(SAN) out; clang does not know -Wformat-truncation.
FUZZ_CFLAGS  := $(filter-out -fopenmp -Wno-format-truncation $(SAN),$(CFLAGS)) -fopenmp=libgomp $(FUZZ_SAN)
FUZZ_LIBS    := $(shell pkg-config --libs libprotobuf-c) -ldnnl -lm -lpthread
# One thread for oneDNN (the machine is shared), no primitive cache (each
# input compiles afresh, as it would alone).
FUZZ_ENV     := OMP_NUM_THREADS=1 DNNL_PRIMITIVE_CACHE_CAPACITY=0 UBSAN_OPTIONS=print_stacktrace=1
FUZZ_OPTS    := -max_len=65536 -timeout=10 -rss_limit_mb=2048 -dict=tests/fuzz/onnx.dict
fuzzobj       = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(patsubst $(BUILD)/%,%,$(1)))

.PHONY: fuzz-build fuzz-regress

$(FUZZ_DIR)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out -Werror -Wextra,$(FUZZ_CFLAGS)) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_DIR)/obj/%.o: %.c | $(BUILD)/gen/onnx/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BIN): $(call fuzzobj,tests/fuzz/fuzz_onnx.c $(ENG_SRC))
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

fuzz-build: $(FUZZ_BIN)

# New inputs accumulate in $(FUZZ_DIR)/corpus across runs; crashes land in
# $(FUZZ_DIR) as crash-*, leak-*, timeout-*: minimise, then add to regress/.
fuzz: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_DIR)/corpus
	cp $(FUZZ_SEEDS)/* $(FUZZ_DIR)/corpus/
	@t0=$$(date +%s); \
	{ $(FUZZ_ENV) $(FUZZ_BIN) $(FUZZ_OPTS) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus; echo $$? >$(FUZZ_DIR)/fuzz.rc; } \
	    2>&1 | tee $(FUZZ_DIR)/fuzz.log; \
	rc=$$(cat $(FUZZ_DIR)/fuzz.rc); \
	echo "fuzz: $$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_DIR)/fuzz.log) execs" \
	    "in $$(($$(date +%s) - t0)) s, corpus $$(ls $(FUZZ_DIR)/corpus | wc -l) inputs," \
	    "exit $$rc; log in $(FUZZ_DIR)/fuzz.log"; \
	exit $$rc

# Every past crash and every seed, each run once (no mutation): a second or
# two, for make check.  The sanitizer report is printed only on failure.
FUZZ_RUNS     = $(sort $(wildcard $(FUZZ_REGRESS)/*)) $(sort $(wildcard $(FUZZ_SEEDS)/*))
fuzz-regress: $(FUZZ_BIN)
	@$(FUZZ_ENV) $(FUZZ_BIN) $(FUZZ_OPTS) $(FUZZ_RUNS) >$(FUZZ_DIR)/regress.log 2>&1 || \
	    { cat $(FUZZ_DIR)/regress.log; echo "fuzz-regress: FAILED; log in $(FUZZ_DIR)/regress.log"; exit 1; }
	@echo "fuzz-regress: $(words $(FUZZ_RUNS)) inputs ($(words $(wildcard $(FUZZ_REGRESS)/*)) past crashes) ok"

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
