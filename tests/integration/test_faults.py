#!/usr/bin/python3
"""lcnetd under stream faults and lifecycle stress, with good streams alongside.

One daemon runs every stream fault at once next to two good streams (a
looping file and an RTSP camera): an RTSP server killed and restarted 50
times, servers that stall, send garbage, close or reset, corrupt H.264 played
in a loop, a resolution change, a file that ends, a host that never resolves
and a camera that does not exist.  Each fault must give its events (down with
a reason, reconnecting with a growing delay, up, labels again), the good
streams must classify throughout, and the daemon's RSS and open fds must stay
flat.  Then 100 SIGHUP reloads under load, and SIGTERM during a reconnect
storm.  Under `make check-asan` the harness fails any test whose daemon
printed a sanitizer report (leaks are reported at exit).
"""
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Daemon, DaemonTest, FaultServer, HttpServer, RtspServer,  # noqa: E402
                     Subscriber, clip, ev_time, last_stats, main, no_quarantine_env, settle, states,
                     wait_until, write_config)

# Bounds on growth, generous: a leak per reconnect or per reload would
# show as MiBs over the hundreds of them here, and an fd leak as dozens.
RSS_SLACK_KB = 12 * 1024
FD_SLACK = 6




def last_seq(sub, name):
    labels = sub.of("label", name)
    return labels[-1]["seq"] if labels else 0


class StreamFaults(DaemonTest):
    BMIN, BMAX = 0.4, 3.2          # backoff of the failing streams: the cap at the 4th try

    def assert_backoff_grows(self, sub, name, n=4):
        """Delays follow backoff_min * 2^k, capped, with jitter of at most
        half, so each lies in its own band [b/2, b].  The first failures may
        come before the subscriber connects: the delays seen must be those
        of tries k0, k0+1, ... for some k0 before the cap, so they grow."""
        r = [e["retry_in"] for e in states(sub, name, "reconnecting")][:n]
        self.assertGreaterEqual(len(r), n, "%s: %d reconnects" % (name, len(r)))

        def fits(k0):
            for k, v in enumerate(r, k0):
                b = min(self.BMIN * 2 ** k, self.BMAX)
                if not 0.5 * b - 1e-3 <= v <= b + 1e-3:
                    return False
            return True
        k0 = next((k for k in range(3) if fits(k)), None)
        self.assertIsNotNone(k0, "%s: delays %s are not backoff_min %.1f doubling to %.1f" %
                             (name, r, self.BMIN, self.BMAX))
        self.assertGreater(r[-1], r[0], "%s: the delay grows" % name)

    def assert_seq_increasing(self, sub, name):
        seqs = [e["seq"] for e in sub.of("label", name)]
        self.assertTrue(seqs, "%s has labels" % name)
        self.assertTrue(all(b > a for a, b in zip(seqs, seqs[1:])),
                        "%s: seq strictly increasing (never restarted)" % name)

    def test_faults_alongside_good_streams(self):
        cam = self.track(RtspServer({"cam": clip("clip-a.mp4")}))
        front = self.track(RtspServer({"cam": clip("clip-a.mp4")}))
        port = front.port
        bad = {m: self.track(FaultServer(m)) for m in ("stall", "garbage", "close", "reset")}
        slow = {"backoff_min": str(self.BMIN), "backoff_max": str(self.BMAX)}
        deadline = {"open_timeout": "1", "stall_timeout": "1"}
        cfg, sock = write_config(self.tmp, [
            ("file", {"url": clip("clip-b.mkv"), "loop": "yes", "sample_fps": "10"}),
            ("cam", {"url": cam.url("cam"), "sample_fps": "10"}),
            ("front", {"url": front.url("cam"), "sample_fps": "10", "stall_timeout": "2",
                       "backoff_min": "0.05", "backoff_max": "0.4"}),
            ("stall", dict(url=bad["stall"].url(), **deadline, **slow)),
            ("garbage", dict(url=bad["garbage"].url(), **deadline, **slow)),
            ("close", dict(url=bad["close"].url(), **slow)),
            ("reset", dict(url=bad["reset"].url(), **slow)),
            ("res", {"url": clip("res-change.ts")}),
            ("ends", {"url": clip("clip-b.mkv")}),
            ("dns", dict(url="rtsp://lcnetd-test.invalid/x", **slow)),
            ("dev", dict(url="/dev/video-lcnetd-missing", **slow)),
        ], stats_interval=1)
        d = self.track(Daemon(cfg, sock, env=no_quarantine_env()))
        sub = self.track(Subscriber(sock))

        # -- 1: the RTSP server killed and restarted on its port, 50 times
        cycles, base, series = 50, None, []
        t_start = time.time()
        for i in range(cycles):
            before = last_seq(sub, "front")
            sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == "front" and
                         e["seq"] > before, timeout=20, what="cycle %d: front labels" % i)
            good = {n: last_seq(sub, n) for n in ("file", "cam")}
            front.stop(signal.SIGKILL)
            ev = sub.wait_for(lambda e: e["event"] == "stream" and e["stream"] == "front" and
                              e["state"] == "down", timeout=15, what="cycle %d: front down" % i)
            self.assertTrue(ev["reason"], "a down event says why")
            front = self.track(RtspServer({"cam": clip("clip-a.mp4")}, port=port))
            sub.wait_for(lambda e: e["event"] == "stream" and e["stream"] == "front" and
                         e["state"] == "up", timeout=20, what="cycle %d: front up" % i)
            sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == "front",
                         timeout=20, what="cycle %d: front labels again" % i)
            for n, s in good.items():
                self.assertGreater(last_seq(sub, n), s,
                                   "cycle %d: %s classified while front was down" % (i, n))
            if i % 5 == 4:
                series.append(d.rss_kb())
            if i == 4:
                # warm-up done, and the two files that end have ended
                wait_until(lambda: states(sub, "res", "eof") and states(sub, "ends", "eof"),
                           20, "res and ends at their end")
                base = (settle(d.rss_kb), settle(d.fd_count), time.time())
        rss, fds = settle(d.rss_kb), settle(d.fd_count)
        secs = time.time() - base[2]
        print("\n%d server restarts in %.0f s; after the first 5 (%.0f s): RSS %d -> %d KiB "
              "(%+d), fds %d -> %d" % (cycles, time.time() - t_start, secs, base[0], rss,
                                      rss - base[0], base[1], fds))
        print("RSS every 5 restarts (KiB): %s" % " ".join(map(str, series)))

        downs, ups = states(sub, "front", "down"), states(sub, "front", "up")
        self.assertGreaterEqual(len(downs), cycles)
        self.assertGreaterEqual(len(ups), cycles + 1)
        self.assert_seq_increasing(sub, "file")
        self.assert_seq_increasing(sub, "cam")
        for n in ("file", "cam"):
            self.assertEqual(states(sub, n, "down"), [], "%s never went down" % n)

        # -- 2: stall: down when open_timeout runs out, not before, not long after
        self.assert_backoff_grows(sub, "stall")
        evs, waits = states(sub, "stall"), []
        for a, b in zip(evs, evs[1:]):
            if a["state"] == "reconnecting" and b["state"] == "down":
                self.assertIn("open_timeout", b["reason"])
                waits.append(ev_time(b) - ev_time(a) - a["retry_in"])
                self.assertTrue(0.9 <= waits[-1] <= 4, "stall: down %.2f s after the retry, "
                                "open_timeout 1 s" % waits[-1])
        self.assertGreater(len(waits), 5)
        print("stall: down %.2f..%.2f s after each of %d retries (open_timeout 1 s)" %
              (min(waits), max(waits), len(waits)))
        print("reconnects: %s" % ", ".join(
            "%s %d" % (n, len(states(sub, n, "reconnecting")))
            for n in ("front", "stall", "garbage", "close", "reset", "dns", "dev")))
        # -- 3: garbage, close, reset
        for n in ("garbage", "close", "reset"):
            self.assert_backoff_grows(sub, n)
            self.assertTrue(all(e["reason"] for e in states(sub, n, "down")))
            self.assertEqual(states(sub, n, "up"), [])
        self.assertIn("open_timeout", states(sub, "garbage", "down")[0]["reason"],
                      "bytes that never make an answer end at the deadline")

        # -- 5: 640x360, then 320x240 from 4 s on: labels from both halves
        pts = [e["pts"] for e in sub.of("label", "res")]
        self.assertGreater(len(pts), 150, "res-change.ts has 200 frames")
        self.assertTrue(any(p < pts[0] + 3.5 for p in pts) and any(p > pts[0] + 4.5 for p in pts),
                        "labels before and after the change (pts %.2f..%.2f)" % (pts[0], pts[-1]))
        self.assertEqual(states(sub, "res", "down"), [])
        self.assertEqual(last_stats(sub, "res")["decoded"], 200)

        # -- 6: a file that ends: eof once, nothing after it
        self.assertEqual(len(states(sub, "ends", "eof")), 1)
        self.assertEqual(last_stats(sub, "ends")["state"], "eof")
        t_eof = ev_time(states(sub, "ends", "eof")[0])
        self.assertEqual([e for e in sub.of("label", "ends") if ev_time(e) > t_eof + 0.5], [])
        self.assertEqual(states(sub, "ends", "down"), [])

        # -- 7, 8: the resolver's reason, the device's; both retried with backoff
        self.assertIn("resolve", states(sub, "dns", "down")[0]["reason"])
        self.assertIn("No such file", states(sub, "dev", "down")[0]["reason"])
        for n in ("dns", "dev"):
            self.assert_backoff_grows(sub, n)
            self.assertGreater(last_stats(sub, n)["reconnects"], 10)

        # -- and through all of it, memory and fds flat
        self.assertLess(rss - base[0], RSS_SLACK_KB,
                        "RSS grew %d KiB over %d restarts" % (rss - base[0], cycles - 5))
        self.assertLessEqual(fds, base[1] + FD_SLACK, "fds %d -> %d" % (base[1], fds))
        self.assertEqual(d.stop(), 0, d.stderr()[-3000:])
        self.assertEqual(d.sanitizer_report(), "")


    def test_corrupt_h264_in_a_loop(self):
        # -- 4: read as fast as they decode, so each plays hundreds of times
        cam = self.track(RtspServer({"cam": clip("clip-a.mp4")}))
        slow = {"backoff_min": str(self.BMIN), "backoff_max": str(self.BMAX)}
        corrupt = {"loop": "yes", "realtime": "no", "sample_fps": "2", "decode_skip": "none"}
        cfg, sock = write_config(self.tmp, [
            ("file", {"url": clip("clip-b.mkv"), "loop": "yes", "sample_fps": "10"}),
            ("cam", {"url": cam.url("cam"), "sample_fps": "10"}),
            ("flips", dict(url=clip("corrupt-bitflip.ts"), **corrupt)),
            ("truncnal", dict(url=clip("corrupt-truncnal.h264"), **corrupt)),
            ("nosps", dict(url=clip("corrupt-nosps.h264"), **corrupt, **slow)),
        ], stats_interval=1)
        d = self.track(Daemon(cfg, sock, env=no_quarantine_env()))
        sub = self.track(Subscriber(sock))

        def loops():
            return min(last_stats(sub, n).get("decoded", 0) for n in ("flips", "truncnal")) / 200

        wait_until(lambda: loops() >= 5, 60, "5 loops")
        base = (settle(d.rss_kb), settle(d.fd_count), loops())
        series = [base[0]]
        good = {n: last_seq(sub, n) for n in ("file", "cam")}
        # ingest threads run SCHED_IDLE: on a machine busy with other work
        # they get what is left, so the bound is generous (it guards a hang)
        for k in range(1, 7):
            wait_until(lambda: loops() >= base[2] + 10 * k, 240, "%d loops more" % (10 * k))
            series.append(d.rss_kb())
        rss, fds = settle(d.rss_kb), settle(d.fd_count)
        print("\nafter %.0f loops: RSS %d KiB; %.0f loops later: %d KiB (%+d), fds %d -> %d" %
              (base[2], base[0], loops() - base[2], rss, rss - base[0], base[1], fds))
        print("RSS every 10 loops (KiB): %s" % " ".join(map(str, series)))
        for n, s in good.items():
            self.assertGreater(last_seq(sub, n), s + 50, "%s classified throughout" % n)
            self.assert_seq_increasing(sub, n)
        # -- 4: corrupt H.264 in a loop: bit flips and cut NAL units decode on,
        # a stream without SPS/PPS fails and is retried
        for n in ("flips", "truncnal"):
            st = last_stats(sub, n)
            print("%s: %d frames decoded (%.0f loops of 200), %d classified" %
                  (n, st["decoded"], st["decoded"] / 200.0, st["classified"]))
            self.assertGreaterEqual(st["decoded"], 60 * 200, "%s: many loops" % n)
            self.assertEqual(states(sub, n, "down"), [], "%s: no failure" % n)
            # (the first may come before the subscriber is connected)
            self.assertLessEqual(len(states(sub, n, "up")), 1, "%s: up once, not per loop" % n)
            self.assert_seq_increasing(sub, n)
            pts = [e["pts"] for e in sub.of("label", n)]
            self.assertTrue(all(b > a for a, b in zip(pts, pts[1:])), "%s: pts increasing" % n)
        self.assertIn("before any frame", states(sub, "nosps", "down")[0]["reason"])
        print("nosps: %d reconnects" % len(states(sub, "nosps", "reconnecting")))
        self.assert_backoff_grows(sub, "nosps")
        self.assertEqual(last_stats(sub, "nosps")["decoded"], 0)

        self.assertLess(rss - base[0], RSS_SLACK_KB)
        self.assertLessEqual(fds, base[1] + FD_SLACK)
        self.assertEqual(d.stop(), 0, d.stderr()[-3000:])
        self.assertEqual(d.sanitizer_report(), "")


class Lifecycle(DaemonTest):
    def test_100_reloads_under_load(self):
        srv = self.track(RtspServer({"cam": clip("clip-a.mp4")}))
        s1 = ("s1", {"url": srv.url("cam"), "sample_fps": "10"})
        s2 = ("s2", {"url": clip("clip-b.mkv"), "loop": "yes", "sample_fps": "10"})
        s3 = ("s3", {"url": clip("clip-a.ts"), "loop": "yes", "sample_fps": "5"})
        s4 = ("s4", {"url": clip("clip-a.mp4"), "loop": "yes", "sample_fps": "5"})
        # A and B differ in the streams and in a [daemon] key a reload applies
        configs = [([s1, s2, s3], 1), ([s1, s2, s4], 2)]

        def write(k):
            return write_config(self.tmp, configs[k][0], stats_interval=configs[k][1])

        cfg, sock = write(0)
        d = self.track(Daemon(cfg, sock, env=no_quarantine_env()))
        sub = self.track(Subscriber(sock))
        for n in ("s1", "s2", "s3"):
            sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == n, timeout=20,
                         what="%s label" % n)
        n_reloads, marks = 100, {}
        t0 = time.time()
        for i in range(1, n_reloads + 1):
            write(i % 2)
            seen = {n: len(sub.of("label", n)) for n in ("s1", "s2")}
            d.p.send_signal(signal.SIGHUP)
            # one signal at a time: a second SIGHUP while one is pending is merged
            wait_until(lambda: d.stderr().count("lcnetd: info: reloaded ") >= i, 20,
                       "reload %d reported" % i)
            if i % 10 == 0:
                # labels keep coming from the kept streams
                for n in ("s1", "s2"):
                    wait_until(lambda: len(sub.of("label", n)) > seen[n], 10,
                               "%s labels after reload %d" % (n, i))
            time.sleep(0.1)
            if i in (10, n_reloads):
                marks[i] = (settle(d.rss_kb), settle(d.fd_count))
        elapsed = time.time() - t0
        time.sleep(1)
        print("\n%d reloads in %.0f s; after the 10th: RSS %d KiB, %d fds; after the %dth: "
              "RSS %d KiB (%+d), %d fds" % (n_reloads, elapsed, marks[10][0], marks[10][1],
                                            n_reloads, marks[n_reloads][0],
                                            marks[n_reloads][0] - marks[10][0],
                                            marks[n_reloads][1]))
        err = d.stderr()
        self.assertEqual(err.count("lcnetd: info: reloaded "), n_reloads)
        self.assertNotIn("reload rejected", err)
        for n in ("s1", "s2"):
            self.assertEqual(states(sub, n, "stopped"), [], "%s kept across reloads" % n)
            seqs = [e["seq"] for e in sub.of("label", n)]
            self.assertTrue(all(b > a for a, b in zip(seqs, seqs[1:])),
                            "%s: seq never reset" % n)
        # A -> B stops s3, B -> A stops s4: fifty each
        self.assertEqual(len(states(sub, "s3", "stopped")), n_reloads // 2)
        self.assertEqual(len(states(sub, "s4", "stopped")), n_reloads // 2)
        # the last reload (back to A) started s3 again: it classifies
        n3 = len(sub.of("label", "s3"))
        wait_until(lambda: len(sub.of("label", "s3")) > n3, 20, "s3 labels after the last reload")
        self.assertLess(marks[n_reloads][0] - marks[10][0], RSS_SLACK_KB)
        self.assertLessEqual(marks[n_reloads][1], marks[10][1] + FD_SLACK)
        self.assertEqual(d.stop(), 0)

    def test_sigterm_during_reconnect_storm(self):
        # ports that refuse: bound, then closed, so nothing listens there
        refused = []
        for _ in range(4):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                refused.append(s.getsockname()[1])
        stall = self.track(FaultServer("stall"))
        garbage = self.track(FaultServer("garbage"))
        tiny = {"backoff_min": "0.01", "backoff_max": "0.02"}
        streams = [("r%d" % i, dict(url="rtsp://127.0.0.1:%d/x" % p, **tiny))
                   for i, p in enumerate(refused)]
        streams += [("stall%d" % i, dict(url=stall.url(), open_timeout="30", **tiny))
                    for i in range(2)]
        streams += [("garbage%d" % i, dict(url=garbage.url(), open_timeout="30", **tiny))
                    for i in range(2)]
        cfg, sock = write_config(self.tmp, streams)
        d = self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        wait_until(lambda: all(len(states(sub, "r%d" % i, "reconnecting")) > 20
                               for i in range(4)), 30, "the storm")
        time.sleep(1)       # the stall and garbage streams are mid-open by now
        t0 = time.monotonic()
        d.p.send_signal(signal.SIGTERM)
        try:
            rc = d.p.wait(30)
        finally:
            took = time.monotonic() - t0
        print("\nexit %d %.2f s after SIGTERM, %d reconnects before" %
              (rc, took, sum(len(states(sub, n, "reconnecting")) for n, _ in streams)))
        self.assertEqual(rc, 0, d.stderr()[-2000:])
        # LeakSanitizer's scan at exit is not the daemon's own time
        limit = 2.0 if "ASAN_OPTIONS" not in os.environ else 6.0
        self.assertLess(took, limit, "exit %.2f s after SIGTERM" % took)


def fragments(secret, n=4):
    """Every piece of secret n characters long: no part of it may show."""
    return {secret[i:i + n] for i in range(len(secret) - n + 1)}


def leaked(text, secret):
    return sorted(f for f in fragments(secret) if f in text)


# A playlist whose segment is missing: libavformat's HLS demuxer names the
# segment's URL, credentials and all, in its error and in its warnings.
PLAYLIST = ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg0.ts\n"
            "#EXT-X-ENDLIST\n")


class HostileServers(DaemonTest):
    """Servers whose words come back in libav's messages, with credentials in
    the stream URLs: nothing may overflow, and no password may leave the
    daemon, in events or in the log."""
    RETRY = {"backoff_min": "0.2", "backoff_max": "0.4", "open_timeout": "5"}

    def playlist_server(self):
        www = os.path.join(self.tmp, "www")
        os.mkdir(www)
        with open(os.path.join(www, "p.m3u8"), "w") as f:
            f.write(PLAYLIST)
        return self.track(HttpServer(www))

    def test_long_reason_phrase_against_a_one_letter_password(self):
        # the reason phrase is quoted in "method DESCRIBE failed: 404 aaa...";
        # blanking each "a" in place grew it past its 200-byte buffer
        srv = self.track(FaultServer("notfound"))
        cfg, sock = write_config(self.tmp, [
            ("cam", dict(url="rtsp://a:a@127.0.0.1:%d/x" % srv.port, **self.RETRY)),
        ])
        d = self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        wait_until(lambda: len(states(sub, "cam", "down")) >= 3, 30, "three failed opens")
        for e in states(sub, "cam", "down"):
            self.assertIn("404", e["reason"])
            self.assertLess(len(e["reason"]), 256)
        self.assertIsNone(d.p.poll(), "the daemon runs on")
        self.assertEqual(d.stop(), 0, d.stderr()[-3000:])
        self.assertEqual(d.sanitizer_report(), "")

    def test_password_with_an_at_sign_never_reaches_subscribers(self):
        # FFmpeg's password runs to the LAST '@' of the authority: Xy@Secret99
        http = self.playlist_server()
        pw = "Xy@Secret99"
        cfg, sock = write_config(self.tmp, [
            ("hls", dict(url="http://admin:%s@127.0.0.1:%d/p.m3u8" % (pw, http.port),
                         **self.RETRY)),
        ])
        d = self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        wait_until(lambda: len(states(sub, "hls", "reconnecting")) >= 2, 30, "two failed opens")
        reason = states(sub, "hls", "down")[0]["reason"]
        # a URL in a reason reads as configured, without its credentials
        self.assertIn("'http://127.0.0.1:%d/seg0.ts'" % http.port, reason)
        events = json.dumps(sub.events)
        self.assertEqual(leaked(events, pw), [], "password in events: %s" % reason)
        self.assertNotIn("admin:", events)
        self.assertEqual(d.stop(), 0)
        self.assertEqual(leaked(d.stderr(), pw), [], d.stderr()[-3000:])

    def test_debug_log_never_shows_passwords(self):
        # libav's own messages (the log at debug level) name URLs too; the log
        # callback cannot tell which stream a message is about
        http = self.playlist_server()
        nf = self.track(FaultServer("notfound", extra=["--reason", "Not Found"]))
        pw1, pw2 = "s3cretpw", "Pa55:w0rd"
        cfg, sock = write_config(self.tmp, [
            ("hls", dict(url="http://admin:%s@127.0.0.1:%d/p.m3u8" % (pw1, http.port),
                         **self.RETRY)),
            ("cam", dict(url="rtsp://viewer:%s@127.0.0.1:%d/x" % (pw2, nf.port), **self.RETRY)),
        ], log_level="debug")
        d = self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        wait_until(lambda: all(len(states(sub, n, "reconnecting")) >= 2 for n in ("hls", "cam")),
                   30, "two failed opens each")
        self.assertEqual(d.stop(), 0)
        err = d.stderr()
        self.assertIn("libav: ", err, "libav's messages are in the debug log")
        self.assertIn("seg0.ts", err)
        for pw in (pw1, pw2):
            self.assertEqual(leaked(err, pw), [], err[-3000:])
            self.assertEqual(leaked(json.dumps(sub.events), pw), [])


if __name__ == "__main__":
    main()
