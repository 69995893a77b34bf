#!/usr/bin/python3
"""VLC's own RTSP server on loopback, for lcnetd's integration tests.

    vlc_rtsp.py --port PORT [--loop] [--user NAME] [--name NAME] FILE

Runs VLC (Debian's vlc-bin and vlc-plugin-base) with its RTP stream output
and RTSP server: FILE is sent as it is, without re-encoding, at
rtsp://127.0.0.1:PORT/NAME (NAME defaults to "cam").  --port 0 picks a free
port.  Once VLC answers on the port this prints exactly one line
"READY <port>" on stdout.  SIGTERM and SIGINT stop VLC and then this script,
with exit status 0; if this script is killed, VLC gets SIGKILL with it, so
a test can kill a "camera" and start it again on the same port.

VLC's RTSP server sends RTP over UDP only: a SETUP asking for RTP over TCP
(interleaved) gets "461 Unsupported transport".  That is the point of this
server in the tests: it is a camera that someone else wrote, and it refuses
lcnetd's default transport.

VLC will not run as root.  When started as root this runs it as --user
(default lcnetd-test, a system user that tools/deps.sh creates), with the
file copied into a private directory that user can read.
"""

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

VLC = "/usr/bin/vlc"


def log(msg):
    sys.stderr.write("vlc_rtsp: %s\n" % msg)
    sys.stderr.flush()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        try:
            s.connect(("127.0.0.1", port))
            return True
        except OSError:
            return False


def remove_stale():
    """Work directories of instances that were killed (kill -9 leaves no
    time to clean up) hold a copy of their file: remove them."""
    top = tempfile.gettempdir()
    for name in os.listdir(top):
        parts = name.split("-")
        if len(parts) < 4 or parts[:2] != ["vlc", "rtsp"] or not parts[2].isdigit():
            continue
        try:
            os.kill(int(parts[2]), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(top, name), ignore_errors=True)
        except OSError:
            pass


def main(argv):
    ap = argparse.ArgumentParser(description="VLC's RTSP server on 127.0.0.1 serving one file.")
    ap.add_argument("--port", type=int, required=True, help="TCP port, 0 = any free port")
    ap.add_argument("--loop", action="store_true", help="start the file again at its end")
    ap.add_argument("--user", default="lcnetd-test", help="who runs VLC when this runs as root")
    ap.add_argument("--name", default="cam", help="the stream's path")
    ap.add_argument("file")
    args = ap.parse_args(argv)
    if not os.path.isfile(args.file):
        ap.error("%s: no such file" % args.file)
    if not os.path.exists(VLC):
        log("%s is missing: install Debian packages vlc-bin and vlc-plugin-base" % VLC)
        return 1
    port = args.port or free_port()

    remove_stale()
    work = tempfile.mkdtemp(prefix="vlc-rtsp-%d-" % os.getpid())
    os.chmod(work, 0o755)
    media = os.path.join(work, os.path.basename(args.file))
    shutil.copyfile(args.file, media)
    os.chmod(media, 0o644)
    home = os.path.join(work, "home")
    os.mkdir(home)
    cmd = [VLC, "-I", "dummy", "--no-video-title-show", "--rtsp-host=127.0.0.1", media,
           "--sout", "#rtp{sdp=rtsp://127.0.0.1:%d/%s}" % (port, args.name), "--sout-keep"]
    if args.loop:
        cmd.append("--loop")
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam(args.user)
        except KeyError:
            log("user %s does not exist: run tools/deps.sh as root (make does), or pass "
                "--user with an unprivileged user" % args.user)
            shutil.rmtree(work, ignore_errors=True)
            return 1
        os.chown(home, pw.pw_uid, pw.pw_gid)
        cmd = ["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid), "--clear-groups",
               "--pdeathsig", "KILL", "--"] + cmd
    else:
        cmd = ["setpriv", "--pdeathsig", "KILL", "--"] + cmd
    # (--pdeathsig: VLC dies with this script, whatever kills it)
    env = {"HOME": home, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    vlc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=open(os.path.join(work, "vlc.log"), "w"))

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    rc = 0
    end = time.monotonic() + 30
    while not answers(port):
        if vlc.poll() is not None or time.monotonic() > end or stopping:
            with open(os.path.join(work, "vlc.log")) as f:
                log("VLC did not listen on 127.0.0.1:%d (exit %s): %s" %
                    (port, vlc.poll(), f.read()[-2000:]))
            rc = 1
            break
        time.sleep(0.05)
    if rc == 0:
        sys.stdout.write("READY %d\n" % port)
        sys.stdout.flush()
        while not stopping and vlc.poll() is None:
            time.sleep(0.1)
        if vlc.poll() is not None and not stopping:
            log("VLC exited %d" % vlc.returncode)
            rc = 1
    if vlc.poll() is None:
        vlc.terminate()
        try:
            vlc.wait(5)
        except subprocess.TimeoutExpired:
            vlc.kill()
            vlc.wait()
    shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
