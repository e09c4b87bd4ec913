"""Provider choice, fallback warnings, static batches and the GPU IO-binding path."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import onnxruntime as ort
import pytest
from tiny_models import build_redness_model

from deepfake_monitor.realtime.errors import ModelError
from deepfake_monitor.realtime.model import backend
from deepfake_monitor.realtime.model.backend import (
    CPU,
    CUDA,
    TENSORRT,
    OnnxBackend,
    choose_providers,
    parse_providers,
)

ALL = [TENSORRT, CUDA, CPU]


@pytest.fixture
def gpu_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend an NVIDIA driver and TensorRT are installed (no GPU exists here)."""
    monkeypatch.setattr(backend, "nvidia_driver_present", lambda: True)
    monkeypatch.setattr(backend, "tensorrt_present", lambda: True)


def test_automatic_choice_prefers_tensorrt_then_cuda_then_cpu(gpu_machine: None) -> None:
    assert choose_providers(None, ALL) == [TENSORRT, CUDA, CPU]
    assert choose_providers(None, [CUDA, CPU]) == [CUDA, CPU]
    assert choose_providers(None, [CPU]) == [CPU]


def test_gpu_build_without_driver_uses_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "nvidia_driver_present", lambda: False)
    assert choose_providers(None, ALL) == [CPU]


def test_driver_without_tensorrt_uses_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "nvidia_driver_present", lambda: True)
    monkeypatch.setattr(backend, "tensorrt_present", lambda: False)
    assert choose_providers(None, ALL) == [CUDA, CPU]


def test_requested_but_unavailable_provider_is_skipped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        assert choose_providers([TENSORRT, CPU], [CPU]) == [CPU]
    assert "TensorrtExecutionProvider is not available" in caplog.text
    # The CPU always stays as the last resort.
    assert choose_providers([CUDA], [CUDA, CPU]) == [CUDA, CPU]


def test_parse_providers() -> None:
    assert parse_providers("cuda,cpu") == [CUDA, CPU]
    assert parse_providers("TensorRT, CUDA") == [TENSORRT, CUDA]
    assert parse_providers(None) is None
    assert parse_providers("auto") is None
    with pytest.raises(ModelError, match="unknown execution provider 'bogus'"):
        parse_providers("bogus")


def test_real_session_falls_back_to_cpu_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Ask for CUDA on this GPU-less machine: the session must still run, on the CPU, and say so."""
    path = build_redness_model(tmp_path / "m.onnx")
    with caplog.at_level(logging.WARNING):
        b = OnnxBackend(path, [CUDA])
    assert b.providers == [CPU]
    assert b.provider == "CPU"
    assert "CUDA" in caplog.text and "CPU" in caplog.text
    out = b.run(np.zeros((2, 64, 64, 3), np.float32))
    assert out[0].shape == (2, 1)


def test_static_batch_model_is_fed_in_padded_chunks(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((10, 64, 64, 3), dtype=np.float32)
    dynamic = OnnxBackend(build_redness_model(tmp_path / "d.onnx"))
    fixed = OnnxBackend(build_redness_model(tmp_path / "f.onnx", batch=4))
    assert dynamic.fixed_batch is None
    assert fixed.fixed_batch == 4
    np.testing.assert_allclose(fixed.run(x)[0], dynamic.run(x)[0], rtol=1e-6)
    assert fixed.run(x[:0])[0].shape[0] == 0


class _CpuStandInBinding:
    """Stands in for a CUDA IO binding (no GPU exists here): same calls, outputs on the CPU."""

    calls: ClassVar[list[str]] = []

    def __init__(self, real: ort.IOBinding) -> None:
        self.real = real

    def bind_cpu_input(self, name: str, arr: np.ndarray) -> None:
        self.calls.append("bind_cpu_input")
        self.real.bind_cpu_input(name, arr)

    def bind_output(self, name: str, device: str) -> None:
        self.calls.append(f"bind_output:{device}")
        self.real.bind_output(name, "cpu")

    def copy_outputs_to_cpu(self) -> list[np.ndarray]:
        self.calls.append("copy_outputs_to_cpu")
        return self.real.copy_outputs_to_cpu()


def test_gpu_sessions_use_io_binding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b = OnnxBackend(build_redness_model(tmp_path / "m.onnx"))
    x = np.random.default_rng(1).random((3, 64, 64, 3), dtype=np.float32)
    expected = b.run(x)[0]
    session = b.session
    real_binding = session.io_binding
    monkeypatch.setattr(b, "session", type("S", (), {
        "io_binding": lambda self: _CpuStandInBinding(real_binding()),
        "run_with_iobinding": lambda self, binding: session.run_with_iobinding(binding.real),
    })())
    b.on_gpu = True
    _CpuStandInBinding.calls = []
    np.testing.assert_allclose(b.run(x)[0], expected, rtol=1e-6)
    assert _CpuStandInBinding.calls == ["bind_cpu_input", "bind_output:cuda",
                                        "copy_outputs_to_cpu"]


def test_a_missing_driver_is_logged_once_per_run() -> None:
    """`scan -v` opens the detector and the classifier: the machine's missing driver is one
    fact, said once."""
    if CUDA not in ort.get_available_providers() or backend.nvidia_driver_present():
        pytest.skip("needs a GPU build of onnxruntime on a machine without an NVIDIA driver")
    sample = Path(__file__).resolve().parents[1] / "assets" / "samples" / "astronaut_sbi.mp4"
    done = subprocess.run([sys.executable, "-m", "deepfake_monitor.realtime.cli", "scan",
                           str(sample), "-v", "--sample-fps", "2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("no NVIDIA driver found") == 1, done.stderr
