"""Keras 3 model (a training run's `best.keras`) to ONNX with our contract, verified.

Conversion route: `tf2onnx.convert.from_function` on a `tf.function` that calls the model with
an explicit `tf.TensorSpec([None, S, S, 3], tf.float32, name="input")`, returning
`{"logit": ...}`. Why this one:

* `tf2onnx.convert.from_keras` is written against tf.keras 2 (it reads `model._is_graph_network`,
  `model.inputs` as symbolic TF tensors, ...) and does not handle Keras 3 models;
* `model.export(format="onnx")` in Keras 3 on the TF backend wraps the same tf2onnx call but
  names the input after the Keras layer and gives no control over the output name or the capture
  folding below; the SavedModel round trip (`format="tf_saved_model"` + `from_saved_model`)
  works too but writes a temporary SavedModel and is slower;
* `from_function` traces the model once (which also builds it), freezes its variables into
  initializers, gives a dynamic batch axis from the `None` in the spec, and lets us pick the
  names: input "input", output "logit" (single-output models) or the output layers' names
  ("logit" and "mask" with a manipulation-mask head, train/manipulation_mask.py).

One trap remains: constants a layer keeps as *eager tensors* rather than variables (Keras 3's
`Normalization` in EfficientNet when it was never adapted: its mean and variance) are captured
by the traced graph and tf2onnx turns them into extra graph inputs. `_fold_captures` replaces
each such input by an initializer holding the captured value, so the model has one input.

Every export is verified: Keras and ONNX Runtime run on the same batch of real face crops (the
run's validation crops from its extract manifest, else crops of scikit-image's public-domain
astronaut photo found by our face detector), and the file is only written (temp name, then
rename) when max |difference| <= tolerance (1e-4).

Options on top: `--fp16` / `--int8` write a reduced-precision copy of the verified fp32 graph, kept
only when it keeps the accuracy (quantize.py says the rule); a `.h5` model of the original
notebooks (2-unit softmax head, RGB scaled to [0, 1]) gets its contract made for it
(`notebook_contract`), the fake class at `--fake-index`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_monitor.realtime.errors import ModelError, UserError
from deepfake_monitor.realtime.model.contract import ModelContract

from .run_folder import CONTRACT_NAME, MODEL_NAME, run_crops

log = logging.getLogger(__name__)

INPUT_NAME = "input"
DEFAULT_OPSET = 17
TOLERANCE = 1e-4
BATCH = 8
EVAL_LIMIT = 256  # labelled validation crops for the --fp16 / --int8 accuracy check


class ParityError(UserError):
    """The ONNX graph does not compute what the Keras model does."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    max_diff: float
    samples: int
    sample_source: str
    output_range: tuple[float, float]
    seconds: float
    opset: int
    quant: Any = None  # quantize.QuantCheck for --fp16 / --int8
    notebook: bool = False  # the contract was made for an original-notebook model


# -- sources ---------------------------------------------------------------------------------


def resolve_source(source: str | os.PathLike[str], contract_path: str | os.PathLike[str] | None,
                   *, allow_missing: bool = False
                   ) -> tuple[Path, Path | None, ModelContract | None]:
    """(model file, run folder or None, contract) of a RUN_DIR, a .keras or a .h5 file.

    The contract is None only with `allow_missing` (a notebook model gets one made for it)."""
    src = Path(source)
    run: Path | None = None
    if src.is_dir():
        run, model = src, src / MODEL_NAME
        if not model.is_file():
            raise UserError(f"{src}: no {MODEL_NAME}; is this a training run folder?")
    elif src.is_file():
        if src.suffix not in (".keras", ".h5"):
            raise UserError(f"{src}: expected a .keras or .h5 file or a training run folder")
        model = src
        if (src.parent / CONTRACT_NAME).is_file() and src.name == MODEL_NAME:
            run = src.parent
    else:
        raise UserError(f"{src}: no such file or folder")
    if contract_path is not None:
        cpath = Path(contract_path)
    elif run is not None and (run / CONTRACT_NAME).is_file():
        cpath = run / CONTRACT_NAME
    elif allow_missing:
        return model, run, None
    else:
        where = f"{run}: no {CONTRACT_NAME}" if run else f"{src}: not inside a training run"
        raise UserError(f"{where}; give the model contract with --contract JSON")
    if not cpath.is_file():
        raise UserError(f"{cpath}: contract file not found")
    contract = ModelContract.from_json(cpath.read_text(encoding="utf-8"), source=str(cpath))
    return model, run, contract


def is_two_way_softmax(model: Any) -> bool:
    """The original notebooks' head: the model ends in a 2-unit softmax."""
    import keras

    try:
        units = tuple(model.outputs[0].shape)[-1] if len(model.outputs) == 1 else None
    except (AttributeError, TypeError):
        return False
    last = model.layers[-1] if getattr(model, "layers", None) else None
    softmax = isinstance(last, keras.layers.Softmax) or (
        getattr(last, "activation", None) is keras.activations.softmax)
    return units == 2 and softmax


def notebook_contract(model: Any, path: Path, fake_index: int = 1) -> ModelContract:
    """What the original notebooks' models expect: RGB in [0, 1] (x / 255, no mean/std), the
    whole face box (margin 0, no alignment), a 2-way softmax with `fake_index` the fake class."""
    from deepfake_monitor.realtime.model.contract import CropSpec, InputSpec, ModelCard, OutputSpec

    if fake_index not in (0, 1):
        raise UserError(f"--fake-index must be 0 or 1 for a 2-way softmax, not {fake_index}")
    shape = tuple(model.inputs[0].shape) if getattr(model, "inputs", None) else ()
    size = int(shape[1]) if len(shape) == 4 and shape[1] and shape[1] == shape[2] else 128
    return ModelContract(
        input=InputSpec(size=size, color="RGB", scale=1.0 / 255.0, mean=(0.0, 0.0, 0.0),
                        std=(1.0, 1.0, 1.0)),
        crop=CropSpec(margin=0.0, align=False),
        output=OutputSpec(fake_index=fake_index, activation="softmax", index=0),
        card=ModelCard(name=path.stem, version="notebook",
                       training_data="unknown (original notebook model)",
                       description=f"imported from {path.name} (notebook preprocessing: RGB, "
                                   f"x/255, {size} px; fake class index {fake_index})"),
    )


def load_keras(path: Path) -> Any:
    import keras

    import deepfake_monitor.export.keras_layers  # noqa: F401  (registers BackbonePreprocess)

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise UserError(f"{path}: cannot load the Keras model ({exc})") from exc


# -- conversion ------------------------------------------------------------------------------


def convert(model: Any, size: int, *, opset: int = DEFAULT_OPSET) -> Any:
    """The Keras model as an onnx.ModelProto: input "input" (N, S, S, 3) float32, N dynamic."""
    import tensorflow as tf
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    model(np.zeros((1, size, size, 3), np.float32), training=False)  # build it
    spec = (tf.TensorSpec([None, size, size, 3], tf.float32, name=INPUT_NAME),)
    names = output_names(model)

    @tf.function(input_signature=spec)
    def serve(image: Any) -> dict[str, Any]:
        out = model(image, training=False)
        if isinstance(out, (list, tuple)):
            return {name: o for name, o in zip(names, out, strict=True)}
        return {"logit": out}

    concrete = serve.get_concrete_function()
    onnx_model, _ = tf2onnx.convert.from_function(serve, input_signature=spec, opset=opset)
    _fold_captures(onnx_model, concrete)
    for value in [*onnx_model.graph.input, *onnx_model.graph.output]:  # "unk__123" -> "N"
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "N"
    return onnx_model


def output_names(model: Any) -> list[str]:
    """The ONNX outputs' names, in the model's order: its output layers' names where they are
    distinct (a mask-head model: "logit", "mask"), else "output_<i>"."""
    names = [str(n) for n in getattr(model, "output_names", None) or []]
    count = len(getattr(model, "outputs", None) or [])
    if len(names) == count and len(set(names)) == count:
        return names
    return [f"output_{i}" for i in range(count)]


def _fold_captures(onnx_model: Any, concrete: Any) -> None:
    """Turn graph inputs that are captured eager constants into initializers."""
    import tensorflow as tf
    from onnx import numpy_helper

    captured = {internal.name: external for external, internal
                in zip(concrete.captured_inputs, concrete.graph.internal_captures)
                if internal.dtype != tf.resource}
    graph = onnx_model.graph
    for inp in list(graph.input):
        if inp.name == INPUT_NAME:
            continue
        if inp.name not in captured:
            raise ModelError(f"conversion left an extra graph input {inp.name!r} that is not a "
                             "captured constant")
        value = np.asarray(captured[inp.name].numpy())
        graph.initializer.append(numpy_helper.from_array(value, inp.name))
        graph.input.remove(inp)


# -- verification ----------------------------------------------------------------------------


def astronaut_crops(contract: ModelContract, limit: int) -> list[np.ndarray]:
    """Crops of the public-domain astronaut photo at several margins, plain and mirrored."""
    import cv2
    from skimage import data

    from deepfake_monitor.realtime.faces.crop import crop_faces
    from deepfake_monitor.realtime.faces.detector import FaceDetector

    frame = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    faces = FaceDetector().detect(frame)
    if not faces:
        raise UserError("verification: no face found in the astronaut test photo")
    size = contract.input.size
    crops: list[np.ndarray] = []
    for margin in np.linspace(0.05, 0.6, max(1, limit // 2)):
        crop = crop_faces(frame, faces[:1], size=size, margin=float(margin),
                          align=contract.crop.align)[0]
        crops += [crop, crop[:, ::-1]]
    return crops[:limit]


def preprocess(crops: list[np.ndarray] | np.ndarray, contract: ModelContract) -> np.ndarray:
    """What DeepfakeClassifier.preprocess feeds the live model: colour order, scale, mean, std."""
    spec = contract.input
    x = np.stack(list(crops)).astype(np.float32)
    if spec.color == "RGB":
        x = x[..., ::-1]
    x = (x * spec.scale - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return np.ascontiguousarray(x, np.float32)


def sample_batch(contract: ModelContract, run: Path | None, limit: int = BATCH
                 ) -> tuple[np.ndarray, str]:
    """A batch of real face crops in the model's input form, and where they came from."""
    crops, _ = run_crops(run, contract.input.size, limit)
    source = "run validation crops"
    if not crops:
        crops, source = astronaut_crops(contract, limit), "astronaut photo crops"
    return preprocess(crops, contract), source


def parity(model: Any, onnx_model: Any, batch: np.ndarray) -> tuple[float, np.ndarray]:
    """max |Keras - ONNX Runtime| over every output of the batch, and Keras' outputs."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: batch})
    want = model(batch, training=False)
    want = list(want) if isinstance(want, (list, tuple)) else [want]
    want = [np.asarray(w) for w in want]
    if len(got) != len(want):
        raise ParityError(f"ONNX graph has {len(got)} outputs, Keras model {len(want)}")
    diff = 0.0
    for g, w in zip(got, want):
        if g.shape != w.shape:
            raise ParityError(f"output shape {g.shape} in ONNX, {w.shape} in Keras")
        diff = max(diff, float(np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)))))
    return diff, np.concatenate([w.reshape(-1) for w in want])


# -- the whole export ------------------------------------------------------------------------


def export(source: str | os.PathLike[str], out: str | os.PathLike[str], *,
           contract_path: str | os.PathLike[str] | None = None, opset: int = DEFAULT_OPSET,
           tolerance: float = TOLERANCE, fp16: bool = False,
           int8: str | os.PathLike[str] | None = None, notebook: bool | None = None,
           fake_index: int = 1, max_auc_change: float | None = None,
           max_prob_diff: float | None = None,
           tamper: Callable[[Any], None] | None = None) -> ExportResult:
    """Convert, verify, embed the contract and write `out`; nothing is left behind on failure.

    `fp16` / `int8` (calibration crops: a folder of crop images or a run) write a reduced-precision
    model instead, after the fp32 graph passed the parity check and only when it keeps the accuracy
    (see quantize.py). `notebook` (None: auto for a .h5 file without a contract that ends in a
    2-unit softmax) makes the contract of an original-notebook model, fake class `fake_index`.
    `tamper` (tests only) edits the converted graph before verification.
    """
    from . import quantize  # onnxruntime.quantization: only when asked for
    from .metadata import save_with_contract

    if fp16 and int8 is not None:
        raise UserError("--fp16 and --int8 exclude each other")
    start = time.perf_counter()
    model_path, run, contract = resolve_source(
        source, contract_path, allow_missing=bool(notebook) or (
            notebook is None and Path(source).suffix == ".h5"))
    model = load_keras(model_path)
    made = False
    if contract is None:
        if not is_two_way_softmax(model):
            what = "--notebook needs" if notebook else "a .h5 file without --contract must be"
            raise UserError(f"{model_path}: {what} a model with a 2-unit softmax output (the "
                            "original notebooks' head); give the model contract with --contract")
        contract, made = notebook_contract(model, model_path, fake_index), True
    if contract.input.layout != "NHWC" or contract.input.dtype != "float32":
        raise UserError(f"{model_path}: the exporter makes NHWC float32 inputs, the contract "
                        f"says {contract.input.layout} {contract.input.dtype}")
    size = contract.input.size
    shape = tuple(model.inputs[0].shape) if getattr(model, "inputs", None) else None
    if shape is not None and tuple(shape[1:]) != (size, size, 3):
        raise UserError(f"{model_path}: model input is {shape[1:]}, the contract says "
                        f"({size}, {size}, 3)")
    onnx_model = convert(model, size, opset=opset)
    if tamper is not None:
        tamper(onnx_model)
    batch, sample_source = sample_batch(contract, run)
    diff, want = parity(model, onnx_model, batch)
    if not diff <= tolerance:  # also refuses NaN
        raise ParityError(f"ONNX output differs from Keras by max |diff| {diff:.3g} > "
                          f"{tolerance:g} on {len(batch)} {sample_source}; nothing written")
    quant = None
    if fp16 or int8 is not None:
        limits = {k: v for k, v in (("max_auc_change", max_auc_change),
                                    ("max_prob_diff", max_prob_diff)) if v is not None}
        crops, labels = run_crops(run, size, EVAL_LIMIT)
        x_eval = preprocess(crops, contract) if crops else batch
        y_eval = labels if crops and min(labels) >= 0 else None
        if fp16:
            reduced = quantize.to_fp16(onnx_model)
            quant = quantize.check("fp16", model, reduced, contract, x_eval, y_eval, **limits)
        else:
            assert int8 is not None
            calib, _ = quantize.calibration_crops(int8, size)
            reduced = quantize.to_int8(onnx_model, preprocess(calib, contract))
            quant = quantize.check("int8", model, reduced, contract, x_eval, y_eval, **limits)
            quant = dataclasses.replace(
                quant, speed_ratio=quantize.speed_ratio(onnx_model, reduced, size))
        onnx_model = reduced
    dest = Path(out)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        save_with_contract(onnx_model, contract, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(dest, diff, len(batch), sample_source,
                        (float(want.min()), float(want.max())),
                        time.perf_counter() - start, opset, quant, made)


# -- inspect ---------------------------------------------------------------------------------
