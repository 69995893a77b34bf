#!/usr/bin/python3
"""Write the ONNX seed corpus for the loader fuzzer.

    gen-seeds.py [OUTDIR]      (default: tests/fuzz/corpus/onnx)

Small valid models, one for each shape of graph the engine is built for
(timm and paddle2onnx exports of PP-LCNet, cut down to a few nodes and a
few channels), plus a handful of ONNX's own backend node tests for the
operators lcnetd claims.  Seeds are kept to a few KB: the fuzzer runs with
-max_len=65536, and mutations of a small valid model reach further than
those of a big one.  The output is the same byte for byte on every run.
"""

import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
from onnx_nest import nested_graphs  # noqa: E402
NODE_TESTS = "/usr/share/libonnx-testdata/data/node"
# ONNX backend node tests worth mutating: every operator the loader knows.
ONNX_TESTS = [
    "test_conv_with_strides_padding", "test_conv_with_autopad_same", "test_batchnorm_example",
    "test_hardswish", "test_hardsigmoid", "test_clip", "test_relu", "test_sigmoid",
    "test_add_bcast", "test_sub_bcast", "test_mul_bcast", "test_div_bcast",
    "test_gemm_all_attributes", "test_gemm_transposeA", "test_matmul_3d",
    "test_softmax_axis_1", "test_flatten_axis2", "test_squeeze_negative_axes",
    "test_unsqueeze_two_axes", "test_globalaveragepool", "test_reduce_mean_keepdims_example",
    "test_shape_start_1_end_2", "test_slice_neg_steps", "test_concat_3d_axis_1",
    "test_gather_0", "test_cast_DOUBLE_to_FLOAT", "test_dropout_default", "test_identity",
]

rng = np.random.RandomState(7)


def w(*shape):
    return (rng.standard_normal(shape) * 0.5).astype(np.float32)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def const(name, arr):
    """A Constant node, as paddle2onnx writes weights."""
    return helper.make_node("Constant", [], [name],
                            value=numpy_helper.from_array(np.asarray(arr), name))


def fin(name, *dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims))


def model(name, nodes, inputs, outputs, inits=(), opset=14):
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="lcnetd-seeds")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def bn(prefix, c):
    return [init(prefix + "_s", 1 + w(c) * 0.1), init(prefix + "_b", w(c)),
            init(prefix + "_m", w(c) * 0.1), init(prefix + "_v", 1 + np.abs(w(c)))]


def conv_bn_hswish():
    """timm at opset 14, before BN folding: Conv, BN, HardSwish, GAP, Gemm."""
    nodes = [
        helper.make_node("Conv", ["x", "c0_w", "c0_bias"], ["c0"], kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c0", "bn_s", "bn_b", "bn_m", "bn_v"], ["b0"],
                         epsilon=1e-5),
        helper.make_node("HardSwish", ["b0"], ["h0"]),
        helper.make_node("Conv", ["h0", "dw_w"], ["d0"], kernel_shape=[3, 3], group=4,
                         pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["d0"], ["p0"]),
        helper.make_node("Flatten", ["p0"], ["f0"], axis=1),
        helper.make_node("Gemm", ["f0", "fc_w", "fc_b"], ["logits"], transB=1),
    ]
    inits = [init("c0_w", w(4, 3, 3, 3)), init("c0_bias", w(4)), init("dw_w", w(4, 1, 3, 3)),
             init("fc_w", w(5, 4)), init("fc_b", w(5))] + bn("bn", 4)
    return model("conv_bn_hswish", nodes, [fin("x", "batch", 3, 8, 8)],
                 [fin("logits", "batch", 5)], inits)


def paddle_style():
    """paddle2onnx: Constant weights, Shape/Slice/Concat/Reshape flatten,
    MatMul + Add classifier, Softmax."""
    nodes = [
        const("cw", w(4, 3, 3, 3)),
        helper.make_node("Conv", ["x", "cw"], ["c0"], kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        const("bs", 1 + w(4) * 0.1), const("bb", w(4)), const("bm", w(4) * 0.1),
        const("bv", 1 + np.abs(w(4))),
        helper.make_node("BatchNormalization", ["c0", "bs", "bb", "bm", "bv"], ["b0"]),
        helper.make_node("HardSwish", ["b0"], ["h0"]),
        helper.make_node("GlobalAveragePool", ["h0"], ["p0"]),
        const("keep", np.array(0.8, dtype=np.float32)),
        helper.make_node("Mul", ["p0", "keep"], ["p1"]),
        helper.make_node("Shape", ["p1"], ["sh"]),
        const("s0", np.array([0], dtype=np.int64)), const("s1", np.array([1], dtype=np.int64)),
        const("ax", np.array([0], dtype=np.int64)),
        helper.make_node("Slice", ["sh", "s0", "s1", "ax"], ["n"]),
        const("m1", np.array([-1], dtype=np.int64)),
        helper.make_node("Concat", ["n", "m1"], ["tgt"], axis=0),
        helper.make_node("Reshape", ["p1", "tgt"], ["flat"]),
        const("fw", w(4, 6)), const("fb", w(6)),
        helper.make_node("MatMul", ["flat", "fw"], ["mm"]),
        helper.make_node("Add", ["mm", "fb"], ["logit"]),
        helper.make_node("Softmax", ["logit"], ["prob"], axis=1),
    ]
    return model("paddle_style", nodes, [fin("x", -1, 3, 8, 8)], [fin("prob", -1, 6)])


def se_block():
    """The SE module: GAP, Conv, Relu, Conv, HardSigmoid, Mul."""
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["p"]),
        helper.make_node("Conv", ["p", "r_w", "r_b"], ["r"], kernel_shape=[1, 1]),
        helper.make_node("Relu", ["r"], ["rr"]),
        helper.make_node("Conv", ["rr", "e_w"], ["e"], kernel_shape=[1, 1]),
        helper.make_node("Add", ["e", "e_b"], ["eb"]),
        helper.make_node("HardSigmoid", ["eb"], ["s"], alpha=0.1666667, beta=0.5),
        helper.make_node("Mul", ["x", "s"], ["y"]),
    ]
    inits = [init("r_w", w(2, 8, 1, 1)), init("r_b", w(2)), init("e_w", w(8, 2, 1, 1)),
             init("e_b", w(1, 8, 1, 1))]
    return model("se_block", nodes, [fin("x", "N", 8, 4, 4)], [fin("y", "N", 8, 4, 4)], inits)


def x_hardsigmoid():
    """timm at opset 13: HardSwish spelled x * HardSigmoid(x), SE by ReduceMean."""
    nodes = [
        helper.make_node("Conv", ["x", "c_w", "c_b"], ["c"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("HardSigmoid", ["c"], ["hs"], alpha=1.0 / 6, beta=0.5),
        helper.make_node("Mul", ["c", "hs"], ["h"]),
        helper.make_node("ReduceMean", ["h"], ["m"], axes=[2, 3], keepdims=1),
        helper.make_node("Conv", ["m", "p_w"], ["y"], kernel_shape=[1, 1]),
    ]
    inits = [init("c_w", w(4, 2, 3, 3)), init("c_b", w(4)), init("p_w", w(3, 4, 1, 1))]
    return model("x_hardsigmoid", nodes, [fin("x", "batch", 2, 6, 6)], [fin("y", "batch", 3, 1, 1)],
                 inits, opset=13)


def reduce_mean():
    """ReduceMean without keepdims over the last axis, then Sigmoid."""
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], axes=[-1], keepdims=0),
        helper.make_node("Sigmoid", ["m"], ["y"]),
    ]
    return model("reduce_mean", nodes, [fin("x", 2, 3, 5)], [fin("y", 2, 3)], opset=13)


def matmul_add():
    """MatMul + Add (weights as float_data, not raw), then Sub and Div by scalars."""
    wt = helper.make_tensor("mw", TensorProto.FLOAT, [8, 4], w(8, 4).ravel().tolist())
    bt = helper.make_tensor("mb", TensorProto.FLOAT, [4], w(4).tolist())
    nodes = [
        helper.make_node("MatMul", ["x", "mw"], ["mm"]),
        helper.make_node("Add", ["mm", "mb"], ["a"]),
        helper.make_node("Sub", ["a", "k"], ["s"]),
        helper.make_node("Div", ["s", "k"], ["y"]),
    ]
    return model("matmul_add", nodes, [fin("x", "N", 8)], [fin("y", "N", 4)],
                 [wt, bt, init("k", np.array(2.0, dtype=np.float32))])


def dropout_identity():
    """Exporter leftovers: Dropout and Identity around a Relu."""
    nodes = [
        helper.make_node("Dropout", ["x"], ["d"]),
        helper.make_node("Relu", ["d"], ["r"]),
        helper.make_node("Identity", ["r"], ["y"]),
    ]
    return model("dropout_identity", nodes, [fin("x", "N", 4, 3, 3)], [fin("y", "N", 4, 3, 3)])


def clip():
    """Clip with constant bounds (opset 11 on) after a Conv: a post-op."""
    nodes = [
        helper.make_node("Conv", ["x", "c_w"], ["c"], kernel_shape=[1, 1]),
        helper.make_node("Clip", ["c", "lo", "hi"], ["y"]),
    ]
    inits = [init("c_w", w(3, 3, 1, 1)), init("lo", np.array(0, dtype=np.float32)),
             init("hi", np.array(6, dtype=np.float32))]
    return model("clip", nodes, [fin("x", 1, 3, 4, 4)], [fin("y", 1, 3, 4, 4)], inits)


def clip_opset6():
    """Clip with min/max attributes, as before opset 11."""
    nodes = [helper.make_node("Clip", ["x"], ["y"], min=-1.0, max=1.0)]
    return model("clip_opset6", nodes, [fin("x", "N", 5)], [fin("y", "N", 5)], opset=6)


def flatten():
    """Flatten then Gemm with transA, alpha and beta, C a row."""
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "g_w", "g_c"], ["y"], alpha=0.5, beta=2.0),
    ]
    inits = [init("g_w", w(12, 3)), init("g_c", w(1, 3))]
    return model("flatten", nodes, [fin("x", "N", 3, 2, 2)], [fin("y", "N", 3)], inits)


def shape_ops():
    """Shape arithmetic folded at load: Gather, Unsqueeze, Cast, Squeeze, Mul."""
    nodes = [
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Gather", ["sh", "i1"], ["c"], axis=0),
        helper.make_node("Unsqueeze", ["c", "a0"], ["cu"]),
        helper.make_node("Cast", ["cu"], ["cf"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["cf"], ["ci"], to=TensorProto.INT64),
        helper.make_node("Mul", ["ci", "two"], ["c2"]),
        helper.make_node("Div", ["c2", "two"], ["c1"]),
        helper.make_node("Concat", ["m1", "c1"], ["tgt"], axis=0),
        helper.make_node("Reshape", ["x", "tgt"], ["r"]),
        helper.make_node("Unsqueeze", ["r", "a2"], ["u"]),
        helper.make_node("Squeeze", ["u", "a2"], ["y"]),
    ]
    i64 = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    inits = [init("i1", i64(1)), init("a0", i64([0])), init("a2", i64([2])), init("two", i64([2])),
             init("m1", i64([-1]))]
    return model("shape_ops", nodes, [fin("x", 2, 6)], [fin("y", 2, 6)], inits)


def value_attrs():
    """Constants in every attribute form, float16 and float64 initializers."""
    nodes = [
        helper.make_node("Constant", [], ["vf"], value_float=0.5),
        helper.make_node("Constant", [], ["vfs"], value_floats=[1.0, 2.0, 3.0]),
        helper.make_node("Constant", [], ["vi"], value_int=3),
        helper.make_node("Constant", [], ["vis"], value_ints=[1, 3]),
        helper.make_node("Reshape", ["x", "vis"], ["r"]),
        helper.make_node("Mul", ["r", "vfs"], ["m"]),
        helper.make_node("Add", ["m", "vf"], ["a"]),
        helper.make_node("Cast", ["h"], ["hf"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["a", "hf"], ["s"]),
        helper.make_node("Cast", ["d"], ["df"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["s", "df"], ["y"]),
    ]
    inits = [init("h", np.array([0.25, -1, 2], dtype=np.float16)),
             init("d", np.array([1.5, 0, -2], dtype=np.float64))]
    return model("value_attrs", nodes, [fin("x", 3)], [fin("y", 1, 3)], inits)


def edges():
    """One- or two-node graphs at the corners the compiler meets: two inputs,
    an output that is an input, softmax before opset 13, Gemm's C computed,
    a batched MatMul, a rank-0 tensor, the batch moved off dim 0."""
    i64 = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    node = helper.make_node
    return {
        "two_inputs": model("two_inputs", [node("Add", ["a", "b"], ["y"])],
                            [fin("a", "N", 3), fin("b", 1, 3)], [fin("y", "N", 3)]),
        "in_is_out": model("in_is_out", [node("Relu", ["x"], ["y"])], [fin("x", "N", 3)],
                           [fin("y", "N", 3), fin("x", "N", 3)]),
        "softmax_opset11": model("softmax_opset11", [node("Softmax", ["x"], ["y"], axis=1)],
                                 [fin("x", "N", 3, 4)], [fin("y", "N", 3, 4)], opset=11),
        "gemm_c_input": model("gemm_c_input", [node("Gemm", ["x", "w", "c"], ["g"], beta=2.0),
                                               node("Relu", ["g"], ["y"])],
                              [fin("x", "N", 3), fin("c", "N", 2)], [fin("y", "N", 2)],
                              [init("w", w(3, 2))]),
        "matmul_batched": model("matmul_batched", [node("MatMul", ["x", "w"], ["y"])],
                                [fin("x", "N", 2, 3)], [fin("y", "N", 2, 2)], [init("w", w(3, 2))]),
        "rank0": model("rank0", [node("Add", ["x", "k"], ["y"])], [fin("x")], [fin("y")],
                       [init("k", np.array(1.0, dtype=np.float32))]),
        "batch_moved": model("batch_moved", [node("Reshape", ["x", "t"], ["r"]),
                                             node("Sigmoid", ["r"], ["y"])],
                             [fin("x", "N", 3, 4)], [fin("y", 3, "N", 4)],
                             [init("t", i64([3, -2, 4]))]),
        "reduce_keep0": model("reduce_keep0",
                              [node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=0)],
                              [fin("x", "N", 3, 2, 2)], [fin("y", "N", 3)], opset=13),
    }


SEEDS = [conv_bn_hswish, paddle_style, se_block, x_hardsigmoid, reduce_mean, matmul_add,
         dropout_identity, clip, clip_opset6, flatten, shape_ops, value_attrs]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus", "onnx")
    os.makedirs(out, exist_ok=True)
    for f in SEEDS:
        with open(os.path.join(out, f.__name__ + ".onnx"), "wb") as fh:
            fh.write(f().SerializeToString())
    for name, m in edges().items():
        with open(os.path.join(out, "edge-" + name + ".onnx"), "wb") as fh:
            fh.write(m.SerializeToString())
    for levels in (20, 21):
        with open(os.path.join(out, "nest-graph-%d.onnx" % levels), "wb") as fh:
            fh.write(nested_graphs(levels))
    for t in ONNX_TESTS:
        src = os.path.join(NODE_TESTS, t)
        shutil.copyfile(os.path.join(src, "model.onnx"), os.path.join(out, "onnx-" + t + ".onnx"))
        # lcnetd wants weights, bounds and axes constant: a second copy with
        # every input but the first made an initializer from the test's data
        m = onnx.load(os.path.join(src, "model.onnx"))
        if len(m.graph.input) < 2:
            continue
        for i, vi in enumerate(list(m.graph.input)[1:], 1):
            t_ = onnx.TensorProto()
            with open(os.path.join(src, "test_data_set_0", "input_%d.pb" % i), "rb") as fh:
                t_.ParseFromString(fh.read())
            t_.name = vi.name
            m.graph.initializer.append(t_)
        del m.graph.input[1:]
        with open(os.path.join(out, "onnx-" + t + "-const.onnx"), "wb") as fh:
            fh.write(m.SerializeToString())


if __name__ == "__main__":
    main()
