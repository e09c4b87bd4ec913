"""Sources whose frames are larger than the limit are refused before decoding, in one line
(realtime/sources/frame_limit.py): a real 8192x4352 H.264 file (about 100 KB) that took scan to
hundreds of MB of memory to decode.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import astronaut_frames, write_clip
from tiny_models import build_redness_model

pytestmark = pytest.mark.timeout(180)

# scan in a process of its own, reporting its peak memory (VmHWM: this process image's own,
# where ru_maxrss would count the forked test process before exec too)
RUN = """
import re, sys
from pathlib import Path
from deepfake_monitor.realtime.cli import main
code = main(sys.argv[1:])
peak = re.search(r"VmHWM:\\s*(\\d+) kB", Path("/proc/self/status").read_text())
print("peak_mib", int(peak.group(1)) // 1024 if peak else -1, file=sys.stderr)
sys.exit(code)
"""


def flat_h264(path: Path, width: int, height: int, frames: int = 2) -> Path:
    """A real H.264 MP4 of grey frames: tiny on disk, whatever its frame size."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "40"}
        for _ in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([128]) * plane.buffer_size)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def scan(tmp_path: Path, *args: str) -> tuple[int, str, dict]:
    run = subprocess.run([sys.executable, "-c", RUN, "scan", *args, "--json", "r.json"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=150)
    report = json.loads((tmp_path / "r.json").read_text())
    return run.returncode, run.stderr, {v["path"]: v for v in report["videos"]}


def test_a_video_above_the_frame_size_limit_is_refused_before_decoding(
    tmp_path: Path, astronaut_bgr: np.ndarray
) -> None:
    model = build_redness_model(tmp_path / "redness.onnx")
    flat_h264(tmp_path / "big.mp4", 8192, 4352)
    assert (tmp_path / "big.mp4").stat().st_size < 300_000
    write_clip(tmp_path / "good.mp4", astronaut_frames(astronaut_bgr, n=10))
    code, err, videos = scan(tmp_path, "big.mp4", "good.mp4", "--model", str(model))
    assert code == 1, err
    problem = ("big.mp4: frames of 8192x4352 (35.7 megapixels) are larger than the limit of "
               "35.4 megapixels; refused before decoding (--max-pixels raises it)")
    assert [line for line in err.splitlines() if "error" in line] == [
        f"deepfake-monitor: error: {problem}"]
    assert videos["big.mp4"]["status"] == "error" and videos["big.mp4"]["error"] == problem
    assert videos["good.mp4"]["status"] == "ok"
    refused_mib = int(err.split("peak_mib ")[1])
    if refused_mib < 0:
        pytest.skip("no /proc/self/status here to measure memory with")

    # raised for the run, the same file is decoded and analysed, at a cost in memory
    code, err, videos = scan(tmp_path, "big.mp4", "--model", str(model),
                             "--max-pixels", str(8192 * 4352))
    assert code == 0, err
    assert videos["big.mp4"]["status"] == "no-face" and videos["big.mp4"]["frames_analyzed"]
    decoded_mib = int(err.split("peak_mib ")[1])
    assert decoded_mib > refused_mib + 150, (refused_mib, decoded_mib)


def test_max_pixels_is_checked_like_every_number(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "deepfake_monitor.realtime.cli", "scan", "x.mp4",
                          "--max-pixels", "0"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2
    assert "argument --max-pixels: 0 is not a whole number within [1, inf)" in run.stderr
