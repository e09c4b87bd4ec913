"""The deepfake classifier: contract-driven pre/post-processing around one ONNX session, and a
batching service that lets every stream share that session.

Pre- and post-processing stay outside the session call (ultralytics / insightface style), so the
same code serves CPU and GPU providers and the session sees only ready tensors.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .backend import OnnxBackend
from .contract import ModelContract

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "deepfake_classifier.onnx"


def default_model_path() -> Path:
    """The classifier bundled in `assets/`."""
    from deepfake_monitor.assets import ASSETS_DIR

    return ASSETS_DIR / DEFAULT_MODEL_NAME


def resolve_model_path(path: str | os.PathLike[str] | None) -> Path:
    if path is not None:
        return Path(path)
    bundled = default_model_path()
    if not bundled.is_file():
        raise ModelError(
            f"no default classifier is bundled at {bundled}; pass --model PATH.onnx "
            "(any ONNX classifier that carries deepfake-monitor metadata)"
        )
    return bundled


def calibrated_logits(contract: ModelContract, outputs: list[np.ndarray]) -> np.ndarray:
    """Model outputs to the temperature-scaled fake-vs-real logit, float64, shape (N,).

    P(fake) is its sigmoid; explanations (train/saliency.py) measure changes in the logit, which
    does not saturate.
    """
    out = contract.output
    y = np.asarray(outputs[out.index], np.float64)
    y = y.reshape(y.shape[0], -1)
    units = y.shape[1]
    eps = 1e-7
    if out.activation == "softmax":
        p = np.clip(y[:, out.fake_index], eps, 1 - eps)
        logit = np.log(p) - np.log(np.clip(1 - p, eps, 1))
    elif out.activation == "sigmoid":
        p = np.clip(y[:, out.fake_index], eps, 1 - eps)
        logit = np.log(p) - np.log1p(-p)
    elif units == 1:
        logit = y[:, 0]
    else:
        # Raw multi-class scores: fake vs the log-sum-exp of every other class.
        others = np.delete(y, out.fake_index, axis=1)
        m = others.max(axis=1, keepdims=True)
        rest = (m + np.log(np.exp(others - m).sum(axis=1, keepdims=True)))[:, 0]
        logit = y[:, out.fake_index] - rest
    return logit / contract.temperature


class DeepfakeClassifier:
    """Turns face crops into calibrated fake probabilities, as the model's contract says."""

    def __init__(self, model: str | os.PathLike[str] | None = None, *,
                 providers: Sequence[str] | None = None,
                 intra_op_threads: int | None = None) -> None:
        path = resolve_model_path(model)
        self.backend = OnnxBackend(path, providers, intra_op_threads=intra_op_threads)
        self.contract = ModelContract.from_metadata(self.backend.metadata, source=str(path))
        outputs = self.backend.session.get_outputs()
        self.contract.check_graph(
            self.backend.input_shape,
            self.backend.input_type,
            [[d if isinstance(d, int) and d > 0 else None for d in o.shape] for o in outputs],
            source=str(path),
        )
        spec = self.contract.input
        # (v * scale - mean) / std folded into one multiply-add per pixel.
        std = np.asarray(spec.std, np.float32)
        self._gain = (spec.scale / std).astype(np.float32)
        self._offset = (-np.asarray(spec.mean, np.float32) / std).astype(np.float32)
        self.path = path

    @property
    def size(self) -> int:
        return self.contract.input.size

    @property
    def name(self) -> str:
        return self.contract.card.name

    def preprocess(self, crops_bgr: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 BGR crops, as `crop_faces` makes them, to the model's input."""
        spec = self.contract.input
        if crops_bgr.shape[1:] != (spec.size, spec.size, 3):
            raise ValueError(f"crops must be (N, {spec.size}, {spec.size}, 3), "
                             f"got {crops_bgr.shape}")
        x = crops_bgr[..., ::-1] if spec.color == "RGB" else crops_bgr
        if spec.dtype == "uint8":
            x = np.ascontiguousarray(x)
        else:
            x = x.astype(np.float32)
            x *= self._gain
            x += self._offset
        if spec.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x)

    def postprocess(self, outputs: list[np.ndarray]) -> np.ndarray:
        """Model outputs to calibrated P(fake), shape (N,)."""
        logit = calibrated_logits(self.contract, outputs)
        return (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)

    def predict(self, crops_bgr: np.ndarray) -> np.ndarray:
        """Calibrated P(fake) for a batch of crops, shape (N,)."""
        if len(crops_bgr) == 0:
            return np.zeros((0,), np.float32)
        return self.postprocess(self.backend.run(self.preprocess(crops_bgr)))


@dataclass
class _Request:
    crops: np.ndarray
    future: Future[np.ndarray]


class InferenceService:
    """One worker thread that owns the classifier and batches requests from every stream.

    Requests wait in a bounded queue; the worker takes the first, then whatever else is already
    waiting (up to `max_batch` crops), runs one session call and completes each request's future.
    Batching thus grows exactly when the model is the bottleneck, without adding latency when it
    is not.
    """

    def __init__(self, classifier: DeepfakeClassifier, *, max_batch: int = 32,
                 max_pending: int = 64) -> None:
        self.classifier = classifier
        self.max_batch = max_batch
        self._queue: queue.Queue[_Request | None] = queue.Queue(maxsize=max_pending)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="classifier", daemon=True)
        self.batches = 0
        self.crops_done = 0
        self.busy_s = 0.0
        self._started = False

    def start(self) -> InferenceService:
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def submit(self, crops: np.ndarray, timeout: float | None = None) -> Future[np.ndarray]:
        """P(fake) for these crops, later. Blocks while the queue is full (backpressure)."""
        future: Future[np.ndarray] = Future()
        if len(crops) == 0:
            future.set_result(np.zeros((0,), np.float32))
            return future
        if self._stop.is_set():
            future.set_exception(RuntimeError("classifier service stopped"))
            return future
        self._queue.put(_Request(crops, future), timeout=timeout)
        return future

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        if self._started:
            self._thread.join(timeout)
        # Anything still queued will never run: fail it rather than leave callers waiting.
        while True:
            try:
                req = self._queue.get_nowait()
            except queue.Empty:
                break
            if req is not None and not req.future.done():
                req.future.set_exception(RuntimeError("classifier service stopped"))

    def _take_batch(self, first: _Request) -> list[_Request]:
        batch = [first]
        count = len(first.crops)
        while count < self.max_batch:
            try:
                req = self._queue.get_nowait()
            except queue.Empty:
                break
            if req is None:
                self._stop.set()
                break
            batch.append(req)
            count += len(req.crops)
        return batch

    def _run(self) -> None:
        while not self._stop.is_set():
            first = self._queue.get()
            if first is None:
                break
            batch = self._take_batch(first)
            started = time.perf_counter()
            try:
                crops = np.concatenate([r.crops for r in batch]) if len(batch) > 1 \
                    else batch[0].crops
                probs = self.classifier.predict(crops)
            except Exception as exc:  # surface model failures to every waiting caller
                log.exception("classifier failed on a batch of %d crops", sum(len(r.crops)
                                                                             for r in batch))
                for r in batch:
                    r.future.set_exception(exc)
                continue
            self.busy_s += time.perf_counter() - started
            self.batches += 1
            self.crops_done += len(crops)
            start = 0
            for r in batch:
                n = len(r.crops)
                r.future.set_result(probs[start : start + n])
                start += n
