#!/usr/bin/python3
"""lcnetd on an older CPU, as far as the program can tell.

`ONEDNN_MAX_CPU_ISA` (tests/run-isa.sh) caps what oneDNN and lcnetd's own
vector loops pick.  Here the CPUID instruction itself answers as an AVX2 or
an SSE4.1 CPU (build/bench/cpuid_mask.so, which makes CPUID fault and
answers it with the newer extensions cleared), so every library reads the
older CPU: oneDNN's dispatch, lcnetd's feature checks, libav's.  The
engine must say which ISA it runs, choose fp32 for `auto` (no bf16 there),
and give the shared QDQ model's documented int8 outputs, which ONNX Runtime
itself misses on such a CPU.  Needs a CPU and kernel with CPUID faulting;
skips, saying so, without.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, MODEL, ROOT, Daemon, DaemonTest, Subscriber, clip, main,  # noqa: E402
                     write_config)

MASK = os.path.join(BUILD, "bench", "cpuid_mask.so")
INFER = os.path.join(BUILD, "lcnet-infer")
QDQ = os.path.join(ROOT, "..", "shared", "models", "nsfw-lite_lcnet_050_nsfw-sfw.int8.onnx")
# ../shared/models/PROVENANCE.md: ONNX Runtime on a VNNI CPU, the exact integer result
QDQ_SYNTHETIC = [-3.226101, -1.613051]
QDQ_ZEROS = [3.290623, 3.484190]
TIERS = ("avx2", "sse41")


def masked(tier):
    return dict(os.environ, CPUID_MASK=tier, LD_AUDIT=MASK, LD_PRELOAD=MASK)


def infer(tier, *args):
    return subprocess.run([INFER] + list(args), env=masked(tier), capture_output=True, text=True,
                          timeout=120)


def synthetic(path, zeros=False):
    """PROVENANCE.md's synthetic picture at 224x224, ImageNet-normalised."""
    import numpy as np
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    a = np.zeros((1, 3, 224, 224), np.float32)
    if not zeros:
        y, x = np.mgrid[0:224, 0:224]
        for c in range(3):
            a[0, c] = (((x * 7 + y * 3 + c * 50) % 256) / 255 - mean[c]) / std[c]
    a.tofile(path)


class CpuMask(DaemonTest):
    def setUp(self):
        super().setUp()
        if not os.path.exists(MASK):
            self.skipTest("%s not built (make all)" % MASK)
        r = infer("avx2", "--model", MODEL, "--plan")
        if "cannot make CPUID fault" in r.stderr:
            self.skipTest("this CPU or kernel has no CPUID faulting: the mask cannot run here")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_engine_says_the_masked_isa_and_picks_fp32(self):
        for tier in TIERS:
            r = infer(tier, "--model", MODEL, "--plan")
            self.assertEqual(r.returncode, 0, r.stderr)
            head = r.stdout.splitlines()[0]
            self.assertTrue(head.startswith("# fp32 on %s:" % tier), head)
            r = infer(tier, "--model", MODEL, "--precision", "auto", "--plan")
            head = r.stdout.splitlines()[0]
            self.assertTrue(head.startswith("# fp32 on %s:" % tier), head)
            self.assertIn("no native bf16", head)
            r = infer(tier, "--model", MODEL, "--precision", "bf16", "--plan")
            self.assertNotEqual(r.returncode, 0, "bf16 without native bf16 must be refused")
            self.assertIn(tier, r.stderr)

    def test_qdq_model_exact_where_onnx_runtime_is_not(self):
        if not os.path.exists(QDQ):
            self.skipTest("%s absent (the shared models sit beside the checkout)" % QDQ)
        for zeros, want in ((False, QDQ_SYNTHETIC), (True, QDQ_ZEROS)):
            t = os.path.join(self.tmp, "in-%d.f32" % zeros)
            synthetic(t, zeros)
            for tier in TIERS:
                r = infer(tier, "--model", QDQ, "--precision", "auto", "--tensor", t)
                self.assertEqual(r.returncode, 0, r.stderr)
                got = json.loads(r.stdout.strip().splitlines()[-1])["outputs"][0]
                for g, w in zip(got, want):
                    self.assertAlmostEqual(g, w, delta=1e-4, msg="%s: %s, documented %s" % (tier, got, want))

    def test_daemon_hello_on_an_avx2_cpu(self):
        cfg, sock = write_config(self.tmp, [("f", {"url": clip("clip-a.mp4")})],
                                 model_extra="precision = auto")
        d = self.track(Daemon(cfg, sock, env=masked("avx2")))
        sub = self.track(Subscriber(sock))
        hello = sub.wait_for(lambda e: e["event"] == "hello", what="hello")
        self.assertEqual(hello["isa"], "avx2", hello)
        self.assertEqual(hello["precision"], "fp32", hello)
        sub.wait_for(lambda e: e["event"] == "label", what="a label")
        sub.close()
        d.stop()


if __name__ == "__main__":
    main()
