#!/usr/bin/python3
"""Serve a directory over HTTP on loopback, for lcnetd's http:// input tests.

    http_server.py --port PORT [--dir DIR] [--rate BYTES_PER_S] [--auth USER:PASSWORD] [-v]

Listens on 127.0.0.1:PORT (0 = any free port) and prints "READY <port>" on
stdout once listening.  GET and HEAD; "Range: bytes=..." requests get
206 Partial Content (single ranges), so libavformat can seek, e.g. to find a
moov atom at the end of an MP4.  Each request is served by its own thread.
--rate caps the bytes per second sent on each response (0 = no cap), to make a
file arrive at about its real-time bitrate or slower.  --auth asks for HTTP
basic authentication: a request without those credentials gets 401 and a
WWW-Authenticate challenge, as a camera with a password does.

Two paths behave like live cameras rather than files; neither ends nor says
how long it is:

  /mjpeg/FILE?fps=F   FILE holds JPEG images one after the other (ffmpeg -f
                      mjpeg); they are sent, looping, as an MJPEG camera does:
                      multipart/x-mixed-replace, one part per image, F images
                      a second on a steady clock (default 10).
  /live/FILE?secs=S   FILE's bytes, looping, paced so that one pass takes S
                      seconds, without Content-Length: an MPEG-TS file then
                      plays as a live stream whose timestamps jump back at
                      each pass, as an encoder restart makes them.

SIGTERM and SIGINT stop the server with exit status 0.
"""

import argparse
import base64
import http.server
import os
import re
import signal
import sys
import threading
import time
import urllib.parse

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
BOUNDARY = "lcnetdframe"


def jpegs(data):
    """The images of a file of JPEGs one after the other: each runs from its
    SOI marker to its EOI marker (the coder escapes 0xFF inside the data, so
    an EOI marker appears nowhere else in the files ffmpeg writes)."""
    out, i = [], 0
    while True:
        a = data.find(b"\xff\xd8", i)
        if a < 0:
            return out
        b = data.find(b"\xff\xd9", a + 2)
        if b < 0:
            return out
        out.append(data[a:b + 2])
        i = b + 2


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as ffmpeg's http client expects
    rate = 0
    verbose = False
    auth = None             # b"user:password", or None: no authentication

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("http_server: %s %s\n" % (self.address_string(), fmt % args))

    def authorised(self):
        if self.auth is None:
            return True
        want = "Basic " + base64.b64encode(self.auth).decode()
        if self.headers.get("Authorization") == want:
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="lcnetd-test"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        for prefix, serve in (("/mjpeg/", self.serve_mjpeg), ("/live/", self.serve_live)):
            if url.path.startswith(prefix):
                if not self.authorised():
                    return
                path = self.translate_path(url.path[len(prefix) - 1:])
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    self.send_error(404, "File not found")
                    return
                self.close_connection = True
                try:
                    serve(data, query)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return
        super().do_GET()

    def live_head(self, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()

    def serve_mjpeg(self, data, query):
        frames = jpegs(data)
        if not frames:
            self.send_error(415, "no JPEG image in the file")
            return
        fps = float(query.get("fps", ["10"])[0])
        self.live_head("multipart/x-mixed-replace; boundary=%s" % BOUNDARY)
        t0, n = time.monotonic(), 0
        while True:
            img = frames[n % len(frames)]
            self.wfile.write(b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                             % (BOUNDARY.encode(), len(img)) + img + b"\r\n")
            self.wfile.flush()
            n += 1
            # a steady clock: the rate holds however long a write took
            pause = t0 + n / fps - time.monotonic()
            if pause > 0:
                time.sleep(pause)

    def serve_live(self, data, query):
        secs = float(query.get("secs", ["1"])[0])
        rate = len(data) / secs
        chunk = max(188, int(rate / 50) // 188 * 188)
        self.live_head(self.guess_type(self.path.split("?")[0]))
        t0, sent = time.monotonic(), 0
        while True:
            for i in range(0, len(data), chunk):
                buf = data[i:i + chunk]
                self.wfile.write(buf)
                self.wfile.flush()
                sent += len(buf)
                pause = t0 + sent / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)

    def send_head(self):
        """Like the base class, plus single byte ranges and Accept-Ranges."""
        self._remaining = None
        if not self.authorised():
            return None
        path = self.translate_path(self.path)
        if os.path.isdir(path):
            return super().send_head()  # directory listing / redirect / index
        try:
            f = open(path, "rb")
        except OSError:
            self.send_error(404, "File not found")
            return None
        try:
            size = os.fstat(f.fileno()).st_size
            start, end = 0, size - 1
            status = 200
            rng = self.headers.get("Range")
            if rng:
                m = RANGE_RE.match(rng.strip())
                if m and (m.group(1) or m.group(2)):
                    if m.group(1):
                        start = int(m.group(1))
                        if m.group(2):
                            end = min(int(m.group(2)), size - 1)
                    else:  # suffix range: last N bytes
                        start = max(0, size - int(m.group(2)))
                    if start >= size or start > end:
                        f.close()
                        self.send_response(416)
                        self.send_header("Content-Range", "bytes */%d" % size)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return None
                    status = 206
            self.send_response(status)
            self.send_header("Content-Type", self.guess_type(path))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(end - start + 1))
            if status == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            self.end_headers()
            f.seek(start)
            self._remaining = end - start + 1
            return f
        except Exception:
            f.close()
            raise

    def copyfile(self, source, outputfile):
        left = getattr(self, "_remaining", None)
        chunk = 65536
        if self.rate:
            chunk = max(1024, min(chunk, self.rate // 10))
        t = time.monotonic()
        while left is None or left > 0:
            buf = source.read(chunk if left is None else min(chunk, left))
            if not buf:
                break
            outputfile.write(buf)
            if left is not None:
                left -= len(buf)
            if self.rate:
                t += len(buf) / float(self.rate)
                pause = t - time.monotonic()
                if pause > 0:
                    time.sleep(pause)


class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        # A client closing mid-transfer is normal in these tests.
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def main(argv):
    ap = argparse.ArgumentParser(description="Serve a directory over HTTP on 127.0.0.1.")
    ap.add_argument("--port", type=int, required=True, help="TCP port, 0 = any free port")
    ap.add_argument("--dir", default=".", help="directory to serve (default: current)")
    ap.add_argument("--rate", type=int, default=0, help="bytes/s per response, 0 = no cap")
    ap.add_argument("--auth", help="USER:PASSWORD for HTTP basic authentication")
    ap.add_argument("-v", "--verbose", action="store_true", help="log requests on stderr")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.dir):
        ap.error("%s: not a directory" % args.dir)

    root = os.path.abspath(args.dir)

    class H(Handler):
        rate = args.rate
        verbose = args.verbose
        auth = args.auth.encode() if args.auth is not None else None

        def __init__(self, *a, **kw):
            super().__init__(*a, directory=root, **kw)

    try:
        srv = Server(("127.0.0.1", args.port), H)
    except OSError as e:
        sys.stderr.write("http_server: cannot listen on 127.0.0.1:%d: %s\n" % (args.port, e))
        return 1

    def on_signal(_sig, _frame):
        # shutdown() waits for serve_forever() to return: call it elsewhere.
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    sys.stdout.write("READY %d\n" % srv.server_address[1])
    sys.stdout.flush()
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
