"""The program in a shell pipeline: a reader that stops early is not an error."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def test_output_cut_short_by_the_reader_is_not_a_traceback() -> None:
    exe = shutil.which("deepfake-monitor")
    if exe is None:
        pytest.skip("the deepfake-monitor entry point is not installed")
    # `inspect m.onnx | head -0`: the reader is gone before the first line is written
    from deepfake_monitor.realtime.model.classifier import default_model_path

    proc = subprocess.Popen([exe, "inspect", str(default_model_path())],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()
    _, err_bytes = proc.communicate(timeout=60)
    err = err_bytes.decode()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert proc.returncode == 0, (proc.returncode, err)
