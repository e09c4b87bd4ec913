"""Bundled ONNX models (face detectors, default classifier) and sample clips."""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
