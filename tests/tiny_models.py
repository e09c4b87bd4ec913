"""Tiny but real classifiers for end-to-end tests, built with the onnx helper API (no TensorFlow).

The "redness" model scores a crop by how much its red channel exceeds green and blue, so a face
made redder scores higher: the tests can check that scores, verdicts and alerts follow the
pixels through the whole pipeline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from deepfake_monitor.export.metadata import save_with_contract
from deepfake_monitor.realtime.model.contract import (
    CropSpec,
    InputSpec,
    ModelCard,
    ModelContract,
    OutputSpec,
)

# Redness (mean R - mean of G and B, pixels in 0..1) of an ordinary face crop is ~0.1-0.25;
# the tests' manipulation pushes it towards 0.4-0.5.
REDNESS_CENTRE = 0.3
REDNESS_GAIN = 12.0


def redness_contract(size: int = 64, *, layout: str = "NHWC", activation: str = "logit",
                     threshold: float = 0.5, temperature: float = 1.0,
                     margin: float = 0.1) -> ModelContract:
    return ModelContract(
        input=InputSpec(size=size, layout=layout, color="RGB", scale=1 / 255),  # type: ignore[arg-type]
        crop=CropSpec(margin=margin, align=False),
        output=OutputSpec(fake_index=0 if activation != "softmax" else 1,
                          activation=activation),  # type: ignore[arg-type]
        card=ModelCard(name="redness-test", version="1",
                       training_data="none: a fixed function of the crop, for tests"),
        threshold=threshold,
        temperature=temperature,
    )


def redness_graph(size: int = 64, *, layout: str = "NHWC", activation: str = "logit",
                  batch: int | None = None) -> onnx.ModelProto:
    """logit = GAIN * (mean R - (mean G + mean B) / 2 - CENTRE), as logit, sigmoid or softmax."""
    dims = [batch or "N", size, size, 3] if layout == "NHWC" else [batch or "N", 3, size, size]
    axes = [1, 2] if layout == "NHWC" else [2, 3]
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)
    w = numpy_helper.from_array(
        (REDNESS_GAIN * np.array([[1.0], [-0.5], [-0.5]])).astype(np.float32), "w")
    b = numpy_helper.from_array(np.array([-REDNESS_GAIN * REDNESS_CENTRE], np.float32), "b")
    axes_t = numpy_helper.from_array(np.array(axes, np.int64), "axes")
    nodes = [
        helper.make_node("ReduceMean", ["image", "axes"], ["means"], keepdims=0),
        helper.make_node("MatMul", ["means", "w"], ["mm"]),
        helper.make_node("Add", ["mm", "b"], ["logit"]),
    ]
    inits = [w, b, axes_t]
    if activation == "logit":
        out_name, units = "logit", 1
    elif activation == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", ["logit"], ["prob"]))
        out_name, units = "prob", 1
    else:
        inits.append(numpy_helper.from_array(np.zeros((1, 1), np.float32), "zero"))
        nodes += [
            helper.make_node("Mul", ["logit", "zero"], ["real_logit"]),
            helper.make_node("Concat", ["real_logit", "logit"], ["both"], axis=1),
            helper.make_node("Softmax", ["both"], ["prob"], axis=1),
        ]
        out_name, units = "prob", 2
    y = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [batch or "N", units])
    graph = helper.make_graph(nodes, "redness", [x], [y], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model


def build_redness_model(path: Path, size: int = 64, *, layout: str = "NHWC",
                        activation: str = "logit", batch: int | None = None,
                        **contract_args: float) -> Path:
    model = redness_graph(size, layout=layout, activation=activation, batch=batch)
    contract = redness_contract(size, layout=layout, activation=activation,
                                **contract_args)  # type: ignore[arg-type]
    return save_with_contract(model, contract, path)


def crop_redness(crops_bgr: np.ndarray) -> np.ndarray:
    """The same function in numpy, for checking the ONNX model's numbers."""
    x = crops_bgr.astype(np.float64) / 255
    means = x.mean(axis=(1, 2))  # B, G, R
    return means[:, 2] - (means[:, 1] + means[:, 0]) / 2
