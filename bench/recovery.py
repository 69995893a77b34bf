#!/usr/bin/python3
"""`make recovery`: how long a stream takes to give labels again after its source comes back.

    bench/recovery.py [--cycles N] [--down S] [--kinds gst,vlc,http,file] [--backoff MIN:MAX ...]

For each kind of source, one lcnetd-test with one stream (every frame
classified) and one subscriber; then, N times: let it run healthy for
backoff_max + 2 s (so that the retry delay starts each outage from
backoff_min, as after any long healthy run), kill the source, leave it down
for S seconds, bring it back, and time the first label after that.

  gst   GStreamer's RTSP server (tests/tools/rtsp_server.py, looping), RTSP over TCP;
        killed with SIGKILL and started again on the same port
  vlc   VLC's RTSP output (tests/tools/vlc_rtsp.py), RTSP over UDP, a file of 64 s: VLC ends
        the session (RTCP BYE) at each end of its file, --loop or not, and each short
        session would grow the retry delay; the same
  http  an MPEG-TS file over HTTP, sent at about its own bitrate
        (tests/tools/http_server.py --rate), like an HTTP camera; the same
  file  a looping file: renamed away, renamed back

The times are from the moment the source is back (the server printed READY,
the file is renamed back) to the first label the subscriber reads; "start" adds
the server's own start-up.  How long the daemon waits before its next try
depends on the backoff, which grows while the source is down; each
--backoff MIN:MAX is a run of its own (default: lcnetd's defaults 0.5:30, and
0.05:0.2, where the wait is short and the rest shows).  Prints one markdown
table; needs `make all fixtures clips` and tools/deps.sh's packages.
"""
import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402
from harness import (PY, Daemon, ReadyServer, RtspServer, Subscriber, VlcServer,  # noqa: E402
                     clip, write_config)


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Source:
    """One kind of source: url(), stream keys, start() -> time it is back, kill()."""

    def __init__(self, kind, tmp):
        self.kind, self.tmp, self.proc = kind, tmp, None
        self.port = free_port()
        if kind == "vlc":
            self.long = os.path.join(tmp, "cam.mp4")
            subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "7", "-i", clip("clip-a.mp4"),
                            "-c", "copy", self.long], check=True)
        elif kind == "http":
            # a minute of MPEG-TS, so that it does not end during a cycle
            www = os.path.join(tmp, "www")
            os.mkdir(www)
            self.ts = os.path.join(www, "cam.ts")
            subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "7", "-i", clip("clip-a.ts"),
                            "-c", "copy", self.ts], check=True)
            self.www = www
            # its own bitrate, as a camera would send it
            dur = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                                  "-of", "csv=p=0", self.ts], check=True, capture_output=True,
                                 text=True).stdout
            self.rate = int(os.path.getsize(self.ts) / float(dur))
        elif kind == "file":
            self.path = os.path.join(tmp, "cam.mp4")
            self.away = self.path + ".away"
            # 2 s, so that a loop reopens it soon after it is taken away
            subprocess.run(["ffmpeg", "-v", "error", "-i", clip("clip-a.mp4"), "-t", "2", "-c",
                            "copy", self.path], check=True)

    def url(self):
        return {"gst": "rtsp://127.0.0.1:%d/cam" % self.port,
                "vlc": "rtsp://127.0.0.1:%d/cam" % self.port,
                "http": "http://127.0.0.1:%d/cam.ts" % self.port,
                "file": getattr(self, "path", "")}[self.kind]

    def keys(self):
        k = {"url": self.url()}
        if self.kind == "vlc":
            k["rtsp_transport"] = "udp"
        if self.kind == "file":
            k["loop"] = "yes"
        return k

    def start(self):
        if self.kind == "gst":
            self.proc = RtspServer({"cam": clip("clip-a.mp4")}, port=self.port)
        elif self.kind == "vlc":
            self.proc = VlcServer(self.long, port=self.port)
        elif self.kind == "http":
            self.proc = ReadyServer([PY, os.path.join(ROOT, "tests/tools/http_server.py"),
                                     "--port", str(self.port), "--dir", self.www,
                                     "--rate", str(self.rate)], "http server")
        elif os.path.exists(self.away):
            os.rename(self.away, self.path)
        return time.monotonic()

    def kill(self):
        if self.kind == "file":
            os.rename(self.path, self.away)
        else:
            self.proc.stop(signal.SIGKILL)
            self.proc = None

    def close(self):
        if self.proc:
            self.proc.stop()


def is_label(e):
    return e.get("event") == "label"


def is_down(e):
    return e.get("event") == "stream" and e["state"] == "down"


def drain(sub):
    while not sub.q.empty():
        sub.q.get_nowait()


def run_kind(kind, cycles, down, backoff):
    tmp = tempfile.mkdtemp(prefix="lcnetd-recovery-")
    src = Source(kind, tmp)
    d = sub = None
    try:
        src.start()
        bmin, bmax = backoff
        keys = dict(src.keys(), backoff_min=str(bmin), backoff_max=str(bmax))
        cfg, sock = write_config(tmp, [("cam", keys)])
        d = Daemon(cfg, sock)
        sub = Subscriber(sock)
        sub.wait_for(is_label, timeout=30, what="first label")
        back, started = [], []
        for i in range(cycles):
            time.sleep(bmax + 2)                # long enough to reset the retry delay
            t_kill = time.monotonic()
            src.kill()
            sub.wait_for(is_down, timeout=30, what="cycle %d: down" % i)
            time.sleep(max(0, t_kill + down - time.monotonic()))
            drain(sub)
            t_launch = time.monotonic()
            t_back = src.start()
            sub.wait_for(is_label, timeout=120, what="cycle %d: labels again" % i)
            t_label = time.monotonic()
            back.append(t_label - t_back)
            started.append(t_label - t_launch)
        retries = [e["retry_in"] for e in sub.events
                   if e.get("event") == "stream" and e["state"] == "reconnecting"]
        return back, started, len(retries)
    finally:
        if sub:
            sub.close()
        if d:
            d.stop()
        src.close()
        subprocess.run(["rm", "-rf", tmp])


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--down", type=float, default=5.0, help="seconds each outage lasts")
    ap.add_argument("--kinds", default="gst,vlc,http,file")
    ap.add_argument("--backoff", action="append", metavar="MIN:MAX",
                    help="backoff_min:backoff_max, one run each (default 0.5:30 and 0.05:0.2)")
    args = ap.parse_args(argv)
    backoffs = [tuple(float(x) for x in b.split(":")) for b in (args.backoff or
                                                                ["0.5:30", "0.05:0.2"])]
    names = {"gst": "GStreamer RTSP (TCP)", "vlc": "VLC RTSP (UDP)", "http": "HTTP MPEG-TS",
             "file": "file (loop)"}
    print("lcnetd recovery: %d outages of %.0f s each; %s, %d CPUs, load average %.1f at the "
          "start; build %s" % (args.cycles, args.down, cpu_model(), os.cpu_count(),
                               os.getloadavg()[0], harness.BUILD))
    print()
    print("| source | backoff | back → first label, median (min–max) | server start → first label, "
          "median | reconnect tries |")
    print("|---|---|---|---|---|")
    for b in backoffs:
        for kind in args.kinds.split(","):
            back, started, tries = run_kind(kind, args.cycles, args.down, b)
            print("| %s | %g–%g s | %.2f s (%.2f–%.2f) | %.2f s | %d |" %
                  (names[kind], b[0], b[1], statistics.median(back), min(back), max(back),
                   statistics.median(started), tries), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
