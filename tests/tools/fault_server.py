#!/usr/bin/python3
"""Misbehaving TCP servers on loopback, for lcnetd's fault tests.

    fault_server.py --mode MODE --port PORT [--rate BYTES_PER_S] [--interval SECONDS]

Listens on 127.0.0.1:PORT (0 = any free port), prints "READY <port>" on
stdout once listening, and treats every connection (each in its own thread)
according to MODE:

  stall      accept and read whatever comes, never answer (the client must
             time out)
  garbage    wait for the first bytes of a request, then send random bytes
             forever at --rate bytes/s (default 65536)
  close      accept and close at once (orderly FIN, nothing sent)
  reset      accept and reset at once (RST, via SO_LINGER 0)
  slowloris  wait for a request, send a valid status line ("RTSP/1.0 200 OK"
             for RTSP requests, "HTTP/1.1 200 OK" otherwise), then the rest of
             the headers one byte every --interval seconds (default 2), never
             finishing them
  notfound   answer RTSP OPTIONS with 200, then every other request with
             404 and --reason as the reason phrase (default 200 "a"s), as a
             hostile camera may: clients quote the phrase in their errors

SIGTERM and SIGINT close everything and exit with status 0.  Each connection
also ends by itself after --max-conn-time seconds (default 600), so that no
stray test can keep one going forever.
"""

import argparse
import os
import re
import selectors
import signal
import socket
import struct
import sys
import threading
import time

STOP = threading.Event()


def log(msg):
    sys.stderr.write("fault_server: %s\n" % msg)
    sys.stderr.flush()


def read_request(conn, deadline):
    """Read until a blank line ends the request head (or 64 KiB, or EOF).

    Returns the bytes read, or None if the peer closed before sending anything.
    """
    data = b""
    conn.settimeout(0.2)
    while not STOP.is_set() and time.monotonic() < deadline:
        try:
            chunk = conn.recv(4096)
        except socket.timeout:
            if data:
                # Something came and then a pause: treat it as the request.
                return data
            continue
        if not chunk:
            return data or None
        data += chunk
        if b"\r\n\r\n" in data or b"\n\n" in data or len(data) >= 65536:
            return data
    return data or None


def sleep_until(t):
    """Sleep until monotonic time t; False if we must stop."""
    while True:
        left = t - time.monotonic()
        if left <= 0:
            return not STOP.is_set()
        if STOP.wait(min(left, 0.5)):
            return False


def mode_stall(conn, args, deadline):
    conn.settimeout(0.5)
    while not STOP.is_set() and time.monotonic() < deadline:
        try:
            if not conn.recv(65536):
                return  # peer gave up
        except socket.timeout:
            pass


def mode_garbage(conn, args, deadline):
    if read_request(conn, deadline) is None:
        return
    conn.settimeout(5)
    chunk = max(1, min(4096, args.rate // 16))
    period = chunk / float(args.rate)
    t = time.monotonic()
    while time.monotonic() < deadline:
        conn.sendall(os.urandom(chunk))
        t += period
        if not sleep_until(t):
            return


def mode_slowloris(conn, args, deadline):
    req = read_request(conn, deadline)
    if req is None:
        return
    first = req.split(b"\n", 1)[0]
    if b"RTSP/" in first:
        m = re.search(rb"(?im)^cseq:\s*(\d+)", req)
        status = b"RTSP/1.0 200 OK\r\n"
        rest = b"CSeq: " + (m.group(1) if m else b"1") + b"\r\n"
    else:
        status = b"HTTP/1.1 200 OK\r\n"
        rest = b"Content-Type: application/octet-stream\r\n"
    rest += b"X-Slow: " + b"z" * 1000000
    conn.settimeout(5)
    conn.sendall(status)
    t = time.monotonic()
    for i in range(len(rest)):
        t += args.interval
        if not sleep_until(t) or time.monotonic() >= deadline:
            return
        conn.sendall(rest[i:i + 1])


def mode_notfound(conn, args, deadline):
    reason = args.reason.encode()
    while time.monotonic() < deadline:
        req = read_request(conn, deadline)
        if req is None:
            return
        m = re.search(rb"(?im)^cseq:\s*(\d+)", req)
        cseq = b"CSeq: " + (m.group(1) if m else b"1") + b"\r\n"
        if req.startswith(b"OPTIONS "):
            conn.sendall(b"RTSP/1.0 200 OK\r\n" + cseq +
                         b"Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n")
        elif b"RTSP/" in req.split(b"\n", 1)[0]:
            conn.sendall(b"RTSP/1.0 404 " + reason + b"\r\n" + cseq + b"\r\n")
        else:
            conn.sendall(b"HTTP/1.1 404 " + reason + b"\r\nContent-Length: 0\r\n\r\n")


def handle(conn, peer, args):
    deadline = time.monotonic() + args.max_conn_time
    try:
        {"stall": mode_stall, "garbage": mode_garbage,
         "slowloris": mode_slowloris, "notfound": mode_notfound}[args.mode](conn, args, deadline)
    except OSError as e:
        # The client hung up or reset: that is what clients under test do.
        if args.verbose:
            log("%s:%d: %s" % (peer[0], peer[1], e))
    finally:
        try:
            conn.close()
        except OSError:
            pass
        if args.verbose:
            log("%s:%d: closed" % peer)


def main(argv):
    ap = argparse.ArgumentParser(description="Misbehaving TCP server on 127.0.0.1.")
    ap.add_argument("--mode", required=True,
                    choices=["stall", "garbage", "close", "reset", "slowloris", "notfound"])
    ap.add_argument("--port", type=int, required=True, help="TCP port, 0 = any free port")
    ap.add_argument("--rate", type=int, default=65536, help="garbage: bytes per second")
    ap.add_argument("--interval", type=float, default=2.0,
                    help="slowloris: seconds between bytes")
    ap.add_argument("--reason", default="a" * 200,
                    help="notfound: the reason phrase of the 404")
    ap.add_argument("--max-conn-time", type=float, default=600.0,
                    help="end any connection after this many seconds")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.rate <= 0 or args.interval <= 0:
        ap.error("--rate and --interval must be positive")

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        ls.bind(("127.0.0.1", args.port))
    except OSError as e:
        log("cannot listen on 127.0.0.1:%d: %s" % (args.port, e))
        return 1
    ls.listen(128)
    ls.setblocking(False)

    # Signals only set a flag and wake the selector through a pipe.
    rfd, wfd = os.pipe()
    os.set_blocking(wfd, False)

    def on_signal(_sig, _frame):
        STOP.set()
        try:
            os.write(wfd, b"x")
        except OSError:
            pass
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    sel.register(rfd, selectors.EVENT_READ)

    sys.stdout.write("READY %d\n" % ls.getsockname()[1])
    sys.stdout.flush()

    while not STOP.is_set():
        for key, _ in sel.select():
            if key.fileobj is not ls:
                continue
            try:
                conn, peer = ls.accept()
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                log("accept: %s" % e)
                continue
            if args.verbose:
                log("%s:%d: accepted (%s)" % (peer[0], peer[1], args.mode))
            conn.setblocking(True)
            if args.mode == "close":
                conn.close()
            elif args.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                threading.Thread(target=handle, args=(conn, peer, args), daemon=True).start()
    ls.close()
    # Handler threads notice STOP within half a second; do not wait for them.
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
