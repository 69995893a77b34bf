#!/usr/bin/python3
"""lcnetd reloading onto models that attack the loader.

A SIGHUP pointing the running daemon at an ONNX file that nests graphs
3,000 deep (which overflowed protobuf-c's recursion and killed the daemon),
at a FIFO (which blocked the event loop in open() for good), and at a model
that takes long to load (the loop must keep serving subscribers and signals
while it loads).  Each time the running model and streams stay, the socket
answers, and SIGTERM ends the daemon promptly.
"""
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from harness import (MODEL, Daemon, DaemonTest, Subscriber, clip, main,  # noqa: E402
                     status, wait_until, write_config)
from onnx_nest import nested_graphs  # noqa: E402


def ping(sock, timeout=5):
    """`ping` on a connection of its own: the hello, then the answer (a
    new connection is a subscriber too: label events may come first)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(timeout)
        c.connect(sock)
        f = c.makefile("rwb")
        json.loads(f.readline())                        # hello
        f.write(b"ping\n")
        f.flush()
        while True:                                     # a silent daemon times out
            e = json.loads(f.readline())
            if e["event"] == "pong":
                return e


class HostileReload(DaemonTest):
    def start(self, model=MODEL, env=None):
        streams = [("cam", {"url": clip("clip-a.ts"), "loop": "yes", "sample_fps": 5})]
        cfg, sock = write_config(self.tmp, streams, model=model)
        d = self.track(Daemon(cfg, sock, env=env))
        sub = self.track(Subscriber(sock))
        sub.wait_for(lambda e: e["event"] == "label", what="first label")
        return d, sub, sock, streams

    def reload_to(self, d, streams, model):
        write_config(self.tmp, streams, model=model)
        d.p.send_signal(signal.SIGHUP)

    def assert_still_classifying(self, d, sub):
        self.assertIsNone(d.p.poll(), "lcnetd died: %s" % d.stderr()[-2000:])
        n = len(sub.of("label", "cam"))
        wait_until(lambda: len(sub.of("label", "cam")) > n + 3, 15, "labels from the old model")
        self.assertEqual(status(d.sock)["event"], "status")

    def assert_prompt_stop(self, d):
        t0 = time.time()
        rc = d.stop(timeout=30)
        self.assertEqual(rc, 0)
        self.assertLess(time.time() - t0, 10, "SIGTERM took too long")

    def test_nested_onnx_reload_refused(self):
        bad = os.path.join(self.tmp, "nested.onnx")
        with open(bad, "wb") as f:
            f.write(nested_graphs(3000))
        d, sub, sock, streams = self.start()
        self.reload_to(d, streams, bad)
        wait_until(lambda: "reload rejected" in d.stderr() or d.p.poll() is not None, 30,
                   "the reload's verdict")
        self.assert_still_classifying(d, sub)
        self.assertIn("nested.onnx: messages nested 65 levels deep", d.stderr())
        self.assertIn("the running model and streams stay", d.stderr())
        self.assert_prompt_stop(d)

    def test_fifo_model_reload_refused(self):
        fifo = os.path.join(self.tmp, "model.onnx")
        os.mkfifo(fifo)
        d, sub, sock, streams = self.start()
        self.reload_to(d, streams, fifo)
        t0 = time.time()
        # the socket answers while (and after) the reload is judged
        while time.time() - t0 < 3:
            self.assertEqual(ping(sock)["event"], "pong")
            time.sleep(0.2)
        wait_until(lambda: "reload rejected" in d.stderr(), 20, "the reload's verdict")
        self.assertIn("model.onnx: a FIFO, not a regular file", d.stderr())
        self.assert_still_classifying(d, sub)
        self.assert_prompt_stop(d)

    def test_slow_model_load_keeps_loop_serving(self):
        # a model that takes 20 s to load (a slow file system, LCNETD_TESTING
        # only): subscribers are served and labels flow meanwhile, and
        # SIGTERM does not wait for the load
        slow = os.path.join(self.tmp, "slow.onnx")
        os.symlink(MODEL, slow)
        d, sub, sock, streams = self.start(env={"LCNETD_TEST_SLOW_LOAD_MS": "20000"})
        self.reload_to(d, streams, slow)
        wait_until(lambda: "reload: loading" in d.stderr(), 10, "the reload to start")
        for _ in range(5):
            t0 = time.time()
            self.assertEqual(ping(sock, timeout=3)["event"], "pong")
            self.assertLess(time.time() - t0, 2)
            self.assertEqual(status(sock)["event"], "status")
            time.sleep(0.3)
        late = Subscriber(sock)
        self.track(late)
        late.wait_for(lambda e: e["event"] == "hello", timeout=5, what="hello to a new subscriber")
        self.assert_still_classifying(d, sub)
        self.assert_prompt_stop(d)


if __name__ == "__main__":
    main()
