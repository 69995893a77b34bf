#!/usr/bin/python3
"""lcnetd keeps time as real cameras and recordings do (issue 18's timing defects).

Every scenario reads from a real server process:
- an MJPEG camera over HTTP (tests/tools/http_server.py, multipart/x-mixed-
  replace) at 2 and 10 fps, whose frames FFmpeg's reader stamps as if at
  25 fps: sampling goes by arrival, so sample_fps holds;
- sample_fps = 0.05 on a live RTSP camera with stall_timeout = 2: a sample
  interval longer than the stall timeout is no stall;
- concatenated MPEG-TS segments whose pts jumps back at each join, as a file
  (labels after each join, realtime pacing kept, eof) and as a live stream
  over HTTP (labels on, no false stall);
- a VOD HLS playlist over HTTP: read once at its own pace and ended, or
  looped, never replayed through reconnects;
- HEVC with B-frames and decode_skip = auto: the counters add up;
- a stall (the camera's server stopped with SIGSTOP): pts runs on after the
  reconnect instead of restarting at 0.

The checks are on counts and events; where pacing is checked, it is a lower
bound on how long a realtime read took, which a slow machine cannot break.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CLIPS, Daemon, DaemonTest, HttpServer, RtspServer, Subscriber,  # noqa: E402
                     clip, main, wait_until, write_config, ev_time, states, last_stats)





def frames_in(path):
    """Video packets in a file, as ffprobe counts them."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                          "-show_entries", "stream=nb_read_packets", "-of", "default=nw=1:nk=1",
                          path], check=True, capture_output=True, text=True).stdout
    return int(out.split()[0])


class Timing(DaemonTest):
    def assert_no_outage(self, sub, name):
        bad = [e for e in states(sub, name) if e["state"] in ("down", "reconnecting")]
        self.assertFalse(bad, "%s: a healthy source reported down %d times: %s" %
                         (name, len(bad) // 2, sorted({e.get("reason") for e in bad})))
        self.assertEqual(last_stats(sub, name).get("reconnects"), 0, name)

    def assert_pts_increasing(self, sub, name):
        pts = [e["pts"] for e in sub.of("label", name)]
        self.assertTrue(pts, "%s has labels" % name)
        self.assertTrue(all(b > a for a, b in zip(pts, pts[1:])),
                        "%s: pts strictly increasing: %s" % (name, pts))
        return pts

    def assert_paced(self, sub, name, at_least=0.75):
        """Read in real time: the labels' own times (a file's frames are
        stamped when decoded) span most of what their pts span.  A lower
        bound only: a slow machine reads slower, never faster."""
        labels = sub.of("label", name)
        wall = ev_time(labels[-1]) - ev_time(labels[0])
        span = labels[-1]["pts"] - labels[0]["pts"]
        print("%s: labels over %.2f s of pts came in %.2f s" % (name, span, wall))
        self.assertGreaterEqual(wall, at_least * span,
                                "%s: %.1f s of video read in %.1f s" % (name, span, wall))

    def assert_counters_add_up(self, st, name, in_decoder=0):
        """The invariant of lcnetd(8), STATS: every video packet read became
        a frame, was skipped or failed, but for what the decoder still holds."""
        held = st["packets"] - (st["decoded"] + st["decode_skipped"] + st["decode_errors"])
        self.assertTrue(0 <= held <= in_decoder,
                        "%s: packets %d = decoded %d + decode_skipped %d + decode_errors %d "
                        "+ held %d, at most %d held" % (name, st["packets"], st["decoded"],
                                                        st["decode_skipped"], st["decode_errors"],
                                                        held, in_decoder))

    # -- defect 2 (and 1): an MJPEG camera's frames are sampled as they arrive
    def test_mjpeg_camera_sampled_on_arrival(self):
        srv = self.track(HttpServer(CLIPS))
        base = "http://127.0.0.1:%d/mjpeg/%s?fps=" % (srv.port, os.path.basename(clip("cam.mjpeg")))
        cams = {"cam2": (2, 1.0), "cam10": (10, 2.0)}        # camera fps, sample_fps
        cfg, sock = write_config(self.tmp, [
            (n, {"url": base + str(fps), "sample_fps": str(sfps), "stall_timeout": "3"})
            for n, (fps, sfps) in cams.items()], stats_interval=1)
        self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        # about 7 s of the slow camera: more than twice its stall_timeout, and
        # one sample interval of the old reading (25 pts-frames) is 12.5 s
        wait_until(lambda: last_stats(sub, "cam2").get("decoded", 0) >= 14 or
                   states(sub, "cam2", "down"), 40, "14 frames of the 2 fps camera")
        for n, (fps, sfps) in cams.items():
            self.assert_no_outage(sub, n)
            st = last_stats(sub, n)
            kept = st["decoded"] - st["sampled_out"]
            want = sfps / fps
            self.assertTrue(0.6 * want <= kept / st["decoded"] <= 1.4 * want,
                            "%s: %d of %d frames kept, sample_fps %.0f of a %d fps camera "
                            "(the reader stamps 25 fps)" % (n, kept, st["decoded"], sfps, fps))
            pts = self.assert_pts_increasing(sub, n)
            # the first frame is rebased like the others: a live stream starts at 0
            # (its label, if the subscriber was there yet)
            first = [e["pts"] for e in sub.of("label", n) if e["seq"] == 1]
            self.assertIn(first, ([], [0]), "%s: the first frame's pts" % n)
            # the clock is the camera's real one: labels 1/sample_fps apart (the
            # median: a starved ingest thread may see a late frame now and then)
            steps = sorted(b - a for a, b in zip(pts, pts[1:]))
            print("%s: %d fps camera, sample_fps %g: %d of %d frames kept, label pts steps "
                  "%.3f..%.3f s" % (n, fps, sfps, kept, st["decoded"], steps[0], steps[-1]))
            self.assertTrue(0.75 / sfps <= steps[len(steps) // 2] <= 1.5 / sfps,
                            "%s: label pts steps %s, sample_fps %.0f" % (n, steps, sfps))
            self.assert_counters_add_up(st, n, in_decoder=2)

    # -- defect 1: a sample interval longer than stall_timeout is no stall
    def test_long_sample_interval_is_no_stall(self):
        srv = self.track(RtspServer({"cam": clip("clip-a.mp4")}))
        cfg, sock = write_config(self.tmp, [
            ("slow", {"url": srv.url("cam"), "sample_fps": "0.05", "stall_timeout": "2"}),
        ], stats_interval=1)
        self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == "slow", timeout=30,
                     what="the first label")
        # a window of 2.5 stall timeouts: the old code reconnected after each one
        time.sleep(5)
        self.assert_no_outage(sub, "slow")
        self.assertEqual(len(sub.of("label", "slow")), 1, "one label per 20 s")
        st = last_stats(sub, "slow")
        print("slow: stall_timeout 2 s, sample_fps 0.05: no outage in 5 s after the first label; "
              "packets %d, decoded %d, decode_skipped %d" % (st["packets"], st["decoded"],
                                                           st["decode_skipped"]))
        self.assertGreater(st["decode_skipped"], 50, "keyframes alone decoded")
        # a live stream: what the decoder holds is at most a frame or two
        self.assert_counters_add_up(st, "slow", in_decoder=2)

    # -- defect 3: a file whose timestamps jump back at each join
    def test_concatenated_segments_file(self):
        path = clip("concat-jump.ts")
        cfg, sock = write_config(self.tmp, [("nvr", {"url": path, "sample_fps": "5"})],
                                 stats_interval=1)
        self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        eof = sub.wait_for(lambda e: e["event"] == "stream" and e["stream"] == "nvr" and
                           e["state"] in ("eof", "down"), timeout=40, what="the end of the file")
        self.assertEqual(eof["state"], "eof", "the file ends, it does not fail: %s" % eof)
        wait_until(lambda: last_stats(sub, "nvr").get("state") == "eof", 10, "stats after eof")
        # three segments of 2 s: the labels of each one, on the rebased clock
        pts = self.assert_pts_increasing(sub, "nvr")
        t0 = pts[0]
        for k in range(3):
            n = len([p for p in pts if t0 + 2 * k <= p < t0 + 2 * (k + 1)])
            self.assertGreaterEqual(n, 6, "segment %d: %d labels (sample_fps 5, 2 s): %s; %s" %
                                    (k + 1, n, pts, last_stats(sub, "nvr")))
        # realtime pacing held across the joins
        self.assertGreater(pts[-1] - pts[0], 5, "labels span the three segments")
        self.assert_paced(sub, "nvr")
        st = last_stats(sub, "nvr")
        print("nvr: %d labels, pts %.2f..%.2f, %d discontinuities" %
              (len(pts), pts[0], pts[-1], st.get("ts_discontinuities", -1)))
        self.assertEqual(st["decoded"], frames_in(path))
        self.assertEqual(st["ts_discontinuities"], 2, "two joins")
        self.assert_counters_add_up(st, "nvr")

    # -- defect 3, live: an encoder restart on a live stream over HTTP
    def test_live_stream_jumping_back(self):
        srv = self.track(HttpServer(CLIPS))
        url = "http://127.0.0.1:%d/live/%s?secs=6" % (srv.port,
                                                      os.path.basename(clip("concat-jump.ts")))
        cfg, sock = write_config(self.tmp, [("live", {"url": url, "sample_fps": "5",
                                                      "stall_timeout": "3"})], stats_interval=1)
        self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        wait_until(lambda: last_stats(sub, "live").get("ts_discontinuities", 0) >= 2 or
                   states(sub, "live", "down"), 40, "two jumps back")
        n = len(sub.of("label", "live"))
        wait_until(lambda: len(sub.of("label", "live")) >= n + 5 or states(sub, "live", "down"),
                   20, "labels after the jumps")
        self.assert_no_outage(sub, "live")
        self.assert_pts_increasing(sub, "live")
        print("live: %d labels, %d discontinuities" % (len(sub.of("label", "live")),
                                                      last_stats(sub, "live")["ts_discontinuities"]))

    # -- defect 7: a VOD playlist is a file: read once at its pace, or looped
    def test_vod_hls_read_once_or_looped(self):
        srv = self.track(HttpServer(CLIPS))
        clip("hls-vod")
        url = "http://127.0.0.1:%d/hls-vod/index.m3u8" % srv.port
        frames = sum(frames_in(os.path.join(CLIPS, "hls-vod", f))
                     for f in sorted(os.listdir(os.path.join(CLIPS, "hls-vod")))
                     if f.endswith(".ts"))
        cfg, sock = write_config(self.tmp, [
            ("vod", {"url": url, "sample_fps": "5", "backoff_min": "0.1"}),
            ("vodloop", {"url": url, "sample_fps": "5", "loop": "yes", "backoff_min": "0.1"}),
        ], stats_interval=1)
        self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        end = sub.wait_for(lambda e: e["event"] == "stream" and e["stream"] == "vod" and
                           e["state"] in ("eof", "down"), timeout=40, what="the end of the VOD")
        self.assertEqual(end["state"], "eof", "a VOD playlist ends: %s" % end)
        wait_until(lambda: last_stats(sub, "vodloop").get("decoded", 0) > frames * 1.5, 30,
                   "the looped playlist's second pass")
        time.sleep(1.5)                 # time for a replay, were there one
        st = last_stats(sub, "vod")
        self.assertEqual(st["state"], "eof")
        self.assertEqual(st["decoded"], frames, "read once")
        self.assertEqual(len(states(sub, "vod", "eof")), 1)
        labels = len(sub.of("label", "vod"))
        secs = frames / 25.0
        print("vod: %d frames, %d labels, one eof; vodloop: %d frames decoded by then" %
              (st["decoded"], labels, last_stats(sub, "vodloop")["decoded"]))
        self.assertTrue(0.6 * secs * 5 <= labels <= secs * 5 + 2,
                        "%d labels from %.0f s at sample_fps 5" % (labels, secs))
        self.assert_paced(sub, "vod")
        for n in ("vod", "vodloop"):
            self.assert_no_outage(sub, n)
        self.assertEqual(states(sub, "vodloop", "eof"), [])
        self.assert_pts_increasing(sub, "vodloop")

    # -- 9: the counters add up with HEVC B-frames and decode_skip = auto
    def test_counters_add_up_hevc_bframes(self):
        path = clip("hevc-bframes.mp4")
        total = frames_in(path)
        streams = {"nonref": "5",       # below the frame rate: B-frames skipped by the decoder
                   "keys": "0.4"}       # a sample period over a GOP: keyframes alone decoded
        cfg, sock = write_config(self.tmp, [
            (n, {"url": path, "sample_fps": f, "realtime": "no"}) for n, f in streams.items()
        ], stats_interval=1)
        self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        # they may end before the subscriber is there: their stats say so
        wait_until(lambda: all(last_stats(sub, n).get("state") == "eof" or states(sub, n, "down")
                               for n in streams), 40, "both at their end")

        def settled(n):
            st = last_stats(sub, n)
            return (st.get("state") == "eof" and
                    st["decoded"] == st["sampled_out"] + st["classified"] + st["skipped"])
        wait_until(lambda: all(settled(n) for n in streams), 15,
                   "every kept frame classified (realtime = no)")
        for n in streams:
            st = last_stats(sub, n)
            errors = st.get("decode_errors", 0)
            print("%s: packets %s = decoded %d + decode_skipped %d + decode_errors %d; decoded = "
                  "sampled_out %d + classified %d + skipped %d" %
                  (n, st.get("packets"), st["decoded"], st["decode_skipped"], errors,
                   st["sampled_out"], st["classified"], st["skipped"]))
            self.assertEqual(st["decoded"] + st["decode_skipped"] + errors, total,
                             "%s: decoded %d + decode_skipped %d + decode_errors %d = %d packets"
                             % (n, st["decoded"], st["decode_skipped"], errors, total))
            self.assertEqual(st["packets"], total, n)
            self.assertGreater(st["decode_skipped"], 0, "%s: decode_skip = auto skipped" % n)
            self.assertEqual(states(sub, n, "down"), [])

    # -- 9: pts runs on across a stall and its reconnect
    def test_pts_runs_on_after_a_stall(self):
        srv = self.track(HttpServer(CLIPS))
        url = "http://127.0.0.1:%d/mjpeg/%s?fps=10" % (srv.port,
                                                       os.path.basename(clip("cam.mjpeg")))
        cfg, sock = write_config(self.tmp, [
            ("cam", {"url": url, "sample_fps": "5", "stall_timeout": "1", "open_timeout": "2",
                     "backoff_min": "0.2", "backoff_max": "0.4"})], stats_interval=1)
        self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        wait_until(lambda: len(sub.of("label", "cam")) >= 5, 20, "labels")
        os.kill(srv.p.pid, signal.SIGSTOP)
        try:
            down = sub.wait_for(lambda e: e["event"] == "stream" and e["stream"] == "cam" and
                                e["state"] == "down", timeout=15, what="the stall")
        finally:
            os.kill(srv.p.pid, signal.SIGCONT)
        self.assertIn("stalled", down["reason"])
        before = sub.of("label", "cam")[-1]
        sub.wait_for(lambda e: e["event"] == "stream" and e["stream"] == "cam" and
                     e["state"] == "up", timeout=20, what="up again")
        after = sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == "cam",
                             timeout=20, what="a label after the reconnect")
        print("cam: last pts before the stall %.3f, first after the reconnect %.3f" %
              (before["pts"], after["pts"]))
        self.assertGreater(after["pts"], before["pts"], "pts does not restart after a stall")
        self.assertGreater(after["seq"], before["seq"])


if __name__ == "__main__":
    main()
