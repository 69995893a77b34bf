#!/usr/bin/python3
"""The Prometheus endpoint, end to end: the real daemon serving [metrics]
listen, scraped over HTTP while it runs, the text checked by `promtool check
metrics` (Debian's prometheus package) and its counters against the streams.

What issue 19 asks to be shown: promtool accepts /metrics; the counters move
with the streams; the endpoint answers while every inference CPU is busy,
its thread kept off them; off by default; a reload moves it.
"""
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FIXTURES, Daemon, DaemonTest, Subscriber, clip, last_stats, main,  # noqa: E402
                     wait_until, write_config)
from mqtt import Broker, free_port  # noqa: E402
from test_daemon import allowed_cpus  # noqa: E402


def scrape(port, path="/metrics"):
    """(status, text); a hang fails the test rather than the suite."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=20) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def samples(text):
    """{(name, frozenset(labels)): value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(s, name, **labels):
    want = set(labels.items())
    found = [v for (n, ls), v in s.items() if n == name and want <= set(ls)]
    assert len(found) == 1, "%s %s: %d samples" % (name, labels, len(found))
    return found[0]


def promtool(text):
    return subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=60)


def with_metrics(cfg, port, extra=""):
    with open(cfg, "a") as f:
        f.write("[metrics]\nlisten = 127.0.0.1:%d\n%s" % (port, extra))


class Metrics(DaemonTest):
    def test_promtool_accepts_it_and_the_counters_move(self):
        broker = self.track(Broker(self.tmp))
        port = free_port()
        cfg, sock = write_config(self.tmp, [
            ("yard", {"url": clip("clip-b.mkv"), "loop": "yes", "sample_fps": "5",
                      "snapshot": "yes"}),
            ("door", {"url": clip("clip-a.mp4"), "loop": "yes", "sample_fps": "2"}),
        ], stats_interval=1, daemon_extra="snapshot_dir = %s/snaps" % self.tmp)
        with_metrics(cfg, port, "[mqtt]\nhost = 127.0.0.1\nport = %d\ntopic_prefix = m\n" %
                     broker.port)
        d = self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == "door", what="a label")
        # the endpoint serves the loop's last sample of the counters, taken
        # a few times a second: labels the socket had a second ago are in it
        n_labels = len(sub.of("label"))
        time.sleep(1)
        code, first = scrape(port)
        self.assertEqual(code, 200)
        r = promtool(first)
        self.assertEqual(r.returncode, 0, "promtool:\n%s%s\n%s" % (r.stdout, r.stderr, first))
        s1 = samples(first)
        self.assertEqual(value(s1, "lcnetd_build_info", version="0.1",
                               model="timm13_x025.onnx"), 1)
        # every counter of the stats events, as a counter
        stats = sub.wait_for(lambda e: e["event"] == "stats", what="stats")
        for key, name in (("decoded", "lcnetd_frames_decoded_total"),
                          ("classified", "lcnetd_frames_classified_total"),
                          ("skipped", "lcnetd_frames_skipped_total"),
                          ("sampled_out", "lcnetd_frames_sampled_out_total"),
                          ("decode_skipped", "lcnetd_packets_decode_skipped_total"),
                          ("published", "lcnetd_events_published_total"),
                          ("packets", "lcnetd_packets_total"),
                          ("decode_errors", "lcnetd_packets_decode_errors_total"),
                          ("ts_discontinuities", "lcnetd_timestamp_discontinuities_total"),
                          ("auth_failures", "lcnetd_stream_auth_failures_total"),
                          ("reconnects", "lcnetd_stream_reconnects_total")):
            self.assertIn(key, stats)
            self.assertIn("# TYPE %s counter" % name, first)
            for st in ("yard", "door"):
                value(s1, name, stream=st, region="", model="timm13_x025.onnx")
        # snapshot counters: the stats' and the metrics', for yard alone
        sub.wait_for(lambda e: e["event"] == "stats" and e["stream"] == "yard", what="yard stats")
        for key, name in (("snapshots", "lcnetd_snapshots_total"),
                          ("snapshot_errors", "lcnetd_snapshot_errors_total"),
                          ("snapshot_dropped", "lcnetd_snapshot_dropped_total")):
            self.assertIn(key, last_stats(sub, "yard"))
            self.assertNotIn(key, last_stats(sub, "door"))
            self.assertIn("# TYPE %s counter" % name, first)
            value(s1, name, stream="yard", region="", model="timm13_x025.onnx")
            self.assertNotIn('%s{stream="door"' % name, first)
        # the counters move with the streams
        time.sleep(2)
        code, second = scrape(port)
        s2 = samples(second)
        for st in ("yard", "door"):
            for name in ("lcnetd_frames_decoded_total", "lcnetd_frames_classified_total",
                         "lcnetd_events_published_total"):
                self.assertGreater(value(s2, name, stream=st), value(s1, name, stream=st),
                                   "%s of %s" % (name, st))
            self.assertEqual(value(s2, "lcnetd_stream_up", stream=st), 1)
            self.assertGreater(value(s2, "lcnetd_event_latency_seconds_count", stream=st), 0)
        # every label the socket got a second before the first scrape was counted in it
        self.assertGreaterEqual(sum(value(s1, "lcnetd_events_published_total", stream=st)
                                    for st in ("yard", "door")), n_labels)
        self.assertGreater(value(s2, "lcnetd_frames_sampled_out_total", stream="yard"), 0)
        self.assertGreater(value(s2, "lcnetd_inference_seconds_count"), 0)
        self.assertEqual(value(s2, "lcnetd_subscribers"), 1)
        self.assertEqual(value(s2, "lcnetd_mqtt_connected"), 1)
        self.assertGreater(value(s2, "lcnetd_mqtt_sent_total"), 0)
        self.assertEqual(promtool(second).returncode, 0)
        code, _ = scrape(port, "/")
        self.assertEqual(code, 404)
        self.assertIsNone(d.p.poll())

    def test_answers_while_the_inference_cpus_are_busy(self):
        usable = os.sched_getaffinity(0)
        port = free_port()
        # files as fast as inference goes: the inference CPU never idles
        streams = [("f%d" % i, {"url": clip("clip-a.mp4"), "loop": "yes", "realtime": "no"})
                   for i in range(3)]
        # and a model big enough that inference, not decoding, is what limits them
        cfg, sock = write_config(self.tmp, streams, stats_interval=1,
                                 model=os.path.join(FIXTURES, "timm14_x25.onnx"))
        with_metrics(cfg, port)
        d = self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == "f2", what="labels")
        before = None
        for _ in range(10):
            code, text = scrape(port)
            self.assertEqual(code, 200)
            n = sum(value(samples(text), "lcnetd_frames_classified_total", stream="f%d" % i)
                    for i in range(3))
            if before is not None:
                self.assertGreaterEqual(n, before)
            before = n
            time.sleep(0.2)
        # the HTTP server's thread is not on the inference CPU
        if 1 in usable and len(usable) > 1:
            threads = {}
            for tid in os.listdir("/proc/%d/task" % d.p.pid):
                base = "/proc/%d/task/%s/" % (d.p.pid, tid)
                with open(base + "comm") as f:
                    threads.setdefault(f.read().strip(), []).append(allowed_cpus(base + "status"))
            self.assertEqual(threads["lcnetd-infer"], [{1}])
            mhd = [c for name, cs in threads.items() if name.startswith("MHD") for c in cs]
            self.assertTrue(mhd, "libmicrohttpd's thread: %s" % sorted(threads))
            for c in mhd:
                self.assertNotIn(1, c)

    def test_off_by_default_and_moved_by_a_reload(self):
        cfg, sock = write_config(self.tmp, [("cam", {"url": clip("clip-b.mkv"), "loop": "yes",
                                                     "sample_fps": "5"})])
        d = self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        sub.wait_for(lambda e: e["event"] == "label", what="a label")

        def tcp_listeners():
            r = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True)
            return [l for l in r.stdout.splitlines() if "pid=%d," % d.p.pid in l]

        self.assertEqual(tcp_listeners(), [], "no TCP port without [metrics]")
        port = free_port()
        with_metrics(cfg, port)
        d.p.send_signal(signal.SIGHUP)
        wait_until(lambda: "metrics on http://127.0.0.1:%d" % port in d.stderr(), 20,
                   "the endpoint after a reload")
        self.assertEqual(scrape(port)[0], 200)
        other = free_port()
        write_config(self.tmp, [("cam", {"url": clip("clip-b.mkv"), "loop": "yes",
                                         "sample_fps": "5"})])
        with_metrics(cfg, other)
        d.p.send_signal(signal.SIGHUP)
        wait_until(lambda: "metrics on http://127.0.0.1:%d" % other in d.stderr(), 20,
                   "the endpoint moved")
        self.assertEqual(scrape(other)[0], 200)
        with self.assertRaises(urllib.error.URLError):
            scrape(port)
        self.assertEqual(len(tcp_listeners()), 1)
        self.assertNotIn("stopped", [e["state"] for e in sub.of("stream", "cam")],
                         "the stream ran on")


if __name__ == "__main__":
    main()
