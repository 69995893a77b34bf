#!/usr/bin/python3
"""How long a /metrics scrape takes while the inference CPUs are busy.

    bench/scrape.py BUILD [--streams N] [--scrapes K] [--hog]

Runs BUILD/lcnetd with [metrics] on a loopback port, N copies of clip-a.mp4
(BUILD/clips) looped with realtime = no on the PP-LCNet x2.5 fixture (the
biggest, so that inference and not decoding limits them) with inference on
the last CPU, and scrapes /metrics K times, 50 ms apart.  --hog also runs a
busy loop pinned to the inference CPU, at the inference thread's priority:
that CPU is then busy whatever the streams manage on a shared machine.
Prints the scrapes' p50, p90 and maximum and the inference thread's share
of its CPU over the scrapes.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HZ = os.sysconf("SC_CLK_TCK")


def thread_ticks(pid, name):
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            if f.read().strip() != name:
                continue
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            p = f.read().rsplit(")", 1)[1].split()
        return int(p[11]) + int(p[12])
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--streams", type=int, default=3)
    ap.add_argument("--scrapes", type=int, default=200)
    ap.add_argument("--hog", action="store_true")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    cpu = max(os.sched_getaffinity(0))
    tmp = tempfile.mkdtemp(prefix="scrape.")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sock = os.path.join(tmp, "events.sock")
    lines = ["[daemon]", "socket = %s" % sock, "inference_cpus = %d" % cpu, "allow_root = yes",
             "log_level = warning", "[model]", "path = %s" % os.path.join(build, "fixtures", "timm14_x25.onnx"),
             "[metrics]", "listen = 127.0.0.1:%d" % port]
    for i in range(a.streams):
        lines += ["[stream:f%d]" % i, "url = %s" % os.path.join(build, "clips", "clip-a.mp4"), "loop = yes",
                  "realtime = no"]
    conf = os.path.join(tmp, "lcnetd.ini")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    d = subprocess.Popen([os.path.join(build, "lcnetd"), "-c", conf])
    hog = None
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read()
                break
            except OSError:
                time.sleep(0.1)
        if a.hog:
            hog = subprocess.Popen(["taskset", "-c", str(cpu), sys.executable, "-c", "while True: pass"])
        time.sleep(3)
        t0, k0 = time.monotonic(), thread_ticks(d.pid, "lcnetd-infer")
        ts = []
        for _ in range(a.scrapes):
            s = time.perf_counter()
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as r:
                r.read()
            ts.append((time.perf_counter() - s) * 1e3)
            time.sleep(0.05)
        share = (thread_ticks(d.pid, "lcnetd-infer") - k0) / HZ / (time.monotonic() - t0)
        ts.sort()
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print("%d scrapes, %d streams%s: p50 %.2f ms, p90 %.2f ms, max %.2f ms; inference thread %.0f %% of "
              "CPU %d; load average %s" % (len(ts), a.streams, ", hog on the inference CPU" if a.hog else "",
                                            ts[len(ts) // 2], ts[len(ts) * 9 // 10], ts[-1], share * 100, cpu,
                                            load))
    finally:
        if hog:
            hog.kill()
            hog.wait()
        d.terminate()
        d.wait()
        subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    sys.exit(main())
