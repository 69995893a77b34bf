#!/usr/bin/python3
"""The arm64 section of docs/benchmarks.md, from bench/arm64-icount.sh's counts.

    arm64_report.py RESULTS MACS LAYERS FACTS OUT.md [QDQ]

RESULTS: backend, model, scale, precision, instructions a frame, SIMD&FP data
processing and SIMD&FP loads/stores a frame (tab-separated; "n/a" and the
reason where a configuration does not run).  MACS: bench/count_macs.py's
lines.  LAYERS: layer type, backend, precision, instructions and SIMD&FP
instructions of 8 such layers, their MACs.  QDQ: RESULTS' columns for the
shared QDQ model (int8) and its dequantised twin (fp32, fp16), if measured.  The section sits between its own markers, after everything else,
so that `make bench` and `make bench-e2e` keep it and it keeps theirs.
"""
import sys

BEGIN = "<!-- arm64:begin (written by bench/arm64-icount.sh, `make bench-arm64`) -->"
END = "<!-- arm64:end -->"
GHZ = 2.4
# What a Cortex-A76 sustains on such code, instructions a cycle: a band,
# not a measurement (see the text the section prints).
IPC_LOW, IPC_HIGH = 2.0, 3.0


def read_tsv(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def main():
    res_path, macs_path, layers_path, facts_path, out = sys.argv[1:6]
    qdq_rows = read_tsv(sys.argv[6]) if len(sys.argv) > 6 else []
    macs = {}
    with open(macs_path) as f:
        for line in f:
            p = line.split()
            macs[p[0].rsplit("/", 1)[-1][:-len(".onnx")]] = int(p[1])
    facts = dict(r[:2] for r in read_tsv(facts_path) if len(r) >= 2)
    rows = read_tsv(res_path)

    s = ["## On arm64 (Cortex-A76 under qemu, instruction counts)", ""]
    s += ["What a frame costs lcnetd's arm64 build, counted rather than timed: no board was at "
             "hand, and wall time under emulation says nothing about one. Each configuration ran "
             "`lcnet-infer` single-threaded under `qemu-aarch64 -cpu cortex-a76` (Raspberry Pi 5, "
             "RK3588: Neon, FP16 arithmetic, dot products, no SVE) with the TCG plugin "
             "`bench/qemu_icount.c`, once with one timed frame and once with %s more; the "
             "difference over %s is one frame of 224x224 (preprocessing of 8-bit pixels "
             "included), without loading, compiling or warm-up. **SIMD&FP** is the share of "
             "those instructions in AArch64's SIMD and floating-point encodings (Neon and scalar "
             "FP arithmetic, their loads and stores)." % (facts.get("frames", "?"),
                                                           facts.get("frames", "?")), ""]
    s += ["**The milliseconds are a prediction, not a measurement:** instructions a frame "
             "divided by %.1f GHz times %.0f to %.0f instructions a cycle, the band a Cortex-A76 "
             "(4-wide) sustains on such loops. Cache misses and the memory system are not in "
             "it; confirm on a board." % (GHZ, IPC_HIGH, IPC_LOW), ""]
    s.append("| backend | scale | precision | M instructions a frame | instructions a MAC | "
             "SIMD&FP | predicted ms at 2.4 GHz (prediction) |")
    s.append("|---|---|---|---:|---:|---:|---|")
    by = {}
    for r in rows:
        backend, name, scale, prec, total = r[:5]
        if total == "n/a":
            s.append("| %s | x%s | %s | n/a | | | %s |" % (backend, scale, prec,
                                                         r[5] if len(r) > 5 else ""))
            continue
        t, dp, ls = int(total), int(r[5]), int(r[6])
        by[(backend, scale, prec)] = t
        m = macs.get(name)
        s.append("| %s | x%s | %s | %.1f | %s | %.0f %% | %.1f-%.1f |" % (
            backend, scale, prec, t / 1e6, "%.2f" % (t / m) if m else "",
            100.0 * (dp + ls) / t if t else 0, t / (GHZ * 1e6 * IPC_HIGH),
            t / (GHZ * 1e6 * IPC_LOW)))
    s.append("")
    ratios = []
    for (backend, scale, prec), t in sorted(by.items()):
        if backend != "xnnpack":
            continue
        o = by.get(("onednn", scale, prec))
        if o:
            ratios.append("x%s %s %.1fx" % (scale, prec, o / t))
    if ratios:
        s.append("oneDNN's instructions over XNNPACK's, same scale and precision: " +
                 ", ".join(ratios) + ".")
        s.append("")
    x10 = by.get(("xnnpack", "1.0", "fp32"))
    if x10:
        s.append("Target: x1.0 fp32 at most 80 M instructions a frame: %.1f M, %s." % (
            x10 / 1e6, "met" if x10 <= 80e6 else "not met"))
        s.append("")
        i8 = by.get(("xnnpack", "1.0", "int8"))
        if i8:
            others = []
            for sc in sorted({k[1] for k in by if k[0] == "xnnpack"}, key=float):
                a, b = by.get(("xnnpack", sc, "int8")), by.get(("xnnpack", sc, "fp32"))
                if sc != "1.0" and a and b:
                    others.append("x%s %.2fx%s" % (sc, a / b, "" if a < b else " (not below)"))
            s.append("int8 below fp32 (x1.0, XNNPACK): %.1f M against %.1f M (%.2fx), %s.%s" % (
                i8 / 1e6, x10 / 1e6, i8 / x10, "met" if i8 < x10 else "not met",
                " int8 over fp32 at the other scales: " + ", ".join(others) + "." if others else ""))
        else:
            o8, o32 = by.get(("onednn", "1.0", "int8")), by.get(("onednn", "1.0", "fp32"))
            s.append("int8 below fp32 on these calibrated models: not measured on XNNPACK (its "
                     "row says why); on oneDNN (reference code on arm64) x1.0 int8 is %s." % (
                         "%.1fx its fp32" % (o8 / o32) if o8 and o32 else "not measured"))
        s.append("")
    if qdq_rows:
        s += ["The shared QDQ model (PP-LCNet x0.5, 224x224, int8 as ONNX Runtime quantised it; "
              "`../shared/models/PROVENANCE.md`) in int8, and its dequantised float twin in fp32 "
              "and fp16:", "",
              "| backend | precision | M instructions a frame | SIMD&FP | predicted ms at 2.4 GHz "
              "(prediction) |", "|---|---|---:|---:|---|"]
        q = {}
        for r in qdq_rows:
            backend, prec, total = r[0], r[3], r[4]
            if total == "n/a":
                s.append("| %s | %s | n/a | | %s |" % (backend, prec, r[5] if len(r) > 5 else ""))
                continue
            t, dp, ls = int(total), int(r[5]), int(r[6])
            q[(backend, prec)] = t
            s.append("| %s | %s | %.1f | %.0f %% | %.1f-%.1f |" % (
                backend, prec, t / 1e6, 100.0 * (dp + ls) / t if t else 0,
                t / (GHZ * 1e6 * IPC_HIGH), t / (GHZ * 1e6 * IPC_LOW)))
        s.append("")
        i8, f32 = q.get(("xnnpack", "int8")), q.get(("xnnpack", "fp32"))
        if i8 and f32:
            s.append("int8 below fp32 on XNNPACK (this model): %.1f M against %.1f M (%.2fx), %s." % (
                i8 / 1e6, f32 / 1e6, i8 / f32, "met" if i8 < f32 else "not met"))
            s.append("")
    s += ["One layer type alone, in a model with eight of them against the same model without "
          "(56x56, 64 channels; `bench/arm64_layers.py`): instructions a multiply-accumulate.", "",
          "| layer | backend | precision | instructions a MAC | SIMD&FP |", "|---|---|---|---:|---:|"]
    for r in read_tsv(layers_path):
        if r[3] == "n/a":
            s.append("| %s | %s | %s | n/a | |" % tuple(r[:3]))
            continue
        t, simd, macs = int(r[3]), int(r[4]), int(r[5])
        s.append("| %s | %s | %s | %.2f | %.0f %% |" % (r[0], r[1], r[2], t / macs,
                                                      100.0 * simd / t if t else 0))
    s.append("")
    s.append("| run | |")
    s.append("|---|---|")
    for k in ("date", "source", "qemu", "host_cpu", "onednn_pkg", "xnnpack_pkg", "cc"):
        if k in facts:
            s.append("| %s | %s |" % (k, facts[k]))
    block = [BEGIN] + s + [END]

    try:
        with open(out) as f:
            old = f.read().rstrip("\n").split("\n")
    except FileNotFoundError:
        old = []
    if BEGIN in old:
        a = old.index(BEGIN)
        b = old.index(END, a)
        new = old[:a] + block + old[b + 1:]
    else:
        new = old + [""] + block
    with open(out, "w") as f:
        f.write("\n".join(new) + "\n")


if __name__ == "__main__":
    main()
