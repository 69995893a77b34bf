"""The MQTT side of the integration tests: a real `mosquitto` broker process
on a loopback port, and real `mosquitto_sub` clients whose messages are
parsed as they arrive."""
import json
import os
import pwd
import signal
import socket
import subprocess
import threading
import time

from harness import Process


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """mosquitto with a config of its own in `tmp`; restartable on its port.
    users: {name: password} turns anonymous access off; tls: (ca, cert, key)."""

    def __init__(self, tmp, port=None, users=None, tls=None, name="broker"):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        self.log = os.path.join(self.dir, "mosquitto.log")
        # started as root, mosquitto would become user mosquitto, who cannot
        # read this test's private directory
        lines = ["user %s" % pwd.getpwuid(os.getuid()).pw_name,
                 "listener %d 127.0.0.1" % self.port, "persistence false",
                 "log_dest file %s" % self.log, "log_type all",
                 "connection_messages true"]
        if users:
            pw = os.path.join(self.dir, "passwd")
            open(pw, "w").close()
            for u, p in users.items():
                subprocess.run(["mosquitto_passwd", "-b", pw, u, p], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            lines += ["allow_anonymous false", "password_file %s" % pw]
        else:
            lines.append("allow_anonymous true")
        if tls:
            lines += ["cafile %s" % tls[0], "certfile %s" % tls[1], "keyfile %s" % tls[2]]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.p = None
        self.start()

    def start(self):
        self.p = Process(["mosquitto", "-c", self.conf], stdout=subprocess.DEVNULL)
        end = time.time() + 10
        while time.time() < end:
            if self.p.p.poll() is not None:
                raise RuntimeError("mosquitto exited: %s %s" % (self.p.stderr(), self.log_text()))
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not listen on %d" % self.port)

    def kill(self):
        self.p.stop(signal.SIGKILL)

    def pause(self):
        self.p.p.send_signal(signal.SIGSTOP)

    def resume(self):
        self.p.p.send_signal(signal.SIGCONT)

    def stop(self):
        if self.p:
            self.resume()
            self.p.stop()

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Sub:
    """mosquitto_sub on `topics`; each message is (topic, retained, payload),
    payload as text."""

    def __init__(self, broker, *topics, extra=()):
        args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-F", "%t\t%r\t%p"]
        for t in topics:
            args += ["-t", t]
        self.p = subprocess.Popen(args + list(extra), stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        self.msgs = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in iter(self.p.stdout.readline, b""):
            t, r, p = line.decode(errors="replace").rstrip("\n").split("\t", 2)
            self.msgs.append((t, r == "1", p))

    def wait_for(self, pred, timeout=20, what="message", since=0):
        """The first message from the since-th on that pred takes."""
        end = time.time() + timeout
        i = since
        while True:
            while i < len(self.msgs):
                if pred(self.msgs[i]):
                    return self.msgs[i]
                i += 1
            if time.time() > end:
                break
            time.sleep(0.02)
        raise AssertionError("no %s within %d s; got %d messages, last: %s" %
                             (what, timeout, len(self.msgs), self.msgs[-3:]))

    def on(self, topic):
        return [m for m in self.msgs if m[0] == topic]

    def close(self):
        if self.p.poll() is None:
            self.p.terminate()
            self.p.wait()
        self._t.join(2)
        self.p.stdout.close()

    stop = close


def ordered(text):
    """A JSON object's members in order, as a list of (key, value) pairs."""
    return json.loads(text, object_pairs_hook=list)
