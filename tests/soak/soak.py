#!/usr/bin/python3
"""lcnetd soak: the real daemon for a long time under a steady, varied load.

    soak.py [--minutes N] [--build DIR] [--report FILE]

Four streams (two RTSP mounts from one real RTSP server, two looping files),
subscribers that read everything, read slowly, never read, or reconnect in a
loop, and the RTSP server killed (SIGKILL) and restarted on the same port at
a fixed interval.  Every 10 s it samples the daemon's RSS (/proc/PID/status),
its open descriptors (/proc/PID/fd) and the `status` counters.  The report
(Markdown) lists the samples and the verdict; the exit status is non-zero
when the criteria fail:

  * RSS after the warm-up stays within +-5 % of its value at the end of the
    warm-up (median of the first three samples after it);
  * descriptors do not grow: with every subscriber gone and the RTSP streams
    up again at the end, the daemon holds as many as it did before the first
    subscriber came, and the largest count of the last quarter is not above
    the largest of the first quarter after the warm-up;
  * the daemon is alive throughout and every stream classifies.
"""
import argparse
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402

SAMPLE_S = 10
STREAMS = ("cam1", "cam2", "file1", "file2")


class Client(threading.Thread):
    """One subscriber on a Python socket.  kind: 'fast' reads everything,
    'slow' reads 256 bytes a second, 'stalled' never reads, 'reconnect'
    connects, reads for a few seconds and goes, again and again."""

    def __init__(self, sock, kind, stop):
        super().__init__(daemon=True)
        self.sock, self.kind, self.stop = sock, kind, stop
        self.labels = {}
        self.dropped = 0
        self.cycles = 0
        self.errors = []
        self.states = []

    def _lines(self, data, buf):
        buf += data
        *lines, rest = buf.split(b"\n")
        for line in lines:
            e = json.loads(line)
            ev = e.get("event")
            if ev == "label":
                self.labels[e["stream"]] = self.labels.get(e["stream"], 0) + 1
            elif ev == "dropped":
                self.dropped += e["count"]
            elif ev == "stream":
                self.states.append((time.time(), e["stream"], e["state"]))
        return rest

    def _session(self, until):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(1)
            c.connect(self.sock)
            buf = b""
            while not self.stop.is_set() and time.time() < until:
                if self.kind == "stalled":
                    self.stop.wait(1)
                    continue
                try:
                    data = c.recv(256 if self.kind == "slow" else 65536)
                except socket.timeout:
                    continue
                if not data:
                    raise RuntimeError("daemon closed a %s subscriber" % self.kind)
                buf = self._lines(data, buf)
                if self.kind == "slow":
                    self.stop.wait(1)

    def run(self):
        while not self.stop.is_set():
            try:
                self._session(time.time() + (3 if self.kind == "reconnect" else 1e9))
                self.cycles += 1
            except Exception as ex:             # noqa: BLE001 - reported, not fatal here
                self.errors.append("%s: %s" % (self.kind, ex))
                self.stop.wait(1)


def start_rtsp(port=0):
    return harness.RtspServer({"cam1": harness.clip("clip-a.mp4"),
                               "cam2": harness.clip("clip-a.ts")}, port=port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", 30)))
    ap.add_argument("--build", default=os.environ.get("LCNETD_BUILD", os.path.join(ROOT, "build")))
    ap.add_argument("--report", default=os.path.join(ROOT, "docs", "soak.md"))
    ap.add_argument("--restart-every", type=float, default=120, help="seconds between RTSP kills")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    harness.DAEMON = os.path.join(build, "lcnetd")
    harness.CLIPS = os.path.join(build, "clips")
    warmup = min(5.0, args.minutes / 3) * 60
    total = args.minutes * 60

    tmp = tempfile.mkdtemp(prefix="lcnetd-soak-")
    srv = start_rtsp()
    port = srv.port
    cfg, sock = harness.write_config(tmp, [
        ("cam1", {"url": srv.url("cam1"), "stall_timeout": "3", "backoff_min": "0.5",
                  "backoff_max": "2", "sample_fps": "10"}),
        ("cam2", {"url": srv.url("cam2"), "stall_timeout": "3", "backoff_min": "0.5",
                  "backoff_max": "2", "sample_fps": "10"}),
        ("file1", {"url": harness.clip("clip-b.mkv"), "loop": "yes", "sample_fps": "10"}),
        ("file2", {"url": harness.clip("clip-a.mp4"), "loop": "yes", "sample_fps": "10"}),
    ], model=harness.MODEL, daemon_extra="subscriber_buffer = 65536")
    # One frame per inference call: the engine compiles a plan per batch size
    # the first time it is needed (several MiB each, once), which would read
    # as drift whenever a restart first lets frames pile up.
    with open(cfg) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text.replace("max_batch = 4", "max_batch = 1"))
    daemon = harness.Daemon(cfg, sock)
    stop = threading.Event()
    clients = []
    samples = []
    kills = 0
    failures = []
    t0 = time.time()
    try:
        # descriptors before any subscriber, once every stream is up
        end = time.time() + 30
        while time.time() < end:
            st = harness.status(sock)
            if all(s["state"] == "up" for s in st["streams"]) and \
                    all(s["classified"] > 0 for s in st["streams"]):
                break
            time.sleep(0.5)
        time.sleep(1)
        fd_before = daemon.settled_fd_count()
        for kind, n in (("fast", 2), ("slow", 2), ("stalled", 1), ("reconnect", 3)):
            for _ in range(n):
                clients.append(Client(sock, kind, stop))
        for c in clients:
            c.start()

        next_kill = t0 + args.restart_every
        next_sample = time.time()
        while time.time() - t0 < total:
            now = time.time()
            if now >= next_kill:
                srv.stop(signal.SIGKILL)
                kills += 1
                time.sleep(3)
                srv = start_rtsp(port)
                next_kill = now + args.restart_every
            if now >= next_sample:
                if daemon.p.poll() is not None:
                    failures.append("daemon exited %d" % daemon.p.returncode)
                    break
                st = harness.status(sock)
                samples.append({
                    "t": now - t0, "rss": daemon.rss_kb(), "fds": daemon.fd_count(),
                    "subs": st["subscribers"], "fps": st["classified_fps"],
                    "classified": sum(s["classified"] for s in st["streams"]),
                    "skipped": sum(s["skipped"] for s in st["streams"]),
                    "reconnects": sum(s["reconnects"] for s in st["streams"]),
                    "up": sum(s["state"] == "up" for s in st["streams"]),
                    "per": {s["stream"]: s["classified"] for s in st["streams"]},
                })
                s = samples[-1]
                print("%6.0f s  rss %6d KiB  fds %3d  subs %2d  %5.1f fps  up %d/4  reconnects %d" %
                      (s["t"], s["rss"], s["fds"], s["subs"], s["fps"], s["up"], s["reconnects"]),
                      flush=True)
                next_sample += SAMPLE_S
            time.sleep(min(1.0, max(0.05, min(next_sample, next_kill) - time.time())))

        # every subscriber goes; the RTSP streams must be up for a fair count
        stop.set()
        for c in clients:
            c.join(5)
        end = time.time() + 30
        while time.time() < end:
            st = harness.status(sock)
            if all(s["state"] == "up" for s in st["streams"]):
                break
            time.sleep(0.5)
        time.sleep(2)
        fd_after = daemon.settled_fd_count()
        final = harness.status(sock)
    finally:
        stop.set()
        code = daemon.stop()
        srv.stop()
        os.system("rm -rf '%s'" % tmp)
    if code != 0:
        failures.append("daemon exit status %s on SIGTERM" % code)

    wall = time.time() - t0
    after = [s for s in samples if s["t"] >= warmup]
    if len(after) < 4:
        failures.append("too few samples after the warm-up (%d)" % len(after))
        after = samples[-4:]
    base = statistics.median(s["rss"] for s in after[:3])
    lo, hi = min(s["rss"] for s in after), max(s["rss"] for s in after)
    drift_lo, drift_hi = 100.0 * (lo - base) / base, 100.0 * (hi - base) / base
    drift_end = 100.0 * (after[-1]["rss"] - base) / base
    if drift_lo < -5 or drift_hi > 5:
        failures.append("RSS left +-5 %% of %d KiB after warm-up: %+.2f %% .. %+.2f %%" %
                        (base, drift_lo, drift_hi))
    q = max(1, len(after) // 4)
    fd_first, fd_last = max(s["fds"] for s in after[:q]), max(s["fds"] for s in after[-q:])
    if fd_last > fd_first:
        failures.append("descriptors grew: max %d in the first quarter, %d in the last" %
                        (fd_first, fd_last))
    if fd_after != fd_before:
        failures.append("descriptors with no subscriber: %d before, %d after" % (fd_before, fd_after))
    per = {s["stream"]: s["classified"] for s in final["streams"]}
    for name in STREAMS:
        if per.get(name, 0) == 0:
            failures.append("stream %s classified nothing" % name)
    errors = [e for c in clients for e in c.errors]
    fast = [c for c in clients if c.kind == "fast"]
    if any(sum(c.labels.values()) == 0 for c in fast):
        failures.append("a fast subscriber got no labels")
    if errors:
        failures.append("subscriber errors: %s" % "; ".join(errors[:5]))

    write_report(args, warmup, wall, samples, base, lo, hi, drift_lo, drift_hi, drift_end,
                 fd_before, fd_after, fd_first, fd_last, final, clients, kills, failures)
    print("soak: %s; report in %s" % ("PASS" if not failures else "FAIL: " + "; ".join(failures),
                                       args.report))
    return 1 if failures else 0


def write_report(args, warmup, wall, samples, base, lo, hi, drift_lo, drift_hi, drift_end,
                 fd_before, fd_after, fd_first, fd_last, final, clients, kills, failures):
    kinds = {}
    for c in clients:
        kinds.setdefault(c.kind, []).append(c)
    fast = kinds.get("fast", [])
    labels = sum(final_s["classified"] for final_s in final["streams"])
    out = []
    w = out.append
    w("# Soak run")
    w("")
    w("Generated by `make soak` (`tests/soak/soak.py`); do not edit by hand. Verdict: **%s**." %
      ("PASS" if not failures else "FAIL"))
    w("")
    w("## Parameters")
    w("")
    w("| | |")
    w("|---|---|")
    w("| duration | %.1f min (SOAK_MINUTES=%g), warm-up %.1f min |" % (wall / 60, args.minutes, warmup / 60))
    w("| daemon | `lcnetd` (production build), model `timm13_x025.onnx` (PP-LCNet x0.25), "
      "`inference_cpus = 1`, `max_batch = 1` (plans are compiled once per batch size, on first use: not drift), `subscriber_buffer = 65536` |")
    w("| streams | `cam1`, `cam2`: RTSP (one real RTSP server, H.264 640x360 25 fps, MP4 and MPEG-TS), "
      "`file1`: Matroska 320x240 30 fps, `file2`: MP4 640x360 25 fps, looping in real time; "
      "all `sample_fps = 10` |")
    w("| subscribers | %s |" % ", ".join("%d %s" % (len(v), k) for k, v in kinds.items()))
    w("| faults | RTSP server killed (SIGKILL) every %g s and restarted 3 s later on the same port: "
      "%d kills |" % (args.restart_every, kills))
    w("| sampling | every %d s: VmRSS from /proc/PID/status, entries of /proc/PID/fd, `status` |" % SAMPLE_S)
    w("")
    w("## Result")
    w("")
    w("| criterion | value | pass |")
    w("|---|---|---|")
    w("| RSS within +-5 %% after warm-up (base %d KiB) | min %d KiB (%+.2f %%), max %d KiB (%+.2f %%), "
      "last %+.2f %% | %s |" % (base, lo, drift_lo, hi, drift_hi, drift_end,
                               "yes" if -5 <= drift_lo and drift_hi <= 5 else "**no**"))
    w("| descriptors, no subscriber: before / after | %d / %d | %s |" %
      (fd_before, fd_after, "yes" if fd_before == fd_after else "**no**"))
    w("| descriptors, max in first / last quarter after warm-up | %d / %d | %s |" %
      (fd_first, fd_last, "yes" if fd_last <= fd_first else "**no**"))
    w("")
    w("Totals: %d frames classified (%s), %d skipped, %d stream reconnects; the fast subscribers "
      "received %s labels; the slow ones were told of %s dropped lines; the reconnecting ones made "
      "%s connections." %
      (labels, ", ".join("%s %d" % (s["stream"], s["classified"]) for s in final["streams"]),
       sum(s["skipped"] for s in final["streams"]),
       sum(s["reconnects"] for s in final["streams"]),
       " and ".join(str(sum(c.labels.values())) for c in fast),
       " and ".join(str(c.dropped) for c in kinds.get("slow", [])),
       " and ".join(str(c.cycles) for c in kinds.get("reconnect", []))))
    if failures:
        w("")
        w("Failures:")
        w("")
        for f in failures:
            w("- %s" % f)
    w("")
    w("## Samples")
    w("")
    w("| t (s) | RSS (KiB) | fds | subscribers | classified fps | streams up | classified | skipped | reconnects |")
    w("|---|---|---|---|---|---|---|---|---|")
    for s in samples:
        w("| %.0f%s | %d | %d | %d | %.1f | %d/4 | %d | %d | %d |" %
          (s["t"], "" if s["t"] >= warmup else " (warm-up)", s["rss"], s["fds"], s["subs"],
           s["fps"], s["up"], s["classified"], s["skipped"], s["reconnects"]))
    w("")
    with open(args.report, "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
