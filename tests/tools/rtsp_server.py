#!/usr/bin/python3
"""A camera-like RTSP server on loopback for lcnetd's integration tests.

    rtsp_server.py --port PORT [--loop] [--unshared] [--stagger S] [--stats FILE] [-v]
                   [--auth USER:PASSWORD [--digest]] NAME=FILE [NAME=FILE ...]

Serves each FILE (H.264 in MP4, Matroska or MPEG-TS, or a raw Annex-B .h264)
at rtsp://127.0.0.1:PORT/NAME without re-encoding, paced in real time.
--port 0 picks a free port.  When the server listens it prints exactly one
line "READY <port>" on stdout.  SIGTERM and SIGINT stop it with exit status 0.

How a mount behaves (like an IP camera):
  * The stream is live.  One pipeline per mount is shared by all clients
    (unless --unshared): a client that joins later gets the current frames,
    not the start of the file.  The SDP has no seekable range.
  * The file starts playing when the first client asks for the mount.  When
    the last client has gone, the pipeline is torn down; the next client
    starts the file from the beginning again.
  * --loop: at the end of the file, it starts over at once, with timestamps
    that run on (the RTP clock never jumps back), so the stream never ends.
    Without --loop the stream ends (RTCP BYE, then EOS) at the end of the file;
    a client that comes after that gets a new pipeline, from the start.
  * SPS/PPS are sent in-band before every IDR frame, so a client that joins
    mid-stream can decode from the next keyframe (GOP length of the file).
  * RTCP sender reports (NTP <-> RTP time) are on, as rtpbin does by default.
  * --stagger S: the Nth mount on the command line (from 0) starts playing
    (N * S) modulo 1 s after its first client asks for it, so that many
    mounts of one file opened at once do not all send their keyframes in the
    same instant (benchmarks).  The delay is only at the start: a mount keeps
    its phase across loops.
  * --stats FILE: once a second, write "<mounts playing> <frames sent>" to
    FILE (rewritten in place), so a benchmark can check the server kept up.
  * --auth USER:PASSWORD: every mount needs that login, with HTTP Basic
    authentication (RTSP 401 and a Basic challenge otherwise), or with
    --digest, Digest authentication (MD5) only.  The check is GStreamer's
    own (GstRTSPAuth), as a camera built on it would do it.
  * -v also logs "client connected from ..." once per connection, so a test
    can count a client's attempts from the server's side.

How it works: for each client-facing (media) pipeline, a private "reader"
pipeline demuxes the file (filesrc ! parsebin ! h264parse ! appsink) as fast
as the media pipeline takes the frames.  The media pipeline is
    appsrc (live) ! clocksync ! rtph264pay name=pay0 pt=96
and the reader re-stamps each frame onto the media pipeline's running time,
so the clocksync paces the stream at the file's own frame rate.
"""

import argparse
import os
import signal
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

NONE = Gst.CLOCK_TIME_NONE
VERBOSE = False
STATS = {"frames": 0, "playing": 0}  # for --stats; approximate (no lock)


def log(msg):
    sys.stderr.write("rtsp_server: %s\n" % msg)
    sys.stderr.flush()


def debug(msg):
    if VERBOSE:
        log(msg)


def valid(t):
    return t is not None and t != NONE


class Feeder:
    """Reads one file with a private pipeline and feeds one media's appsrc."""

    def __init__(self, name, path, loop, appsrc, on_eos=None, delay=0.0):
        self.on_eos = on_eos
        self.delay = delay
        self.name = name
        self.path = path
        self.loop = loop
        self.appsrc = appsrc
        self.lock = threading.Lock()
        self.stopped = False
        self.started = False
        self.reader = None
        # Timestamp mapping (nanoseconds), see _on_sample().
        self.anchor = None  # media running time of the first frame
        self.offset = 0  # stream time at which the current pass starts
        self.pass_base = None  # first DTS/PTS of the file in this pass
        self.pass_end = None  # largest PTS+duration seen in this pass
        self.last_dur = 0
        self.caps = None
        self.frames = 0
        self.passes = 0

    # -- lifecycle (main-loop thread) --------------------------------------

    def start(self):
        with self.lock:
            if self.started or self.stopped:
                return
            self.started = True
        if self.delay > 0:
            GLib.timeout_add(int(self.delay * 1000), self._build_reader)
        else:
            GLib.idle_add(self._build_reader)

    def stop(self):
        with self.lock:
            self.stopped = True
        self._drop_reader()
        debug("%s: stopped after %d frames, %d pass(es)" % (self.name, self.frames, self.passes))

    def _drop_reader(self):
        reader, self.reader = self.reader, None
        if reader is not None:
            bus = reader.get_bus()
            bus.remove_signal_watch()
            reader.set_state(Gst.State.NULL)

    def _build_reader(self):
        if self.stopped:
            return False
        p = Gst.Pipeline.new("reader-%s" % self.name)
        src = Gst.ElementFactory.make("filesrc")
        src.set_property("location", self.path)
        pb = Gst.ElementFactory.make("parsebin")
        parse = Gst.ElementFactory.make("h264parse")
        parse.set_property("config-interval", -1)  # SPS/PPS before every IDR
        cf = Gst.ElementFactory.make("capsfilter")
        cf.set_property(
            "caps",
            Gst.Caps.from_string("video/x-h264,stream-format=byte-stream,alignment=au"),
        )
        sink = Gst.ElementFactory.make("appsink")
        sink.set_property("sync", False)  # the media pipeline paces
        sink.set_property("emit-signals", True)
        sink.set_property("max-buffers", 4)
        for e in (src, pb, parse, cf, sink):
            p.add(e)
        src.link(pb)
        parse.link(cf)
        cf.link(sink)
        pb.connect("pad-added", self._on_pad, parse)
        sink.connect("new-sample", self._on_sample)
        bus = p.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self._on_message)
        self.reader = p
        self.pass_base = None
        self.pass_end = None
        self.passes += 1
        if p.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            log("%s: cannot play %s" % (self.name, self.path))
            self._end()
        return False

    def _on_pad(self, pb, pad, parse):
        caps = pad.get_current_caps() or pad.query_caps(None)
        sname = caps.get_structure(0).get_name() if caps and caps.get_size() else "?"
        sinkpad = parse.get_static_pad("sink")
        if sname == "video/x-h264" and not sinkpad.is_linked():
            pad.link(sinkpad)
            return
        # Anything else (audio, a second video) is read and dropped.
        debug("%s: ignoring stream %s" % (self.name, sname))
        fs = Gst.ElementFactory.make("fakesink")
        fs.set_property("sync", False)
        fs.set_property("async", False)
        pipe = pb.get_parent()
        pipe.add(fs)
        fs.sync_state_with_parent()
        pad.link(fs.get_static_pad("sink"))

    def _on_message(self, _bus, msg):
        if msg.type == Gst.MessageType.EOS:
            if self.stopped:
                return
            if self.pass_base is None:
                log("%s: %s has no H.264 frames" % (self.name, self.path))
                self._end()
            elif self.loop:
                # Next pass starts where this one ended, so time runs on.
                self.offset += self.pass_end - self.pass_base
                debug("%s: end of file, looping (pass %d)" % (self.name, self.passes + 1))
                self._drop_reader()
                self._build_reader()
            else:
                debug("%s: end of file" % self.name)
                self._end()
        elif msg.type == Gst.MessageType.ERROR:
            if self.stopped:
                return
            err, dbg = msg.parse_error()
            log("%s: error reading %s: %s (%s)" % (self.name, self.path, err.message, dbg))
            self._end(err.message)

    def _end(self, why=None):
        self._drop_reader()
        if self.stopped:
            return
        if self.frames == 0:
            # Nothing was ever sent: fail the media now, so that the pending
            # DESCRIBE gets "503 Service Unavailable" at once instead of after
            # the server's 20 s preparation timeout.
            err = GLib.Error.new_literal(
                Gst.StreamError.quark(), why or "no H.264 frames in %s" % self.path,
                int(Gst.StreamError.FAILED))
            self.appsrc.post_message(Gst.Message.new_error(self.appsrc, err, self.path))
        else:
            # Mid-stream: end the stream cleanly (RTCP BYE, then EOS).
            self.appsrc.emit("end-of-stream")
            if self.on_eos is not None:
                self.on_eos()

    # -- streaming thread of the reader -------------------------------------

    def _media_running_time(self):
        clock = self.appsrc.get_clock()
        if clock is None:
            return 0
        return max(0, clock.get_time() - self.appsrc.get_base_time())

    def _on_sample(self, sink):
        sample = sink.emit("pull-sample")
        if sample is None or self.stopped:
            return Gst.FlowReturn.FLUSHING
        buf = sample.get_buffer()
        pts, dts, dur = buf.pts, buf.dts, buf.duration
        ts = dts if valid(dts) else pts
        if not valid(ts):
            return Gst.FlowReturn.OK  # cannot place it in time: drop
        if self.anchor is None:
            self.anchor = self._media_running_time()
        if self.pass_base is None:
            self.pass_base = ts
        # file time -> stream time (continuous over passes) -> media running time
        shift = self.anchor + self.offset - self.pass_base
        out = buf.copy()
        if valid(pts):
            out.pts = max(0, pts + shift)
        if valid(dts):
            out.dts = max(0, dts + shift)
        if valid(dur):
            self.last_dur = dur
        end = (pts if valid(pts) else ts) + (dur if valid(dur) else self.last_dur)
        if self.pass_end is None or end > self.pass_end:
            self.pass_end = end
        caps = sample.get_caps()
        if caps is not None and (self.caps is None or not caps.is_equal(self.caps)):
            self.caps = caps
            self.appsrc.set_caps(caps)
        # Blocks while the appsrc queue is full (block=true): back-pressure.
        ret = self.appsrc.emit("push-buffer", out)
        if ret == Gst.FlowReturn.OK:
            self.frames += 1
            STATS["frames"] += 1
            return Gst.FlowReturn.OK
        return Gst.FlowReturn.FLUSHING


class CameraFactory(GstRtspServer.RTSPMediaFactory):
    MEDIA_BIN = (
        "appsrc name=src is-live=true format=time block=true max-buffers=8 "
        "! clocksync ! rtph264pay name=pay0 pt=96 config-interval=-1"
    )

    def __init__(self, name, path, loop, delay=0.0):
        GstRtspServer.RTSPMediaFactory.__init__(self)
        self.delay = delay
        self.name = name
        self.path = path
        self.loop = loop
        self.generation = 0

    def do_gen_key(self, url):
        # Shared media are looked up by this key.  Once a media has played
        # its file to the end, new clients must not join it (they would get
        # nothing): bumping the generation makes them get a fresh media that
        # starts at the beginning, while the old one ends with its clients.
        return "%s#%d" % (url.get_request_uri(), self.generation)

    def _media_ended(self):
        self.generation += 1

    def do_create_element(self, url):
        return Gst.parse_bin_from_description(self.MEDIA_BIN, False)

    def do_configure(self, media):
        GstRtspServer.RTSPMediaFactory.do_configure(self, media)
        appsrc = media.get_element().get_by_name("src")
        feeder = Feeder(self.name, self.path, self.loop, appsrc, self._media_ended, self.delay)
        # A live appsrc asks for data only once its pipeline is PLAYING.
        appsrc.connect("need-data", lambda _src, _len: feeder.start())
        media.connect("unprepared", lambda _m: GLib.idle_add(feeder.stop))
        STATS["playing"] += 1
        media.connect("unprepared", lambda _m: STATS.__setitem__("playing", STATS["playing"] - 1))
        debug("%s: new media pipeline" % self.name)


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Camera-like RTSP server on 127.0.0.1 serving H.264 files.")
    ap.add_argument("--port", type=int, required=True, help="TCP port, 0 = any free port")
    ap.add_argument("--loop", action="store_true",
                    help="restart each file at its end so that the stream never ends")
    ap.add_argument("--unshared", action="store_true",
                    help="one pipeline per client (each client starts at the file's start)")
    ap.add_argument("--stagger", type=float, default=0.0, metavar="S",
                    help="delay the Nth mount's start by N*S seconds modulo 1 s")
    ap.add_argument("--stats", metavar="FILE", help="write '<playing> <frames sent>' there each second")
    ap.add_argument("--auth", metavar="USER:PASSWORD", help="require this login on every mount")
    ap.add_argument("--digest", action="store_true", help="--auth by Digest instead of Basic")
    ap.add_argument("-v", "--verbose", action="store_true", help="log clients and streams")
    ap.add_argument("mounts", nargs="+", metavar="NAME=FILE")
    args = ap.parse_args(argv)
    mounts = []
    for m in args.mounts:
        name, sep, path = m.partition("=")
        if not sep or not name or not path or "/" in name:
            ap.error("bad mount %r: want NAME=FILE" % m)
        if not os.path.isfile(path):
            ap.error("%s: no such file" % path)
        mounts.append((name, os.path.abspath(path)))
    if not 0 <= args.port <= 65535:
        ap.error("bad port")
    if not 0 <= args.stagger < 1:
        ap.error("--stagger must be in [0, 1)")
    if args.auth is not None and ":" not in args.auth:
        ap.error("--auth wants USER:PASSWORD")
    if args.digest and args.auth is None:
        ap.error("--digest needs --auth")
    return args, mounts


def require_login(server, auth, digest):
    """Makes server ask every client for USER:PASSWORD; returns the
    permissions a mount needs so that only that user may see it."""
    user, _, password = auth.partition(":")
    role = "viewer"
    a = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, role)
    if digest:
        a.add_digest(user, password, token)
        a.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    else:
        a.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        a.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    server.set_auth(a)
    perms = GstRtspServer.RTSPPermissions()
    perms.add_permission_for_role(role, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
    perms.add_permission_for_role(role, GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
    return perms


def main(argv):
    global VERBOSE
    args, mounts = parse_args(argv)
    VERBOSE = args.verbose
    Gst.init(None)
    needed = {  # element -> Debian package that provides it
        "filesrc": "libgstreamer1.0-0", "clocksync": "libgstreamer1.0-0",
        "parsebin": "gstreamer1.0-plugins-base", "appsrc": "gstreamer1.0-plugins-base",
        "appsink": "gstreamer1.0-plugins-base", "rtph264pay": "gstreamer1.0-plugins-good",
        "h264parse": "gstreamer1.0-plugins-bad",
    }
    missing = [el for el in needed if Gst.ElementFactory.find(el) is None]
    for el in missing:
        log("GStreamer element %s is missing: install Debian package %s" % (el, needed[el]))
    if missing:
        return 1

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    server.set_backlog(64)  # tests may connect many clients at once

    # RTP/RTCP over UDP (if a client asks for it) also stays on loopback.
    pool = GstRtspServer.RTSPAddressPool()
    pool.add_range("127.0.0.1", "127.0.0.1", 20000, 60999, 0)

    perms = None
    if args.auth is not None:
        perms = require_login(server, args.auth, args.digest)

    mp = server.get_mount_points()
    for i, (name, path) in enumerate(mounts):
        f = CameraFactory(name, path, args.loop, (i * args.stagger) % 1.0)
        f.set_shared(not args.unshared)
        f.set_enable_rtcp(True)  # the default; stated for the reader
        f.set_address_pool(pool)
        if perms is not None:
            f.set_permissions(perms)
        mp.add_factory("/" + name, f)

    if VERBOSE:
        def on_client(_srv, client):
            conn = client.get_connection()
            log("client connected from %s" % (conn.get_ip() if conn else "?"))
            client.connect("closed", lambda _c: log("client closed"))
        server.connect("client-connected", on_client)

    loop = GLib.MainLoop()
    try:
        server.attach(None)
    except GLib.Error as e:
        log("cannot listen on 127.0.0.1:%d: %s" % (args.port, e.message))
        return 1
    port = server.get_bound_port()
    if port <= 0:
        log("cannot listen on 127.0.0.1:%d" % args.port)
        return 1

    # Free clients whose sessions have timed out (clients that vanished).
    def cleanup():
        server.get_session_pool().cleanup()
        return True
    GLib.timeout_add_seconds(2, cleanup)

    if args.stats:
        def write_stats():
            tmp = args.stats + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d %d\n" % (STATS["playing"], STATS["frames"]))
            os.replace(tmp, args.stats)
            return True
        GLib.timeout_add_seconds(1, write_stats)

    def on_signal():
        loop.quit()
        return False
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, on_signal)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, on_signal)

    sys.stdout.write("READY %d\n" % port)
    sys.stdout.flush()
    loop.run()
    debug("shutting down")
    # Streaming threads may sit in blocking calls; nothing is left to save.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
