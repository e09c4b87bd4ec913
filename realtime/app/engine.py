"""The model every tile shares: `LoadedModel` (a classifier with its face detector) and `Engine`,
which loads one off the GUI thread and retires the old one once no stream uses it; the
engine's threads, for shutdown checks; and `emit`, a Qt signal sent from any thread."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any

from PyQt6.QtCore import QObject, pyqtBoundSignal, pyqtSignal

from ..errors import UserError
from ..faces.detector import PIPELINE_INTRA_OP_THREADS, FaceDetector
from ..model.classifier import DeepfakeClassifier, InferenceService
from ..model.contract import ModelContract
from ..sources.credentials import mask_credentials

log = logging.getLogger(__name__)

ENGINE_THREAD_PREFIXES = ("source:", "detect:", "result:", "display:", "control:", "recorder:",
                          "stopper:", "classifier", "model-loader", "model-retire")


def engine_threads() -> list[threading.Thread]:
    """Threads of the engine and of this bridge that are still alive (for shutdown checks)."""
    return [t for t in threading.enumerate()
            if t.is_alive() and t.name.startswith(ENGINE_THREAD_PREFIXES)]


def emit(signal: pyqtBoundSignal, *args: Any) -> bool:
    """Emit from any thread; False when the receiving side is already gone (shutdown)."""
    try:
        signal.emit(*args)
    except RuntimeError:  # the QObject was deleted
        return False
    return True


# -- model ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedModel:
    """A classifier ready to serve every stream, with the face detector it goes with."""

    requested: str  # the path asked for; "" = the bundled default
    service: InferenceService
    detector: FaceDetector

    @property
    def contract(self) -> ModelContract:
        return self.service.classifier.contract

    @property
    def provider(self) -> str:
        return str(self.service.classifier.backend.provider)

    @property
    def path(self) -> str:
        return str(self.service.classifier.path)


class Engine(QObject):
    """Loads models off the GUI thread; owns the one InferenceService that all streams share.

    Only the GUI thread swaps the current model (`adopt`); the previous one is stopped by
    `retire` once every stream has moved to the new one, so no analyzer loses its session.
    """

    loaded = pyqtSignal(object)  # LoadedModel
    load_failed = pyqtSignal(str, str)  # the path asked for ("" = bundled), one-line reason

    def __init__(self, *, providers: list[str] | None = None, detector: str = "full",
                 min_face_score: float = 0.5, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.providers = providers
        self.detector_name = detector
        self.min_face_score = min_face_score
        self.current: LoadedModel | None = None
        self.loading = 0
        self._detector: FaceDetector | None = None
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def load(self, model: str | None) -> None:
        """Load a classifier (None or "" = the bundled one); answers with a signal."""
        self.loading += 1
        self._spawn(partial(self._load, model or ""), "model-loader")

    def adopt(self, model: LoadedModel) -> LoadedModel | None:
        """Make `model` the current one (GUI thread); returns the one it replaces."""
        self.loading = max(0, self.loading - 1)
        previous, self.current = self.current, model
        return previous

    def failed_load_seen(self) -> None:
        self.loading = max(0, self.loading - 1)

    def retire(self, model: LoadedModel, moved: list[Future[None]]) -> None:
        """Stop `model`'s session once every stream has moved off it."""

        def wait_then_stop() -> None:
            for future in moved:
                with contextlib.suppress(Exception):
                    future.result(timeout=5.0)
            model.service.stop()

        self._spawn(wait_then_stop, "model-retire")

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.current is not None:
            self.current.service.stop(max(0.1, deadline - time.monotonic()))
            self.current = None

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _load(self, model: str) -> None:
        service: InferenceService | None = None
        try:
            with self._lock:  # one load at a time; the detector is loaded once
                if self._detector is None:
                    self._detector = FaceDetector(
                        self.detector_name, providers=self.providers,
                        min_score=self.min_face_score,
                        intra_op_threads=PIPELINE_INTRA_OP_THREADS)
                detector = self._detector
                classifier = DeepfakeClassifier(model or None, providers=self.providers)
                service = InferenceService(classifier).start()
        except UserError as exc:
            emit(self.load_failed, model, mask_credentials(str(exc)))
            return
        except Exception as exc:  # a broken file can raise anything from deep inside ORT
            log.debug("model load failed", exc_info=True)
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            emit(self.load_failed, model, f"{model or 'bundled model'}: cannot load: {reason}")
            return
        if self._stopping.is_set() or not emit(self.loaded,
                                                LoadedModel(model, service, detector)):
            service.stop()
