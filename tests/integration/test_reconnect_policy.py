#!/usr/bin/python3
"""How lcnetd retries streams that servers it did not write turn away.

Real servers, each a process of its own: GStreamer's RTSP server library
(tests/tools/rtsp_server.py) asking for a login by Basic and by Digest
authentication, VLC's RTSP output (tests/tools/vlc_rtsp.py), which answers
"461 Unsupported transport" to RTSP over TCP, and an HTTP server asking for
a login (tests/tools/http_server.py).

* A refused login is not retried fast: one `down` event that says to check
  the credentials in the URL (and never shows them), `auth_failures` in the
  stats, and in the next few seconds at most one more attempt, counted on
  the server's side.
* A server that refuses the configured RTSP transport is retried with it,
  and the reason names the setting that would work.
* A connection that delivered frames for longer than backoff_max resets the
  retry delay, even when it ended cleanly.
* Reasons show URLs as configured, without credentials, and the path of a
  missing file.

Servers that must fail while the subscriber watches start after it has
connected: the daemon's first attempt would otherwise come before anyone
listens, and a refused login is not tried again for 30 s.
"""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Daemon, DaemonTest, HttpServer, RtspServer, Subscriber,  # noqa: E402
                     VlcServer, clip, main, wait_until, write_config, states, last_stats)

HINT = "check the credentials in the URL"
# How long a refused login is watched: an ordinary backoff (0.1 s, doubling)
# would try again several times within it.
WINDOW = 4


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]




def first(sub, pred, timeout, what):
    """The first event so far or to come that pred accepts (sub.wait_for
    would pass over those another wait already read)."""
    found = []
    wait_until(lambda: found or found.extend(e for e in list(sub.events) if pred(e)), timeout,
               what)
    return found[0]


def stream_ev(name, state, text=""):
    return lambda e: (e.get("event") == "stream" and e["stream"] == name and
                      e["state"] == state and text in e.get("reason", ""))


# A stream that waits for its server: tries often, so that it connects as
# soon as the server listens.
EAGER = {"backoff_min": "0.1", "backoff_max": "0.2"}


class RefusedLogin(DaemonTest):
    def check_refused_login(self, server, sub, name, secret):
        """server was started after sub connected; name's credentials are wrong."""
        down = first(sub, stream_ev(name, "down", "401"), 20, "%s: down, 401" % name)
        tries = server.connections() if isinstance(server, RtspServer) else None
        time.sleep(WINDOW)
        # after the window, a stats event counts what happened in it
        n = len(sub.of("stats", name))
        wait_until(lambda: len(sub.of("stats", name)) > n, 5, "%s: stats" % name)
        refused = [e for e in states(sub, name, "down") if "401" in e["reason"]]
        self.assertEqual(len(refused), 1, "%s: one refused login in %d s, not %d" %
                         (name, WINDOW, len(refused)))
        if tries is not None:
            self.assertLessEqual(server.connections(), tries + 1,
                                 "%s: at most one attempt after the first" % name)
        self.assertIn(HINT, down["reason"])
        self.assertEqual(last_stats(sub, name).get("auth_failures"), 1)
        retry = first(sub, stream_ev(name, "reconnecting", HINT), 5, "%s: reconnecting" % name)
        self.assertGreaterEqual(retry["retry_in"], 30, "%s: the next login waits 30 s" % name)
        self.assertNotIn(secret, json.dumps(sub.events))
        return down

    def rtsp_login(self, digest):
        right, wrong = "Right-Pass-7", "Wrong-Pass-3"
        good = self.track(RtspServer({"cam": clip("clip-a.mp4")}, auth="viewer:" + right,
                                     digest=digest))
        bad_port = free_port()
        cfg, sock = write_config(self.tmp, [
            ("good", {"url": "rtsp://viewer:%s@127.0.0.1:%d/cam" % (right, good.port),
                      "sample_fps": "5"}),
            ("bad", dict(url="rtsp://viewer:%s@127.0.0.1:%d/cam" % (wrong, bad_port), **EAGER)),
        ], stats_interval=1)
        d = self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == "good", timeout=20,
                     what="labels with the right login")
        bad = self.track(RtspServer({"cam": clip("clip-a.mp4")}, port=bad_port,
                                    auth="viewer:" + right, digest=digest, verbose=True))
        down = self.check_refused_login(bad, sub, "bad", wrong)
        self.assertIn("rtsp://127.0.0.1:%d/cam" % bad_port, down["reason"])
        self.assertGreaterEqual(bad.connections(), 1)
        # the right login kept classifying, and was never refused
        n = len(sub.of("label", "good"))
        wait_until(lambda: len(sub.of("label", "good")) > n, 10, "good labels go on")
        self.assertEqual(last_stats(sub, "good")["auth_failures"], 0)
        self.assertEqual(states(sub, "good", "down"), [])
        self.assertEqual(d.stop(), 0)
        self.assertNotIn(wrong, d.stderr())
        self.assertNotIn(right, d.stderr())

    def test_gst_rtsp_basic_auth(self):
        self.rtsp_login(digest=False)

    def test_gst_rtsp_digest_auth(self):
        self.rtsp_login(digest=True)

    def test_http_401(self):
        www = os.path.join(self.tmp, "www")
        os.mkdir(www)
        os.symlink(clip("clip-a.ts"), os.path.join(www, "cam.ts"))
        port = free_port()
        cfg, sock = write_config(self.tmp, [
            ("good", dict(url="http://viewer:pw-ok@127.0.0.1:%d/cam.ts" % port, **EAGER)),
            ("bad", dict(url="http://viewer:pw-wrong@127.0.0.1:%d/cam.ts" % port, **EAGER)),
            ("none", dict(url="http://127.0.0.1:%d/cam.ts" % port, **EAGER)),
        ], stats_interval=1)
        self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        sub.wait_for(lambda e: e["event"] == "hello", what="hello")
        srv = self.track(HttpServer(www, port=port, auth="viewer:pw-ok"))
        for name, secret in (("bad", "pw-wrong"), ("none", "pw-ok")):
            down = self.check_refused_login(srv, sub, name, secret)
            self.assertIn("http://127.0.0.1:%d/cam.ts" % port, down["reason"])
        sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == "good", timeout=20,
                     what="labels with the right login")
        self.assertEqual(last_stats(sub, "good")["auth_failures"], 0)


class RefusedTransport(DaemonTest):
    def test_vlc_refuses_rtsp_over_tcp(self):
        vlc = self.track(VlcServer(clip("clip-a.mp4")))
        url = "rtsp://127.0.0.1:%d/cam" % vlc.port
        cfg, sock = write_config(self.tmp, [
            ("tcp", dict(url=url, rtsp_transport="tcp", backoff_min="0.2", backoff_max="0.4")),
            ("udp", {"url": url, "rtsp_transport": "udp", "sample_fps": "5"}),
            ("auto", {"url": url, "rtsp_transport": "auto", "sample_fps": "5"}),
        ])
        self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        for name in ("udp", "auto"):
            sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == name, timeout=30,
                         what="%s: labels from VLC" % name)
        wait_until(lambda: len(states(sub, "tcp", "down")) >= 3, 20, "tcp: three refusals")
        for e in states(sub, "tcp", "down"):
            self.assertIn("461", e["reason"])
            self.assertIn("rtsp_transport = udp", e["reason"])
            self.assertIn("auto", e["reason"])
            self.assertIn(url, e["reason"])
        # retried with the configured transport, with the ordinary backoff
        self.assertEqual(states(sub, "tcp", "up"), [])
        self.assertTrue(all(e["retry_in"] <= 0.4 for e in states(sub, "tcp", "reconnecting")))
        self.assertEqual(states(sub, "udp", "down"), [])
        self.assertEqual(states(sub, "auto", "down"), [])


class Backoff(DaemonTest):
    def test_clean_end_resets_the_delay(self):
        # a 3 s stream: longer than backoff_max, so its end must not be
        # followed by the delay the earlier outage had grown to
        short = os.path.join(self.tmp, "short.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-i", clip("clip-a.mp4"), "-t", "3", "-c", "copy",
                        short], check=True)
        port = free_port()
        bmin, bmax = 0.2, 1.0
        cfg, sock = write_config(self.tmp, [
            ("cam", {"url": "rtsp://127.0.0.1:%d/cam" % port, "backoff_min": str(bmin),
                     "backoff_max": str(bmax)}),
        ])
        self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        # nobody listens yet: the delay grows to backoff_max (0.2, 0.4, 0.8, 1.0)
        wait_until(lambda: len(states(sub, "cam", "reconnecting")) >= 4, 20, "a grown delay")
        grown = states(sub, "cam", "reconnecting")[-1]["retry_in"]
        self.assertGreater(grown, bmin, "the delay grew while the server was away")
        self.track(RtspServer({"cam": short}, port=port, loop=False))
        sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == "cam", timeout=20,
                     what="labels")
        end = sub.wait_for(lambda e: e["event"] == "stream" and e["stream"] == "cam" and
                           e["state"] == "down", timeout=20, what="the end of the stream")
        self.assertEqual(end["reason"], "end of stream")
        retry = sub.wait_for(lambda e: e["event"] == "stream" and e["stream"] == "cam" and
                             e["state"] == "reconnecting", timeout=5, what="reconnecting")
        self.assertLessEqual(retry["retry_in"], bmin,
                             "after 3 s of frames the delay starts again at backoff_min "
                             "(it had grown to %.2f)" % grown)


    def test_looping_file_resets_the_delay(self):
        # a looping file's passes are one run: 1 s each, but as a whole
        # longer than backoff_max, so the next failure starts at backoff_min
        path = os.path.join(self.tmp, "loop.mp4")
        away = os.path.join(self.tmp, "elsewhere.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-i", clip("clip-a.mp4"), "-t", "1", "-c", "copy",
                        away], check=True)
        bmin, bmax = 0.2, 1.0
        cfg, sock = write_config(self.tmp, [
            ("loop", {"url": path, "loop": "yes", "backoff_min": str(bmin),
                      "backoff_max": str(bmax)}),
        ])
        self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        wait_until(lambda: len(states(sub, "loop", "reconnecting")) >= 4, 20, "a grown delay")
        grown = states(sub, "loop", "reconnecting")[-1]["retry_in"]
        self.assertGreater(grown, bmin)
        self.assertIn("No such file or directory", states(sub, "loop", "down")[-1]["reason"])
        os.rename(away, path)
        first(sub, lambda e: e.get("event") == "label" and e["stream"] == "loop", 20, "labels")
        n = len(states(sub, "loop", "reconnecting"))
        time.sleep(3 * bmax)                          # three passes
        self.assertEqual(len(states(sub, "loop", "reconnecting")), n, "a loop is no reconnect")
        os.rename(path, away)
        wait_until(lambda: len(states(sub, "loop", "reconnecting")) > n, 10, "the file missed")
        retry = states(sub, "loop", "reconnecting")[n]
        self.assertLessEqual(retry["retry_in"], bmin,
                             "after 3 s of passes the delay starts again at backoff_min "
                             "(it had grown to %.2f)" % grown)


class Reasons(DaemonTest):
    def test_reasons_show_the_configured_url_and_path(self):
        port = free_port()             # nothing listens there
        missing = os.path.join(self.tmp, "no-such-dir", "cam.mp4")
        cfg, sock = write_config(self.tmp, [
            ("rtsp", dict(url="rtsp://viewer:Secret-42@127.0.0.1:%d/live" % port, **EAGER)),
            ("http", dict(url="http://viewer:Secret-43@127.0.0.1:%d/cam.ts" % port, **EAGER)),
            ("file", dict(url=missing, **EAGER)),
        ])
        d = self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        wait_until(lambda: all(states(sub, n, "down") for n in ("rtsp", "http", "file")), 10,
                   "a reason from each")
        shown = {"rtsp": "rtsp://127.0.0.1:%d/live" % port,
                 "http": "http://127.0.0.1:%d/cam.ts" % port, "file": missing}
        for name, url in shown.items():
            reason = states(sub, name, "down")[0]["reason"]
            self.assertIn(url, reason)
            self.assertNotIn("tcp://", reason)
            self.assertNotIn("timeout=", reason)
        self.assertIn("Connection refused", states(sub, "rtsp", "down")[0]["reason"])
        self.assertIn("No such file or directory", states(sub, "file", "down")[0]["reason"])
        events = json.dumps(sub.events)
        for secret in ("Secret-42", "Secret-43", "viewer:"):
            self.assertNotIn(secret, events)
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    main()
