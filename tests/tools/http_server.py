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

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as ffmpeg's http client expects
    rate = 0
    verbose = False
    auth = None             # b"user:password", or None: no authentication

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("http_server: %s %s\n" % (self.address_string(), fmt % args))

    def send_head(self):
        """Like the base class, plus single byte ranges and Accept-Ranges."""
        self._remaining = None
        if self.auth is not None:
            want = "Basic " + base64.b64encode(self.auth).decode()
            if self.headers.get("Authorization") != want:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="lcnetd-test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
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
