#!/usr/bin/python3
"""Train lcnetd's default model: camera health / tamper classification with
PP-LCNet x0.25, on frames synthesised on the fly from real photographs
(tools/camera_health_data.py), and export it for the engine.

    train_default_model.py [--out DIR] [--steps N] [--doc PATH] [--seed S]

Writes
    DIR/camera-health.onnx     timm-style ONNX: opset 14, BN folded, HardSwish,
                               dynamic batch, raw logits (no softmax)
    DIR/camera-health.labels   the class names, one per line, in output order
    PATH (docs/default-model.md)  what the model is and how it did: the
                               held-out per-class accuracy and confusion
                               matrix of this run

and checks the exported file against PyTorch on the held-out frames with a
small numpy interpreter of the ONNX graph (and with build/lcnet-infer, the
project's engine, when it has been built).  Everything is seeded: the same
command on the same software gives the same model.  `make train-default-model`
runs it with --out models.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True   # leave no __pycache__ in the source tree
import camera_health_data as chd  # noqa: E402
import pplcnet  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
SCALE = 0.25
OPSET = 14
TEST_SEED = 20240607     # the held-out frames (from TEST_PHOTOS only)
SEEN_SEED = 20240608     # fresh frames of the training photos, for comparison


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- data

class FrameStream(torch.utils.data.IterableDataset):
    """Batches of freshly synthesised training frames, forever, from one seed:
    (uint8 [n, H, W, 3], int64 [n]), each batch's labels balanced over the
    classes."""

    def __init__(self, n, size, seed):
        super().__init__()
        self.n, self.size, self.seed = n, size, seed

    def __iter__(self):
        torch.set_num_threads(1)
        photos = chd.load_photos(chd.TRAIN_PHOTOS)
        rng = np.random.default_rng([self.seed, 1])
        h, w = self.size
        k = len(chd.CLASSES)
        while True:
            labels = rng.permutation(np.arange(self.n) % k)
            frames = np.stack([chd.frame(rng, photos, int(c), h, w) for c in labels])
            yield torch.from_numpy(frames), torch.from_numpy(labels.astype(np.int64))


def to_input(frames):
    """uint8 NHWC RGB -> float32 NCHW, ImageNet mean/std (the engine's preprocessing)."""
    x = frames.float().div_(255.0)
    x = (x - torch.from_numpy(MEAN)) / torch.from_numpy(STD)
    return x.permute(0, 3, 1, 2)


# ---------------------------------------------------------------- model

def build_model(classes):
    # timm style: 1280-wide expand conv with a bias, inverted dropout, SE pooled
    # with adaptive average pooling (GlobalAveragePool in the ONNX file).
    return pplcnet.PPLCNet(SCALE, classes, class_expand=1280, expand_bias=True,
                           dropout_prob=0.2, dropout_mode="upscale_in_train",
                           stride="default", se_pool="avg")


def param_groups(model, wd):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def lr_at(step, steps, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return peak * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * t)))


def train(args, classes):
    torch.manual_seed(args.seed)
    model = build_model(classes).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(param_groups(model, args.wd), lr=args.lr, betas=(0.9, 0.99))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    stream = torch.utils.data.DataLoader(FrameStream(args.fresh, args.size, args.seed),
                                         batch_size=None, num_workers=1, prefetch_factor=4)
    # Replay: each batch is `fresh` new frames plus frames drawn again from the
    # last `replay_size` ones, flipped at random: synthesis is the slower half.
    h, w = args.size
    replay = torch.zeros((args.replay_size, h, w, 3), dtype=torch.uint8)
    replay_y = torch.zeros(args.replay_size, dtype=torch.int64)
    filled = 0
    g = torch.Generator().manual_seed(args.seed)
    warmup = max(1, args.steps // 20)
    t0, c0 = time.time(), time.process_time()
    run_loss = run_acc = 0.0
    model.train()
    it = iter(stream)
    for step in range(args.steps):
        frames, labels = next(it)
        n_new = frames.shape[0]
        if filled >= args.batch - n_new:
            idx = torch.randint(0, filled, (args.batch - n_new,), generator=g)
            old, old_y = replay[idx], replay_y[idx]
            flip = torch.rand(len(idx), generator=g) < 0.5
            old[flip] = old[flip].flip(2)
            batch, y = torch.cat([frames, old]), torch.cat([labels, old_y])
        else:
            batch, y = frames, labels
        pos = (step * n_new + torch.arange(n_new)) % args.replay_size
        replay[pos], replay_y[pos] = frames, labels
        filled = min(args.replay_size, filled + n_new)

        for grp in opt.param_groups:
            grp["lr"] = lr_at(step, args.steps, args.lr, warmup)
        x = to_input(batch).contiguous(memory_format=torch.channels_last)
        out = model(x)
        loss = loss_fn(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run_loss = 0.98 * run_loss + 0.02 * float(loss) if step else float(loss)
        acc = float((out.argmax(1) == y).float().mean())
        run_acc = 0.98 * run_acc + 0.02 * acc if step else acc
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            el = time.time() - t0
            log("step %5d/%d  loss %.3f  train acc %.3f  lr %.2e  %.0fs (%.2fs/step)"
                % (step + 1, args.steps, run_loss, run_acc, opt.param_groups[0]["lr"], el,
                   el / (step + 1)))
    del it, stream
    model.eval()
    return (model.to(memory_format=torch.contiguous_format), time.time() - t0,
            time.process_time() - c0, run_loss, run_acc)


# ---------------------------------------------------------------- evaluation

def predict_torch(model, frames, chunk=100):
    outs = []
    with torch.no_grad():
        for i in range(0, len(frames), chunk):
            outs.append(model(to_input(torch.from_numpy(frames[i:i + chunk]))).numpy())
    return np.concatenate(outs)


def confusion(labels, preds, k):
    m = np.zeros((k, k), np.int64)
    for a, b in zip(labels, preds):
        m[a, b] += 1
    return m


def export(model, path, size):
    dummy = torch.zeros((1, 3) + tuple(size))
    tmp = path + ".tmp"
    torch.onnx.export(model, dummy, tmp, opset_version=OPSET, do_constant_folding=True,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    m = onnx.load(tmp)
    m.producer_name = "lcnetd train_default_model.py"
    m.doc_string = ("lcnetd default model: camera health (%s); PP-LCNet x%g, input 1x3x%dx%d "
                    "RGB, ImageNet mean/std, stretched; raw logits"
                    % (", ".join(chd.CLASSES), SCALE, size[0], size[1]))
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, tmp)
    os.replace(tmp, path)
    return m


class OnnxNumpy:
    """Just enough of an ONNX interpreter, in numpy, for this exported graph:
    an independent reading of the file that shares no code with PyTorch or
    the engine."""

    def __init__(self, model):
        self.g = model.graph
        self.consts = {t.name: numpy_helper.to_array(t).astype(np.float64)
                       for t in self.g.initializer}

    @staticmethod
    def attrs(node):
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    @staticmethod
    def conv(x, w, b, a):
        kh, kw = w.shape[2:]
        sh, sw = a.get("strides", [1, 1])
        pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
        group = a.get("group", 1)
        xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
        if kh == kw == 1 and sh == sw == 1 and group == 1:
            y = np.einsum("nchw,oc->nohw", xp, w[:, :, 0, 0], optimize=True)
        else:
            win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
            win = win[:, :, ::sh, ::sw]
            if group == 1:
                y = np.einsum("nchwij,ocij->nohw", win, w, optimize=True)
            elif group == x.shape[1] and w.shape[0] == group and w.shape[1] == 1:
                y = np.einsum("nchwij,cij->nchw", win, w[:, 0], optimize=True)
            else:
                raise NotImplementedError("Conv group %d" % group)
        if b is not None:
            y = y + b[None, :, None, None]
        return y

    def run(self, x):
        v = dict(self.consts)
        v[self.g.input[0].name] = x.astype(np.float64)
        for node in self.g.node:
            a = self.attrs(node)
            i = [v[n] if n else None for n in node.input]
            op = node.op_type
            if op == "Conv":
                y = self.conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
            elif op == "HardSwish":
                y = i[0] * np.clip(i[0] / 6 + 0.5, 0, 1)
            elif op == "HardSigmoid":
                y = np.clip(a.get("alpha", 0.2) * i[0] + a.get("beta", 0.5), 0, 1)
            elif op == "Relu":
                y = np.maximum(i[0], 0)
            elif op == "Mul":
                y = i[0] * i[1]
            elif op == "Add":
                y = i[0] + i[1]
            elif op == "GlobalAveragePool":
                y = i[0].mean((2, 3), keepdims=True)
            elif op == "ReduceMean":
                y = i[0].mean(tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))
            elif op == "Flatten":
                ax = a.get("axis", 1)
                y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
            elif op == "Gemm":
                A = i[0].T if a.get("transA", 0) else i[0]
                B = i[1].T if a.get("transB", 0) else i[1]
                y = a.get("alpha", 1.0) * A @ B
                if len(i) > 2 and i[2] is not None:
                    y = y + a.get("beta", 1.0) * i[2]
            elif op == "Identity":
                y = i[0]
            else:
                raise NotImplementedError("ONNX op %s" % op)
            v[node.output[0]] = y
        return v[self.g.output[0].name]


def predict_onnx_numpy(m, frames, chunk=25):
    ev = OnnxNumpy(m)
    outs = []
    for i in range(0, len(frames), chunk):
        x = to_input(torch.from_numpy(frames[i:i + chunk])).numpy()
        outs.append(ev.run(x))
    return np.concatenate(outs)


def predict_engine(infer, model_path, frames, chunk=100):
    """Logits from the project's engine (lcnet-infer --tensor), or None."""
    outs = []
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "in.f32")
        for i in range(0, len(frames), chunk):
            x = to_input(torch.from_numpy(frames[i:i + chunk])).numpy()
            x.astype("<f4").tofile(f)
            p = subprocess.run([infer, "--model", model_path, "--tensor", f, "--threads", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if p.returncode != 0:
                log("engine check: lcnet-infer failed: %s" % p.stderr.strip())
                return None
            outs.append(np.array(json.loads(p.stdout)["outputs"], np.float64))
    return np.concatenate(outs)


# ---------------------------------------------------------------- report

def table(rows, header):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def write_doc(path, args, res):
    k = len(chd.CLASSES)
    cm = res["cm"]
    acc_rows = []
    for c in range(k):
        n = int(cm[c].sum())
        acc_rows.append([chd.CLASSES[c], n, "%.1f%%" % (100.0 * cm[c, c] / max(1, n)),
                         "%.1f%%" % (100.0 * res["seen_cm"][c, c] / max(1, res["seen_cm"][c].sum()))])
    acc_rows.append(["**all**", int(cm.sum()), "**%.1f%%**" % (100.0 * np.trace(cm) / cm.sum()),
                     "%.1f%%" % (100.0 * np.trace(res["seen_cm"]) / res["seen_cm"].sum())])
    cm_rows = [[chd.CLASSES[c]] + [int(v) for v in cm[c]] for c in range(k)]
    h, w = args.size
    photos_train = ", ".join("`%s`" % n for _, n, _ in chd.TRAIN_PHOTOS)
    photos_test = ", ".join("`%s`" % n for _, n, _ in chd.TEST_PHOTOS)
    eng = res["engine"]
    eng_line = ("the engine (`build/lcnet-infer --tensor`, fp32) gives the same top-1 class as "
                "PyTorch on %d of %d held-out frames (largest logit difference %.2g)"
                % (eng[0], eng[1], eng[2]) if eng else
                "the engine check was skipped (`build/lcnet-infer` not built when the model was "
                "trained)")
    text = """# The default model: camera health

`models/camera-health.onnx` is lcnetd's default model, the one the demo runs: it tells, for each
frame, whether a camera's picture is fine or has one of the common faults an operator wants an
alert for. It is a PP-LCNet x0.25 trained from scratch by `tools/train_default_model.py`
(`make train-default-model`) on frames synthesised from freely licensed photographs; this page is
written by that run, and every number below comes from it.

## Classes

`models/camera-health.labels` holds the names, one per line, in output order:

| id | label | what it means |
|---|---|---|
| 0 | `normal` | a usable picture of a scene, including somewhat dark or bright ones, mild noise, compression and on-screen timestamps |
| 1 | `covered` | the lens is blocked: a nearly black picture, a hand or cloth right at the lens, little light |
| 2 | `defocused` | the scene is there but heavily blurred (focus lost, lens fogged or smeared) |
| 3 | `noise` | snow or interference: heavy random noise, the scene faint or gone |
| 4 | `test-pattern` | no live picture: colour bars, a blue or black "no signal" screen, checkerboards, ramps, grids, test cards |
| 5 | `overexposed` | blown out: the scene pushed to near-white, clipped, little contrast |

## Input and preprocessing

| | |
|---|---|
| network | PP-LCNet, scale 0.25, default strides, timm-style head (1x1 expand conv to 1280 with bias, HardSwish, dropout 0.2, FC to 6) |
| input | `1x3x%(h)dx%(w)d` float32 NCHW, batch dynamic |
| resize | **stretch** the whole frame to %(h)dx%(w)d (no crop: a fault at the edge of the picture counts; a 16:9 frame is squeezed horizontally, as in training) |
| colour | RGB, `(pixel / 255 - mean) / std` with the ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225) |
| output | 6 raw logits (no softmax in the graph: the daemon applies it) |
| file | ONNX opset %(opset)d, BatchNorm folded into the convolutions, `HardSwish`, SE pooled with `GlobalAveragePool`, `Gemm` head; %(nodes)d nodes, %(kb).0f KiB |

%(h)dx%(w)d rather than PaddleClas' 224x224: the faults are global properties of the picture (light
level, sharpness, noise, colour structure) that need no fine detail, and the smaller input costs
about half the compute per frame.

With `lcnet-infer`:

```sh
build/lcnet-infer --model models/camera-health.onnx --labels models/camera-health.labels \\
    --image frame.png --resize stretch
```

## Data

Frames are made on the fly by `tools/camera_health_data.py` from real photographs in two Debian
packages: scikit-image's sample images (`python3-skimage`) and the photographs of KDE's jigsaw
puzzle game (`palapeli-data`); only public-domain and CC0 ones are used, each listed with its
licence in [models/SOURCES.md](../models/SOURCES.md). `normal` frames are random crops
(mostly of 16:9 or 4:3 shape, stretched), flips and colour, exposure, noise, blur and JPEG jitter of
the photographs, 15%% of them grey (night mode), a quarter with an on-screen timestamp; every fault
class is an augmentation of the same kind of crop (very little light and heavy blur, or a
procedural hand or cloth, for `covered`; Gaussian or disc blur of 2.5-9 pixels at %(h)d px for
`defocused`; Gaussian noise, snow, salt-and-pepper or line interference for `noise`; exposure
clipping the median, haze and bloom for `overexposed`), and `test-pattern` frames are drawn
procedurally (SMPTE, EBU and HD colour bars, flat "no signal" screens with text in DejaVu fonts,
checkerboards, ramps and step wedges, grids, test cards, zone plates). A quarter of the `normal`,
`covered` and `overexposed` frames and 60%% of the `noise` ones are made at a camera-like larger
size, up to 4x across and 2.5x down, and scaled down bilinearly as the daemon scales camera
frames, so that fine noise and compression artefacts arrive weakened as they do in use.

- training photographs: %(photos_train)s
- held-out photographs (never seen in training): %(photos_test)s

The held-out test set is %(ntest)d frames per class made from the held-out photographs only, with a
seed of its own. Test patterns and procedural hands and cloth have no photograph: theirs are new
random draws, not unseen designs.

## Training

| | |
|---|---|
| steps | %(steps)d, batch %(batch)d (%(fresh)d freshly synthesised frames per step, the rest replayed from the last %(replay)d, flipped at random) |
| frames synthesised | %(nfresh)d |
| optimiser | AdamW, peak learning rate %(lr)g, weight decay %(wd)g (not on BN and biases), 5%% linear warm-up then cosine decay; label smoothing %(ls)g |
| initialisation | PyTorch defaults, seed %(seed)d; no pretrained weights |
| hardware | CPU, one PyTorch thread (plus one process synthesising frames) |
| training time | %(ttime).0f s wall clock (%(stime).2f s per step) on 2 cores shared with other jobs; the training process used %(tcpu).0f s of CPU |
| final training loss / accuracy | %(tloss).3f / %(tacc).3f (running average) |

## Held-out accuracy

Top-1 accuracy per class on the held-out frames (PyTorch fp32), and for comparison on fresh frames
of the training photographs:

%(acc_table)s

Confusion matrix on the held-out frames (rows: true class, columns: predicted):

%(cm_table)s

## Export check

The ONNX file was read back by a small numpy interpreter of its graph (independent of PyTorch):
it gives the same top-1 class as PyTorch on %(agree)d of %(ntotal)d held-out frames, largest logit
difference %(maxdiff).2g. Also, %(eng_line)s.

## Limits

The training data are eleven photographs and synthetic faults. The model separates the six
conditions well on pictures like those, but real cameras bring scenes, lenses, lighting and
compression it has not seen: night scenes with little light can read as `covered`, featureless
walls or fog as `defocused`, snow and rain as `noise`, a white wall in sunlight as `overexposed`.
For alerts, act on a condition that persists over many frames, not on one frame, and retrain on
your own cameras' footage for production use (tools/pplcnet.py and tools/train_default_model.py
are a starting point).
""" % dict(h=h, w=w, opset=OPSET, nodes=res["nodes"], kb=res["bytes"] / 1024.0,
           photos_train=photos_train, photos_test=photos_test, ntest=args.test_per_class,
           steps=args.steps, batch=args.batch, fresh=args.fresh, replay=args.replay_size,
           nfresh=args.steps * args.fresh, lr=args.lr, wd=args.wd, ls=args.label_smoothing,
           seed=args.seed, ttime=res["train_time"], stime=res["train_time"] / args.steps,
           tcpu=res["train_cpu"],
           tloss=res["tloss"], tacc=res["tacc"],
           acc_table=table(acc_rows, ["class", "frames", "held-out accuracy",
                                      "training photos, fresh frames"]),
           cm_table=table(cm_rows, ["true \\ predicted"] + ["`%s`" % c for c in chd.CLASSES]),
           agree=res["onnx_agree"], ntotal=res["ntotal"], maxdiff=res["onnx_maxdiff"],
           eng_line=eng_line)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "models"), help="output folder")
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "default-model.md"),
                    help="the report to write (default docs/default-model.md)")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--fresh", type=int, default=32, help="new frames per step")
    ap.add_argument("--replay-size", type=int, default=4096)
    ap.add_argument("--size", default="160x160", help="input HxW")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=0.02)
    ap.add_argument("--label-smoothing", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--test-per-class", type=int, default=100)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--infer", default=os.path.join(ROOT, "build", "lcnet-infer"),
                    help="lcnet-infer to cross-check with, if it exists")
    args = ap.parse_args()
    args.size = tuple(int(v) for v in args.size.lower().split("x"))
    args.fresh = min(args.fresh, args.batch)
    torch.set_num_threads(1)
    classes = len(chd.CLASSES)
    os.makedirs(args.out, exist_ok=True)

    log("camera-health: PP-LCNet x%g, %dx%d, %d steps of %d (%d new frames each), seed %d"
        % (SCALE, args.size[0], args.size[1], args.steps, args.batch, args.fresh, args.seed))
    t_all = time.time()
    log("held-out frames: %d per class from %s" % (
        args.test_per_class, ", ".join(n for _, n, _ in chd.TEST_PHOTOS)))
    test_x, test_y = chd.dataset(chd.load_photos(chd.TEST_PHOTOS), args.test_per_class,
                                 args.size[0], args.size[1], TEST_SEED)
    seen_x, seen_y = chd.dataset(chd.load_photos(chd.TRAIN_PHOTOS), args.test_per_class,
                                 args.size[0], args.size[1], SEEN_SEED)

    model, train_time, train_cpu, tloss, tacc = train(args, classes)
    res = {"train_time": train_time, "train_cpu": train_cpu, "tloss": tloss, "tacc": tacc}
    model_logits = predict_torch(model, test_x)
    pred = model_logits.argmax(1)
    res["cm"] = confusion(test_y, pred, classes)
    res["seen_cm"] = confusion(seen_y, predict_torch(model, seen_x).argmax(1), classes)
    log("held-out accuracy %.3f (training photos, fresh frames: %.3f)" % (
        np.trace(res["cm"]) / res["cm"].sum(), np.trace(res["seen_cm"]) / res["seen_cm"].sum()))
    for c in range(classes):
        log("  %-13s %5.1f%%   %s" % (chd.CLASSES[c], 100.0 * res["cm"][c, c] / res["cm"][c].sum(),
                                      " ".join("%3d" % v for v in res["cm"][c])))

    onnx_path = os.path.join(args.out, "camera-health.onnx")
    m = export(model, onnx_path, args.size)
    with open(os.path.join(args.out, "camera-health.labels.tmp"), "w") as f:
        f.write("\n".join(chd.CLASSES) + "\n")
    os.replace(os.path.join(args.out, "camera-health.labels.tmp"),
               os.path.join(args.out, "camera-health.labels"))
    res["nodes"] = len(m.graph.node)
    res["bytes"] = os.path.getsize(onnx_path)
    ops = sorted({n.op_type for n in m.graph.node})
    log("exported %s: %d nodes (%s), %.0f KiB" % (onnx_path, res["nodes"], " ".join(ops),
                                                  res["bytes"] / 1024.0))

    ref = predict_onnx_numpy(m, test_x)
    res["ntotal"] = len(test_x)
    res["onnx_agree"] = int((ref.argmax(1) == pred).sum())
    res["onnx_maxdiff"] = float(np.abs(ref - model_logits).max())
    log("ONNX (numpy interpreter) vs PyTorch: same top-1 on %d/%d, max |logit diff| %.2g"
        % (res["onnx_agree"], res["ntotal"], res["onnx_maxdiff"]))
    res["engine"] = None
    if os.access(args.infer, os.X_OK):
        eng = predict_engine(args.infer, onnx_path, test_x)
        if eng is not None and eng.shape == model_logits.shape:
            res["engine"] = (int((eng.argmax(1) == pred).sum()), len(test_x),
                             float(np.abs(eng - model_logits).max()))
            log("engine (lcnet-infer) vs PyTorch: same top-1 on %d/%d, max |logit diff| %.2g"
                % res["engine"])
    else:
        log("engine check skipped: %s not built" % args.infer)

    write_doc(args.doc, args, res)
    log("wrote %s; total %.0fs" % (args.doc, time.time() - t_all))


if __name__ == "__main__":
    main()
