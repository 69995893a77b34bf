#!/usr/bin/python3
"""Where one inference spends its time, from oneDNN's verbose log.

    verbose_breakdown.py --log LOG --plan PLAN --iters N [--keep K] [--wall MS] [--top 10]
                         [--steps STEPS]

LOG: the output of `ONEDNN_VERBOSE=1 lcnet-infer --bench ...` with N
iterations in all (warm-up + timed).  PLAN: the output of `lcnet-infer
--plan` for the same model and batch.  The exec lines of the last N
iterations are the last N x (steps per iteration) exec lines of the log
(anything before them is load-time work, e.g. weight reorders); the last K
iterations of those are kept (default: all N).  When each iteration's exec
lines line up with the plan's steps (same count, same implementations), the
steps are named after the plan's graph nodes.  Plan steps the engine runs
itself (the int8 plan's "table", "chmul", "mean" loops, and its own
convolution kernels) print no exec line: they are left out of the lining up.
STEPS, when given, is the output of `lcnet-infer --bench ... --steps` for the
same configuration (one JSON line per plan step with its median time, timed
by lcnetd): those steps then join the tables with those times; without it
their time is outside the tables.

Per step the median time over the kept iterations is taken; the tables sum
those medians.  Each iteration's primitive times are also added up, and their
median and minimum compared with the run's own end-to-end median and minimum
(the JSON line lcnet-infer prints, when it is in LOG): the difference is time
outside oneDNN primitives (input preprocessing, glue).  WALL, when given, is
the end-to-end median of the same configuration without verbose output,
quoted for reference.

Prints Markdown: totals, a table by primitive kind and implementation, and
the top steps.
"""
import argparse
import collections
import json
import re
import statistics
import sys

CONV_RE = re.compile(r"^(?:g(\d+))?mb(\d+)_ic(\d+)oc(\d+)(?:_id(\d+)od(\d+)kd(\d+)\S*?)?"
                     r"_ih(\d+)oh(\d+)kh(\d+)\S*?(?:_iw(\d+)ow(\d+)kw(\d+)\S*)?$")


def macs_of(kind, desc):
    """Multiply-accumulates a convolution or matmul step performs, else 0."""
    if kind == "convolution":
        m = CONV_RE.match(desc)
        if not m:
            return 0
        g, mb, ic, oc, _, od, kd, _, oh, kh, _, ow, kw = (int(x) if x else None for x in m.groups())
        g = g or 1
        od, kd = od or 1, kd or 1
        ow, kw = ow or oh, kw or kh
        return mb * oc * od * oh * ow * (ic // g) * kd * kh * kw
    if kind in ("matmul", "inner_product"):
        parts = desc.split(":")
        if kind == "matmul" and len(parts) >= 2:
            a = [int(x) for x in parts[0].split("x")]
            b = [int(x) for x in parts[1].split("x")]
            batch = 1
            for x in a[:-2]:
                batch *= x
            return batch * a[-2] * a[-1] * b[-1]
    return 0


def parse_log(path):
    info, execs, result = [], [], None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("{") and '"median_ms"' in line:
                try:
                    result = json.loads(line)
                except ValueError:
                    pass
            elif line.startswith(("onednn_verbose,info,", "dnnl_verbose,info,")):
                info.append(line.split(",", 2)[2])
            elif line.startswith(("onednn_verbose,exec,", "dnnl_verbose,exec,")):
                f_ = line.split(",")
                if len(f_) < 11:
                    continue
                try:
                    t = float(f_[-1])
                except ValueError:
                    continue
                execs.append({"kind": f_[3], "impl": f_[4], "desc": f_[-2], "ms": t})
    return info, execs, result


# idx kind impl dtype what; an engine-side impl may carry a parenthesised
# note ("loop (per channel)", "table (x*Sigmoid(x))")
PLAN_RE = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\S+(?: \(.*?\)(?=\s))?)\s+(\S+)\s+(.*\S)\s*$")


def parse_plan(path):
    steps = []
    with open(path) as f:
        for line in f:
            m = PLAN_RE.match(line)
            if not m:
                continue
            idx, kind, impl, dtype, rest = m.groups()
            steps.append({"idx": int(idx), "kind": kind, "impl": impl, "dtype": dtype, "what": rest})
    return steps


def parse_steps(path):
    """Plan step index -> median ms, from lcnet-infer --steps output."""
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("{") and '"step"' in line:
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                out[int(d["step"])] = float(d["median_ms"])
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", required=True)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--iters", type=int, required=True)
    ap.add_argument("--keep", type=int, default=0)
    ap.add_argument("--wall", type=float, default=0.0)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--steps")
    a = ap.parse_args(argv)

    info, execs, result = parse_log(a.log)
    plan = parse_plan(a.plan)
    # A plan step is a oneDNN primitive when its implementation shows up in
    # the log's exec lines; the rest run in the engine's own loops, untimed.
    dnn_impls = {e["impl"] for e in execs}
    host_steps = [s for s in plan if s["impl"] not in dnn_impls]
    host = collections.Counter(s["kind"] for s in host_steps)
    plan = [s for s in plan if s["impl"] in dnn_impls]
    timed = parse_steps(a.steps) if a.steps else {}
    if host_steps and not all(s["idx"] in timed for s in host_steps):
        timed = {}
    keep = a.keep or a.iters
    if a.iters < 1 or keep > a.iters:
        sys.exit("verbose_breakdown: need 1 <= keep <= iters")

    # steps per iteration: the plan's count when the log's tail is consistent
    # with it, else the count that makes the tail repeat.
    per = 0
    if plan and len(execs) >= a.iters * len(plan):
        tail = execs[len(execs) - a.iters * len(plan):]
        if all(tail[i]["impl"] == plan[i % len(plan)]["impl"] for i in range(len(tail))):
            per = len(plan)
    # every step the engine's own, each timed by --steps: nothing to line up
    only_host = not plan and bool(timed)
    named = per > 0 or only_host
    if not named:
        for p in range(1, len(execs) // a.iters + 1):
            tail = execs[len(execs) - a.iters * p:]
            if all((tail[i]["kind"], tail[i]["impl"], tail[i]["desc"]) ==
                   (tail[i % p]["kind"], tail[i % p]["impl"], tail[i % p]["desc"])
                   for i in range(len(tail))):
                per = p
                break
    if per == 0 and not only_host:
        sys.exit(f"verbose_breakdown: {len(execs)} exec lines do not repeat over {a.iters} iterations")
    tail = execs[len(execs) - keep * per:] if per else []
    load_time = sum(e["ms"] for e in execs[:len(execs) - a.iters * per])

    steps = []
    for s in range(per):
        times = [tail[i * per + s]["ms"] for i in range(keep)]
        e = tail[s]
        name = plan[s]["what"] if named else e["desc"]
        steps.append({"idx": plan[s]["idx"] if named else s, "kind": e["kind"], "impl": e["impl"], "desc": e["desc"],
                      "name": name, "ms": statistics.median(times),
                      "macs": macs_of(e["kind"], e["desc"])})
    host_ms = 0.0
    if timed:
        for h in host_steps:
            host_ms += timed[h["idx"]]
            steps.append({"idx": h["idx"], "kind": h["kind"], "impl": h["impl"], "desc": "",
                          "name": h["what"], "ms": timed[h["idx"]], "macs": 0})
    total = sum(s["ms"] for s in steps)

    version = next((i for i in info if i.startswith(("oneDNN", "DNNL"))), "oneDNN ?")
    isa = next((i.split("isa:", 1)[1] for i in info if "isa:" in i), "?")
    if only_host:
        print("No oneDNN primitive in this plan: every step is one of lcnetd's own (oneDNN's verbose "
              "output has nothing to say).")
    else:
        print(f"{version}, ISA as oneDNN dispatches: {isa}. {per} primitives per inference; "
              f"medians over the last {keep} of {a.iters} iterations"
              f"{', steps named from the plan' if named else ''}. "
              f"Load-time primitive work before the first inference (weight reorders): {load_time:.3f} ms.")
    if host:
        print()
        print(f"The plan also has {sum(host.values())} steps the engine runs itself, outside oneDNN ("
              + ", ".join(f"{n} {k}" for k, n in sorted(host.items(), key=lambda kv: (-kv[1], kv[0])))
              + "): oneDNN's verbose output does not time them, ", end="")
        if timed:
            print("so their times come from a second run of the same configuration with "
                  "`lcnet-infer --steps` (lcnetd waits for and times each step itself; median per step, "
                  f"{host_ms:.3f} ms for these steps together); they are in the tables below, without "
                  "MAC counts.")
        else:
            print("so they are missing from the tables below and their time is part of the "
                  "\"outside oneDNN primitives\" figure.")
    print()
    # Per iteration: all its primitives' times added up.  On a busy machine a
    # primitive that gets preempted absorbs the wait, so these totals grow
    # while the per-step medians above stay put.
    iters = sorted(host_ms + sum(e["ms"] for e in tail[i * per:(i + 1) * per]) for i in range(keep))
    if not steps:
        sys.exit("verbose_breakdown: no step timed")
    it_med, it_min = statistics.median(iters), iters[0]
    print(f"Sum of per-step medians: **{total:.3f} ms** (the tables below; what the steps "
          f"cost when not interrupted). Step time per inference, all steps added up"
          f"{' (the engine-side ones by their medians)' if host_ms else ''}: median "
          f"{it_med:.3f} ms, min {it_min:.3f} ms", end="")
    if it_med > 1.2 * total:
        print(" (the median well above the sum of medians: other processes preempted this run)", end="")
    print(".", end="")
    if result:
        wall_med, wall_min = result["median_ms"], result["min_ms"]
        print(f" The same run end to end, as lcnet-infer times it (here including the writing of the "
              f"verbose lines): median {wall_med:.3f} ms, min {wall_min:.3f} ms; so outside oneDNN "
              f"primitives (input preprocessing, {'the engine-side steps above, ' if host and not host_ms else ''}"
              f"call overhead, verbose output) "
              f"about {wall_med - it_med:.3f} ms by the medians, {wall_min - it_min:.3f} ms by the "
              "minima.", end="")
    if a.wall > 0:
        print(f" Without verbose output, in the results table: median {a.wall:.3f} ms.", end="")
    print()
    print()

    def rate(macs, ms):
        return f"{macs / ms / 1e6:.1f}" if macs and ms > 0 else ""

    groups = {}
    for s in steps:
        g = groups.setdefault((s["kind"], s["impl"]), [0, 0.0, 0])
        g[0] += 1
        g[1] += s["ms"]
        g[2] += s["macs"]
    print("GMAC/s: the step's multiply-accumulates (from oneDNN's problem descriptor) over its median time.")
    print()
    print("| primitive kind | implementation | count | ms | share | MMACs | GMAC/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for (kind, impl), (n, ms, macs) in sorted(groups.items(), key=lambda kv: -kv[1][1]):
        print(f"| {kind} | {impl} | {n} | {ms:.3f} | {100 * ms / total:.1f}% | "
              f"{macs / 1e6:.1f} | {rate(macs, ms)} |" if macs else
              f"| {kind} | {impl} | {n} | {ms:.3f} | {100 * ms / total:.1f}% |  |  |")
    print()

    print(f"Top {a.top} steps:")
    print()
    print("| # | kind | implementation | " + ("node -> output" if named else "problem") +
          " | ms | share | MMACs | GMAC/s |")
    print("|---:|---|---|---|---:|---:|---:|---:|")
    for s in sorted(steps, key=lambda s: -s["ms"])[:a.top]:
        what = s["name"].replace("|", "\\|")
        mmacs = f"{s['macs'] / 1e6:.2f}" if s["macs"] else ""
        print(f"| {s['idx']} | {s['kind']} | {s['impl']} | `{what}` | {s['ms']:.3f} | "
              f"{100 * s['ms'] / total:.1f}% | {mmacs} | {rate(s['macs'], s['ms'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
