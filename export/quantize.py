"""Reduced-precision copies of an exported (fp32, parity-checked) ONNX model, checked for accuracy.

* fp16: `onnxconverter_common.float16.convert_float_to_float16(keep_io_types=True)`: weights and
  activations in float16, the input and outputs stay float32, so the runtime's preprocessing and
  postprocessing are unchanged.
* int8: `quant_pre_process` (ORT graph optimisation) then `onnxruntime.quantization.
  quantize_static`, QDQ format, uint8 activations / int8 per-channel weights, MinMax
  calibration on preprocessed real face crops (a folder of crop images, or a run's train crops).

Acceptance rule (`check`): the reduced model and the Keras model score the same crops. Where the
crops carry real/fake labels of both classes (a run's validation crops), the ROC AUC of the reduced
model must be within `max_auc_change` (0.005) of the Keras model's; without labels, P(fake) may
differ by at most `max_prob_diff` (0.01) on any crop. Otherwise nothing is written.
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_monitor.realtime.errors import UserError
from deepfake_monitor.realtime.model.contract import ModelContract

from .run_folder import CONFIG_NAME, run_crops

MAX_AUC_CHANGE = 0.005
MAX_PROB_DIFF = 0.01
CALIB_LIMIT = 128
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


class AccuracyError(UserError):
    """The reduced-precision model loses too much accuracy against the Keras model."""


@dataclass(frozen=True)
class QuantCheck:
    precision: str
    max_output_diff: float  # max |Keras - reduced| over the raw outputs (logits / probabilities)
    max_prob_diff: float  # max |P(fake) Keras - P(fake) reduced|
    auc_fp32: float | None  # None without labels of both classes
    auc: float | None
    samples: int
    speed_ratio: float | None = None  # int8 throughput / fp32 throughput (CPU, batch 32)

    @property
    def auc_change(self) -> float | None:
        return None if self.auc is None or self.auc_fp32 is None else self.auc - self.auc_fp32

    def text(self) -> str:
        parts = [f"{self.precision}: max |output diff| vs Keras {self.max_output_diff:.3g}",
                 f"max |P(fake) diff| {self.max_prob_diff:.3g}"]
        if self.auc_change is not None:
            parts.append(f"AUC {self.auc_fp32:.4f} -> {self.auc:.4f} "
                         f"(change {self.auc_change:+.4f})")
        else:
            parts.append("AUC change n/a (no labelled crops of both classes)")
        parts.append(f"on {self.samples} crops")
        if self.speed_ratio is not None:
            parts.append(f"speed int8/fp32 {self.speed_ratio:.2f}x (ORT CPU, batch 32)")
        return "; ".join(parts)


# -- conversions -----------------------------------------------------------------------------


def to_fp16(onnx_model: Any) -> Any:
    from onnxconverter_common import float16

    return float16.convert_float_to_float16(onnx_model, keep_io_types=True)


class CropReader:
    """`CalibrationDataReader` over a preprocessed batch, fed in small batches."""

    def __init__(self, x: np.ndarray, input_name: str, batch: int = 8) -> None:
        self._batches = iter([{input_name: x[i:i + batch]} for i in range(0, len(x), batch)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)

    def rewind(self) -> None:  # pragma: no cover - not used by MinMax
        pass


def to_int8(onnx_model: Any, calib: np.ndarray) -> Any:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CropReader, CalibrationDataReader):
        pass

    name = onnx_model.graph.input[0].name
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # "consider pre-processing" advice on every call
    try:
        with tempfile.TemporaryDirectory(prefix="dfm-int8-") as tmp:
            src, pre, dst = (Path(tmp) / f for f in ("fp32.onnx", "pre.onnx", "int8.onnx"))
            onnx.save(onnx_model, str(src))
            # ORT's graph optimisation first (folds BatchNorm, fuses the tf2onnx Transposes):
            # without it the QDQ model ran at 0.5x fp32 (MobileNetV2 128 px, 2-core CPU), with
            # it and uint8 activations (U8S8) at 2.1x; int8 activations were slower still.
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            quantize_static(str(pre), str(dst), Reader(calib, name),
                            quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
            return onnx.load(str(dst))
    finally:
        logging.disable(previous)


# -- calibration crops -----------------------------------------------------------------------


def calibration_crops(calib: str | os.PathLike[str], size: int, limit: int = CALIB_LIMIT
                      ) -> tuple[list[np.ndarray], str]:
    """BGR crops (size x size) of a folder of crop images, or of a run's train (else val) crops."""
    import cv2

    path = Path(calib)
    if not path.is_dir():
        raise UserError(f"{path}: calibration source must be a folder of face crops or a run")
    if (path / CONFIG_NAME).is_file():
        for split in ("train", "val"):
            crops, _ = run_crops(path, size, limit, split=split)
            if crops:
                return crops, f"run {split} crops"
        raise UserError(f"{path}: no train/val crops found through the run's config.json")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"{path}: no crop images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    picks = [files[int(i)] for i in np.linspace(0, len(files) - 1, min(limit, len(files)))]
    crops = []
    for f in picks:
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if img is not None:
            crops.append(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA))
    if not crops:
        raise UserError(f"{path}: none of the crop images could be read")
    return crops, "crop folder"


# -- checks ----------------------------------------------------------------------------------


def session(onnx_model: Any) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(onnx_model.SerializeToString(),
                                providers=["CPUExecutionProvider"])


def p_fake(outputs: Sequence[np.ndarray], contract: ModelContract) -> np.ndarray:
    """P(fake) as DeepfakeClassifier.postprocess computes it."""
    from types import SimpleNamespace

    from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier

    return DeepfakeClassifier.postprocess(SimpleNamespace(contract=contract),  # type: ignore[arg-type]
                                          list(outputs)).astype(np.float64)


def check(precision: str, keras_model: Any, reduced: Any, contract: ModelContract,
          x: np.ndarray, labels: Sequence[int] | None, *,
          max_auc_change: float = MAX_AUC_CHANGE, max_prob_diff: float = MAX_PROB_DIFF
          ) -> QuantCheck:
    """Score `x` with Keras and the reduced model; AccuracyError when the rule is broken."""
    sess = session(reduced)
    got: list[np.ndarray] = []
    want: list[np.ndarray] = []
    for i in range(0, len(x), 32):
        xb = x[i:i + 32]
        g = sess.run(None, {sess.get_inputs()[0].name: xb})
        w = keras_model(xb, training=False)
        w = list(w) if isinstance(w, (list, tuple)) else [w]
        got.append(np.asarray(g[contract.output.index], np.float64))
        want.append(np.asarray(w[contract.output.index], np.float64))
    g_out, w_out = np.concatenate(got), np.concatenate(want)
    out_diff = float(np.max(np.abs(g_out - w_out)))
    pad = [np.zeros(1)] * contract.output.index  # postprocess picks outputs[index]
    p_red, p_ref = p_fake([*pad, g_out], contract), p_fake([*pad, w_out], contract)
    prob_diff = float(np.max(np.abs(p_red - p_ref)))
    auc_ref = auc = None
    if labels is not None and len(set(labels)) == 2:
        from sklearn.metrics import roc_auc_score

        auc_ref, auc = float(roc_auc_score(labels, p_ref)), float(roc_auc_score(labels, p_red))
    result = QuantCheck(precision, out_diff, prob_diff, auc_ref, auc, len(x))
    if result.auc_change is not None:
        if not abs(result.auc_change) <= max_auc_change:
            raise AccuracyError(f"{result.text()}: AUC moves by more than {max_auc_change:g}; "
                                "nothing written")
    elif not prob_diff <= max_prob_diff:
        raise AccuracyError(f"{result.text()}: P(fake) moves by more than {max_prob_diff:g} "
                            "(no labelled crops for an AUC check); nothing written")
    return result


def speed_ratio(fp32: Any, reduced: Any, size: int, *, batch: int = 32, reps: int = 5) -> float:
    """fp32 median time / reduced median time, ONNX Runtime CPU, one batch of `batch`."""
    x = np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)

    def median_time(model: Any) -> float:
        sess = session(model)
        feed = {sess.get_inputs()[0].name: x}
        sess.run(None, feed)  # warm-up
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            sess.run(None, feed)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    return median_time(fp32) / median_time(reduced)
