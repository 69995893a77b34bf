#!/usr/bin/python3
"""Several models in one daemon, and per-label decisions, on the real
daemon with real clips:

- two models on three streams: every label event names its model, each
  stream is classified by the models it names and no other, at the rate
  it asks for, and the counters add up per model;
- `ignore` and `thresholds` change which events go out, checked frame by
  frame against the scores the same frames get without them;
- a reload that adds, changes and removes a model (and a region): the
  streams that do not use them run on, their seq never going down.

Streams that must be seen from their first frame are added by a reload
once the subscriber is connected (a daemon's first frames can go by before
any subscriber is there).
"""
import os
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FIXTURES, MODEL, Daemon, DaemonTest, Subscriber, clip, main, states,
                     write_config)

# PaddleX's text line orientation model: 80x160 input, 2 classes; the
# default test model is 224x224 with 1000.
TEXTLINE = os.path.join(FIXTURES, "paddle_textline.onnx")


def model_section(name, path, extra=""):
    return "\n[model:%s]\npath = %s\n%s\n" % (name, path, extra)


def reload_with(d, tmp, streams, model_extra):
    write_config(tmp, streams, model_extra=model_extra)
    d.p.send_signal(signal.SIGHUP)


def done(sub, name):
    """The stream's stats once it ended with every frame classified and
    every label it published delivered, or None.  Its eof comes from the
    ingest thread as soon as the last frame is queued: the frames still
    queued are classified after it."""
    for st in reversed(sub.of("stats", name)):
        if st["state"] != "eof":
            return None
        n = len(st["sources"]) if "sources" in st else 1
        if (st["classified"] + st["skipped"] == n * (st["decoded"] - st["sampled_out"]) and
                len(sub.of("label", name)) == st["published"]):
            return st
        return None
    return None


def eof_all(sub, names, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if all(done(sub, n) for n in names):
            return
        time.sleep(0.1)
    raise AssertionError("streams at their end, all classified: %s of %s" %
                         ([n for n in names if done(sub, n)], names))


class Models(DaemonTest):
    def test_two_models_on_three_streams(self):
        # "default" is the 1000-class 224x224 test model, "text" the 80x160
        # text line model: frames of the stream they share are scaled
        # twice, once for each input size
        text = model_section("text", TEXTLINE, "top_k = 1")
        plan = {"s1": (clip("clip-a.mp4"), "default", 5),
                "s2": (clip("clip-b.mkv"), "text", 10),
                "s3": (clip("clip-a.mp4"), "default, text", 2.5)}
        off = [(n, {"url": u, "model": m, "sample_fps": fps, "enabled": "no"})
               for n, (u, m, fps) in plan.items()]
        cfg, sock = write_config(self.tmp, off, model_extra=text)
        d = self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        hello = sub.wait_for(lambda e: e["event"] == "hello", what="hello")
        self.assertEqual([(m["name"], m["classes"], m["input"]) for m in hello["models"]],
                         [("default", 1000, [224, 224]), ("text", 2, [160, 80])])
        self.assertEqual(hello["model"], MODEL, "hello's own members are the default model's")
        # each model names the library that runs it: for two float models, the
        # one auto picks for the daemon (oneDNN on x86-64, XNNPACK on arm64)
        self.assertEqual([m["backend"] for m in hello["models"]],
                         [hello["backend"], hello["backend"]])
        on = [(n, dict(k, enabled="yes", realtime="no")) for n, k in off]
        reload_with(d, self.tmp, on, text)
        eof_all(sub, plan)
        for name, (url, models, fps) in plan.items():
            labels = sub.of("label", name)
            want = [m.strip() for m in models.split(",")]
            self.assertEqual(sorted({e.get("model") for e in labels}), sorted(want),
                             "%s: events name the models it asked for, and only those" % name)
            seqs = {}
            for m in want:
                mine = [e for e in labels if e["model"] == m]
                seqs[m] = [e["seq"] for e in mine]
                self.assertEqual(seqs[m], sorted(set(seqs[m])), "%s/%s: seq rises" % (name, m))
                self.assertEqual(len(mine[0]["top"]), 3 if m == "default" else 1,
                                 "each model's own top_k")
                steps = [b["pts"] - a["pts"] for a, b in zip(mine, mine[1:])]
                frame = 1 / (30 if "clip-b" in url else 25)
                print("%s/%s: %d labels, sample_fps %g: pts steps %.3f..%.3f s" %
                      (name, m, len(mine), fps, min(steps), max(steps)))
                self.assertAlmostEqual(statistics.median(steps), 1 / fps, delta=frame * 1.01)
            # every model classifies every frame kept: the same frames
            self.assertEqual(len({tuple(v) for v in seqs.values()}), 1,
                             "%s: its models saw the same frames" % name)
        # read without realtime nothing is skipped: each model classified
        # every frame that sample_fps kept
        for name, (url, models, fps) in plan.items():
            st = done(sub, name)
            n = len(models.split(","))
            kept = st["decoded"] - st["sampled_out"]
            self.assertEqual(st["skipped"], 0, st)
            self.assertEqual(st["classified"], n * kept, "%s: %d models x %d frames" %
                             (name, n, kept))
            self.assertEqual(len(sub.of("label", name)), n * kept,
                             "%s: publish = every: a label per model and frame" % name)
            # and each model's own counters say so
            self.assertEqual([(s["model"], s["classified"], s["skipped"], s["published"])
                              for s in st["sources"]],
                             [(m.strip(), kept, 0, kept) for m in models.split(",")])

    def test_ignore_and_thresholds_against_every_frame(self):
        # The random-weight test model's top-1 moves with every frame: its
        # labels and scores over clip-a are the material.  A first pass
        # gets every frame's top-1 and score; the thresholds are then put
        # in the middle of a gap between scores, so that the second pass,
        # batched differently, cannot land on the other side.
        url = clip("clip-a.mp4")
        probe = [("probe", {"url": url, "realtime": "no", "enabled": "no"})]
        cfg, sock = write_config(self.tmp, probe)
        d = self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        sub.wait_for(lambda e: e["event"] == "hello", what="hello")
        reload_with(d, self.tmp, [("probe", dict(probe[0][1], enabled="yes"))], "")
        eof_all(sub, ["probe"])
        first = sub.of("label", "probe")
        self.assertEqual(len(first), 200, "clip-a has 200 frames, each published")
        tops = [e["top"][0] for e in first]
        counts = {}
        for t in tops:
            counts[t["label"]] = counts.get(t["label"], 0) + 1
        common = sorted(counts, key=lambda k: -counts[k])
        self.assertGreaterEqual(len(common), 3, counts)
        ignored, picky = common[0], common[1]

        def cut(scores):
            # the middle of the widest gap near the median
            s = sorted(scores)
            mid = len(s) // 2
            i = max(range(max(1, mid - 3), min(len(s), mid + 4)), key=lambda j: s[j] - s[j - 1])
            return (s[i] + s[i - 1]) / 2, s[i] - s[i - 1]

        t_picky, gap1 = cut([t["score"] for t in tops if t["label"] == picky])
        min_score, gap2 = cut([t["score"] for t in tops])
        self.assertGreater(min(gap1, gap2), 1e-5, "scores too close to cut between")
        print("top-1 over 200 frames: %d labels; ignore %s (%d frames), thresholds %s:%.6f "
              "(%d frames), min_score %.6f" % (len(counts), ignored, counts[ignored], picky,
                                                t_picky, counts[picky], min_score))

        # the same model and labels file, its own section: nothing of
        # [model]'s is inherited
        rules = model_section("picky", MODEL, "labels = %s\nignore = %s\nthresholds = %s:%.6f" %
                              (os.path.join(self.tmp, "labels.txt"), ignored, picky, t_picky))
        streams = [("truth", {"url": url, "realtime": "no", "model": "default"}),
                   ("every", {"url": url, "realtime": "no", "model": "picky",
                              "min_score": "%.6f" % min_score}),
                   ("change", {"url": url, "realtime": "no", "model": "picky",
                               "min_score": "%.6f" % min_score, "publish": "change",
                               "hysteresis": 2})]
        reload_with(d, self.tmp, streams, rules)
        eof_all(sub, [n for n, _ in streams])
        truth = {e["seq"]: e["top"][0] for e in sub.of("label", "truth")}
        self.assertEqual(len(truth), 200)

        def threshold(t):
            return t_picky if t["label"] == picky else min_score

        want_every = [s for s in sorted(truth) if truth[s]["label"] != ignored and
                      truth[s]["score"] >= threshold(truth[s])]
        got_every = [e["seq"] for e in sub.of("label", "every")]
        self.assertEqual(got_every, want_every)
        self.assertTrue(all(e["model"] == "picky" for e in sub.of("label", "every")))
        # the rule as lcnetd.ini(5) states it, over the same frames: below
        # its threshold a frame counts for nothing; a change needs 2 frames
        # in a row; a change to the ignored label is made but not sent
        want_change, last, cand, n = [], None, None, 0
        for s in sorted(truth):
            t = truth[s]
            if t["score"] < threshold(t):
                continue
            if t["label"] == last:
                n = 0
                continue
            n = n + 1 if t["label"] == cand else 1
            cand = t["label"]
            if n >= 2:
                last, n = t["label"], 0
                if t["label"] != ignored:
                    want_change.append(s)
        got_change = [e["seq"] for e in sub.of("label", "change")]
        print("published: every %d of 200, change %d" % (len(got_every), len(got_change)))
        self.assertEqual(got_change, want_change)
        # the keys did something: without them more would have gone out
        self.assertLess(len(want_every), len([s for s in truth if truth[s]["score"] >= min_score]))
        self.assertTrue(any(truth[s]["label"] == ignored and truth[s]["score"] >= min_score
                            for s in truth))

    def test_unknown_label_fails_the_start_naming_it(self):
        cfg, sock = write_config(self.tmp, [], model_extra="ignore = class-1, no-such-label")
        d = self.track(Daemon(cfg, sock, wait=False))
        self.assertEqual(d.p.wait(60), 65, "the model cannot be used")
        err = d.stderr()
        with open(cfg) as f:
            line = [i for i, l in enumerate(f, 1) if l.startswith("ignore")][0]
        self.assertIn("%s:%d: [model] ignore: the model has no label \"no-such-label\"" %
                      (cfg, line), err)
        self.assertIn("class-0, class-1, class-2", err)

    def test_reload_adds_changes_and_removes_a_model_and_a_region(self):
        keep = [("keep", {"url": clip("clip-b.mkv"), "loop": "yes"}),
                ("other", {"url": clip("clip-a.mp4"), "loop": "yes"})]
        cfg, sock = write_config(self.tmp, keep)
        d = self.track(Daemon(cfg, sock))
        sub = self.track(Subscriber(sock))
        sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == "keep", what="keep label")
        self.assertNotIn("model", sub.of("label", "keep")[0], "one model: events as before")

        # add: a model, a region, and a stream that uses both
        region = "\n[region:top]\ncrop = 0,0,100%,50%\n"
        added = keep + [("lines", {"url": clip("clip-a.ts"), "loop": "yes", "model": "text",
                                   "regions": "top"})]
        reload_with(d, self.tmp, added, model_section("text", TEXTLINE) + region)
        ev = sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == "lines", timeout=30,
                          what="a label of the added model")
        self.assertEqual((ev.get("region"), ev.get("model")), ("top", "text"))
        at = len(sub.events)
        sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == "keep", what="keep label")
        self.assertEqual(sub.events[-1].get("model"), "default",
                         "with two models, events name theirs")
        hello = Subscriber(sock)
        try:
            h = hello.wait_for(lambda e: e["event"] == "hello", what="hello")
        finally:
            hello.close()
        self.assertEqual([m["name"] for m in h["models"]], ["default", "text"])

        # change it: the stream that uses it restarts, the others do not
        reload_with(d, self.tmp, added, model_section("text", TEXTLINE, "top_k = 1") + region)
        sub.wait_for(lambda e: e["event"] == "stream" and e["stream"] == "lines" and
                     e["state"] == "stopped", timeout=30, what="lines restarted")
        # labels the old one classified may still come after its "stopped"
        sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == "lines" and
                     len(e["top"]) == 1, timeout=30, what="lines labelled by the new model")

        # remove it, with its stream
        reload_with(d, self.tmp, keep, "")
        sub.wait_for(lambda e: e["event"] == "stream" and e["stream"] == "lines" and
                     e["state"] == "stopped", timeout=30, what="lines removed")
        # labels classified before the reload may still come after its
        # "stopped": once one comes without a model, none has one again
        sub.wait_for(lambda e: e["event"] == "label" and e["stream"] == "keep" and
                     "model" not in e, timeout=30, what="keep labels without a model")
        time.sleep(1)
        last = sub.of("label", "keep")[-1]
        self.assertNotIn("model", last, "one model again: events as before")
        self.assertIsNone(d.p.poll())
        for name in ("keep", "other"):
            seqs = [e["seq"] for e in sub.of("label", name)]
            self.assertGreater(len(seqs), 20)
            self.assertTrue(all(b > a for a, b in zip(seqs, seqs[1:])),
                            "%s: seq never goes down across the reloads: %s" %
                            (name, [(a, b) for a, b in zip(seqs, seqs[1:]) if b <= a]))
            # its first "up" may reach a subscriber that connected early
            # enough; any state after its first label is a restart
            first = next(i for i, e in enumerate(sub.events)
                         if e.get("event") == "label" and e["stream"] == name)
            self.assertEqual([e for e in sub.events[first:] if e in states(sub, name)], [],
                             "%s: never stopped, never down" % name)
        self.assertGreater(len([e for e in sub.events[at:] if e.get("stream") == "keep"]), 0)


if __name__ == "__main__":
    main()
