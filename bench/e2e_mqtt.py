"""The MQTT phase of bench/e2e.py (`BENCH_E2E_CONFIGS=mqtt make bench-e2e`): the
MQTT sink's cost, measured and written as its section of docs/benchmarks.md.

The base configuration (BENCH_E2E_MQTT_BASE, x10-int8) at one stream count
runs alternately without and with an [mqtt] section publishing every label
to a local mosquitto that a mosquitto_sub reads in full: the daemon's CPU, by
thread, and its classified rate either way.  The count: BENCH_E2E_MQTT_N,
else the base's latest maximum, else 27 (the documented x10-int8 maximum),
stepped down until a run without MQTT skips nothing.
"""

import json
import os
import pwd
import socket
import subprocess
import sys
import time

from e2e_proc import loadavg, log, terminate
from e2e_report import clean, f, splice
from e2e_report import END as E2E_END

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "integration"))
from harness import status  # noqa: E402

RUNS = 3                # pairs of trials without and with the MQTT sink, alternating
DEFAULT_N = 27          # the documented x10-int8 maximum (docs/benchmarks.md, End to end)


class Broker:
    """mosquitto on a loopback port, and a mosquitto_sub writing each message's
    topic to a file.  Not the integration tests' Broker and Sub: those log
    every message and parse it in Python, which would load the CPU this phase
    measures."""

    def __init__(self, work):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        conf = os.path.join(work, "mosquitto.conf")
        with open(conf, "w") as fh:
            fh.write("user %s\nlistener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                     "log_dest none\n" % (pwd.getpwuid(os.getuid()).pw_name, self.port))
        self.p = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            time.sleep(0.05)
        self.count = os.path.join(work, "consumer.out")
        self.out = open(self.count, "w")
        self.sub = subprocess.Popen(["mosquitto_sub", "-p", str(self.port), "-t", "bench/#", "-F", "%t"],
                                    stdout=self.out, stderr=subprocess.DEVNULL)

    def config(self):
        """The daemon's [mqtt] section, as ini lines."""
        return ["[mqtt]", "host = 127.0.0.1", "port = %d" % self.port, "topic_prefix = bench/box", ""]

    def pids(self):
        return {"broker": self.p.pid, "consumer": self.sub.pid}

    def received(self):
        self.out.flush()
        try:
            with open(self.count) as fh:
                return sum(1 for _ in fh)
        except OSError:
            return None

    def counts(self, sock):
        """The sink's state and counters from the daemon's `status`, and what
        the consumer received."""
        try:
            mq = status(sock).get("mqtt", {})
        except (OSError, ValueError, RuntimeError):
            mq = {}
        return {"mqtt_state": mq.get("state"), "mqtt_sent": mq.get("sent"), "mqtt_dropped": mq.get("dropped"),
                "mqtt_received": self.received()}

    def stop(self):
        terminate(self.sub)
        terminate(self.p)
        self.out.close()


def cost(bench, cfg):
    """Runs the phase on bench (e2e.Bench) for the parsed base configuration
    cfg, and records its runs."""
    name = cfg["name"]
    fixed = int(float(os.environ.get("BENCH_E2E_MQTT_N") or 0))
    prev = bench.latest().get(name)
    n = fixed or (prev.get("max") if prev and prev.get("max") else DEFAULT_N)
    while True:
        r = bench.lcnetd_trial(cfg, n, bench.trial_s)
        log("mqtt: %s at %d streams without MQTT: %s" % (name, n, "ok" if r["ok"] else r.get("why")))
        if r["ok"] or fixed or n <= 1:
            break
        n -= max(1, n // 10)
    runs = []
    for i in range(RUNS):
        for on in (False, True):
            t = bench.lcnetd_trial(cfg, n, bench.trial_s, mqtt=on)
            t.update(kind="mqtt-run", config="mqtt-" + ("on" if on else "off"), of=name, run=i,
                     load=loadavg())
            bench.record(t)
            log("mqtt %s run %d, %d streams: %s, lcnetd %s CPUs, min classified %s fps%s" % (
                "on " if on else "off", i + 1, n, "ok" if t["ok"] else "FAIL: " + t.get("why", ""),
                "%.2f" % t["daemon_cpu"] if t.get("daemon_cpu") is not None else "?",
                "%.1f" % t["min_cls_fps"] if t.get("min_cls_fps") is not None else "?",
                ", broker %.2f, consumer %.2f CPUs, %s sent, %s dropped" % (
                    t.get("broker_cpu") or 0, t.get("consumer_cpu") or 0, t.get("mqtt_sent"),
                    t.get("mqtt_dropped")) if on else ""))
            runs.append(t)
    bench.record({"kind": "mqtt", "config": "mqtt", "of": name, "n": n, "fixed": bool(fixed),
                  "trial_s": bench.trial_s, "runs": runs})


# ------------------------------------------------------------------ the section

BEGIN = "<!-- e2e-mqtt:begin (written by bench/e2e.py, `BENCH_E2E_CONFIGS=mqtt make bench-e2e`) -->"
END = "<!-- e2e-mqtt:end -->"


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else None


def section(results, run):
    """The MQTT sink's cost, from the latest mqtt phase in results."""
    last = None
    with open(results) as fh:
        for line in fh:
            r = json.loads(line)
            if r.get("kind") == "mqtt":
                last = r
    o = ["## The MQTT sink's cost", ""]
    if not last:
        return "\n".join(o + ["No mqtt phase has run yet.", ""])
    runs = last["runs"]
    off = [r for r in runs if r["config"] == "mqtt-off"]
    on = [r for r in runs if r["config"] == "mqtt-on"]
    n = last["n"]
    o.append("Produced by `BENCH_E2E_CONFIGS=mqtt make bench-e2e` (`bench/e2e.py`) on %s, source commit %s, on %s "
             "(%d logical CPUs); load average %s at the start%s." % (
                 run["date"], run["source"], run["cpu_model"], run["logical_cpus"], run["load_start"],
                 ", %s at the end" % run["load_end"] if run.get("load_end") else ""))
    o.append("")
    o.append("%s (x1.0, int8: the fastest precision here whose outputs are the same on every ISA) at %d streams "
             "of the workload above, %s. Each run is %g s after the %g s warm-up; runs alternate "
             "without and with an `[mqtt]` section (`topic_prefix = bench/box`, qos 0, the other keys at their "
             "defaults) that publishes every label, every stream's status and state and the stats to a "
             "`mosquitto` on 127.0.0.1, where one `mosquitto_sub -t 'bench/#'` reads every message; the event "
             "socket keeps its one subscriber either way. lcnetd's CPU is its own (the broker's and the "
             "consumer's are given apart); \"others\" is the rest of the machine." % (
                 last["of"], n, "the count set by BENCH_E2E_MQTT_N" if last.get("fixed") else
                 "the largest count near the documented maximum at which a run without MQTT skipped nothing",
                 last["trial_s"], run.get("warmup_s", 10)))
    o.append("")
    o += ["| run | MQTT | pass | lcnetd CPUs | per stream | event loop | MQTT thread | inference | ingest "
          "| min classified fps | skipped | broker CPUs "
          "| consumer CPUs | MQTT sent | dropped | received | others | load avg |",
          "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in runs:
        th = r.get("threads_cpu") or {}
        o.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["run"] + 1, "on" if r["config"] == "mqtt-on" else "off",
            "yes" if r["ok"] else "no: " + clean(r.get("why", ""))[:80], f(r.get("daemon_cpu")),
            f(r["daemon_cpu"] / n if r.get("daemon_cpu") is not None else None, "%.4f"),
            f(th.get("loop"), "%.3f"), f(th.get("mqtt"), "%.3f") if r["config"] == "mqtt-on" else "-",
            f(th.get("inference")), f(th.get("ingest")),
            f(r.get("min_cls_fps"), "%.1f"), r.get("skipped", "-"), f(r.get("broker_cpu")),
            f(r.get("consumer_cpu")), r.get("mqtt_sent", "-") if r["config"] == "mqtt-on" else "-",
            r.get("mqtt_dropped", "-") if r["config"] == "mqtt-on" else "-",
            r.get("mqtt_received", "-") if r["config"] == "mqtt-on" else "-",
            f(r.get("other_cpu")), r.get("load", "")))
    c_off, c_on = median(r.get("daemon_cpu") for r in off), median(r.get("daemon_cpu") for r in on)
    k_off = median(r.get("min_cls_fps") for r in off)
    k_on = median(r.get("min_cls_fps") for r in on)
    loop_off = median((r.get("threads_cpu") or {}).get("loop") for r in off)
    loop_on = median((r.get("threads_cpu") or {}).get("loop") for r in on)
    mq = median((r.get("threads_cpu") or {}).get("mqtt") for r in on)
    o.append("")
    if loop_off is not None and loop_on is not None and mq is not None:
        o.append("The sink's own work, from the daemon's threads (/proc/PID/task): the event loop, which "
                 "formats the payloads, used %.3f CPUs without MQTT and %.3f with it (%+.3f), and the MQTT "
                 "connection's thread %.3f: %.4f CPUs a stream in all. Neither runs on the inference CPU." % (
                     loop_off, loop_on, loop_on - loop_off, mq, (loop_on - loop_off + mq) / n))
        o.append("")
    if c_off is not None and c_on is not None:
        o.append("Medians: lcnetd %.2f CPUs without MQTT, %.2f with it: %+.3f CPUs, %+.4f a stream (%+.1f %%); "
                 "the slowest stream classified %s frames/s without, %s with; the broker used %s CPUs and "
                 "its consumer %s." % (
                     c_off, c_on, c_on - c_off, (c_on - c_off) / n, 100.0 * (c_on - c_off) / c_off,
                     f(k_off, "%.1f"), f(k_on, "%.1f"), f(median(r.get("broker_cpu") for r in on)),
                     f(median(r.get("consumer_cpu") for r in on))))
        o.append("")
    return "\n".join(o)


def write(results, out, run):
    """The section, after the End to end one when the file has no section yet."""
    splice(out, BEGIN, END, section(results, run), after=E2E_END)
