#!/usr/bin/python3
"""The output seam and the MQTT sink, end to end: a real `mosquitto` broker
started here on a loopback port, `mosquitto_sub` as the consumer, the real
daemon, and a real subscriber on the event socket alongside.

What issue 19 asks to be shown: every topic and payload as documented (the
socket's lines, field for field); a late subscriber gets the retained state
and availability; SIGKILL publishes the last will; a broker killed and
restarted mid-stream (labels resume, the socket never pauses, the drops are
counted); a broker that stops reading (SIGSTOP) holds nothing up; a wrong
password is one clear error with backoff; an unreadable password file is
named by --check-config; SIGHUP applies [mqtt] and leaves the streams; TLS;
Home Assistant discovery; two boxes on one broker.
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (DAEMON, Daemon, DaemonTest, Subscriber, clip, main, status,  # noqa: E402
                     wait_until, write_config)
from mqtt import Broker, Sub, ordered  # noqa: E402
from test_daemon import allowed_cpus  # noqa: E402

# Members of each socket line, in order (README "Events"); a test build adds
# the stage times to labels, and stamps the send time on the socket's.
LABEL_KEYS = ["event", "stream", "seq", "pts", "time", "latency_ms", "decoded_mono_us",
              "scaled_mono_us", "infer_start_mono_us", "infer_end_mono_us", "top"]
STATS_KEYS = ["event", "stream", "state", "interval_s", "decoded_fps", "classified_fps", "packets",
              "decoded", "classified", "skipped", "sampled_out", "decode_skipped", "decode_errors",
              "ts_discontinuities", "published",
              "reconnects", "auth_failures", "latency_p50_ms", "latency_p99_ms", "time"]
# hello keeps its members and appends the models (issue 20)
HELLO_KEYS = ["event", "version", "model", "precision", "classes", "input", "max_batch",
              "streams", "isa", "precision_reason", "backend", "backend_reason", "time",
              "models"]


def keys(pairs):
    return [k for k, _ in pairs]


def mqtt_config(tmp, broker, streams, prefix="t/box1", name="lcnetd.ini", **extra):
    """A config with [mqtt] pointing at broker; extra: more [mqtt] keys."""
    cfg, sock = write_config(tmp, streams, name=name, stats_interval=1)
    keys_ = {"host": "127.0.0.1", "port": broker.port, "topic_prefix": prefix,
             "backoff_min": "0.2", "backoff_max": "1"}
    keys_.update(extra)
    with open(cfg, "a") as f:
        f.write("[mqtt]\n" + "".join("%s = %s\n" % kv for kv in keys_.items()))
    return cfg, sock


def stream(fps, name="cam", url="clip-b.mkv"):
    return (name, {"url": clip(url), "loop": "yes", "sample_fps": str(fps)})


class Topics(DaemonTest):
    def test_topics_payloads_and_socket_lines(self):
        broker = self.track(Broker(self.tmp))
        sub = self.track(Sub(broker, "t/box1/#"))
        cfg, sock = mqtt_config(self.tmp, broker, [stream(5)])
        d = self.track(Daemon(cfg, sock))
        raw = self.track(Subscriber(sock))
        sub.wait_for(lambda m: m[0] == "t/box1/stats", what="stats")
        sub.wait_for(lambda m: m[0] == "t/box1/cam/label", what="label")
        first = sub.wait_for(lambda m: m[0] == "t/box1/cam/state", what="a state")
        sub.wait_for(lambda m: m[0] == "t/box1/cam/state", since=sub.msgs.index(first) + 1,
                     what="a second state")
        time.sleep(0.5)

        self.assertEqual(sub.on("t/box1/availability")[0][2], "online")
        st = ordered(sub.on("t/box1/cam/status")[0][2])
        self.assertEqual(keys(st), ["event", "stream", "state", "time"])
        self.assertEqual(dict(st)["state"], "up")

        # labels: the socket's objects, same members in the same order
        sock_labels = {e["seq"]: e for e in raw.of("label", "cam")}
        mqtt_labels = [json.loads(m[2]) for m in sub.on("t/box1/cam/label")]
        self.assertGreater(len(mqtt_labels), 3)
        matched = 0
        for m in sub.on("t/box1/cam/label"):
            self.assertEqual(keys(ordered(m[2])), LABEL_KEYS)
            lab = json.loads(m[2])
            s = sock_labels.get(lab["seq"])
            if s:
                s = dict(s)
                s.pop("sent_mono_us")
                self.assertEqual(lab, s)
                matched += 1
        self.assertGreater(matched, 3, "labels on both the socket and MQTT")

        # state: retained, published when the top-1 label changes, since = its frame's time
        by_time = {lab["time"]: lab for lab in mqtt_labels}
        states = [ordered(m[2]) for m in sub.on("t/box1/cam/state")]
        last = None
        for s in states:
            self.assertEqual(keys(s), ["label", "score", "since"])
            s = dict(s)
            self.assertNotEqual(s["label"], last, "a state only when the label changes")
            last = s["label"]
            lab = by_time.get(s["since"])
            if lab:
                self.assertEqual(lab["top"][0]["label"], s["label"])
                self.assertAlmostEqual(lab["top"][0]["score"], s["score"], places=4)
        changes = sum(1 for a, b in zip(mqtt_labels, mqtt_labels[1:])
                      if a["top"][0]["label"] != b["top"][0]["label"])
        self.assertLessEqual(len(states), changes + 1)

        # stats: the daemon's counters and every stream's, as on the socket
        stats = ordered(sub.on("t/box1/stats")[-1][2])
        self.assertEqual(keys(stats), ["event", "interval_s", "subscribers", "classified_fps",
                                       "events_dropped", "socket_dropped", "mqtt_dropped",
                                       "streams", "time"])
        one = dict(stats)["streams"][0]
        self.assertEqual(keys(one), STATS_KEYS[1:-1])
        self.assertEqual(dict(one)["stream"], "cam")
        self.assertEqual(dict(stats)["subscribers"], 1)

        # the socket's own lines keep their members and order
        lines = []
        with __import__("socket").socket(__import__("socket").AF_UNIX) as c:
            c.connect(sock)
            f = c.makefile("rb")
            c.sendall(b"status\n")
            for _ in range(200):
                lines.append(ordered(f.readline()))
                seen = {dict(x)["event"] for x in lines}
                if {"status", "stats", "label"} <= seen:
                    break
        by_event = {}
        for x in lines:
            by_event.setdefault(dict(x)["event"], x)
        self.assertEqual(keys(by_event["hello"]), HELLO_KEYS)
        self.assertEqual(keys(by_event["label"]), LABEL_KEYS + ["sent_mono_us"])
        self.assertEqual(keys(by_event["stats"]), STATS_KEYS)
        self.assertEqual(keys(by_event["status"]), ["event", "subscribers", "classified_fps",
                                                    "events_dropped", "streams", "mqtt", "time"])
        mq = dict(dict(by_event["status"])["mqtt"])
        self.assertEqual(mq["state"], "connected")
        self.assertEqual(mq["topic_prefix"], "t/box1")
        self.assertEqual(mq["client_id"], "lcnetd-t/box1")

        # the connection's thread keeps off the inference CPU (the harness's CPU 1)
        usable = os.sched_getaffinity(0)
        if 1 in usable and len(usable) > 1:
            cpus = {}
            for tid in os.listdir("/proc/%d/task" % d.p.pid):
                base = "/proc/%d/task/%s/" % (d.p.pid, tid)
                with open(base + "comm") as f:
                    cpus[f.read().strip()] = allowed_cpus(base + "status")
            self.assertEqual(cpus["lcnetd-mqtt"], usable - {1})

        # a clean stop says offline
        d.stop()
        self.assertEqual(d.p.returncode, 0)
        sub.wait_for(lambda m: m[0] == "t/box1/availability" and m[2] == "offline",
                     what="offline on a clean stop")

    def test_late_subscriber_gets_retained_state_and_availability(self):
        broker = self.track(Broker(self.tmp))
        cfg, sock = mqtt_config(self.tmp, broker, [stream(5)])
        d = self.track(Daemon(cfg, sock))
        raw = self.track(Subscriber(sock))
        raw.wait_for(lambda e: e["event"] == "label", what="a label")
        first = self.track(Sub(broker, "t/box1/cam/label"))
        first.wait_for(lambda m: True, what="a label on MQTT")
        time.sleep(0.3)
        late = self.track(Sub(broker, "t/box1/#"))
        late.wait_for(lambda m: m[0] == "t/box1/cam/label", what="live labels")
        retained = {m[0]: m[2] for m in late.msgs if m[1]}
        self.assertEqual(retained.get("t/box1/availability"), "online")
        self.assertIn("t/box1/cam/state", retained)
        self.assertIn("label", json.loads(retained["t/box1/cam/state"]))
        self.assertEqual(json.loads(retained["t/box1/cam/status"])["state"], "up")
        self.assertFalse([m for m in late.msgs if m[1] and m[0].endswith("/label")],
                         "labels are not retained")
        self.assertIsNone(d.p.poll())

    def test_sigkill_publishes_the_last_will(self):
        broker = self.track(Broker(self.tmp))
        sub = self.track(Sub(broker, "t/box1/availability"))
        cfg, sock = mqtt_config(self.tmp, broker, [stream(2)])
        d = self.track(Daemon(cfg, sock))
        sub.wait_for(lambda m: m[2] == "online", what="online")
        d.p.kill()
        d.p.wait()
        sub.wait_for(lambda m: m[2] == "offline", what="offline from the will")
        late = self.track(Sub(broker, "t/box1/availability"))
        m = late.wait_for(lambda m: True, what="retained availability")
        self.assertEqual(m[1:], (True, "offline"))


class BrokerFaults(DaemonTest):
    def test_broker_killed_and_restarted_mid_stream(self):
        broker = self.track(Broker(self.tmp))
        cfg, sock = mqtt_config(self.tmp, broker, [stream(10)], queue=16)
        d = self.track(Daemon(cfg, sock))
        raw = self.track(Subscriber(sock))
        sub = Sub(broker, "t/box1/#")
        sub.wait_for(lambda m: m[0] == "t/box1/cam/label", what="label before")
        broker.kill()
        sub.close()
        n0 = len(raw.of("label", "cam"))
        raw.wait_for(lambda e: e["event"] == "stats" and e["stream"] == "cam", what="stats")
        # the socket goes on while the broker is away: 3 s of labels at 10 a second
        raw.wait_for(lambda e: e["event"] == "label" and len(raw.of("label", "cam")) > n0 + 30,
                     what="socket labels while the broker is away")
        st = status(sock)
        self.assertIn(st["mqtt"]["state"], ("retrying", "connecting"))
        self.assertIn("error", st["mqtt"])
        broker.start()
        sub = self.track(Sub(broker, "t/box1/#"))
        # (the daemon may reconnect before or after this subscriber: retained or live)
        sub.wait_for(lambda m: m[0] == "t/box1/cam/label", what="labels resume on MQTT")
        # a broker without persistence lost the retained topics: sent again
        sub.wait_for(lambda m: m[0] == "t/box1/availability" and m[2] == "online",
                     what="availability again")
        sub.wait_for(lambda m: m[0] == "t/box1/cam/status", what="status again")
        stats = sub.wait_for(lambda m: m[0] == "t/box1/stats", what="stats after")
        self.assertGreater(json.loads(stats[2])["mqtt_dropped"], 0,
                           "the queue of 16 overflowed while the broker was away")
        # the socket never paused: every label the daemon published reached it, in order
        seqs = [e["seq"] for e in raw.of("label", "cam")]
        self.assertEqual(seqs, sorted(seqs))
        last = raw.wait_for(lambda e: e["event"] == "stats" and e["stream"] == "cam",
                            what="stats")
        self.assertEqual(last["skipped"], 0)
        self.assertEqual(status(sock)["streams"][0]["state"], "up")
        self.assertIn("connected as lcnetd-t/box1", d.stderr())

    def test_broker_that_stops_reading_holds_nothing_up(self):
        broker = self.track(Broker(self.tmp))
        rates = {"five": 5, "two": 2}
        cfg, sock = mqtt_config(self.tmp, broker, [stream(5, "five"), stream(2, "two", "clip-a.mp4")],
                                queue=16, keepalive=5)
        d = self.track(Daemon(cfg, sock))
        raw = self.track(Subscriber(sock))
        sub = self.track(Sub(broker, "t/box1/+/label"))
        sub.wait_for(lambda m: "/two/" in m[0], what="labels on MQTT")
        broker.pause()
        t0 = len(raw.events)
        # 10 s of stopped broker (its keepalive runs out after 7.5), counted by
        # the labels' own pts, not by a clock
        raw.wait_for(lambda e: e["event"] == "label" and e["stream"] == "two" and
                     len([x for x in raw.events[t0:] if x.get("stream") == "two" and
                          x["event"] == "label"]) >= 21, timeout=40, what="socket labels")
        during = raw.events[t0:]
        broker.resume()
        for name, fps in rates.items():
            labs = [e for e in during if e["event"] == "label" and e["stream"] == name]
            span = labs[-1]["pts"] - labs[0]["pts"]
            if span < 0:      # the file looped: count the part after the wrap
                labs = [e for e in labs if e["pts"] <= labs[-1]["pts"]]
                span = labs[-1]["pts"] - labs[0]["pts"]
            expect = span * fps + 1
            self.assertLessEqual(abs(len(labs) - expect), 2,
                                 "%s: %d labels over %.2f s of video at sample_fps %d" %
                                 (name, len(labs), span, fps))
        stats = [e for e in during if e["event"] == "stats"]
        self.assertTrue(stats)
        self.assertTrue(all(s["skipped"] == 0 for s in stats))
        # once it reads again, MQTT resumes and the overflow is counted
        n = len(sub.msgs)
        sub.wait_for(lambda m: True, since=n + 5, timeout=30, what="labels after SIGCONT")
        wait_until(lambda: status(sock)["mqtt"]["dropped"] > 0, 10, "drops counted")
        self.assertIsNone(d.p.poll())


class Credentials(DaemonTest):
    def test_wrong_password_then_fixed_by_a_reload(self):
        broker = self.track(Broker(self.tmp, users={"box": "right"}))
        pw = os.path.join(self.tmp, "mqtt.pw")
        with open(pw, "w") as f:
            f.write("wrong-s3cret\n")
        cfg, sock = mqtt_config(self.tmp, broker, [stream(5)], username="box",
                                password_file=pw, backoff_max="2")
        d = self.track(Daemon(cfg, sock))
        raw = self.track(Subscriber(sock))
        wait_until(lambda: status(sock)["mqtt"]["state"] == "auth-failed", 10, "auth-failed")
        n = len(raw.of("label", "cam"))
        time.sleep(4)
        # nothing else disturbed: the stream runs on
        self.assertGreater(len(raw.of("label", "cam")), n + 10)
        self.assertEqual(status(sock)["streams"][0]["state"], "up")
        st = status(sock)["mqtt"]
        self.assertEqual(st["state"], "auth-failed")
        self.assertIn("not authorised", st["error"])
        # one clear line, not one per attempt, and attempts at backoff_max
        err = d.stderr()
        lines = [l for l in err.splitlines() if "refused the connection" in l]
        self.assertEqual(len(lines), 1, err)
        self.assertIn("check [mqtt] username and password_file", lines[0])
        attempts = broker.log_text().count("not authorised")
        self.assertLessEqual(attempts, 5, "a reconnect storm:\n" + broker.log_text())
        self.assertNotIn("wrong-s3cret", err + json.dumps(status(sock)))

        # SIGHUP with the right password: connected, and the stream untouched
        sub = self.track(Sub(broker, "t/box1/#", extra=["-u", "box", "-P", "right"]))
        with open(pw, "w") as f:
            f.write("right\n")
        seq = raw.of("label", "cam")[-1]["seq"]
        d.p.send_signal(signal.SIGHUP)
        sub.wait_for(lambda m: m[0] == "t/box1/cam/label", what="labels once the password is right")
        wait_until(lambda: status(sock)["mqtt"]["state"] == "connected", 10, "connected")
        self.assertNotIn("stopped", [e["state"] for e in raw.of("stream", "cam")])
        later = [e["seq"] for e in raw.of("label", "cam") if e["seq"] > seq]
        self.assertTrue(later and later[0] <= seq + 15, "the stream was not restarted")
        self.assertNotIn("right\n", d.stderr())

    def test_unreadable_password_file(self):
        broker = self.track(Broker(self.tmp, users={"box": "right"}))
        missing = os.path.join(self.tmp, "no-such.pw")
        cfg, sock = mqtt_config(self.tmp, broker, [stream(5)], username="box",
                                password_file=missing)
        r = subprocess.run([DAEMON, "--check-config", cfg], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn(cfg + ":", r.stderr)
        self.assertIn("[mqtt] password_file %s: cannot read: No such file" % missing, r.stderr)
        # a directory is no password file either
        cfg2, _ = mqtt_config(self.tmp, broker, [stream(5)], name="dir.ini", username="box",
                              password_file=self.tmp)
        r = subprocess.run([DAEMON, "--check-config", cfg2], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("[mqtt] password_file %s: cannot read: Is a directory" % self.tmp, r.stderr)
        # the daemon itself runs its streams, and says why MQTT is off
        d = self.track(Daemon(cfg, sock))
        raw = self.track(Subscriber(sock))
        raw.wait_for(lambda e: e["event"] == "label", what="labels")
        st = status(sock)["mqtt"]
        self.assertEqual(st["state"], "failed")
        self.assertIn(missing, st["error"])
        self.assertIn("password_file %s: cannot read" % missing, d.stderr())

    def test_tls(self):
        certs = make_certs(self.tmp)
        broker = self.track(Broker(self.tmp, tls=(certs["ca"], certs["cert"], certs["key"])))
        # the wrong CA: the handshake is refused, once in the log, in status
        cfg, sock = mqtt_config(self.tmp, broker, [stream(5)], ca_file=certs["other_ca"])
        d = self.track(Daemon(cfg, sock))
        wait_until(lambda: status(sock)["mqtt"]["state"] == "tls-failed", 15, "tls-failed")
        time.sleep(2.5)
        lines = [l for l in d.stderr().splitlines() if "TLS handshake failed" in l]
        self.assertEqual(len(lines), 1, d.stderr())
        self.assertIn("certificate verify failed", lines[0])
        self.assertEqual(status(sock)["streams"][0]["state"], "up")
        # the right one, by reload: labels over TLS
        sub = self.track(Sub(broker, "t/box1/cam/label",
                             extra=["--cafile", certs["ca"]]))
        mqtt_config(self.tmp, broker, [stream(5)], ca_file=certs["ca"])
        d.p.send_signal(signal.SIGHUP)
        sub.wait_for(lambda m: True, what="a label over TLS")


def make_certs(tmp):
    """A CA, a broker certificate for 127.0.0.1 it signed, and an unrelated CA."""
    out = {k: os.path.join(tmp, k + ".pem") for k in ("ca", "ca_key", "cert", "key", "csr",
                                                       "other_ca", "other_key")}

    def ssl(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True)

    for ca, key in (("ca", "ca_key"), ("other_ca", "other_key")):
        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=lcnetd test %s" % ca, "-keyout", out[key], "-out", out[ca])
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", out["key"],
        "-out", out["csr"])
    ext = os.path.join(tmp, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    ssl("x509", "-req", "-in", out["csr"], "-CA", out["ca"], "-CAkey", out["ca_key"],
        "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", out["cert"])
    return out


class Boxes(DaemonTest):
    def test_two_instances_one_broker(self):
        broker = self.track(Broker(self.tmp))
        consumer = self.track(Sub(broker, "site/#"))
        daemons = []
        for box in ("box1", "box2"):
            d_ = os.path.join(self.tmp, box)
            os.makedirs(d_)
            cfg, sock = mqtt_config(d_, broker, [stream(2, "door"), stream(2, "yard", "clip-a.mp4")],
                                    prefix="site/" + box)
            daemons.append((self.track(Daemon(cfg, sock)), sock))
        want = {"site/%s/%s/label" % (b, s) for b in ("box1", "box2") for s in ("door", "yard")}
        wait_until(lambda: want <= {m[0] for m in consumer.msgs}, 20,
                   "labels of both boxes' streams")
        time.sleep(1.5)
        for d, sock in daemons:
            self.assertEqual(status(sock)["mqtt"]["state"], "connected")
            self.assertNotIn("connection lost", d.stderr())
        avail = {m[0]: m[2] for m in consumer.msgs if m[0].endswith("/availability")}
        self.assertEqual(avail, {"site/box1/availability": "online",
                                 "site/box2/availability": "online"})
        # two client ids, so neither evicts the other
        self.assertIn("lcnetd-site/box1", broker.log_text())
        self.assertIn("lcnetd-site/box2", broker.log_text())

    def test_home_assistant_discovery(self):
        broker = self.track(Broker(self.tmp))
        ha = self.track(Sub(broker, "homeassistant/#"))
        cfg, sock = mqtt_config(self.tmp, broker, [stream(2, "front.door")], homeassistant="yes")
        self.track(Daemon(cfg, sock))
        m = ha.wait_for(lambda m: m[0].endswith("/config"), what="discovery")
        self.assertEqual(m[0], "homeassistant/sensor/lcnetd-t_box1/front_door/config")
        conf = json.loads(m[2])
        self.assertEqual(conf["state_topic"], "t/box1/front.door/state")
        self.assertEqual(conf["availability_topic"], "t/box1/availability")
        self.assertEqual(conf["value_template"], "{{ value_json.label }}")
        n = len(ha.msgs)
        # Home Assistant restarted: its birth message asks for discovery again
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port),
                        "-t", "homeassistant/status", "-m", "online"], check=True)
        ha.wait_for(lambda m: m[0].endswith("/config"), since=n, what="discovery again")


if __name__ == "__main__":
    main()
