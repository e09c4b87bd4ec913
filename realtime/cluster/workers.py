"""What every cluster worker shares, for scan and watch alike: the models it loads
(`EngineSpec`, `load_worker`), what it says about itself (`WorkerInfo`), its logging set up
as the CLI's, and how a failure of the cluster is told from a failure of the input."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError

MAX_ATTEMPTS = 3  # workers lost while holding one file before it is reported as an error
POLL_S = 0.2

# -- what every worker loads ------------------------------------------------------------------


@dataclass(frozen=True)
class EngineSpec:
    """The models every worker loads: the command's options, with paths made absolute (a
    worker's working folder is not the driver's)."""

    model: str | None = None
    detector: str = "full"
    providers: tuple[str, ...] | None = None
    min_face_score: float = 0.5
    threshold: float | None = None
    max_pixels: int | None = None  # frame-size limit (sources/frame_limit.py): the driver's

    @classmethod
    def from_args(cls, args: Any) -> EngineSpec:
        from ..model.backend import parse_providers

        providers = parse_providers(args.providers)
        model = os.path.abspath(args.model) if args.model else None
        detector = args.detector if args.detector in ("short", "full") \
            else os.path.abspath(args.detector)
        return cls(model, detector, None if providers is None else tuple(providers),
                   args.min_face_score, args.threshold, getattr(args, "max_pixels", None))

    def load(self) -> tuple[Any, Any, float]:
        """(detector, started InferenceService, threshold), as the local commands load them."""
        from ..faces.detector import PIPELINE_INTRA_OP_THREADS, FaceDetector
        from ..model.classifier import DeepfakeClassifier, InferenceService
        from ..sources.frame_limit import set_max_pixels

        if self.max_pixels:
            set_max_pixels(self.max_pixels)
        providers = None if self.providers is None else list(self.providers)
        classifier = DeepfakeClassifier(self.model, providers=providers)
        detector = FaceDetector(self.detector, providers=providers,
                                min_score=self.min_face_score,
                                intra_op_threads=PIPELINE_INTRA_OP_THREADS)
        threshold = self.threshold if self.threshold is not None else \
            classifier.contract.threshold
        return detector, InferenceService(classifier).start(), threshold


@dataclass(frozen=True)
class WorkerInfo:
    """Where a worker runs and what it loaded; `problem`: why it could not load (then the rest
    is empty)."""

    node_id: str
    node_ip: str
    pid: int
    provider: str = ""
    model: dict[str, Any] = field(default_factory=dict)
    model_name: str = ""
    threshold: float = 0.0
    problem: str | None = None

    @property
    def node(self) -> str:
        """The node as people read it: its address and the start of its id (several nodes
        may share an address)."""
        return f"{self.node_ip} {self.node_id[:6]}"


def _worker_setup() -> None:
    """A worker process logs like the CLI: native libraries quiet, credentials masked."""
    from ..log_setup import MaskingFilter, quiet_native_logs

    quiet_native_logs(0)
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter())


def _here(ray: Any) -> tuple[str, str]:
    context = ray.get_runtime_context()
    return context.get_node_id(), ray.util.get_node_ip_address()


def load_worker(engine: EngineSpec) -> tuple[Any, WorkerInfo]:
    """(engine or None, info) of the worker this runs in; a UserError (a model missing on this
    node) becomes the info's problem, so the driver can say it in one line."""
    import ray

    _worker_setup()
    node_id, node_ip = _here(ray)
    try:
        detector, service, threshold = engine.load()
    except UserError as exc:
        return None, WorkerInfo(node_id, node_ip, os.getpid(), problem=str(exc))
    classifier = service.classifier
    return (detector, service, threshold), WorkerInfo(
        node_id, node_ip, os.getpid(), classifier.backend.providers[0],
        classifier.contract.summary(), classifier.name, threshold)


def is_lost(ray: Any, exc: BaseException) -> bool:
    """A failure of the cluster (worker, node, object) rather than of the file itself."""
    e = ray.exceptions
    return isinstance(exc, e.RayActorError | e.WorkerCrashedError | e.NodeDiedError |
                      e.ObjectLostError | e.OwnerDiedError | e.LocalRayletDiedError)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__
