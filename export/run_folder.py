"""A training run folder as export reads it: the file names `train` writes into it, and the
face crops of its extract splits (for the parity check, the accuracy check and int8 calibration).

keras_export.py and quantize.py both need these; here they have one home that both import,
instead of importing each other.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "best.keras"
CONTRACT_NAME = "contract.json"
CONFIG_NAME = "config.json"


def run_crops(run: Path | None, size: int, limit: int, *, split: str = "val"
              ) -> tuple[list[np.ndarray], list[int]]:
    """Up to `limit` crops (BGR, size x size) of a run's extract split, spread out, and their
    labels (1 fake, 0 real, -1 unknown)."""
    import cv2

    if run is None or not (run / CONFIG_NAME).is_file():
        return [], []
    try:
        given = Path(json.loads((run / CONFIG_NAME).read_text(encoding="utf-8"))["faces"])
    except (KeyError, ValueError, TypeError):
        return [], []
    # A relative path is relative to where `train` ran: try here, then beside the run folder.
    bases = [Path.cwd(), *run.resolve().parents] if not given.is_absolute() else [Path("/")]
    found = [b / given for b in bases if (b / given / "manifest.csv").is_file()]
    if not found:
        log.info("%s: %s crops not found (%s)", run, split, given)
        return [], []
    faces = found[0]
    manifest = faces / "manifest.csv"
    with manifest.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("split") == split]
    picks = [rows[int(i)] for i in np.linspace(0, len(rows) - 1, min(limit, len(rows)))] \
        if rows else []
    crops, labels = [], []
    for row in picks:
        img = cv2.imread(str(faces / row["crop_path"]), cv2.IMREAD_COLOR)
        if img is not None:
            crops.append(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA))
            label = str(row.get("label", "")).strip().lower()
            labels.append({"fake": 1, "1": 1, "real": 0, "0": 0}.get(label, -1))
    return crops, labels
