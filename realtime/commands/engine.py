"""The detector and classifier the scan and watch commands load from their options."""

from __future__ import annotations

import argparse
from typing import Any


def load_engine(args: argparse.Namespace) -> tuple[Any, Any, float]:
    from ..faces.detector import PIPELINE_INTRA_OP_THREADS, FaceDetector
    from ..model.backend import parse_providers
    from ..model.classifier import DeepfakeClassifier, InferenceService

    providers = parse_providers(args.providers)
    classifier = DeepfakeClassifier(args.model, providers=providers)
    detector = FaceDetector(args.detector, providers=providers, min_score=args.min_face_score,
                            intra_op_threads=PIPELINE_INTRA_OP_THREADS)
    threshold = args.threshold if args.threshold is not None else classifier.contract.threshold
    return detector, InferenceService(classifier).start(), threshold
