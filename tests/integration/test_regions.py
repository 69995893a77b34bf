#!/usr/bin/python3
"""Regions of interest end to end: the real daemon, real encoded clips, the
default camera-health model, real subscribers.

What issue 20 asks to be shown: on a clip whose left half is covered and
whose right half shows a normal scene (half-covered.mp4, tests/fixtures/
gen-clips.sh), a left crop is labelled `covered`, a right crop `normal`,
and the whole frame what it is without regions; each region is a source
of its own (events carry `region`, stats count per region); a crop outside
a 640x360 stream, or outside the frame after the camera changed its
resolution, is a clear error event, and the other regions and streams keep
running; with several models, every model classifies every region.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FIXTURES, ROOT, Daemon, DaemonTest, Subscriber, clip, main,  # noqa: E402
                     wait_until, write_config)

MODEL = os.path.join(ROOT, "models", "camera-health.onnx")
LABELS = os.path.join(ROOT, "models", "camera-health.labels")
# What a label line held before regions, in order (the test build adds its
# stage times, which are not part of the format).
LABEL_KEYS = ["event", "stream", "seq", "pts", "time", "latency_ms", "top"]
TEST_KEYS = {"decoded_mono_us", "scaled_mono_us", "infer_start_mono_us", "infer_end_mono_us",
             "sent_mono_us"}


def config(tmp, streams, regions, model_extra=""):
    """write_config with [region:NAME] sections after the streams."""
    path, sock = write_config(tmp, streams, model=MODEL, labels=LABELS, model_extra=model_extra)
    with open(path, "a") as f:
        for name, crop in regions:
            f.write("[region:%s]\ncrop = %s\n\n" % (name, crop))
    return path, sock


def start(test, streams, regions, model_extra=""):
    """The daemon idle with a subscriber, then the streams added by a
    reload: the subscriber sees every event of theirs, the first frame's
    too."""
    cfg, sock = config(test.tmp, [], [], model_extra)
    d = test.track(Daemon(cfg, sock))
    sub = test.track(Subscriber(sock))
    sub.wait_for(lambda e: e["event"] == "hello", what="hello")
    config(test.tmp, streams, regions, model_extra)
    d.p.send_signal(signal.SIGHUP)
    return d, sub


def first(sub, pred, what, timeout=30):
    """The first event so far that pred accepts, waiting for it: the
    streams' threads send theirs in any order, and wait_for would drop
    what comes before the one it waits for."""
    found = []
    wait_until(lambda: found.extend(e for e in sub.events if pred(e)) or found, timeout, what)
    return found[0]


def by_source(sub):
    out = {}
    for e in sub.of("label"):
        out.setdefault((e["stream"], e.get("region")), []).append(e)
    return out


class Regions(DaemonTest):
    def test_left_covered_right_normal_whole_as_before(self):
        half = clip("half-covered.mp4")
        file = {"url": half, "realtime": "no"}
        d, sub = start(self, [
            ("whole", dict(file)),
            ("split", dict(file, regions="left, right")),
            ("all", dict(file, regions="all")),
        ], [("left", "0,0,50%,100%"), ("right", "50%,0,50%,100%"), ("all", "0,0,100%,100%")])
        wait_until(lambda: {e["stream"] for e in sub.of("stream") if e["state"] == "eof"} ==
                   {"whole", "split", "all"}, 120, "the end of the three files")
        mark = len(sub.events)
        wait_until(lambda: any(e["event"] == "stats" for e in sub.events[mark:]), 10,
                   "stats after the end")
        stats = {e["stream"]: e for e in sub.events[mark:] if e["event"] == "stats"}
        src = by_source(sub)
        self.assertEqual(sorted(src, key=str), sorted([("whole", None), ("split", "left"),
                                                       ("split", "right"), ("all", "all")], key=str))
        n = len(src[("whole", None)])
        self.assertEqual(n, 100, "a 4 s clip at 25 fps, every frame classified")
        for key, evs in src.items():
            # one event per decoded frame and source: the regions of a
            # stream are classified from the same frames
            self.assertEqual(len(evs), n, "%s: labels" % (key,))
            self.assertEqual([e["seq"] for e in evs], [e["seq"] for e in src[("whole", None)]])
        tops = {k: {e["top"][0]["label"] for e in evs} for k, evs in src.items()}
        self.assertEqual(tops[("split", "left")], {"covered"})
        self.assertEqual(tops[("split", "right")], {"normal"})
        self.assertEqual(tops[("whole", None)], {"normal"})
        # the whole frame's line is today's: no region, the same members in
        # the same order; a region's line appends its name
        for e in src[("whole", None)]:
            self.assertEqual([k for k in e if k not in TEST_KEYS], LABEL_KEYS)
        for e in src[("split", "left")]:
            self.assertEqual([k for k in e if k not in TEST_KEYS], LABEL_KEYS + ["region"])
        # a region over the whole frame reads the same pixels: the same scores
        for a, b in zip(src[("whole", None)], src[("all", "all")]):
            self.assertEqual([t["class"] for t in a["top"]], [t["class"] for t in b["top"]])
            for x, y in zip(a["top"], b["top"]):
                self.assertAlmostEqual(x["score"], y["score"], places=4)
        # stats per region
        wait_until(lambda: {e["stream"] for e in sub.events[mark:] if e["event"] == "stats"} ==
                   {"whole", "split", "all"}, 10, "the stats of the three streams")
        stats = {e["stream"]: e for e in sub.events[mark:] if e["event"] == "stats"}
        split = stats["split"]
        regions = {r["region"]: r for r in split["sources"]}
        self.assertEqual(sorted(regions), ["left", "right"])
        for r in regions.values():
            self.assertEqual(r["classified"], n)
            self.assertEqual(r["published"], n)
        self.assertEqual(split["classified"], 2 * n, "the stream's count is its regions' sum")
        self.assertNotIn("sources", stats["whole"])
        self.assertNotIn("outside", stats["whole"])
        d.stop()

    def test_crop_outside_the_frame(self):
        d, sub = start(self, [
            ("ok", {"url": clip("clip-a.mp4"), "loop": "yes"}),
            ("cam", {"url": clip("clip-a.mp4"), "loop": "yes", "regions": "inside, outside"}),
            ("wide", {"url": clip("clip-a.mp4"), "loop": "yes", "crop": "0,0,800,360"}),
            # fits the first 4 s (640x360), not the next (320x240)
            ("shrinks", {"url": clip("res-change.ts"), "regions": "right"}),
        ], [("inside", "0,0,320,180"), ("outside", "600,0,100,360"), ("right", "320,0,320,360")])
        err = first(sub, lambda e: e["event"] == "stream" and e["stream"] == "cam" and
                    e["state"] == "error", "the region's error")
        self.assertEqual(err["region"], "outside")
        for words in ("region outside", "600,0,100,360", "100x360 at 600,0", "640x360 frame"):
            self.assertIn(words, err["reason"])
        wide = first(sub, lambda e: e["event"] == "stream" and e["stream"] == "wide" and
                     e["state"] == "error", "the stream crop's error")
        self.assertNotIn("region", wide)
        self.assertIn("stream wide: crop 0,0,800,360 (800x360 at 0,0) is outside the 640x360 frame",
                      wide["reason"])
        shrunk = first(sub, lambda e: e["event"] == "stream" and e["stream"] == "shrinks" and
                       e["state"] == "error", "the error after the change")
        self.assertEqual(shrunk["region"], "right")
        self.assertIn("region right: crop 320,0,320,360 (320x360 at 320,0) is outside the 320x240 "
                      "frame", shrunk["reason"])
        # the rest keeps running: the other stream, the region that fits
        mark = len(sub.events)
        wait_until(lambda: {(e["stream"], e.get("region")) for e in sub.events[mark:]
                            if e["event"] == "label"} >= {("ok", None), ("cam", "inside")},
                   20, "labels of the streams and regions that fit")
        src = by_source(sub)
        self.assertNotIn(("cam", "outside"), src)
        self.assertNotIn(("wide", None), src)
        # one error per change, not one per frame
        errs = [e for e in sub.of("stream", "cam") if e["state"] == "error"]
        self.assertEqual(len(errs), 1)
        shrinks = src.get(("shrinks", "right"), [])
        self.assertTrue(shrinks, "the region was classified while it fit")
        self.assertIsNone(d.p.poll(), "the daemon runs on")


    def test_regions_times_models(self):
        """Each model a stream names classifies each of its regions: a
        source per (region, model), each event naming both, counted apart."""
        text = "\n[model:text]\npath = %s\ntop_k = 1\n" % os.path.join(FIXTURES,
                                                                       "paddle_textline.onnx")
        d, sub = start(self, [
            ("split", {"url": clip("half-covered.mp4"), "realtime": "no",
                       "regions": "left, right", "model": "default, text"}),
        ], [("left", "0,0,50%,100%"), ("right", "50%,0,50%,100%")], text)
        wait_until(lambda: any(e["state"] == "eof" for e in sub.of("stream", "split")), 120,
                   "the end of the file")
        mark = len(sub.events)
        wait_until(lambda: any(e["event"] == "stats" for e in sub.events[mark:]), 10, "stats")
        src = {}
        for e in sub.of("label", "split"):
            src.setdefault((e["region"], e["model"]), []).append(e)
        self.assertEqual(sorted(src), [("left", "default"), ("left", "text"),
                                       ("right", "default"), ("right", "text")])
        for key, evs in src.items():
            self.assertEqual(len(evs), 100, "%s: every frame of the 4 s clip" % (key,))
            self.assertEqual(len(evs[0]["top"]), 3 if key[1] == "default" else 1)
        self.assertEqual({e["top"][0]["label"] for e in src[("left", "default")]}, {"covered"})
        self.assertEqual({e["top"][0]["label"] for e in src[("right", "default")]}, {"normal"})
        stats = next(e for e in sub.events[mark:] if e["event"] == "stats")
        got = sorted((r["region"], r["model"], r["classified"]) for r in stats["sources"])
        self.assertEqual(got, [("left", "default", 100), ("left", "text", 100),
                               ("right", "default", 100), ("right", "text", 100)])
        self.assertIsNone(d.p.poll())


if __name__ == "__main__":
    main()
