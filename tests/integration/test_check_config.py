#!/usr/bin/python3
"""lcnetd --check-config against what makes a start fail: a model file that
is missing or does not load, a socket directory that is missing, stream
files that are missing or unreadable for the daemon's user, CPUs that do
not exist; network sources it cannot reach, reported as not checked with
the credentials left out; several errors, each line an error line.  Then
the configuration `make install` ships, checked and started as systemd
would start it: socket activation, notify, watchdog, an unprivileged user,
no stream."""
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DAEMON, MODEL, ROOT, Daemon, DaemonTest, FIXTURES, NotifyListener,  # noqa: E402
                     Subscriber, clip, main, socket_activated, write_config)


def check(path, *extra):
    return subprocess.run([DAEMON, "--check-config", path] + list(extra), capture_output=True,
                          text=True, timeout=120)


def error_lines(text):
    return [l for l in text.splitlines() if l.startswith("lcnetd: error: ")]


class CheckConfig(DaemonTest):
    def assert_fails_with(self, r, *words):
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 78, out)
        for w in words:
            self.assertTrue(any(w in l for l in error_lines(r.stderr)), "%r not in an error line:\n%s"
                            % (w, out))

    def test_good_config_passes_item_by_item(self):
        cfg, _ = write_config(self.tmp, [("cam", {"url": clip("clip-a.mp4")})])
        r = check(cfg)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"ok: \[model\] path %s: loads and compiles: fp32 on \S+ .*"
                         r"input 224x224, 1000 classes" % re.escape(MODEL))
        self.assertRegex(r.stdout, r"ok: \[stream:cam\] file %s: user \S+ may read it; h264 video "
                         r"640x360" % re.escape(clip("clip-a.mp4")))
        self.assertRegex(r.stdout, r"ok: \[daemon\] socket %s/events.sock: user \S+ may create it"
                         % re.escape(self.tmp))
        self.assertRegex(r.stdout, r"ok: \[daemon\] inference_cpus: CPUs? [\d,-]+ ")
        self.assertEqual(error_lines(r.stderr), [])

    def test_missing_model_file(self):
        cfg, _ = write_config(self.tmp, [], model=os.path.join(self.tmp, "models/none.onnx"))
        r = check(cfg)
        self.assert_fails_with(r, "[model] path %s/models/none.onnx: directory %s/models does not "
                               "exist" % (self.tmp, self.tmp))
        os.mkdir(os.path.join(self.tmp, "models"))
        r = check(cfg)
        self.assert_fails_with(r, "[model] path %s/models/none.onnx: no such file" % self.tmp)

    def test_model_that_does_not_load(self):
        bad = os.path.join(FIXTURES, "bad", "bad_truncated.onnx")
        cfg, _ = write_config(self.tmp, [], model=bad)
        r = check(cfg)
        self.assert_fails_with(r, "[model] path %s: does not load: " % bad, "not an ONNX model")
        # what the daemon does with it: exit 65 at start, as the check foretold
        d = Daemon(cfg, os.path.join(self.tmp, "events.sock"), wait=False)
        self.assertEqual(d.p.wait(60), 65)
        d.stop()

    def test_missing_socket_directory(self):
        cfg, _ = write_config(self.tmp, [], daemon_extra="socket = %s/run/ev.sock" % self.tmp)
        # write_config's own socket line comes first: keep only ours
        with open(cfg) as f:
            text = re.sub(r"(?m)^socket = %s/events.sock\n" % re.escape(self.tmp), "", f.read())
        with open(cfg, "w") as f:
            f.write(text)
        r = check(cfg)
        self.assert_fails_with(r, "[daemon] socket %s/run/ev.sock: directory %s/run does not exist: "
                               "create it" % (self.tmp, self.tmp))
        # and the daemon, started anyway, says what to do rather than bind's ENOENT
        d = Daemon(cfg, "", wait=False)
        self.assertEqual(d.p.wait(60), 71)
        d.stop()
        err = d.stderr()
        self.assertIn("event socket: %s/run/ev.sock: directory %s/run does not exist: create it"
                      % (self.tmp, self.tmp), err)
        self.assertNotIn("bind", err)

    def test_missing_stream_file(self):
        gone = os.path.join(self.tmp, "gone.mp4")
        cfg, _ = write_config(self.tmp, [("cam", {"url": gone}), ("ok", {"url": clip("clip-a.ts")})])
        r = check(cfg)
        self.assert_fails_with(r, "[stream:cam] url %s: no such file" % gone)
        self.assertIn("ok: [stream:ok] file", r.stdout)
        # a file that is no video: named as such
        with open(gone, "wb") as f:
            f.write(b"\0" * 4096)
        r = check(cfg)
        self.assert_fails_with(r, "[stream:cam] url %s: " % gone)

    def test_file_unreadable_for_the_daemon_user(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to check as another user")
        # a world-traversable tree nobody may read config and model from
        os.chmod(self.tmp, 0o755)
        model = os.path.join(self.tmp, "model.onnx")
        shutil.copy(MODEL, model)
        cfg, _ = write_config(self.tmp, [("open", {"url": os.path.join(self.tmp, "open.mp4")}),
                                         ("shut", {"url": os.path.join(self.tmp, "shut.mp4")})],
                              model=model)
        for name, mode in (("open.mp4", 0o644), ("shut.mp4", 0o600)):
            shutil.copy(clip("clip-a.mp4"), os.path.join(self.tmp, name))
            os.chmod(os.path.join(self.tmp, name), mode)
        for f in (cfg, model, os.path.join(self.tmp, "labels.txt")):
            os.chmod(f, 0o644)
        r = check(cfg, "--user", "nobody")
        self.assertIn("checking as user nobody (uid %d" % pwd.getpwnam("nobody").pw_uid, r.stdout)
        self.assert_fails_with(r, "[stream:shut] url %s/shut.mp4: user nobody may not read it "
                               "(mode 0600, owner root:" % self.tmp,
                               "[daemon] socket %s/events.sock: user nobody may not create files"
                               % self.tmp)
        self.assertIn("ok: [stream:open] file %s/open.mp4: user nobody may read it" % self.tmp,
                      r.stdout)
        # root itself reads everything
        r = check(cfg)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # a config the daemon's user cannot read at all
        os.chmod(cfg, 0o600)
        r = check(cfg, "--user", "nobody")
        self.assert_fails_with(r, "%s: cannot open: Permission denied" % cfg,
                               "user nobody must be able to read it")
        r = check(cfg, "--user", "no-such-user-here")
        self.assertEqual(r.returncode, 67, r.stderr)

    def test_root_checks_as_the_service_user(self):
        if os.geteuid() != 0:
            self.skipTest("needs root")
        cfg, _ = write_config(self.tmp, [])
        with open(cfg) as f:
            text = f.read().replace("allow_root = yes", "allow_root = no")
        with open(cfg, "w") as f:
            f.write(text)
        os.chmod(self.tmp, 0o755)
        os.chmod(cfg, 0o644)
        r = check(cfg)
        try:
            pwd.getpwnam("lcnetd")
            self.assertIn("checking as user lcnetd (uid", r.stdout)
            self.assertIn(", as lcnetd.service runs lcnetd", r.stdout)
        except KeyError:
            self.assertIn("note: user lcnetd does not exist yet (systemd-sysusers makes it from "
                          "lcnetd.conf); files were checked as user root instead", r.stdout)
        # the unit's PrivateTmp= would hide a socket directory under /tmp: said where it matters
        if self.tmp.startswith("/tmp/"):
            self.assertRegex(r.stdout, r"note: \[model\] labels %s/labels.txt: PrivateTmp=yes"
                             % re.escape(self.tmp))

    def test_cpu_that_does_not_exist(self):
        cfg, _ = write_config(self.tmp, [], daemon_extra="decode_cpus = 1023")
        r = check(cfg)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertRegex(error_lines(r.stderr)[0], r"\[daemon\] decode_cpus: CPU 1023 does not exist "
                         r"on this machine \(it has CPUs [\d,-]+\)")

    def test_several_errors_each_an_error_line(self):
        path = os.path.join(self.tmp, "bad.ini")
        with open(path, "w") as f:
            f.write("[daemon]\nmax_batch = 65\nlog_levle = info\n[model]\ntop_k = 0\n"
                    "[stream:a]\nsample_fps = fast\n")
        for args in (["--check-config", path], ["-c", path]):
            r = subprocess.run([DAEMON] + args, capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 78, r.stderr)
            lines = r.stderr.splitlines()
            self.assertGreaterEqual(len(lines), 5, r.stderr)
            for line in lines:
                self.assertTrue(line.startswith("lcnetd: error: "), "%r in:\n%s" % (line, r.stderr))
            for at in (":2:", ":3:", ":5:", ":6:", ":7:"):
                self.assertTrue(any(path + at in l for l in lines), "%s%s in:\n%s" % (path, at, r.stderr))

    def test_network_sources_not_checked_without_credentials(self):
        pwfile = os.path.join(self.tmp, "cam.pw")
        with open(pwfile, "w") as f:
            f.write("Pa55-from-file\n")
        cfg, _ = write_config(self.tmp, [
            ("gate", {"url": "rtsp://admin:Pa55-in-url@cam-gate.invalid:554/live?ch=1"}),
            ("door", {"url": "http://viewer@cam-door.invalid/video.mjpg", "password_file": pwfile}),
            ("lane", {"url": "https://cam-lane.invalid/hls/index.m3u8"}),
        ])
        r = check(cfg)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("not checked: [stream:gate] network source rtsp://cam-gate.invalid:554/live?ch=1 "
                      "(credentials removed)", r.stdout)
        self.assertIn("not checked: [stream:door] network source http://cam-door.invalid/video.mjpg "
                      "(credentials removed)", r.stdout)
        self.assertIn("not checked: [stream:lane] network source https://cam-lane.invalid/hls/"
                      "index.m3u8:", r.stdout)
        for secret in ("Pa55", "admin", "viewer"):
            self.assertNotIn(secret, r.stdout + r.stderr)


class Shipped(DaemonTest):
    """The configuration `make install` puts in place, as shipped."""

    def install(self):
        pre = os.path.join(self.tmp, "prefix")
        r = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "LCNETD_DEPS=1", "install",
                            "PREFIX=" + pre + "/usr", "SYSCONFDIR=" + pre + "/etc",
                            "UNITDIR=" + pre + "/units", "SYSUSERSDIR=" + pre + "/sysusers",
                            "TMPFILESDIR=" + pre + "/tmpfiles"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return pre

    def test_example_and_installed_config_pass(self):
        pre = self.install()
        for ini in ("etc/lcnetd/lcnetd.ini", "usr/share/doc/lcnetd/lcnetd.ini.example"):
            r = check(os.path.join(pre, ini))
            self.assertEqual(r.returncode, 0, "%s:\n%s%s" % (ini, r.stdout, r.stderr))
            self.assertIn("ok: [model] path %s/usr/share/lcnetd/camera-health.onnx: loads and "
                          "compiles" % pre, r.stdout)
            self.assertIn("0 enabled", r.stdout)
            self.assertIn("note: no stream is enabled", r.stdout)
            self.assertEqual(error_lines(r.stderr), [])

    def test_installed_config_starts_and_idles_as_a_service(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to start the daemon as an unprivileged user")
        pre = self.install()
        ini = os.path.join(pre, "etc/lcnetd/lcnetd.ini")
        nobody = pwd.getpwnam("nobody")
        # as `make install` gives it to group lcnetd where that exists
        os.chown(ini, 0, nobody.pw_gid)
        self.assertEqual(stat.S_IMODE(os.stat(ini).st_mode), 0o640)
        os.chmod(self.tmp, 0o755)
        listen = os.path.join(self.tmp, "events.sock")
        nl = NotifyListener(os.path.join(self.tmp, "notify.sock"))
        os.chmod(nl.s.getsockname(), 0o666)
        # as lcnetd.service runs it: User=, socket activation, Type=notify, WatchdogSec=
        sa = socket_activated(listen, ["setpriv", "--reuid=nobody", "--regid=%d" % nobody.pw_gid,
                                       "--init-groups", DAEMON, "-c", ini],
                              env=["NOTIFY_SOCKET=" + nl.s.getsockname(), "WATCHDOG_USEC=2000000"])
        try:
            # the first connection starts it, with the listening socket
            sub = self.track(Subscriber(listen))
            hello = sub.wait_for(lambda e: e["event"] == "hello", timeout=60, what="hello")
            self.assertEqual(hello["streams"], [])
            self.assertEqual(hello["classes"], 6)
            t_ready, _ = nl.wait("READY", "1", timeout=30)
            # healthy while idle: the watchdog is still fed several intervals on
            nl.wait("WATCHDOG", "1", after=t_ready + 3, timeout=10)
            _, st = nl.wait("STATUS", timeout=10)
            self.assertIn("streams up 0/0", st["STATUS"])
        finally:
            rc = sa.stop(timeout=30)
            nl.close()
        err = sa.stderr()
        self.assertEqual(rc, 0, err)
        self.assertIn("no stream is enabled (3 configured, each with enabled = no): lcnetd idles "
                      "until one is enabled in %s" % ini, err)
        self.assertNotIn("error", err)

    def test_daemon_without_streams_says_so(self):
        cfg, sock = write_config(self.tmp, [])
        d = self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        self.assertEqual(sub.wait_for(lambda e: e["event"] == "hello")["streams"], [])
        self.assertEqual(d.stop(), 0)
        self.assertIn("lcnetd: notice: no stream is configured: lcnetd idles until a [stream:NAME] "
                      "section is added to %s" % cfg, d.stderr())
        json.dumps(sub.events)


if __name__ == "__main__":
    main()
