"""An interrupted scan (Ctrl+C) exits 130, a terminated one (SIGTERM: `timeout`, `docker stop`,
systemd, batch schedulers) 143, and both still report the files they finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, astronaut_frames, wait_for, write_clip
from tiny_models import build_redness_model

pytestmark = pytest.mark.timeout(120)


def _sigint_ignored() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(("sig", "code", "word", "start"), [
    (signal.SIGINT, 130, "interrupted", None),
    (signal.SIGTERM, 143, "terminated (SIGTERM)", None),
    # A shell script's background job starts with SIGINT ignored (a CI runner's, say): a
    # scan still stops on it, as `watch` does.
    (signal.SIGINT, 130, "interrupted", _sigint_ignored)],
    ids=["ctrl-c", "sigterm", "ctrl-c-background-job"])
def test_ctrl_c_or_sigterm_mid_scan_reports_the_finished_files(
        sig: int, code: int, word: str, start: Callable[[], None] | None, tmp_path: Path,
        astronaut_bgr: np.ndarray) -> None:
    model = build_redness_model(tmp_path / "redness.onnx")
    short = write_clip(tmp_path / "short.mp4", astronaut_frames(astronaut_bgr, n=25))
    long = write_clip(tmp_path / "long.mp4", astronaut_frames(astronaut_bgr, n=1500))
    report, out = tmp_path / "report.json", tmp_path / "annotated"
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepfake_monitor.realtime.cli", "scan", str(short), str(long),
         "--model", str(model), "--sample-fps", "all", "--json", str(report),
         "--annotate", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=start)
    try:
        # files are scanned in order: once the long file's video is being written (to a
        # temporary beside it, renamed when complete), the short one is done
        wait_for(lambda: any(out.glob("*long.annotated.mp4*")) or proc.poll() is not None, 60,
                 "the second file to start")
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.3)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, err
    assert f"{word}; reporting the 1 finished file(s)" in err and "Traceback" not in err
    videos = json.loads(report.read_text())["videos"]
    assert [v["path"] for v in videos] == [str(short)]
    assert videos[0]["status"] == "ok" and videos[0]["frames_analyzed"] == 25
