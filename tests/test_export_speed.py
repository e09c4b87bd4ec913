"""`export --int8` reports a speed ratio (fp32 time / int8 time): check the measurement itself
on graphs whose relative cost is known by construction (no TensorFlow needed)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from deepfake_monitor.export.quantize import speed_ratio

SIZE = 16
WIDTH = 256  # 256 x 256 float weights: 256 KB a layer, all of them in the CPU's caches


def matmul_chain(layers: int) -> onnx.ModelProto:
    """[N, 16, 16, 3] -> the first 256 values -> `layers` x (256 x 256 MatMul, Relu) -> one
    logit. Each layer costs the same, so time grows in proportion to `layers` (plus a small
    fixed overhead per call)."""
    rng = np.random.default_rng(layers)
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", SIZE, SIZE, 3])
    y = helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["N", 1])
    inits = [numpy_helper.from_array(np.array([-1, SIZE * SIZE * 3], np.int64), "flat_shape"),
             numpy_helper.from_array(np.array([0], np.int64), "start"),
             numpy_helper.from_array(np.array([WIDTH], np.int64), "end"),
             numpy_helper.from_array(np.array([1], np.int64), "axis"),
             numpy_helper.from_array(rng.normal(0, 0.06, (WIDTH, 1)).astype(np.float32),
                                     "head")]
    nodes = [helper.make_node("Reshape", ["input", "flat_shape"], ["flat"]),
             helper.make_node("Slice", ["flat", "start", "end", "axis"], ["h0"])]
    for i in range(layers):
        inits.append(numpy_helper.from_array(
            rng.normal(0, 0.06, (WIDTH, WIDTH)).astype(np.float32), f"w{i}"))
        nodes += [helper.make_node("MatMul", [f"h{i}", f"w{i}"], [f"m{i}"]),
                  helper.make_node("Relu", [f"m{i}"], [f"h{i + 1}"])]
    nodes.append(helper.make_node("MatMul", [f"h{layers}", "head"], ["logit"]))
    model = helper.make_model(helper.make_graph(nodes, "chain", [x], [y], initializer=inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def median_ratio(fp32: onnx.ModelProto, reduced: onnx.ModelProto) -> float:
    """The median of five measurements: a busy machine (CI, a training job) stalls single
    calls now and then."""
    return float(np.median([speed_ratio(fp32, reduced, SIZE, batch=128, reps=11)
                            for _ in range(5)]))


def test_speed_ratio_measures_relative_cost() -> None:
    light, heavy = matmul_chain(2), matmul_chain(8)
    # a model against itself runs as fast
    assert 0.6 <= median_ratio(light, light) <= 1.6
    # four times the layers: about four times the time (less the fixed overhead per call);
    # the other way round, about a quarter. Wide bounds: a busy machine stretches the ratio
    # (10.2 seen beside a training job), and what is tested is the direction and the scale.
    assert 1.5 <= median_ratio(heavy, light) <= 16.0
    assert 1 / 16 <= median_ratio(light, heavy) <= 1 / 1.5
