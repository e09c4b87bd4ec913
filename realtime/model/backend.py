"""One ONNX Runtime backend for every model the runtime runs (face detector and classifier).

Provider choice, fallback warnings, static/dynamic batch handling and GPU IO binding live here
so that pre- and post-processing code never touches the session directly.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import io
import logging
import os
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..errors import ModelError

log = logging.getLogger(__name__)

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"

# Fastest first: a model runs on the first of these that this onnxruntime build offers.
PREFERRED_PROVIDERS: tuple[str, ...] = (TENSORRT, CUDA, CPU)

PROVIDER_ALIASES: dict[str, str] = {
    "tensorrt": TENSORRT,
    "trt": TENSORRT,
    "cuda": CUDA,
    "gpu": CUDA,
    "cpu": CPU,
    "coreml": "CoreMLExecutionProvider",
    "dml": "DmlExecutionProvider",
    "directml": "DmlExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}

GPU_PROVIDERS = frozenset({TENSORRT, CUDA})

# onnxruntime's own native log lines about providers it cannot load would reach the user's
# terminal on every CPU-only machine; our one-line warnings say the same, once.
ort.set_default_logger_severity(4)


@cache
def nvidia_driver_present() -> bool:
    """Whether this machine has an NVIDIA driver at all (without it CUDA cannot work)."""
    if os.path.exists("/proc/driver/nvidia/version"):
        return True
    names = ["nvcuda.dll"] if sys.platform == "win32" else ["libcuda.so.1", "libcuda.so"]
    return any(_loadable(n) for n in names) or ctypes.util.find_library("cuda") is not None


@cache
def tensorrt_present() -> bool:
    """Whether TensorRT's runtime library can be loaded (the TensorRT provider needs it)."""
    names = (["nvinfer_10.dll", "nvinfer.dll"] if sys.platform == "win32"
             else ["libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so"])
    if any(_loadable(n) for n in names):
        return True
    try:  # the pip wheels (tensorrt / tensorrt-cu12-libs) put the library beside the package
        import tensorrt_libs  # type: ignore[import-not-found]  # noqa: F401

        return True
    except ImportError:
        return False


def _loadable(name: str) -> bool:
    try:
        ctypes.CDLL(name)
        return True
    except OSError:
        return False


def parse_providers(text: str | None) -> list[str] | None:
    """Turn `--providers cuda,cpu` into ONNX Runtime provider names (None: automatic)."""
    if text is None or not text.strip() or text.strip().lower() == "auto":
        return None
    names = []
    for part in text.split(","):
        key = part.strip()
        if not key:
            continue
        name = PROVIDER_ALIASES.get(key.lower(), key)
        if not name.endswith("ExecutionProvider"):
            known = ", ".join(sorted(PROVIDER_ALIASES))
            raise ModelError(f"--providers: unknown execution provider {key!r} (known: {known})")
        names.append(name)
    return names


_SAID: set[str] = set()


def _info_once(message: str) -> None:
    """A fact about this machine, logged once however many sessions (detector, classifier)
    ask for providers."""
    if message not in _SAID:
        _SAID.add(message)
        log.info(message)


def choose_providers(
    requested: Sequence[str] | None, available: Sequence[str] | None = None
) -> list[str]:
    """Providers to ask a session for, best first, always ending with the CPU.

    With nothing requested, TensorRT → CUDA → CPU filtered by what this onnxruntime build offers.
    Requested providers that the build lacks are dropped with a warning.
    """
    available = list(ort.get_available_providers() if available is None else available)
    if requested is None:
        chosen = [p for p in PREFERRED_PROVIDERS if p in available]
        # A GPU build of onnxruntime lists CUDA and TensorRT even where they cannot run; asking
        # for them anyway costs a failed library load and a screenful of native errors.
        if any(p in GPU_PROVIDERS for p in chosen) and not nvidia_driver_present():
            _info_once("no NVIDIA driver found: running on the CPU")
            chosen = [p for p in chosen if p not in GPU_PROVIDERS]
        elif TENSORRT in chosen and not tensorrt_present():
            _info_once("TensorRT libraries not found: using CUDA without TensorRT")
            chosen.remove(TENSORRT)
    else:
        chosen = []
        for p in requested:
            if p in available:
                if p not in chosen:
                    chosen.append(p)
            else:
                log.warning("execution provider %s is not available in this onnxruntime build "
                            "(available: %s); skipping it", p, ", ".join(available))
    if CPU not in chosen:
        chosen.append(CPU)
    return chosen


def _provider_options(name: str, cache_dir: Path) -> dict[str, str]:
    if name == TENSORRT:
        # Building a TensorRT engine takes minutes; cache it across runs, and use FP16 where the
        # GPU has it (the classifier's scores move far less than its threshold margin).
        return {
            "trt_engine_cache_enable": "True",
            "trt_engine_cache_path": str(cache_dir / "tensorrt"),
            "trt_timing_cache_enable": "True",
            "trt_fp16_enable": "True",
        }
    return {}


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "deepfake-monitor"


class OnnxBackend:
    """An ONNX Runtime session with one image-batch input.

    `run(batch)` accepts any batch size: a model with a fixed batch axis is fed in chunks of its
    size, the last chunk padded, and the padding cut from the outputs.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        providers: Sequence[str] | None = None,
        *,
        intra_op_threads: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: model file not found")
        self.requested_providers = choose_providers(providers)
        cache_dir = cache_dir or default_cache_dir()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if intra_op_threads:
            options.intra_op_num_threads = intra_op_threads
        options.log_severity_level = 3  # our own warnings say what matters
        # Decode, detection and classification run side by side on few cores: idle ORT threads
        # must sleep, not spin, or they steal the CPU the other stages need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        provider_args = [(p, _provider_options(p, cache_dir)) for p in self.requested_providers]
        captured = io.StringIO()
        try:
            # onnxruntime print()s provider failures to stdout, where they would corrupt
            # `--json -` output; keep them for the debug log instead.
            with contextlib.redirect_stdout(captured):
                self.session = ort.InferenceSession(
                    str(self.path), sess_options=options, providers=provider_args
                )
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.path}: not a loadable ONNX model ({reason})") from exc
        if captured.getvalue().strip():
            log.debug("onnxruntime: %s", captured.getvalue().strip())
        self.providers: list[str] = list(self.session.get_providers())
        if self.providers[0] != self.requested_providers[0]:
            log.warning(
                "%s: %s could not be used, falling back to %s",
                self.path.name, self.requested_providers[0], self.providers[0],
            )
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs)
            raise ModelError(
                f"{self.path}: expected one image input, found {len(inputs)} ({names})"
            )
        self.input_name: str = inputs[0].name
        self.input_shape: list[int | None] = [
            d if isinstance(d, int) and d > 0 else None for d in inputs[0].shape
        ]
        self.input_type: str = inputs[0].type
        self.output_names: list[str] = [o.name for o in self.session.get_outputs()]
        self.fixed_batch: int | None = self.input_shape[0] if self.input_shape else None
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        self.on_gpu = self.providers[0] in GPU_PROVIDERS

    @property
    def provider(self) -> str:
        """The provider that runs the model, without the 'ExecutionProvider' suffix."""
        return self.providers[0].removesuffix("ExecutionProvider")

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """Outputs for a batch of any size (possibly zero)."""
        n = batch.shape[0]
        if n == 0:
            return [np.zeros((0,), np.float32) for _ in self.output_names]
        if self.fixed_batch is None or self.fixed_batch == n:
            return self._run_once(batch)
        size = self.fixed_batch
        chunks: list[list[np.ndarray]] = []
        for start in range(0, n, size):
            chunk = batch[start : start + size]
            real = chunk.shape[0]
            if real < size:
                pad = np.zeros((size - real, *chunk.shape[1:]), dtype=chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            chunks.append([out[:real] for out in self._run_once(chunk)])
        return [np.concatenate([c[i] for c in chunks]) for i in range(len(self.output_names))]

    def _run_once(self, batch: np.ndarray) -> list[np.ndarray]:
        batch = np.ascontiguousarray(batch)
        if not self.on_gpu:
            return self.session.run(self.output_names, {self.input_name: batch})
        # On a GPU, bind the input once and let outputs land in device memory before one copy
        # back, instead of onnxruntime's default of staging every tensor through the host twice.
        binding = self.session.io_binding()
        binding.bind_cpu_input(self.input_name, batch)
        for name in self.output_names:
            binding.bind_output(name, "cuda")
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()
