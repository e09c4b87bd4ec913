"""Every error in a scan report starts with the video's path, the one of a file that ends
early while decoding too (it had only the reason: "decoding stopped at frame 30 of 50")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from av_clips import write_h264
from conftest import astronaut_frames
from tiny_models import build_redness_model

from deepfake_monitor.realtime.cli import main

pytestmark = pytest.mark.timeout(120)


def test_a_file_that_ends_while_decoding_is_named_in_its_error(
        tmp_path: Path, astronaut_bgr: np.ndarray) -> None:
    whole = write_h264(tmp_path / "whole.mp4", astronaut_frames(astronaut_bgr, n=50))
    data = whole.read_bytes()
    half = tmp_path / "half.mp4"  # index first, so it opens; its second half is gone
    half.write_bytes(data[: len(data) // 2])
    model = build_redness_model(tmp_path / "redness.onnx")
    report = tmp_path / "r.json"
    assert main(["scan", str(half), "--model", str(model), "--json", str(report)]) == 1
    video = json.loads(report.read_text())["videos"][0]
    assert video["status"] == "error"
    assert video["error"].startswith(f"{half}: decoding stopped at frame "), video["error"]
