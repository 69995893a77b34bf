#!/usr/bin/python3
"""build/rtsp-replay, the benchmark's RTSP server (bench/rtsp_replay.c):
FFmpeg decodes its streams cleanly, in real time, with timestamps that run on
across the file's loop; bad requests get 4xx answers and leave it running."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILD, ReadyServer  # noqa: E402

REPLAY = os.path.join(BUILD, "rtsp-replay")


def encode(path, codec_args, seconds=2):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=30", "-t", str(seconds)] + codec_args + [path],
                   check=True)


class Replay(ReadyServer):
    def __init__(self, mounts, extra=()):
        super().__init__([REPLAY, "--port", "0"] + list(extra) +
                         ["%s=%s" % (k, v) for k, v in mounts.items()], "rtsp-replay")


class ReplayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="lcnetd-replay-")
        # Two 2 s clips, so that 5 s of play crosses the loop twice: MP4
        # (avcC, length-prefixed NAL units) and MPEG-TS (Annex-B).
        h264 = ["-c:v", "libx264", "-g", "30", "-bf", "0", "-pix_fmt", "yuv420p"]
        cls.mp4 = os.path.join(cls.tmp, "a.mp4")
        cls.ts = os.path.join(cls.tmp, "b.ts")
        encode(cls.mp4, h264)
        encode(cls.ts, h264 + ["-f", "mpegts"])
        cls.stats = os.path.join(cls.tmp, "stats")
        cls.srv = Replay({"a": cls.mp4, "b": cls.ts}, ["--stagger", "0.5", "--stats", cls.stats])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def tearDown(self):
        self.assertIsNone(self.srv.p.poll(), "rtsp-replay died: %s" % self.srv.stderr())

    def rtsp(self, request):
        """Sends raw bytes on a fresh connection; returns the first answer's head."""
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=5) as s:
            s.sendall(request)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        return buf.decode(errors="replace")

    def test_decodes_in_real_time_across_loops(self):
        # Decode both mounts for 5 s of wall time; framecrc lists every frame's
        # pts.  ffmpeg is killed, not interrupted: on SIGINT it may itself
        # complain about the interrupted output.
        procs, lines = {}, {}
        for name in ("a", "b"):
            procs[name] = subprocess.Popen(
                ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", self.srv.url(name),
                 "-map", "0:v", "-f", "framecrc", "-"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            lines[name] = []
            threading.Thread(target=lambda f, out: out.extend(f), daemon=True,
                             args=(procs[name].stdout, lines[name])).start()
        time.sleep(5)
        got = {name: list(ls) for name, ls in lines.items()}
        for name, p in procs.items():
            p.kill()
            err = p.stderr.read()
            p.wait()
            p.stdout.close()
            p.stderr.close()
            self.assertEqual(err.strip(), "", "%s: ffmpeg reported errors" % name)
            pts = [int(ln.split(",")[2]) for ln in got[name] if ln.strip() and not ln.startswith("#")]
            self.assertTrue(100 <= len(pts) <= 200,
                            "%s: %d frames in 5 s of a 30 fps stream" % (name, len(pts)))
            self.assertGreater(pts[-1], 60, "%s: not past the 2 s loop" % name)
            self.assertTrue(all(b > a for a, b in zip(pts, pts[1:])),
                            "%s: pts not increasing across the loop: %s" % (name, pts))
        with open(self.stats) as f:
            self.assertRegex(f.read(), r"^\d+ \d+\n$")

    def test_ffprobe_sees_h264(self):
        r = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
                            "stream=codec_name,width,height", "-of", "csv=p=0", self.srv.url("a")],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.stderr.strip(), "")
        self.assertEqual(r.stdout.strip(), "h264,320,240")

    def test_bad_requests(self):
        head = self.rtsp(b"GARBAGE\r\n\r\n")
        self.assertRegex(head, r"^RTSP/1.0 400 ")
        head = self.rtsp(b"OPTIONS * RTSP/1.0\r\n\r\n")          # no CSeq
        self.assertRegex(head, r"^RTSP/1.0 400 ")
        head = self.rtsp(b"\x16\x03\x01\x00\xff" + b"\xff" * 9000)  # not text, no end of head
        self.assertRegex(head, r"^RTSP/1.0 400 ")
        url = self.srv.url("nope").encode()
        head = self.rtsp(b"DESCRIBE " + url + b" RTSP/1.0\r\nCSeq: 2\r\n\r\n")
        self.assertRegex(head, r"^RTSP/1.0 404 ")
        url = self.srv.url("a").encode()
        head = self.rtsp(b"SETUP " + url + b"/stream=0 RTSP/1.0\r\nCSeq: 3\r\n"
                         b"Transport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n")
        self.assertRegex(head, r"^RTSP/1.0 461 ")
        head = self.rtsp(b"PLAY " + url + b" RTSP/1.0\r\nCSeq: 4\r\nSession: 1234\r\n\r\n")
        self.assertRegex(head, r"^RTSP/1.0 45\d ")
        # still serving
        head = self.rtsp(b"OPTIONS " + url + b" RTSP/1.0\r\nCSeq: 5\r\n\r\n")
        self.assertRegex(head, r"^RTSP/1.0 200 OK\r\nCSeq: 5\r\n")
        self.assertIn("DESCRIBE", head)

    def test_refuses_other_codecs(self):
        mpeg4 = os.path.join(self.tmp, "c.mp4")
        encode(mpeg4, ["-c:v", "mpeg4"], seconds=1)
        p = subprocess.run([REPLAY, "--port", "0", "c=" + mpeg4], capture_output=True, text=True, timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stdout, "")
        self.assertIn("only H.264", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
