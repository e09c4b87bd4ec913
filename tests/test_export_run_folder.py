"""The export package's modules import one another in one direction only (run_folder.py holds
what keras_export.py and quantize.py share), and a run folder's crops are found the way both use
them: the parity and accuracy checks (val) and int8 calibration (train, else val)."""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO

from deepfake_monitor.export.quantize import calibration_crops
from deepfake_monitor.export.run_folder import CONFIG_NAME, run_crops
from deepfake_monitor.realtime.errors import UserError

EXPORT = REPO / "export"


def local_imports(path: Path) -> set[str]:
    """Modules of the export package that `path` imports, at the top or inside functions."""
    names = {p.stem for p in EXPORT.glob("*.py")}
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1:
                found |= {module} if module else {a.name for a in node.names}
            elif module.startswith("deepfake_monitor.export."):
                found.add(module.rsplit(".", 1)[1])
            elif module == "deepfake_monitor.export":
                found |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.rsplit(".", 1)[1] for a in node.names
                      if a.name.startswith("deepfake_monitor.export.")}
    return found & names - {path.stem}


def test_export_modules_import_each_other_without_a_cycle() -> None:
    graph = {p.stem: local_imports(p) for p in EXPORT.glob("*.py")}
    assert "run_folder" in graph["quantize"] and "run_folder" in graph["keras_export"]
    assert "keras_export" not in graph["quantize"]
    # depth-first search for a cycle
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            assert state.get(nxt) != 1, f"import cycle: {' -> '.join([*path, node, nxt])}"
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


@pytest.fixture
def run(tmp_path: Path, astronaut_bgr: np.ndarray) -> Path:
    """A run folder whose config.json names an extract folder (relative to the run's parent,
    as `train` run from there writes it) with real face crops in train and val."""
    faces = tmp_path / "faces"
    (faces / "crops").mkdir(parents=True)
    rows = []
    face = astronaut_bgr[30:230, 150:330]
    for i in range(6):
        crop = cv2.resize(np.roll(face, 7 * i, axis=1), (96, 96))
        if i % 2:
            crop[..., 2] = np.clip(crop[..., 2].astype(int) + 80, 0, 255)
        name = f"crops/{i}.png"
        cv2.imwrite(str(faces / name), crop)
        rows.append({"crop_path": name, "split": "train" if i < 4 else "val",
                     "label": "fake" if i % 2 else "real"})
    with (faces / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["crop_path", "split", "label"])
        writer.writeheader()
        writer.writerows(rows)
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    (run / CONFIG_NAME).write_text(json.dumps({"faces": "../faces"}))
    return run


def test_run_crops_reads_a_split_with_labels(run: Path) -> None:
    crops, labels = run_crops(run, 64, 10)
    assert len(crops) == 2 and labels == [0, 1]
    assert all(c.shape == (64, 64, 3) and c.dtype == np.uint8 for c in crops)
    # the fake one was made redder: its red channel's mean is higher
    assert crops[1][..., 2].mean() > crops[0][..., 2].mean() + 30
    train, train_labels = run_crops(run, 64, 3, split="train")
    assert len(train) == 3 and train_labels == [0, 1, 1]  # spread over the 4: rows 0, 1, 3
    assert run_crops(None, 64, 10) == ([], [])
    assert run_crops(run.parent, 64, 10) == ([], [])  # no config.json: not a run


def test_calibration_takes_the_runs_train_crops_else_a_folder(run: Path, tmp_path: Path) -> None:
    crops, what = calibration_crops(run, 48)
    assert what == "run train crops" and len(crops) == 4 and crops[0].shape == (48, 48, 3)
    crops, what = calibration_crops(run.parent.parent / "faces" / "crops", 48)
    assert what == "crop folder" and len(crops) == 6
    with pytest.raises(UserError, match="no crop images"):
        calibration_crops(tmp_path / "runs", 48)
