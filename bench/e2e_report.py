#!/usr/bin/python3
"""The "End to end" section of docs/benchmarks.md, from bench/e2e.py's results.

    bench/e2e_report.py RESULTS.jsonl OUT.md

Each configuration's latest result is shown.  The section sits between two
marker comments; the rest of OUT.md (bench/run-bench.sh's engine sections)
is kept, and run-bench.sh keeps this section when it rewrites the file.
"""

import json
import os
import re
import sys

BEGIN = "<!-- e2e:begin (written by bench/e2e.py, `make bench-e2e`) -->"
END = "<!-- e2e:end -->"
# A run with BENCH_CPU set has a section of its own, after the main one.
MBEGIN = "<!-- e2e:%s:begin (written by bench/e2e.py, `BENCH_CPU=%s make bench-e2e`) -->"
MEND = "<!-- e2e:%s:end -->"


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def clean(msg):
    """Error texts name files under the checkout: keep them relative."""
    return msg.replace(ROOT + "/", "").replace("|", "/")


def f(x, fmt="%.2f"):
    return "-" if x is None else fmt % x


def run_key(r, ends):
    """The bench run a record came from: its run_id, or for records written
    before runs had ids, how many runs had ended before it (a run then wrote
    one record, at its end)."""
    return r.get("run_id") or "ended-%d" % ends


def load(path):
    """One pass over the results.  latest: config -> its last result, each
    carrying "_run" (run_key); trials: config -> its trials; run: the last
    run's end record, or its start record when it was stopped part-way;
    alts: (run, alternative) -> the alternative's count in that run;
    hist: config -> [(count, run, commit)] for every run that measured it,
    oldest first."""
    latest, trials, run, alts, hist, src, ends = {}, {}, None, {}, {}, {}, 0
    with open(path) as fh:
        for line in fh:
            r = json.loads(line)
            k = r.get("kind")
            if k == "trial":
                trials.setdefault(r["config"], []).append(r)
            elif k in ("start", "run"):
                run = r
                # an old run's only record is its end, after its results
                src.setdefault(run_key(r, ends), r.get("source", "?"))
                ends += k == "run"
            elif k in ("result", "unavailable", "latency", "infer"):
                r["_run"] = run_key(r, ends)
                latest[r["config"]] = r
                if k == "result":
                    hist.setdefault(r["config"], []).append((r["max"], r["_run"]))
                    if r["config"].startswith("alt-"):
                        alts[(r["_run"], r["config"][4:])] = r["max"]
    hist = {c: [(n, rk, src.get(rk, "?")) for n, rk in v] for c, v in hist.items()}
    return latest, trials, run, alts, hist


SWEEP = re.compile(r"-(s[\d.]+|b\d+|c\d[\d,-]*|d\d[\d,-]*)(-|$)")


SERVER_NOTE = (
    "The RTSP server: `build/rtsp-replay` (`bench/rtsp_replay.c`) reads each file once at start, cuts its H.264 "
    "access units into RTP packets (RFC 6184: single NAL units and FU-A, SPS/PPS in-band before every IDR) and "
    "serves them from one epoll thread over interleaved RTP/TCP: each mount plays in real time from its own clock, "
    "looping with RTP timestamps and sequence numbers that run on, a client starts at the next keyframe after "
    "PLAY, and a frame costs one patch of the packet headers and one `send()` a client. It costs about 0.0015 CPUs "
    "a 720p30 stream (0.026 CPUs for 16 streams, 0.09 for 64, each read by `ffmpeg -c copy`), against 0.017 a "
    "stream for `tests/tools/rtsp_server.py` (GStreamer's RTSP server with a Python callback a frame), which "
    "held the sample_fps 1 rows near 32 streams on 2 cores. `BENCH_E2E_SERVER=gst` still runs the bench on the "
    "GStreamer server.")


def section(results, mask=""):
    latest, trials, run, alts, hist = load(results)
    o = ["## End to end" + (" on a CPU masked to %s" % mask.upper() if mask else ""), ""]
    if mask:
        o += ["**Masked:** every process of this run (lcnetd, the RTSP server, ffmpeg, ONNX Runtime) saw a "
              "%s-class CPU: the CPUID instruction answered with the newer extensions cleared "
              "(`BENCH_CPU=%s`, bench/cpuid_mask.c), so each chose the kernels it would choose on such a CPU, "
              "on this machine's caches, clocks and execution ports." % (mask.upper(), mask), ""]
    if run:
        how = "for %s, source commit %s, on %s (%d logical CPUs); load average %s at the start" % (
            ", ".join(run["configs"]), run["source"], run["cpu_model"], run["logical_cpus"], run["load_start"])
        if run["kind"] == "run":
            how += ", %s at the end (%.0f minutes)" % (run["load_end"], run["elapsed_s"] / 60)
        else:
            how += "; **stopped before it finished**"
        o.append("Produced by `make bench-e2e` (`bench/e2e.py`) on %s %s. Trials of %g s bracket each maximum, "
                 "one run of %g s confirms it (after a %g s warm-up each). %s; %s." % (
                     run["date"], how, run["trial_s"], run["confirm_s"], run["warmup_s"], run["ffmpeg"],
                     "onnxruntime-node " + run["ort"]))
        o.append("")
    # Runs recorded before rtsp-replay existed used the GStreamer server.
    server = "`build/rtsp-replay`" if run and run.get("server") == "replay" else "`tests/tools/rtsp_server.py`"
    o += [
        "Workload: `cam720.mp4` of `tests/fixtures/gen-clips.sh --bench` (1280x720, 30 fps, H.264 High, no B-frames, "
        "GOP 30, 2 Mbit/s, noise over a test pattern) served looped in real time over RTSP/TCP by "
        + server + " on 127.0.0.1, one mount per stream, the mounts phased over the 1 s "
        "GOP so that keyframes do not all arrive at once, and over the 33 ms frame interval so that frames do "
        "not either (mount i starts i x 31/30/n s into the loop, modulo 1 s; runs before 2026-11-24 20:40 "
        "were phased by 1/n s only). The server runs on the same 2 CPUs; its CPU is given "
        "apart. lcnetd: the production binary, `max_batch` at its default (one per inference CPU: 1) and "
        "`inference_cpus = 1` (decoding unpinned) unless "
        "the name says otherwise (`-bN`: max_batch N, `-cL`: inference_cpus L, `-sF`: sample_fps F), "
        "`publish = every`, one subscriber reading every line. Names ending in `-1080` serve `cam1080.mp4` instead "
        "(1920x1080, 30 fps, 4 Mbit/s, 10 s looped, otherwise made the same way); `-qN` sets `queue_frames` to N "
        "(default 8) and `-dCPUS` sets `decode_cpus`.",
        "",
        SERVER_NOTE,
        "",
        "Run it with `make bench-e2e` (`bench/e2e.py`; a configuration takes about 10 to 20 minutes on 2 cores, "
        "thirteen and the latency phase took 136 minutes on 2026-11-25, so the default set of 22 and "
        "the latency phase take about four hours); "
        "`BENCH_E2E_CONFIGS=x10-fp32,x10-bf16 make bench-e2e` runs some configurations only (this section "
        "then shows each configuration's latest result), `BENCH_E2E_TRIAL` and `BENCH_E2E_CONFIRM` set the "
        "trial and confirmation lengths in seconds. Run it on a quiet machine: the \"others\" column says "
        "whether it was.",
        "",
        "A count passes when, over the measured window (between two `stats` events, 5 s apart), every stream: "
        "skipped no frame (`skipped` did not grow), did not reconnect, took in at least 29 frames/s "
        "(`decoded` + `decode_skipped`), and classified at least 29 frames/s (every frame) or 90 % of sample_fps; "
        "and the server sent at least 29 frames/s a stream (else the count is marked server-limited: the server, "
        "not lcnetd, fell behind). The alternative passes when every stream's frames were received and classified "
        "at 29 frames/s or more and its queue in Node.js stayed under 30 frames and grew by at most 15 over the "
        "second half of the window. CPU figures are CPUs (1.00 = one core busy) averaged over the window; "
        "\"others\" is the rest of the machine (busy time from /proc/stat, steal included, minus the bench's "
        "own processes): above about 0.25 the numbers are contended.",
        ""]
    o += ["| configuration | max streams | confirmed | first failing count | CPUs (lcnetd, or node + ffmpeg) | per stream | server CPU "
          "| others | RSS MiB | per stream MiB | note |",
          "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    alt = {}
    rows = sorted(k for k in latest if latest[k].get("kind") in ("result", "unavailable"))
    for k in rows:
        r = latest[k]
        if r["kind"] == "unavailable":
            o.append("| %s | - | - | - | - | - | - | - | - | - | unavailable in this build: %s |" %
                     (k, clean(r["why"])[:160]))
            continue
        b = r.get("best") or {}
        n = b.get("n") or 0
        cpu = b.get("daemon_cpu", b.get("node_cpu"))
        if k.startswith("alt-"):
            alt[k[4:]] = r["max"]
            cpu = (b.get("node_cpu") or 0) + (b.get("ffmpeg_cpu") or 0) if b.get("node_cpu") is not None else None
        rss = b.get("rss_mb", b.get("node_rss_mb"))
        note = []
        if r.get("server_limited"):
            note.append("server-limited trial seen")
        if not r.get("confirmed"):
            note.append("trials only" if r["max"] else "no count passed")
        if k.startswith("alt-"):
            note.append("node %s + ffmpeg %s CPUs" % (f(b.get("node_cpu")), f(b.get("ffmpeg_cpu"))))
        o.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            k, r["max"], "%g s" % r["confirm_s"] if r.get("confirmed") else "no",
            r["first_fail"] if r.get("first_fail") else "-", f(cpu), f(cpu / n if cpu and n else None, "%.3f"),
            f(b.get("server_cpu")), f(b.get("other_cpu")), f(rss, "%.0f"),
            f(rss / n if rss and n and not k.startswith("alt-") else None, "%.1f"), "; ".join(note)))
    o.append("")
    # ratios against the alternative
    rat = []
    for k in rows:
        r = latest[k]
        if r["kind"] != "result" or k.startswith("alt-"):
            continue
        # 1080p counts against the alternative at 1080p
        m = k.split("-")[0] + ("-1080" if "-1080" in k else "")
        if SWEEP.search(k) or m not in alt or not alt[m]:
            continue
        # a count is compared with the alternative of its own run: both move
        # with the machine's load
        a, when = alts.get((r["_run"], m)), "same run"
        if not a:
            a, when = alt[m], "another run (the latest)"
        target = 1.6 if "-fp32" in k else 2.3
        ratio = r["max"] / a
        # one run's ratio hangs on a stream or two either side: every run
        # that measured both shows the spread
        every = ["%s (%s/%d, %s)" % ("%.2f" % (n / alts[(rk, m)]) if n else "none confirmed", n or "-",
                                     alts[(rk, m)], c)
                 for n, rk, c in hist.get(k, []) if alts.get((rk, m))]
        rat.append("| %s | %d | %d | %s | %.2f | %.1f | %s | %s |" % (
            k, r["max"], a, when, ratio, target, "met" if ratio >= target else "missed", "; ".join(every) or "-"))
    if rat:
        o += ["Against the alternative (one `ffmpeg -i rtsp://... -vf scale=224:224 -pix_fmt rgb24 -f rawvideo "
              "pipe:` per stream, one Node.js process classifying every frame with onnxruntime-node fp32, same "
              "model file, batches of up to 4 frames, thread-pool spinning off). Each count is set against the alternative's count of the same "
              "`make bench-e2e` run where that run measured it, since both move with the machine's load; "
              "otherwise against the latest alternative, and the table says so. The last column lists the ratio "
              "of every run that measured both, oldest first (lcnetd / alternative streams, source commit):", "",
              "| configuration | lcnetd streams | alternative streams | alternative measured in | ratio | target | "
              "| every run with both |",
              "|---|---:|---:|---|---:|---:|---|---|"] + rat + [""]
    lat = [latest[k] for k in ("latency-50", "latency-90") if k in latest]
    if lat:
        o += ["Event latency, from the frame leaving the decoder (lcnetd stamps it as `avcodec_receive_frame()` "
              "hands it over, before scaling) to the line being readable by a subscriber: test builds "
              "(`build/lcnetd-test`, used for these runs only) stamp each label line as the event loop hands it "
              "to the subscribers' sockets, from which moment a Unix socket's `read()` returns it, and carry "
              "the frame's stage times on CLOCK_MONOTONIC. `build/latsub` (bench/latsub.c), a C subscriber of "
              "its own blocked in `read()`, collects them and stamps when its `read()` returned: that column "
              "adds the subscriber's own wake-up, which depends on what else the machine runs. The daemon's "
              "`latency_ms` ends when inference does. Stage columns are p99 of each stage on its own (they do "
              "not add up to the total's p99): scaling to the model's input, waiting for the inference thread, "
              "inference, the event loop's hop to the sockets, and the subscriber's wake-up. Inference time: "
              "`lcnet-infer --bench` batch 1 median with the inference thread count, measured just before. "
              "Target: readable p99 <= inference time + 3 ms at 50 % load. Each load runs three times (30 s "
              "each) and the run with the median readable p99 is shown; \"p99 of each run\" lists all three.",
              "",
              "| load | streams | of (max) | events | readable p50 ms | p99 ms | p99 of each run "
              "| read by the subscriber p50 | p99 | p99 of each run | daemon latency_ms p99 "
              "| p99: scale | wait | inference | loop hop | subscriber wake | inference ms (bench) "
              "| target p99 | |",
              "|---|---:|---|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in lat:
            tgt = r["infer_median_ms"] + 3 if r.get("infer_median_ms") is not None else None
            verdict = ""
            if r["load_frac"] == 0.5 and tgt is not None and r.get("rdy_p99") is not None:
                verdict = "met" if r["rdy_p99"] <= tgt else "missed"
            runs = lambda k: " / ".join(f(x) for x in r[k]) if r.get(k) else "-"
            o.append("| %d %% | %d | %s (%d) | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s "
                     "| %s | %s | %s |" % (
                         round(r["load_frac"] * 100), r["n"], r["of"], r["max"], r.get("events", "-"),
                         f(r.get("rdy_p50")), f(r.get("rdy_p99")), runs("runs_p99"),
                         f(r.get("sub_p50")), f(r.get("sub_p99")), runs("runs_sub_p99"), f(r.get("dmn_p99")),
                         f(r.get("scale_p99")), f(r.get("wait_p99")), f(r.get("infer_p99")),
                         f(r.get("loop_p99")), f(r.get("wake_p99")),
                         f(r.get("infer_median_ms"), "%.3f"), f(tgt), verdict))
        o.append("")
    o += ["<details><summary>Every trial</summary>", "",
          "| configuration | phase | streams | pass | why not | window s | min in fps | min classified fps "
          "| daemon/node CPU | server CPU | others | load avg |",
          "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for k in sorted(trials):
        for t in trials[k]:
            o.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                k, t["phase"], t["n"], "yes" if t["ok"] else "no", clean(t.get("why", ""))[:120],
                f(t.get("seconds"), "%.0f"), f(t.get("min_in_fps"), "%.1f"), f(t.get("min_cls_fps"), "%.1f"),
                f(t.get("daemon_cpu", t.get("node_cpu"))), f(t.get("server_cpu")), f(t.get("other_cpu")),
                t.get("load", "")))
    o += ["", "</details>", ""]
    return "\n".join(o)


def splice(out, begin, end, body, after=None):
    """Writes body between the marker lines begin and end of out: in place of
    the block they hold, else after the line `after`, else at the end."""
    text = ""
    if os.path.exists(out):
        with open(out) as fh:
            text = fh.read()
    block = begin + "\n\n" + body + "\n" + end
    if begin in text and end in text:
        a = text.index(begin)
        z = text.index(end) + len(end)
        text = text[:a] + block + text[z:]
    elif after and after in text:
        z = text.index(after) + len(after)
        text = text[:z] + "\n\n" + block + text[z:]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    with open(out + ".tmp", "w") as fh:
        fh.write(text)
    os.replace(out + ".tmp", out)


def write(results, out, mask=""):
    begin, end = (MBEGIN % (mask, mask), MEND % mask) if mask else (BEGIN, END)
    splice(out, begin, end, section(results, mask))


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.stderr.write("usage: e2e_report.py RESULTS.jsonl OUT.md [MASK]\n")
        sys.exit(2)
    write(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else "")
