#!/usr/bin/python3
"""What one neighbour on the event socket can take from the daemon.

Descriptors: under a limit of 64 (set before exec, hard and soft alike, so
the daemon cannot raise it), 70 subscribers connect; the daemon admits what
leaves room for its streams and refuses the rest with an error line, and
the streams, looping files that reopen every 8 s, keep classifying without
"Too many open files".

CPU: one subscriber floods `status` commands without reading its answers;
the daemon's CPU time (from /proc/PID/stat) stays well under a core and a
second subscriber keeps getting labels.  Bounds are generous: the test is
about a core kept busy, not about speed.
"""
import json
import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Daemon, DaemonTest, Subscriber, clip, main,  # noqa: E402
                     wait_until, write_config)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of every thread of pid."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def limit_fds(n):
    def pre():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return pre


def first_line(c, timeout):
    """The first line the daemon sends on c: a dict, "eof", or "timeout"."""
    c.settimeout(timeout)
    buf = b""
    try:
        while b"\n" not in buf:
            b = c.recv(4096)
            if not b:
                return "eof"
            buf += b
    except socket.timeout:
        return "timeout"
    except OSError:
        return "eof"
    return json.loads(buf.split(b"\n", 1)[0])


class SubscriberLimits(DaemonTest):
    def streams(self):
        return [("a", {"url": clip("clip-a.ts"), "loop": "yes", "sample_fps": 5}),
                ("b", {"url": clip("clip-b.mkv"), "loop": "yes", "sample_fps": 5})]

    def test_descriptor_limit_leaves_room_for_streams(self):
        cfg, sock = write_config(self.tmp, self.streams(), daemon_extra="max_subscribers = 1000")
        d = self.track(Daemon(cfg, sock, preexec_fn=limit_fds(64)))
        sub = self.track(Subscriber(sock))
        for s in ("a", "b"):
            sub.wait_for(lambda e, s=s: e["event"] == "label" and e["stream"] == s,
                         what="label of %s" % s)
        conns = []
        try:
            for _ in range(70):
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.connect(sock)
                conns.append(c)
            answers = [first_line(c, 5) for c in conns]
            hello = sum(1 for a in answers if isinstance(a, dict) and a["event"] == "hello")
            refused = [a for a in answers if isinstance(a, dict) and a["event"] == "error"]
            waiting = answers.count("timeout")
            self.assertEqual(waiting, 0, "connections left unanswered (accept() out of fds?)")
            self.assertGreater(hello, 5)
            self.assertGreater(len(refused), 0)
            self.assertIn("too many subscribers", refused[0]["message"])
            self.assertIn("max_subscribers 1000 lowered to", d.stderr())
            # both clips loop (and reopen their file) at least once meanwhile
            n = {s: len(sub.of("label", s)) for s in ("a", "b")}
            time.sleep(12)
            for s in ("a", "b"):
                self.assertGreater(len(sub.of("label", s)), n[s] + 20, "stream %s stalled" % s)
            self.assertEqual([e for e in sub.of("stream") if e["state"] == "down"], [])
            self.assertNotIn("Too many open files", d.stderr())
            self.assertIsNone(d.p.poll())
        finally:
            for c in conns:
                c.close()

    def test_status_flood_is_cheap(self):
        cfg, sock = write_config(self.tmp, self.streams()[:1])
        d = self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        sub.wait_for(lambda e: e["event"] == "label", what="first label")
        stop = threading.Event()
        sent = [0]

        def flood():
            # never reads: its buffer fills, then the socket's
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                c.connect(sock)
                c.settimeout(0.5)
                chunk = b"status\n" * 1000
                while not stop.is_set():
                    try:
                        c.sendall(chunk)
                        sent[0] += 1000
                    except socket.timeout:
                        pass
                    except OSError:
                        return

        t = threading.Thread(target=flood, daemon=True)
        time.sleep(1)
        base = cpu_seconds(d.p.pid)
        n = len(sub.of("label"))
        t0 = time.time()
        t.start()
        time.sleep(5)
        used = cpu_seconds(d.p.pid) - base
        wall = time.time() - t0
        stop.set()
        t.join(5)
        sys.stderr.write("status flood: %d commands sent, the daemon used %.2f s of CPU in "
                         "%.1f s\n" % (sent[0], used, wall))
        self.assertIsNone(d.p.poll())
        self.assertGreater(len(sub.of("label")), n + 10, "labels stopped during the flood")
        # the classification itself (one stream at 5 fps) takes a few % of
        # a core; the flood had taken all of one
        self.assertLess(used / wall, 0.5, "the daemon used %.2f s of CPU in %.1f s (%d commands "
                        "sent)" % (used, wall, sent[0]))


if __name__ == "__main__":
    main()
