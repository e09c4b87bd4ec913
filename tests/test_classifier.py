"""Contract-driven pre/post-processing, calibration, and cross-stream batching."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from tiny_models import REDNESS_CENTRE, REDNESS_GAIN, build_redness_model, crop_redness

from deepfake_monitor.realtime.classifier import DeepfakeClassifier, InferenceService


def _expected(crops: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    logit = REDNESS_GAIN * (crop_redness(crops) - REDNESS_CENTRE) / temperature
    return 1 / (1 + np.exp(-logit))


@pytest.fixture
def crops() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("activation", ["logit", "sigmoid", "softmax"])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_probabilities_follow_the_contract(tmp_path: Path, crops: np.ndarray, activation: str,
                                           layout: str) -> None:
    clf = DeepfakeClassifier(build_redness_model(tmp_path / "m.onnx", activation=activation,
                                                 layout=layout))
    np.testing.assert_allclose(clf.predict(crops), _expected(crops), atol=1e-5)


def test_redder_crops_score_higher(tmp_path: Path, astronaut_bgr: np.ndarray) -> None:
    import cv2

    clf = DeepfakeClassifier(build_redness_model(tmp_path / "m.onnx"))
    face = cv2.resize(astronaut_bgr[30:230, 150:330], (64, 64))
    redder = face.copy()
    redder[..., 2] = np.clip(redder[..., 2].astype(int) + 90, 0, 255)
    p = clf.predict(np.stack([face, redder]))
    assert p[1] > p[0] + 0.3


def test_temperature_scales_the_logit(tmp_path: Path, crops: np.ndarray) -> None:
    clf = DeepfakeClassifier(build_redness_model(tmp_path / "m.onnx", temperature=2.5))
    np.testing.assert_allclose(clf.predict(crops), _expected(crops, 2.5), atol=1e-5)


def test_wrong_crop_size_is_a_programming_error(tmp_path: Path) -> None:
    clf = DeepfakeClassifier(build_redness_model(tmp_path / "m.onnx"))
    with pytest.raises(ValueError, match="crops must be"):
        clf.predict(np.zeros((1, 32, 32, 3), np.uint8))
    assert clf.predict(np.zeros((0, 64, 64, 3), np.uint8)).shape == (0,)


def test_service_batches_requests_that_wait_together(tmp_path: Path, crops: np.ndarray) -> None:
    clf = DeepfakeClassifier(build_redness_model(tmp_path / "m.onnx"))
    service = InferenceService(clf, max_batch=32)
    requests = [crops[i % 4 : i % 4 + 3] for i in range(10)]
    futures = [service.submit(r) for r in requests]  # queued before the worker starts
    service.start()
    try:
        for req, fut in zip(requests, futures):
            np.testing.assert_allclose(fut.result(timeout=10), _expected(req), atol=1e-5)
        assert service.batches == 1
        assert service.crops_done == 30
    finally:
        service.stop()


def test_service_serves_many_threads_correctly(tmp_path: Path, crops: np.ndarray) -> None:
    clf = DeepfakeClassifier(build_redness_model(tmp_path / "m.onnx"))
    service = InferenceService(clf, max_batch=8, max_pending=4).start()
    errors: list[str] = []

    def stream(k: int) -> None:
        for i in range(20):
            sel = crops[(k + i) % 6 :][:2]
            got = service.submit(sel).result(timeout=10)
            if not np.allclose(got, _expected(sel), atol=1e-5):
                errors.append(f"stream {k} request {i}")

    threads = [threading.Thread(target=stream, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    service.stop()
    assert not errors
    sent = sum(len(crops[(k + i) % 6 :][:2]) for k in range(4) for i in range(20))
    assert service.crops_done == sent
    assert service.batches <= 80


def test_stopped_service_fails_pending_requests(tmp_path: Path, crops: np.ndarray) -> None:
    clf = DeepfakeClassifier(build_redness_model(tmp_path / "m.onnx"))
    service = InferenceService(clf)
    pending = service.submit(crops[:2])
    service.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        pending.result(timeout=1)
    with pytest.raises(RuntimeError, match="stopped"):
        service.submit(crops[:1]).result(timeout=1)
