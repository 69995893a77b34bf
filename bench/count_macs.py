#!/usr/bin/python3
"""Count the multiply-accumulates of one image through an ONNX model.

    count_macs.py MODEL.onnx...

Prints one line per model: name, total MACs at batch 1, and the share in
Conv (split into depthwise, 1x1 and other) and Gemm/MatMul.  Shapes come from
ONNX shape inference with the batch dimension fixed to 1.  Only Conv, Gemm and
MatMul count; element-wise ops, pooling and activations are not MACs.
"""
import sys

import onnx
from onnx import shape_inference


def dims_of(vi):
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    out = []
    for d in t.shape.dim:
        if d.HasField("dim_value"):
            out.append(d.dim_value)
        else:
            return None
    return out


def prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


def count(path):
    m = onnx.load(path)
    g = m.graph
    inits = {i.name for i in g.initializer}
    for inp in g.input:
        if inp.name in inits:
            continue
        shape = inp.type.tensor_type.shape
        if shape.dim and not shape.dim[0].HasField("dim_value"):
            shape.dim[0].ClearField("dim_param")
            shape.dim[0].dim_value = 1
    m = shape_inference.infer_shapes(m, strict_mode=True)
    g = m.graph
    shapes = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        d = dims_of(vi)
        if d is not None:
            shapes[vi.name] = d
    for t in g.initializer:
        shapes[t.name] = list(t.dims)
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    shapes[n.output[0]] = list(a.t.dims)

    parts = {"conv_dw": 0, "conv_1x1": 0, "conv_other": 0, "gemm": 0}
    for n in g.node:
        if n.op_type == "Conv":
            w = shapes.get(n.input[1])
            y = shapes.get(n.output[0])
            if w is None or y is None:
                raise SystemExit(f"{path}: no shape for Conv {n.name}")
            group = next((a.i for a in n.attribute if a.name == "group"), 1)
            macs = prod(y) * prod(w[1:])          # each output: Cin/group * kh * kw
            if group > 1 and group == y[1] and w[1] == 1:
                parts["conv_dw"] += macs
            elif prod(w[2:]) == 1:
                parts["conv_1x1"] += macs
            else:
                parts["conv_other"] += macs
        elif n.op_type in ("Gemm", "MatMul"):
            a = shapes.get(n.input[0])
            y = shapes.get(n.output[0])
            if a is None or y is None:
                raise SystemExit(f"{path}: no shape for {n.op_type} {n.name}")
            trans_a = next((x.i for x in n.attribute if x.name == "transA"), 0)
            k = a[-2] if (n.op_type == "Gemm" and trans_a) else a[-1]
            parts["gemm"] += prod(y) * k
    return sum(parts.values()), parts


def main(argv):
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for path in argv:
        total, p = count(path)
        print(f"{path} {total} conv_dw={p['conv_dw']} conv_1x1={p['conv_1x1']} "
              f"conv_other={p['conv_other']} gemm={p['gemm']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
