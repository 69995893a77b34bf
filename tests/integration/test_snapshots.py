"""Snapshots (snapshot = yes) with the real daemon on real encoded clips:
each JPEG decodes and is the frame its label event names, retention holds
over hundreds of changes and across a restart, a full file system gives
error events while labels keep flowing, and `snapshot NAME` answers.

With the test model (random weights) the top-1 of clip-a.mp4 changes on
most frames: with hysteresis = 1 one 8 s pass gives about 150 changes, so
a looping clip gives hundreds in seconds.
"""
import math
import os
import socket
import json
import subprocess
import tempfile
import time
import unittest

import harness as h

W, H = 640, 360                 # clip-a.mp4
FRAME = W * H * 3

# A JPEG of the triggering frame must be at least this close to it.  The
# daemon encodes at qscale 3, where FFmpeg's own MJPEG encoder gives 42.8 dB
# on the clip's first frame, and the snapshots measured 41.8-44.7 dB; two
# frames of the clip apart are 16-20 dB from each other, and a snapshot with
# the wrong range (limited-range pixels taken as full) is 24.6 dB.  35 dB
# accepts the right frame encoded well and nothing else.
PSNR_MIN = 35.0


def rgb(args):
    """Frames as rgb24 bytes, decoded by the ffmpeg CLI (an independent
    decoder of both the clip and the JPEGs)."""
    return subprocess.run(["ffmpeg", "-v", "error"] + args +
                          ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                          check=True, stdout=subprocess.PIPE).stdout


def psnr(a, b):
    if len(a) != len(b):
        return 0.0
    se = sum((x - y) * (x - y) for x, y in zip(a, b))
    return 99.0 if se == 0 else 10 * math.log10(255.0 * 255.0 * len(a) / se)


def command(sock, line, want):
    """Send one command on a connection of its own; the first reply whose
    event is in `want`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect(sock)
        f = c.makefile("rwb")
        f.readline()                                    # hello
        f.write(line.encode() + b"\n")
        f.flush()
        while True:
            raw = f.readline()
            if not raw:
                raise AssertionError("connection closed before the answer to %r" % line)
            e = json.loads(raw)
            if e["event"] in want:
                return e


def jpegs(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith(".jpg"))


class SnapshotTest(h.DaemonTest):
    def start(self, streams, snapdir, stats_interval=2, model_extra=""):
        cfg, sock = h.write_config(self.tmp, streams, daemon_extra="snapshot_dir = %s" % snapdir,
                                   stats_interval=stats_interval, model_extra=model_extra)
        d = self.track(h.Daemon(cfg, sock))
        sub = self.track(h.Subscriber(sock))
        return d, sub, sock

    def test_jpeg_is_the_triggering_frame(self):
        snapdir = os.path.join(self.tmp, "snaps")
        d, sub, sock = self.start([
            ("a", {"url": h.clip("clip-a.mp4"), "realtime": "no", "publish": "change",
                   "hysteresis": 1, "snapshot": "yes"}),
            ("b", {"url": h.clip("clip-b.mkv"), "realtime": "no", "publish": "change",
                   "hysteresis": 1})], snapdir)
        sub.wait_for(lambda e: e.get("event") == "stream" and e["stream"] == "a" and
                     e["state"] == "eof", timeout=60, what="end of clip-a")
        # every change counted as written, dropped or failed: the writer is done
        def settled():
            st = h.last_stats(sub, "a")
            return st and st["published"] and (st["snapshots"] + st["snapshot_errors"] +
                                               st["snapshot_dropped"] == st["published"])
        h.wait_until(settled, 30, "the writer finishing clip-a's snapshots")
        st = h.last_stats(sub, "a")
        self.assertEqual(st["snapshot_errors"], 0)
        self.assertGreater(st["snapshots"], 50)

        shots = [e for e in sub.of("label", "a") if "snapshot" in e]
        self.assertTrue(shots, "no label event of a named a snapshot")
        for e in shots:
            self.assertEqual(os.path.dirname(e["snapshot"]), os.path.join(snapdir, "a"))
            self.assertEqual(list(e)[-2:], ["snapshot", "sent_mono_us"])   # appended last
        # b keeps none: its lines have no snapshot field, its stats no counters
        self.assertTrue(sub.of("label", "b"))
        self.assertFalse([e for e in sub.of("label", "b") if "snapshot" in e])
        self.assertNotIn("snapshots", h.last_stats(sub, "b"))
        self.assertFalse(os.path.exists(os.path.join(snapdir, "b")))

        # a spread of them: each is the frame of its event's seq (frames
        # count from 1), closer to it than to the frames around it
        picks = shots[:: max(1, len(shots) // 5)][:6]
        for e in picks:
            path, n = e["snapshot"], e["seq"] - 1
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o640)
            shot = rgb(["-i", path])
            self.assertEqual(len(shot), FRAME, "%s is not a %dx%d picture" % (path, W, H))
            near = [k for k in range(n - 2, n + 3) if k >= 0]
            sel = "+".join("eq(n\\,%d)" % k for k in near)
            frames = rgb(["-i", h.clip("clip-a.mp4"), "-vf", "select='%s'" % sel,
                          "-vsync", "0"])
            scores = {k: psnr(shot, frames[i * FRAME:(i + 1) * FRAME])
                      for i, k in enumerate(near)}
            self.assertGreaterEqual(scores[n], PSNR_MIN, "seq %d: %s" % (e["seq"], scores))
            self.assertEqual(max(scores, key=scores.get), n, "seq %d: %s" % (e["seq"], scores))

        # the command names the newest file; errors say what is wrong
        newest = os.path.join(snapdir, "a", jpegs(os.path.join(snapdir, "a"))[-1])
        ans = command(sock, "snapshot a", ("snapshot", "error"))
        self.assertEqual(ans, {"event": "snapshot", "stream": "a", "path": newest})
        err = command(sock, "snapshot b", ("snapshot", "error"))
        self.assertIn("stream b keeps no snapshots", err["message"])
        err = command(sock, "snapshot nope", ("snapshot", "error"))
        self.assertIn("no stream nope is running", err["message"])

    def test_region_snapshot_is_the_region(self):
        # A region's snapshot is the rectangle of the decoded frame it
        # classified (documented in lcnetd.ini(5)): the left half here,
        # checked as the whole frame is above, against the same crop of
        # the clip's decoded frame.
        snapdir = os.path.join(self.tmp, "snaps")
        _, sub, _ = self.start(
            [("r", {"url": h.clip("clip-a.mp4"), "realtime": "no", "publish": "change",
                    "hysteresis": 1, "snapshot": "yes", "regions": "left"})],
            snapdir, model_extra="\n[region:left]\ncrop = 0,0,50%,100%\n")
        sub.wait_for(lambda e: e.get("event") == "stream" and e["stream"] == "r" and
                     e["state"] == "eof", timeout=60, what="end of clip-a")

        def settled():
            st = h.last_stats(sub, "r")
            return st and st["published"] and (st["snapshots"] + st["snapshot_errors"] +
                                               st["snapshot_dropped"] == st["published"])
        h.wait_until(settled, 30, "the writer finishing the region's snapshots")
        shots = [e for e in sub.of("label", "r") if "snapshot" in e]
        self.assertTrue(shots, "no label event of r named a snapshot")
        w = W // 2
        for e in shots[:: max(1, len(shots) // 3)][:4]:
            self.assertEqual(e["region"], "left")
            self.assertEqual(list(e)[-3:], ["region", "snapshot", "sent_mono_us"])
            path, n = e["snapshot"], e["seq"] - 1
            shot = rgb(["-i", path])
            self.assertEqual(len(shot), w * H * 3, "%s is not a %dx%d picture" % (path, w, H))
            near = [k for k in range(n - 2, n + 3) if k >= 0]
            sel = "+".join("eq(n\\,%d)" % k for k in near)
            frames = rgb(["-i", h.clip("clip-a.mp4"), "-vf",
                          "select='%s',crop=%d:%d:0:0" % (sel, w, H), "-vsync", "0"])
            size = w * H * 3
            scores = {k: psnr(shot, frames[i * size:(i + 1) * size]) for i, k in enumerate(near)}
            self.assertGreaterEqual(scores[n], PSNR_MIN, "seq %d: %s" % (e["seq"], scores))
            self.assertEqual(max(scores, key=scores.get), n, "seq %d: %s" % (e["seq"], scores))

    def run_until(self, sub, snapshots, keep_check, timeout=120):
        """Until stream a wrote `snapshots` more; keep_check() sampled meanwhile."""
        base = None
        end = time.time() + timeout
        while time.time() < end:
            keep_check()
            st = h.last_stats(sub, "a")
            if st:
                base = st["snapshots"] if base is None else base
                if st["snapshots"] - base >= snapshots:
                    return st
            time.sleep(0.2)
        self.fail("stream a did not write %d snapshots in %d s: %s" %
                  (snapshots, timeout, h.last_stats(sub, "a")))

    def test_retention_holds_over_hundreds_of_changes(self):
        snapdir = os.path.join(self.tmp, "snaps")
        folder = os.path.join(snapdir, "a")
        keep = 25
        stream = {"url": h.clip("clip-a.mp4"), "realtime": "no", "loop": "yes",
                  "publish": "change", "hysteresis": 1, "snapshot": "yes",
                  "snapshot_keep": keep}
        d, sub, sock = self.start([("a", stream)], snapdir, stats_interval=1)
        seen = []

        def at_most_keep():
            if os.path.isdir(folder):
                n = len(jpegs(folder))
                seen.append(n)
                self.assertLessEqual(n, keep)
        st = self.run_until(sub, 300, at_most_keep)
        self.assertEqual(st["snapshot_errors"], 0)
        d.stop()
        kept = jpegs(folder)
        self.assertEqual(len(kept), keep)
        self.assertGreater(max(seen), 0)
        # the oldest went first: everything removed is older than all kept
        named = {os.path.basename(e["snapshot"]) for e in sub.of("label", "a") if "snapshot" in e}
        removed = named - set(kept)
        self.assertGreater(len(removed), 200)
        self.assertLess(max(removed), min(kept))

        # a restart with a byte limit: the files of the first run count
        limit_mb = 0.2
        stream.update(snapshot_keep=1000, snapshot_max_mb=limit_mb)
        d, sub, sock = self.start([("a", stream)], snapdir, stats_interval=1)
        limit = limit_mb * 1024 * 1024

        def within_bytes():
            names = jpegs(folder)
            # the writer applies the new limits to the folder before its
            # first file of this run, on a thread that yields to inference:
            # until that file is there, the first run's files may be too
            if not names or names[-1] in kept:
                return
            total = 0
            for n in names:
                try:
                    total += os.path.getsize(os.path.join(folder, n))
                except FileNotFoundError:
                    pass            # removed while we looked
            # the newest always stays; beyond it, the limit holds
            if len(names) > 1:
                self.assertLessEqual(total - os.path.getsize(os.path.join(folder, names[-1])),
                                     limit)
        self.run_until(sub, 100, within_bytes)
        d.stop()
        names = jpegs(folder)
        total = sum(os.path.getsize(os.path.join(folder, n)) for n in names)
        self.assertLessEqual(total, limit)
        self.assertGreater(len(names), 3)
        self.assertFalse(set(names) & set(kept), "the first run's files outlived newer ones")

    @unittest.skipUnless(os.geteuid() == 0, "mounting a small tmpfs needs root")
    def test_full_disk_is_an_error_and_no_stall(self):
        # beside self.tmp, not in it: tearDown removes that before cleanups run
        snapdir = tempfile.mkdtemp(prefix="lcnetd-full-")
        self.addCleanup(os.rmdir, snapdir)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", snapdir], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", snapdir])
        d, sub, sock = self.start([
            ("a", {"url": h.clip("clip-a.mp4"), "realtime": "no", "loop": "yes",
                   "publish": "change", "hysteresis": 1, "snapshot": "yes"})],
            snapdir, stats_interval=1)
        err = sub.wait_for(lambda e: e.get("event") == "error", timeout=60,
                           what="an error event")
        self.assertEqual(err["stream"], "a")
        self.assertEqual(err["source"], "snapshot")
        self.assertIn("No space left on device", err["message"])
        self.assertIn(snapdir, err["message"])
        self.assertIn("free space there", err["message"])
        # labels keep coming: 100 more, frames still in order
        after = len(sub.of("label", "a"))
        h.wait_until(lambda: len(sub.of("label", "a")) >= after + 100, 60,
                     "100 label events after the disk filled")
        seqs = [e["seq"] for e in sub.of("label", "a")]
        self.assertEqual(seqs, sorted(seqs))
        h.wait_until(lambda: h.last_stats(sub, "a").get("snapshot_errors", 0) >= 5, 30,
                     "snapshot_errors counted in stats")
        st = h.last_stats(sub, "a")
        self.assertGreater(st["snapshots"], 0)
        self.assertEqual(d.p.poll(), None)
        d.stop()
        self.assertFalse([n for n in os.listdir(os.path.join(snapdir, "a"))
                          if n.endswith(".part")], "a partial file was left behind")


if __name__ == "__main__":
    h.main()
