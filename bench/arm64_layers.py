#!/usr/bin/python3
"""Models that isolate one layer type, for bench/arm64-icount.sh.

    arm64_layers.py DIR

Writes DIR/<kind>_k0.onnx and DIR/<kind>_k8.onnx for kind in conv1x1, dw3x3:
the same stem (3x3 convolution, 3 -> 64 channels, 56x56) and head (average
pool, flatten), with 0 and 8 layers of the kind between them, and prints
"<kind> <MACs of one layer>" per kind.  The difference of the two models'
instruction counts over 8 layers' MACs is what one multiply-accumulate of
that layer type costs, without the stem, the head or the preprocessing.
Random weights: the count does not depend on them.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

H = W = 56
C = 64
LAYERS = 8


def model(kind, k):
    rng = np.random.default_rng(1)
    inits, nodes = [], []

    def conv(name, x, cin, cout, kh, group):
        w = (rng.standard_normal((cout, cin // group, kh, kh)) * 0.1).astype(np.float32)
        b = np.zeros(cout, np.float32)
        inits.append(numpy_helper.from_array(w, name + "_w"))
        inits.append(numpy_helper.from_array(b, name + "_b"))
        nodes.append(helper.make_node("Conv", [x, name + "_w", name + "_b"], [name],
                                      kernel_shape=[kh, kh], pads=[kh // 2] * 4, group=group))
        return name

    x = conv("stem", "x", 3, C, 3, 1)
    for i in range(k):
        x = conv("l%d" % i, x, C, C, 1 if kind == "conv1x1" else 3, 1 if kind == "conv1x1" else C)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["y"], axis=1))
    g = helper.make_graph(nodes, "%s_k%d" % (kind, k),
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, H, W])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", C])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for kind in ("conv1x1", "dw3x3"):
        for k in (0, LAYERS):
            onnx.save(model(kind, k), os.path.join(out, "%s_k%d.onnx" % (kind, k)))
        macs = H * W * C * (C if kind == "conv1x1" else 9)
        print(kind, macs)


if __name__ == "__main__":
    main()
