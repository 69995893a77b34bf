# `make bench`: lcnet-infer against ONNX Runtime on the fixture models; writes
# docs/benchmarks.md (see bench/run-bench.sh).  Included by the Makefile's
# real-rules section, so $(BUILD), $(CC), fixtures and $(BUILD)/lcnet-infer
# are defined.

# Clock and FMA-peak probe: hand-written AVX-512 loops, no project flags.
$(BUILD)/bench/fmapeak: bench/fmapeak.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -mavx512f -o $@ $<

bench: $(BUILD)/lcnet-infer fixtures $(BUILD)/bench/fmapeak
	CC="$(CC)" bench/run-bench.sh $(BUILD) docs/benchmarks.md
