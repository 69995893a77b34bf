#!/usr/bin/python3
"""lcnetd as a systemd service: the real notify protocol on a datagram socket
the test reads, socket activation through systemd-socket-activate, and the
installed units checked by systemd-analyze."""
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DAEMON, ROOT, Daemon, DaemonTest, NotifyListener, Subscriber,  # noqa: E402
                     clip, main, socket_activated, write_config)


class Systemd(DaemonTest):
    def test_notify_ready_status_watchdog_reload_stop(self):
        cfg, sock = write_config(self.tmp, [("a", {"url": clip("clip-b.mkv"), "loop": "yes"})])
        nl = NotifyListener(os.path.join(self.tmp, "notify.sock"))
        try:
            d = self.track(Daemon(cfg, sock, wait=False, env={
                "NOTIFY_SOCKET": nl.s.getsockname(), "WATCHDOG_USEC": "2000000"}))
            t_ready, _ = nl.wait("READY", "1")
            # READY=1 only once the event socket accepts: connect right now
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                c.connect(sock)
                self.assertIn(b'"event":"hello"', c.recv(4096))
            _, st = nl.wait("STATUS", timeout=10)
            self.assertRegex(st["STATUS"], r"streams up \d+/1, classified [\d.]+ fps")
            time.sleep(4)
            n = nl.count("WATCHDOG", t_ready)
            self.assertGreaterEqual(n, 3, "WATCHDOG=1 every second with WATCHDOG_USEC=2 s")
            # wedge the inference thread (test build fault hook): pings stop
            d.p.send_signal(signal.SIGUSR1)
            time.sleep(6)            # staleness limit: max(5 s, half the interval)
            t0 = time.time()
            time.sleep(3)
            self.assertEqual(nl.count("WATCHDOG", t0), 0, "no WATCHDOG=1 while wedged")
            d.p.send_signal(signal.SIGUSR2)
            nl.wait("WATCHDOG", "1", after=time.time(), timeout=5)
            # reload: RELOADING=1 with MONOTONIC_USEC, then READY=1
            t_hup = time.time()
            d.p.send_signal(signal.SIGHUP)
            t_rel, kv = nl.wait("RELOADING", "1", after=t_hup)
            self.assertTrue(kv.get("MONOTONIC_USEC", "").isdigit(), kv)
            t_rdy, _ = nl.wait("READY", "1", after=t_rel)
            self.assertGreaterEqual(t_rdy, t_rel)
            t_term = time.time()
            self.assertEqual(d.stop(), 0)
            nl.wait("STOPPING", "1", after=t_term, timeout=5)
        finally:
            nl.close()

    def test_socket_activation(self):
        path = os.path.join(self.tmp, "activated.sock")
        cfg, own = write_config(self.tmp, [("a", {"url": clip("clip-b.mkv"), "loop": "yes"})])
        sa = socket_activated(path, [DAEMON, "-c", cfg], env=["LCNETD_UNUSED=1"])
        try:
            # connected before lcnetd runs: systemd-socket-activate starts it
            # on this first connection, handing it the listening socket
            sub = self.track(Subscriber(path))
            sub.wait_for(lambda e: e["event"] == "hello", timeout=30, what="hello")
            sub.wait_for(lambda e: e["event"] == "label", timeout=30, what="label")
            self.assertFalse(os.path.exists(own), "lcnetd used the passed socket, not its own")
        finally:
            rc = sa.stop(timeout=15)
        self.assertEqual(rc, 0, sa.stderr())

    def test_install_tree_and_units(self):
        dest = os.path.join(self.tmp, "dest")
        r = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "LCNETD_DEPS=1",
                            "install", "DESTDIR=" + dest, "PREFIX=/usr"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        unitdir = subprocess.run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"],
                                 capture_output=True, text=True).stdout.strip()
        want = ["usr/bin/lcnetd", "usr/bin/lcnet-infer", unitdir[1:] + "/lcnetd.service",
                unitdir[1:] + "/lcnetd.socket", "usr/lib/sysusers.d/lcnetd.conf",
                "usr/lib/tmpfiles.d/lcnetd.conf", "usr/share/man/man8/lcnetd.8",
                "usr/share/man/man5/lcnetd.ini.5", "etc/lcnetd/lcnetd.ini",
                "usr/share/doc/lcnetd/lcnetd.ini.example", "usr/share/doc/lcnetd/lcnetd-v4l2.conf"]
        for f in want:
            self.assertTrue(os.path.isfile(os.path.join(dest, f)), f)
        with open(os.path.join(dest, unitdir[1:], "lcnetd.service")) as f:
            unit = f.read()
        self.assertIn("ExecStart=/usr/bin/lcnetd -c /etc/lcnetd/lcnetd.ini", unit)
        self.assertNotRegex(unit, r"@[A-Z]+@", "every placeholder filled in")
        for page in ("usr/share/man/man8/lcnetd.8", "usr/share/man/man5/lcnetd.ini.5"):
            r = subprocess.run(["man", "--warnings", "-l", os.path.join(dest, page)],
                               capture_output=True, text=True, env=dict(os.environ, MANWIDTH="80"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.strip(), "", "man page renders without warnings")
            self.assertIn("lcnetd", r.stdout)
        # systemd-analyze verify resolves ExecStart= on this machine, so the
        # units are verified as installed into a scratch prefix
        pre = os.path.join(self.tmp, "prefix")
        r = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "LCNETD_DEPS=1", "install",
                            "PREFIX=" + pre + "/usr", "SYSCONFDIR=" + pre + "/etc",
                            "UNITDIR=" + pre + "/units", "SYSUSERSDIR=" + pre + "/sysusers",
                            "TMPFILESDIR=" + pre + "/tmpfiles"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        # the installed config passes as shipped: --check-config opens what
        # it names, so it is the scratch prefix's, whose paths exist here
        # (test_check_config.py starts the daemon on it too)
        r = subprocess.run([os.path.join(dest, "usr/bin/lcnetd"), "--check-config",
                            os.path.join(pre, "etc/lcnetd/lcnetd.ini")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        units = [os.path.join(pre, "units", u) for u in ("lcnetd.service", "lcnetd.socket")]
        r = subprocess.run(["systemd-analyze", "verify", "--man=no"] + units,
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--root=" + dest,
                            "lcnetd.service"], capture_output=True, text=True)
        m = re.search(r"Overall exposure level for lcnetd.service: ([\d.]+) (\w+)", r.stdout + r.stderr)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        print("\nsystemd-analyze security: exposure %s %s" % (m.group(1), m.group(2)))
        self.assertLess(float(m.group(1)), 2.5)

    def test_install_keeps_passwords_from_subscribers(self):
        # the config may hold camera passwords: root and the daemon's group
        # only; subscribers get a group of their own
        dest = os.path.join(self.tmp, "dest")
        ini = os.path.join(dest, "etc/lcnetd/lcnetd.ini")

        def install():
            r = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "LCNETD_DEPS=1",
                                "install", "DESTDIR=" + dest, "PREFIX=/usr"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)

        install()
        self.assertEqual(stat.S_IMODE(os.stat(ini).st_mode), 0o640)
        # an older install's 0644 config is closed too
        os.chmod(ini, 0o644)
        install()
        self.assertEqual(stat.S_IMODE(os.stat(ini).st_mode), 0o640)
        unitdir = subprocess.run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"],
                                 capture_output=True, text=True).stdout.strip()
        with open(os.path.join(dest, unitdir[1:], "lcnetd.socket")) as f:
            sock = f.read()
        self.assertRegex(sock, r"(?m)^SocketGroup=lcnetd-events$")
        self.assertRegex(sock, r"(?m)^SocketMode=0660$")
        with open(os.path.join(dest, "usr/lib/sysusers.d/lcnetd.conf")) as f:
            self.assertRegex(f.read(), r"(?m)^g lcnetd-events\b")
        with open(os.path.join(dest, "usr/lib/tmpfiles.d/lcnetd.conf")) as f:
            self.assertRegex(f.read(), r"(?m)^z /etc/lcnetd/lcnetd.ini 0640 root lcnetd -$")
        with open(os.path.join(dest, unitdir[1:], "lcnetd.service")) as f:
            unit = f.read()
        self.assertRegex(unit, r"(?m)^Group=lcnetd$")
        self.assertNotIn("lcnetd-events", unit, "the daemon is not in the subscribers' group")


if __name__ == "__main__":
    main()
