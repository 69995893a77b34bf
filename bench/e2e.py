#!/usr/bin/python3
"""`make bench-e2e`: lcnetd end to end on camera-like RTSP streams from loopback.

    bench/e2e.py BUILD [OUT.md]         (OUT defaults to docs/benchmarks.md)

For each configuration: the largest number of 720p30 streams (cam720.mp4 of
`tests/fixtures/gen-clips.sh --bench`, served looped in real time by
BUILD/rtsp-replay (bench/rtsp_replay.c), one mount per stream, mounts phased
over the 1 s GOP) that lcnetd classifies with no skipped frame; the same for the
obvious alternative (one ffmpeg CLI per stream piping raw frames into one
onnxruntime-node process, bench/alt_pipeline.js); event latency to a
subscriber (readable, and read) at 50 % and 90 % of the maximum.  Search: short trials bracket the
maximum (double until a failure, then bisect), then one long run confirms it,
stepping down while the confirmation fails.

Configurations (BENCH_E2E_CONFIGS, comma separated; default: DEFAULT_CONFIGS below,
which leaves out mqtt):
    x05-fp32 x05-bf16 x05-int8 x10-fp32 x10-bf16 x10-int8   every frame
    x10-fp32-q30 x10-bf16-q30 x10-int8-q30                  queue_frames = 30: the 1 s backlog
                                                            the alternative is allowed
    x10-bf16-s1 x10-int8-s1 x10-bf16-s5 x10-int8-s5         sample_fps 1 / 5
    alt-x05 alt-x10                                         ffmpeg + ORT, fp32
    latency                                                 x10, int8 else bf16
    x10-int8-b2 x10-int8-b4 x10-bf16-b4 x10-fp32-b4         max_batch (trials only; default 0:
                                                            one per inference CPU, 1 here)
    x10-bf16-c0-1                                           inference_cpus = 0-1 (trials only)
    mqtt                                                    the MQTT sink's cost: x10-int8 with
                                                            and without [mqtt] at one count
                                                            (bench/e2e_mqtt.py)
  Other names of the same grammar work too:
  MODEL-PREC[-sFPS][-bBATCH][-cCPUS][-dCPUS][-qQUEUE][-1080] (-d: decode_cpus).

Environment: BENCH_CPU (avx2 or sse41: every process of the run, lcnetd, the
server, ffmpeg and ONNX Runtime, sees a CPU of that class through a masked
CPUID, bench/cpuid_mask.c; its results go to BUILD/bench-e2e-BENCH_CPU and a
section of their own), BENCH_E2E_TRIAL (s, default 30), BENCH_E2E_CONFIRM (s, 300),
BENCH_E2E_WARMUP (s, 10), BENCH_E2E_MAX (streams, 128), BENCH_E2E_ALT_THREADS
(ORT intra-op threads, default: logical CPUs), NODE,
BENCH_E2E_MQTT_N (the mqtt phase's stream count: default the base configuration's latest
maximum, else 27, stepped down until a run without MQTT skips nothing), BENCH_E2E_MQTT_BASE
(its configuration, x10-int8), BENCH_E2E_SERVER
(replay, the default: BUILD/rtsp-replay, about 0.001 CPUs a 720p30 stream;
gst: tests/tools/rtsp_server.py, the GStreamer server of the integration
tests, about 0.018 CPUs a stream, which caps the sample_fps 1 rows near 32
streams on 2 cores).  Raw results are
appended to BUILD/bench-e2e/results.jsonl; the report takes each
configuration's latest result, so a run can be split over several calls.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import e2e_mqtt
import e2e_report
from e2e_proc import (busy_seconds, children, cpu_seconds, loadavg, log, mem_kb, self_cpu, terminate,
                      thread_seconds)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FPS = 30.0
MIN_FPS = 29.0          # a stream "keeps up" at >= this many frames/s in the window
STATS_INTERVAL = 5
LATENCY_RUNS = 3        # per load; the median run is reported
ALT_BATCH = 4           # frames per onnxruntime call in the alternative, as in every run so far
# Mount i starts i * 31/30 / n s into the loop (modulo 1 s): keyframes spread
# over the 1 s GOP, and frames over the 33 ms frame interval too (31 i mod n
# runs through every residue), as cameras that are not frame-locked are.
# 1/n alone puts every frame of n = 2, 3, 5, 6, 10 ... streams at the same
# instant, so that the last of them waits for all the others' inference.
STAGGER = 31.0 / 30.0
MODELS = {"x05": "timm14_x05", "x10": "timm13_x10"}
DEFAULT_CONFIGS = ("x05-fp32-q30 x05-bf16-q30 x05-int8-q30 x10-fp32 x10-bf16 x10-int8 x10-fp32-q30 x10-bf16-q30 "
                   "x10-int8-q30 x10-int8-q30-1080 x10-bf16-s1 x10-int8-s1 x10-bf16-s5 x10-int8-s5 "
                   "alt-x05 alt-x10 alt-x10-1080 latency "
                   "x10-int8-b2 x10-int8-b4 x10-bf16-b4 x10-fp32-b4 x10-bf16-c0-1").split()
SEARCH_ONLY = re.compile(r"-(b\d+|c[\d,-]+)$")   # sweeps: trials, no confirmation


def env_num(name, default):
    v = os.environ.get(name, "")
    return float(v) if v else default


class Unavailable(Exception):
    """The configuration cannot run in this build (e.g. int8 before it lands)."""


# ------------------------------------------------------------------ pieces

SERVERS = {"replay": "rtsp-replay (bench/rtsp_replay.c)",
           "gst": "tests/tools/rtsp_server.py (GStreamer)"}


def server_kind():
    kind = os.environ.get("BENCH_E2E_SERVER", "") or "replay"
    if kind not in SERVERS:
        raise SystemExit("bench-e2e: BENCH_E2E_SERVER=%s: want one of %s" % (kind, ", ".join(SERVERS)))
    return kind


class Server:
    """n mounts of one clip, phased over 1 s, from rtsp-replay or (with
    BENCH_E2E_SERVER=gst) rtsp_server.py; both speak the same command line,
    READY line and stats file."""

    replay = None           # the rtsp-replay binary to run; set by Bench

    def __init__(self, work, clip, n):
        self.stats = os.path.join(work, "server.stats")
        if os.path.exists(self.stats):
            os.unlink(self.stats)
        self.err = open(os.path.join(work, "server.err"), "w")
        mounts = ["s%d=%s" % (i, clip) for i in range(n)]
        if server_kind() == "gst":
            cmd = [sys.executable, os.path.join(ROOT, "tests/tools/rtsp_server.py"), "--loop"]
        else:
            cmd = [self.replay]
        self.p = subprocess.Popen(
            cmd + ["--port", "0", "--stagger", "%.6f" % (STAGGER / n if n > 1 else 0), "--stats", self.stats] +
            mounts, stdout=subprocess.PIPE, stderr=self.err, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError("the RTSP server did not start (see %s)" % self.err.name)
        self.port = int(line.split()[1])

    def url(self, i):
        return "rtsp://127.0.0.1:%d/s%d" % (self.port, i)

    def frames(self):
        try:
            with open(self.stats) as f:
                return int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            return None

    def stop(self):
        terminate(self.p)
        self.err.close()


class Subscriber(threading.Thread):
    """Reads the event socket and keeps the stats events (label latency is
    LatencyProbe's)."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.stats = {}        # stream -> [(mono, event)]
        self.lock = threading.Lock()
        self.lines = 0

    def run(self):
        buf = b""
        while True:
            try:
                chunk = self.s.recv(1 << 16)
            except OSError:
                return
            t = time.monotonic()
            if not chunk:
                return
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for ln in lines:
                self.lines += 1
                if ln.startswith(b'{"event":"stats"'):
                    ev = json.loads(ln)
                    with self.lock:
                        self.stats.setdefault(ev["stream"], []).append((t, ev))

    def close(self):
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.s.close()


class LatencyProbe:
    """BUILD/latsub (bench/latsub.c) on the event socket: a C subscriber
    blocked in read(), writing each label line's arrival time and the
    frame's stage times (test builds carry them) to a file.  Columns: read()
    returned, decoded, scaled, inference start, inference end, sent (the
    event loop handed the line to the sockets: readable from then on)."""

    STAGES = (("scale", 2, 1), ("wait", 3, 2), ("infer", 4, 3), ("loop", 5, 4), ("wake", 0, 5),
              ("hop", 0, 4))

    def __init__(self, binary, sock, path):
        self.path = path
        self.p = subprocess.Popen([binary, sock, path], stdout=subprocess.PIPE, text=True)
        if self.p.stdout.readline().strip() != "READY":
            self.stop()
            raise RuntimeError("latsub did not connect to %s" % sock)

    def stop(self):
        terminate(self.p)

    def summary(self, window):
        """Percentiles over the events that arrived in the trial's window
        (monotonic seconds, the clock latsub uses too)."""
        self.stop()
        t0, t1 = window[0] * 1e6, window[1] * 1e6
        rows = []
        with open(self.path) as f:
            for line in f:
                v = [int(x) for x in line.split()[:6]]
                if len(v) == 6 and t0 <= v[0] <= t1 and v[5] > 0:
                    rows.append(v)
        ms = lambda a, b: [(r[a] - r[b]) / 1000.0 for r in rows]
        r = {"events": len(rows)}
        r["rdy_p50"], r["rdy_p99"] = pct(ms(5, 1), 0.5), pct(ms(5, 1), 0.99)
        r["sub_p50"], r["sub_p99"] = pct(ms(0, 1), 0.5), pct(ms(0, 1), 0.99)
        r["dmn_p50"], r["dmn_p99"] = pct(ms(4, 1), 0.5), pct(ms(4, 1), 0.99)
        for name, a, b in self.STAGES:
            r[name + "_p50"], r[name + "_p99"] = pct(ms(a, b), 0.5), pct(ms(a, b), 0.99)
        return r


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))]


# ------------------------------------------------------------------ the bench

class Bench:
    def __init__(self, build, out):
        self.build = build
        self.out = out
        self.mask = os.environ.get("BENCH_CPU", "")
        self.work = os.path.abspath(os.path.join(build, "bench-e2e" + ("-" + self.mask if self.mask else "")))
        os.makedirs(self.work, exist_ok=True)
        self.trial_s = env_num("BENCH_E2E_TRIAL", 30)
        self.confirm_s = env_num("BENCH_E2E_CONFIRM", 300)
        self.warmup_s = env_num("BENCH_E2E_WARMUP", 10)
        self.max_n = int(env_num("BENCH_E2E_MAX", 128))
        self.alt_threads = int(env_num("BENCH_E2E_ALT_THREADS", os.cpu_count() or 2))
        self.node = os.environ.get("NODE", "node")
        self.results = os.path.join(self.work, "results.jsonl")
        clips = os.path.join(build, "clips")
        self.clips = {"720": os.path.join(clips, "cam720.mp4"), "1080": os.path.join(clips, "cam1080.mp4")}
        for c in self.clips.values():
            if not os.path.isfile(c):
                raise SystemExit("bench-e2e: %s missing (sh tests/fixtures/gen-clips.sh --bench %s)" % (c, clips))
        # private copies: a rebuild during the run cannot swap the daemon
        self.bins = {}
        for b in ("lcnetd", "lcnetd-test", "lcnet-infer", "rtsp-replay", "latsub"):
            src = os.path.join(build, b)
            if not os.access(src, os.X_OK):
                raise SystemExit("bench-e2e: %s missing (make %s)" % (src, src))
            dst = os.path.join(self.work, b)
            shutil.copy2(src, dst)
            self.bins[b] = dst
        Server.replay = self.bins["rtsp-replay"]
        self.server = server_kind()
        self.node_path = os.path.abspath(os.path.join(build, "fixtures", "node", "node_modules"))
        self.calib = {}
        self.run_id = "%d-%d" % (time.time(), os.getpid())

    def record(self, obj):
        obj["at"] = time.strftime("%Y-%m-%d %H:%M:%S")
        # every record names its run: a run stopped part-way writes no end
        # record, and its rows must not be counted with the next run's
        obj["run_id"] = self.run_id
        with open(self.results, "a") as f:
            f.write(json.dumps(obj) + "\n")

    # -- models ------------------------------------------------------------

    def model(self, key):
        """The fixture, through a link in the work directory so that files
        made next to it (<model>.calib) stay out of the shared fixtures."""
        name = MODELS[key]
        src = os.path.abspath(os.path.join(self.build, "fixtures", name + ".onnx"))
        if not os.path.isfile(src):
            raise SystemExit("bench-e2e: %s missing (make fixtures)" % src)
        d = os.path.join(self.work, "models")
        os.makedirs(d, exist_ok=True)
        link = os.path.join(d, name + ".onnx")
        if not os.path.islink(link):
            os.symlink(src, link)
        return os.path.abspath(link)

    def calibration(self, model):
        """int8 scales for model: made once with `lcnet-infer --calibrate` on
        frames of the bench clip.  Unavailable until the engine has it."""
        if model in self.calib:
            if isinstance(self.calib[model], Unavailable):
                raise self.calib[model]
            return self.calib[model]
        path = model + ".calib"
        imgs = os.path.join(self.work, "calib-images")
        try:
            if not os.path.isdir(imgs) or not os.listdir(imgs):
                os.makedirs(imgs, exist_ok=True)
                subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", self.clips["720"],
                                "-vf", "fps=1.5", "-frames:v", "30", os.path.join(imgs, "f%03d.png")],
                               check=True)
            # made again by a newer engine: the file's format may have grown
            if not os.path.isfile(path) or \
                    os.path.getmtime(path) < os.path.getmtime(self.bins["lcnet-infer"]):
                r = subprocess.run([self.bins["lcnet-infer"], "--model", model, "--calibrate", imgs,
                                    "--calibration", path],
                                   capture_output=True, text=True)
                if r.returncode != 0 or not os.path.isfile(path):
                    msg = (r.stderr.strip().splitlines() or ["no %s written" % path])[0]
                    raise Unavailable("lcnet-infer --calibrate: %s" % msg)
        except Unavailable as e:
            self.calib[model] = e
            raise
        self.calib[model] = path
        return path

    # -- one lcnetd trial --------------------------------------------------

    def lcnetd_trial(self, cfg, n, seconds, latency=False, mqtt=False):
        model = self.model(cfg["model"])
        calib = self.calibration(model) if cfg["prec"] == "int8" else None
        tmp = tempfile.mkdtemp(prefix="run.", dir=self.work)
        sock = os.path.join(tmp, "events.sock")
        lines = ["[daemon]", "socket = %s" % sock, "inference_cpus = %s" % cfg["cpus"],
                 "max_batch = %d" % cfg["batch"], "stats_interval = %d" % STATS_INTERVAL,
                 "allow_root = yes", "log_level = warning",
                 "queue_frames = %d" % cfg["queue"] if cfg["queue"] else "",
                 "decode_cpus = %s" % cfg["dcpus"] if cfg["dcpus"] else "", "",
                 "[model]", "path = %s" % model, "precision = %s" % cfg["prec"], "top_k = 1"]
        if calib:
            lines.append("calibration = %s" % calib)
        lines.append("")
        srv = Server(self.work, self.clips[cfg["res"]], n)
        for i in range(n):
            lines += ["[stream:s%d]" % i, "url = %s" % srv.url(i), "sample_fps = %g" % cfg["fps"],
                      "publish = every", ""]
        broker = e2e_mqtt.Broker(tmp) if mqtt else None
        if broker:
            lines += broker.config()
        conf = os.path.join(tmp, "lcnetd.ini")
        with open(conf, "w") as f:
            f.write("\n".join(lines))
        errf = open(os.path.join(tmp, "lcnetd.err"), "w")
        binary = self.bins["lcnetd-test" if latency else "lcnetd"]
        d = subprocess.Popen([binary, "-c", conf], stdout=subprocess.DEVNULL, stderr=errf)
        sub = probe = None
        res = {"n": n, "seconds_asked": seconds}
        try:
            t_start = time.monotonic()
            while not os.path.exists(sock):
                if d.poll() is not None:
                    errf.flush()
                    with open(errf.name) as f:
                        msg = (f.read().strip().splitlines() or ["exit %d" % d.returncode])[-1]
                    # at start: the configuration cannot run at all, at any count
                    raise Unavailable("lcnetd exited at start: %s" % msg)
                if time.monotonic() - t_start > 60:
                    raise RuntimeError("lcnetd: no socket after 60 s")
                time.sleep(0.1)
            time.sleep(0.2)
            sub = Subscriber(sock)
            sub.start()
            if latency:
                probe = LatencyProbe(self.bins["latsub"], sock, os.path.join(tmp, "latency.txt"))
            res.update(self._watch(cfg, n, seconds, d, srv, sub, t_start,
                                   broker.pids() if broker else {}))
            window = res.pop("window", None)
            if probe and window:
                res.update(probe.summary(window))
            if broker:
                res.update(broker.counts(sock))
        finally:
            if broker:
                broker.stop()
            if probe:
                probe.stop()
            if sub:
                sub.close()
            terminate(d, 20)
            errf.close()
            srv.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        return res

    def _watch(self, cfg, n, seconds, d, srv, sub, t_start, extra=None):
        """Baseline: the first stats round after the warm-up with every stream
        up; end: the first round `seconds` later.  Stops early on a skip."""
        names = ["s%d" % i for i in range(n)]

        def latest():
            with sub.lock:
                return {s: sub.stats[s][-1] for s in names if s in sub.stats}

        t_w = t_start + self.warmup_s
        base = None
        probe0 = None
        while True:
            time.sleep(0.5)
            if d.poll() is not None:
                return {"ok": False, "why": "lcnetd exited (%d)" % d.returncode}
            now = time.monotonic()
            cur = latest()
            if base is None:
                if now > t_w + 90:
                    up = sum(1 for s in names if s in cur and cur[s][1]["state"] == "up")
                    return {"ok": False, "why": "only %d of %d streams up after the warm-up" % (up, n)}
                if now >= t_w and len(cur) == n and all(
                        t >= t_w and e["state"] == "up" and e["decoded"] > 0 for t, e in cur.values()):
                    base = cur
                    t_base = max(t for t, _ in cur.values())
                    probe0 = (t_base, cpu_seconds(d.pid), cpu_seconds(srv.p.pid), self_cpu(),
                              busy_seconds(), srv.frames())
                    extra0 = {k: cpu_seconds(p) for k, p in (extra or {}).items()}
                    threads0 = thread_seconds(d.pid)
                continue
            # early stop: a skip, a reconnect
            bad = [s for s in names if cur[s][1]["skipped"] > base[s][1]["skipped"]
                   or cur[s][1]["reconnects"] > base[s][1]["reconnects"]]
            if bad and now - t_base > STATS_INTERVAL + 1:
                end = cur
                break
            if all(t >= t_base + seconds - 1 for t, _ in cur.values()):
                end = cur
                break
            if now > t_base + seconds + 3 * STATS_INTERVAL:
                return {"ok": False, "why": "stats stopped coming"}
        t_end = max(t for t, _ in end.values())
        probe1 = (t_end, cpu_seconds(d.pid), cpu_seconds(srv.p.pid), self_cpu(), busy_seconds(), srv.frames())
        extra1 = {k: cpu_seconds(p) for k, p in (extra or {}).items()}
        threads1 = thread_seconds(d.pid)
        el = t_end - t_base
        per = []
        why = []
        for s in names:
            b, e = base[s][1], end[s][1]
            st_el = end[s][0] - base[s][0]
            dd = e["decoded"] - b["decoded"]
            ds = e["decode_skipped"] - b["decode_skipped"]
            dc = e["classified"] - b["classified"]
            sk = e["skipped"] - b["skipped"]
            rc = e["reconnects"] - b["reconnects"]
            per.append({"in_fps": (dd + ds) / st_el, "cls_fps": dc / st_el, "skipped": sk, "reconnects": rc,
                        "p50": e["latency_p50_ms"], "p99": e["latency_p99_ms"]})
        skipped = sum(p["skipped"] for p in per)
        recon = sum(p["reconnects"] for p in per)
        min_in = min(p["in_fps"] for p in per)
        min_cls = min(p["cls_fps"] for p in per)
        want_cls = MIN_FPS if cfg["fps"] == 0 else 0.9 * min(cfg["fps"], FPS)
        if skipped:
            why.append("%d frames skipped" % skipped)
        if recon:
            why.append("%d reconnects" % recon)
        if min_in < MIN_FPS:
            why.append("a stream took in %.1f frames/s" % min_in)
        if min_cls < want_cls:
            why.append("a stream classified %.1f frames/s" % min_cls)
        own = lambda i: (probe1[i] - probe0[i]) / el if probe1[i] is not None and probe0[i] is not None else None
        d_cpu, s_cpu, h_cpu, busy = own(1), own(2), own(3), own(4)
        srv_fps = (probe1[5] - probe0[5]) / el / n if probe1[5] is not None and probe0[5] is not None else None
        server_limited = srv_fps is not None and srv_fps < MIN_FPS
        if server_limited:
            why.append("the server sent %.1f frames/s a stream" % srv_fps)
        # what else the bench ran for this trial (an MQTT broker and its consumer): CPU of its own
        ext = {k + "_cpu": (extra1[k] - extra0[k]) / el for k in extra1
               if extra1[k] is not None and extra0.get(k) is not None}
        busy = busy - sum(ext.values()) if busy is not None else None
        r = {"ok": not why, "why": "; ".join(why), "seconds": el, "early_stop": el < seconds - 1,
             "min_in_fps": min_in, "min_cls_fps": min_cls, "skipped": skipped,
             "daemon_cpu": d_cpu, "server_cpu": s_cpu, "harness_cpu": h_cpu,
             "other_cpu": max(0.0, busy - d_cpu - s_cpu - h_cpu) if None not in (busy, d_cpu, s_cpu) else None,
             "server_fps": srv_fps, "server_limited": server_limited,
             "rss_mb": (mem_kb(d.pid, "VmRSS") or 0) / 1024, "hwm_mb": (mem_kb(d.pid, "VmHWM") or 0) / 1024,
             "stats_p50_max": max((p["p50"] or 0) for p in per), "stats_p99_max": max((p["p99"] or 0) for p in per)}
        r.update(ext)
        if threads0 and threads1:
            # threads that ended in the window (a reconnect's) are not counted
            r["threads_cpu"] = {k: (threads1[k] - threads0.get(k, 0.0)) / el for k in threads1}
        r["window"] = (t_base, t_end)
        return r

    # -- one alternative-pipeline trial -----------------------------------

    def alt_trial(self, cfg, n, seconds):
        model = self.model(cfg["model"])
        srv = Server(self.work, self.clips[cfg["res"]], n)
        out = os.path.join(self.work, "alt.json")
        if os.path.exists(out):
            os.unlink(out)
        env = dict(os.environ, NODE_PATH=self.node_path)
        errf = open(os.path.join(self.work, "alt.err"), "w")
        p = subprocess.Popen([self.node, os.path.join(HERE, "alt_pipeline.js"), "--model", model,
                              "--seconds", str(seconds), "--warmup", str(self.warmup_s),
                              "--threads", str(self.alt_threads), "--batch", str(cfg["batch"] or ALT_BATCH),
                              "--out", out] + [srv.url(i) for i in range(n)],
                             env=env, stdout=subprocess.DEVNULL, stderr=errf)
        t0 = time.monotonic()
        samples = []      # (t, node cpu, ffmpeg cpu, server cpu, busy)
        try:
            while p.poll() is None:
                time.sleep(1)
                kids = children(p.pid)
                cs = [cpu_seconds(k) for k in kids]
                samples.append((time.monotonic(), cpu_seconds(p.pid), sum(c for c in cs if c),
                                cpu_seconds(srv.p.pid), busy_seconds(), self_cpu(), len(kids)))
                if time.monotonic() - t0 > self.warmup_s + seconds + 120:
                    p.kill()
        finally:
            if p.poll() is None:
                p.kill()
            p.wait()
            errf.close()
            srv.stop()
        try:
            with open(out) as f:
                a = json.load(f)
        except (OSError, ValueError):
            with open(errf.name) as f:
                raise RuntimeError("alt_pipeline failed: %s" % f.read()[-500:])
        res = {"n": n, "seconds_asked": seconds, "mean_batch": a.get("mean_batch"),
               "infer_median_ms": a.get("infer_median_ms"), "node_rss_mb": a.get("rss_mb")}
        if not a.get("ok_run"):
            res.update(ok=False, why=a.get("error", "did not run"))
            return res
        per = a["per_stream"]
        why = []
        min_done = min(s["done_fps"] for s in per)
        min_recv = min(s["received_fps"] for s in per)
        growth = max(s["queued_end"] - (s["queued_mid"] or 0) for s in per)
        qend = max(s["queued_end"] for s in per)
        if min_done < MIN_FPS:
            why.append("a stream classified %.1f frames/s" % min_done)
        if min_recv < MIN_FPS:
            why.append("a stream received %.1f frames/s" % min_recv)
        if growth > 15 or qend > 30:
            why.append("backlog grew to %d frames" % qend)
        # CPU over the measured window, from the 1 s samples inside it
        win = [s for s in samples if t0 + self.warmup_s + 3 <= s[0] <= t0 + self.warmup_s + seconds]
        cpu = {}
        if len(win) >= 2 and all(x is not None for x in win[0][:6] + win[-1][:6]):
            el = win[-1][0] - win[0][0]
            node_c, ff_c, srv_c = [(win[-1][i] - win[0][i]) / el for i in (1, 2, 3)]
            busy, harn = (win[-1][4] - win[0][4]) / el, (win[-1][5] - win[0][5]) / el
            cpu = {"node_cpu": node_c, "ffmpeg_cpu": ff_c, "server_cpu": srv_c, "harness_cpu": harn,
                   "other_cpu": max(0.0, busy - node_c - ff_c - srv_c - harn)}
        res.update(cpu)
        res.update(ok=not why, why="; ".join(why), seconds=a["seconds"], min_in_fps=min_recv,
                   min_cls_fps=min_done, backlog_end=qend, backlog_growth=growth)
        return res

    # -- search ------------------------------------------------------------

    def trial(self, cfg, n, seconds, phase):
        t0 = time.time()
        try:
            if cfg["alt"]:
                r = self.alt_trial(cfg, n, seconds)
            else:
                r = self.lcnetd_trial(cfg, n, seconds)
        except RuntimeError as e:
            r = {"n": n, "ok": False, "why": str(e)}
        r.update(kind="trial", config=cfg["name"], phase=phase, wall_s=time.time() - t0, load=loadavg())
        self.record(r)
        cpu = r.get("daemon_cpu", r.get("node_cpu"))
        log("%-14s %-7s n=%-3d %s%s  (cpu %s, server %s, others %s)" % (
            cfg["name"], phase, n, "ok" if r["ok"] else "FAIL", "" if r["ok"] else ": " + r.get("why", ""),
            "%.2f" % cpu if cpu is not None else "?",
            "%.2f" % r["server_cpu"] if r.get("server_cpu") is not None else "?",
            "%.2f" % r["other_cpu"] if r.get("other_cpu") is not None else "?"))
        return r

    def search(self, cfg):
        lo, hi, n = 0, self.max_n + 1, self.start_guess(cfg)
        best = None
        limited = False
        while hi - lo > max(1, lo // 16):       # ~6 % resolution at large counts
            r = self.trial(cfg, n, self.trial_s, "trial")
            if r["ok"]:
                lo, best = n, r
            else:
                hi = n
                limited = limited or r.get("server_limited", False)
            if hi > self.max_n:
                n = min(self.max_n, n * 2)
                if n == lo:
                    break
            else:
                n = (lo + hi) // 2
        result = {"kind": "result", "config": cfg["name"], "trial_max": lo, "trial_s": self.trial_s,
                  "first_fail": hi if hi <= self.max_n else None, "server_limited": limited}
        if lo == 0:
            result.update(max=0, confirmed=False, best=None)
        elif SEARCH_ONLY.search(cfg["name"]) or self.confirm_s <= 0:
            result.update(max=lo, confirmed=False, best=best)
        else:
            n, confirmed = lo, False
            # near the maximum a long run may still lose a frame: step down
            # until one holds (a few steps), rather than report nothing
            for _ in range(6):
                r = self.trial(cfg, n, self.confirm_s, "confirm")
                if r["ok"]:
                    best, confirmed = r, True
                    break
                n = n - max(1, n // 10)
                if n < 1:
                    break
            result.update(max=n if confirmed else 0, confirmed=confirmed, confirm_s=self.confirm_s, best=best)
        self.record(result)
        log("%s: %d streams%s" % (cfg["name"], result["max"], " (confirmed for %d s)" % self.confirm_s
                                   if result["confirmed"] else ""))
        return result

    def start_guess(self, cfg):
        """A previous result of the same (or the base) configuration, else 4
        (16 for sample_fps < 10), doubled up from there."""
        have = self.latest()
        # a sweep point starts from its base configuration's maximum
        prev = have.get(cfg["name"]) or have.get(SEARCH_ONLY.sub("", cfg["name"]))
        if prev and prev.get("trial_max"):
            return max(1, min(self.max_n, prev["trial_max"]))
        return min(self.max_n, 16 if cfg["fps"] and cfg["fps"] < 10 else 4)

    def latest(self):
        out = {}
        if os.path.exists(self.results):
            with open(self.results) as f:
                for line in f:
                    r = json.loads(line)
                    if r.get("kind") in ("result", "latency", "unavailable", "infer"):
                        out[r["config"]] = r
        return out

    # -- latency -----------------------------------------------------------

    def latency(self):
        have = self.latest()
        for name in ("x10-int8", "x10-bf16"):
            r = have.get(name)
            if r and r.get("kind") == "result" and r["max"] > 0:
                break
        else:
            log("latency: no x10-int8 or x10-bf16 maximum yet, skipped (run those configurations first)")
            return
        cfg = parse_config(name)
        model = self.model(cfg["model"])
        # inference time of one frame, as the daemon's inference thread runs it
        ncpu = len(cpu_list(cfg["cpus"]))
        args = [self.bins["lcnet-infer"], "--model", model, "--bench", "200", "--warmup", "20",
                "--threads", str(ncpu), "--batch", "1", "--precision", cfg["prec"]]
        if cfg["prec"] == "int8":
            args += ["--calibration", self.calibration(model)]
        r = subprocess.run(args, capture_output=True, text=True)
        infer = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {}
        self.record({"kind": "infer", "config": "infer-" + name, "result": infer})
        # A 30 s p99 swings by 1-2 ms with the machine's other tenants: each
        # load runs LATENCY_RUNS times and the run with the median p99 stands
        # for it, the others' p99s beside it.
        for frac in (0.5, 0.9):
            n = max(1, round(r_max(have[name]) * frac))
            runs = []
            for i in range(LATENCY_RUNS):
                t = self.lcnetd_trial(cfg, n, self.trial_s, latency=True)
                t.update(kind="latency-run", config="latency-%d" % round(frac * 100), of=name, load_frac=frac,
                         max=r_max(have[name]), infer_median_ms=infer.get("median_ms"), load=loadavg(), run=i)
                self.record(t)
                log("latency %s at %d%% (%d streams), run %d: readable p50 %s p99 %s ms, read by the "
                    "subscriber p50 %s p99 %s ms" % (name, frac * 100, n, i + 1, t.get("rdy_p50"),
                                                     t.get("rdy_p99"), t.get("sub_p50"), t.get("sub_p99")))
                runs.append(t)
            ok = sorted((r for r in runs if r.get("rdy_p99") is not None), key=lambda r: r["rdy_p99"])
            t = dict(ok[len(ok) // 2] if ok else runs[-1])
            t.update(kind="latency", runs_p99=[r.get("rdy_p99") for r in runs],
                     runs_sub_p99=[r.get("sub_p99") for r in runs])
            self.record(t)




def r_max(r):
    return r["max"]


def cpu_list(s):
    out = []
    for part in s.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def parse_config(name):
    toks = name.split("-")
    cfg = {"name": name, "alt": False, "fps": 0.0, "batch": 0, "queue": 0, "res": "720",
           "cpus": "1" if (os.cpu_count() or 1) > 1 else "0", "dcpus": "", "prec": "fp32"}
    if toks[0] == "alt":
        cfg["alt"] = True
        toks = toks[1:]
    if not toks or toks[0] not in MODELS:
        raise SystemExit("bench-e2e: bad configuration %r" % name)
    cfg["model"] = toks.pop(0)
    if not cfg["alt"]:
        if not toks or toks[0] not in ("fp32", "bf16", "int8"):
            raise SystemExit("bench-e2e: bad configuration %r: precision?" % name)
        cfg["prec"] = toks.pop(0)
    while toks:
        t = toks.pop(0)
        if re.fullmatch(r"s[\d.]+", t):
            cfg["fps"] = float(t[1:])
        elif re.fullmatch(r"b\d+", t):
            cfg["batch"] = int(t[1:])
        elif re.fullmatch(r"q\d+", t):
            cfg["queue"] = int(t[1:])
        elif re.fullmatch(r"c\d+", t):      # c0-1: the '-' split it
            cfg["cpus"] = t[1:] + ("-" + toks.pop(0) if toks and toks[0].isdigit() else "")
        elif re.fullmatch(r"d\d+", t):
            cfg["dcpus"] = t[1:] + ("-" + toks.pop(0) if toks and toks[0].isdigit() else "")
        elif t == "1080":
            cfg["res"] = "1080"
        else:
            raise SystemExit("bench-e2e: bad configuration %r: %r?" % (name, t))
    return cfg


def facts(b):
    def cpu_field(k):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(k):
                    return line.split(":", 1)[1].strip()
        return "?"
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    ort = subprocess.run([b.node, os.path.join(HERE, "ort_bench.js"), "--version"], capture_output=True,
                         text=True, env=dict(os.environ, NODE_PATH=b.node_path))
    ff = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True)
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu_model": cpu_field("model name"),
            "logical_cpus": os.cpu_count(), "load_start": loadavg(), "source": rev.stdout.strip() or "unknown",
            "ort": ort.stdout.strip(), "ffmpeg": (ff.stdout.splitlines() or ["?"])[0],
            "trial_s": b.trial_s, "confirm_s": b.confirm_s, "warmup_s": b.warmup_s, "server": b.server}


def main(argv):
    if not 1 <= len(argv) <= 2:
        sys.stderr.write("usage: e2e.py BUILD [OUT.md]\n")
        return 2
    build = argv[0]
    out = argv[1] if len(argv) > 1 else os.path.join(ROOT, "docs", "benchmarks.md")
    b = Bench(build, out)
    names = [c for c in os.environ.get("BENCH_E2E_CONFIGS", "").replace(" ", ",").split(",") if c] \
        or DEFAULT_CONFIGS
    mqtt_base = os.environ.get("BENCH_E2E_MQTT_BASE") or "x10-int8"
    # every name checked first: a typo fails now, not hours into the run
    cfgs = [None if n == "latency" else parse_config(mqtt_base if n == "mqtt" else n) for n in names]
    if b.mask:
        lib = os.path.abspath(os.path.join(build, "bench", "cpuid_mask.so"))
        if not os.path.isfile(lib):
            sys.stderr.write("bench-e2e: %s missing (make %s)\n" % (lib, lib))
            return 1
        # every child from here on sees the masked CPU
        os.environ.update(CPUID_MASK=b.mask, LD_AUDIT=lib, LD_PRELOAD=lib)
    run = facts(b)
    run["configs"] = names
    run["cpu_mask"] = b.mask
    b.record(dict(run, kind="start", config="start"))
    t0 = time.time()
    log("configurations: %s; trials %g s, confirmations %g s" % (" ".join(names), b.trial_s, b.confirm_s))
    for name, cfg in zip(names, cfgs):
        if name == "latency":
            b.latency()
            continue
        if name == "mqtt":
            e2e_mqtt.cost(b, cfg)
            continue
        try:
            b.search(cfg)
        except Unavailable as e:
            log("%s: unavailable in this build or on this CPU: %s" % (name, e))
            b.record({"kind": "unavailable", "config": name, "why": str(e)})
    run.update(load_end=loadavg(), elapsed_s=time.time() - t0)
    b.record(dict(run, kind="run", config="run"))
    # a run of the mqtt phase alone leaves the End to end tables as they were
    if any(n != "mqtt" for n in names):
        e2e_report.write(b.results, out, b.mask)
        log("wrote the End to end section of %s (%.0f s)" % (out, time.time() - t0))
    if "mqtt" in names:
        e2e_mqtt.write(b.results, out, run)
        log("wrote the MQTT sink's section of %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
