"""Contract-driven pre/post-processing, calibration, and cross-stream batching."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from tiny_models import REDNESS_CENTRE, REDNESS_GAIN, build_redness_model, crop_redness

from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier, InferenceService


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
    """Four streams at once: every answer is its own, and requests that wait together share a
    session call (never more than max_batch crops)."""
    clf = DeepfakeClassifier(build_redness_model(tmp_path / "m.onnx"))
    service = InferenceService(clf, max_batch=8, max_pending=4)
    sizes: list[int] = []
    predict = clf.predict

    def recording(batch: np.ndarray) -> np.ndarray:
        if not sizes:  # hold the first call until every stream's first request is in
            deadline = time.monotonic() + 5  # (2 crops each: in this batch, or waiting)
            while len(batch) // 2 + service._queue.qsize() < 4 and time.monotonic() < deadline:
                time.sleep(0.005)
        sizes.append(len(batch))
        return predict(batch)

    clf.predict = recording  # type: ignore[method-assign]
    service.start()
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
    assert service.crops_done == sum(sizes) == sent
    assert service.batches == len(sizes)
    assert max(sizes) <= 8
    # the four first requests went in two calls, so at least two of them shared one
    assert sizes[0] + sizes[1] >= 8 and max(sizes[:2]) >= 4
    assert len(sizes) < 80


def test_several_raw_logits_give_a_softmax_over_the_classes(tmp_path: Path,
                                                           crops: np.ndarray) -> None:
    """activation 'logit' with three units: P(fake) is the fake unit's softmax probability
    against all the others (here units [0, z, 2z] with z the redness logit, fake = unit 2)."""
    from dataclasses import replace

    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tiny_models import redness_contract, redness_graph

    from deepfake_monitor.export.metadata import save_with_contract
    from deepfake_monitor.realtime.model.contract import OutputSpec

    graph = redness_graph()
    z = graph.graph.output[0].name
    graph.graph.initializer.append(numpy_helper.from_array(np.array([[0.0, 1.0, 2.0]],
                                                                    np.float32), "units"))
    graph.graph.node.append(helper.make_node("MatMul", [z, "units"], ["three"]))
    del graph.graph.output[:]
    graph.graph.output.append(helper.make_tensor_value_info("three", TensorProto.FLOAT,
                                                            ["N", 3]))
    onnx.checker.check_model(graph)
    contract = replace(redness_contract(), output=OutputSpec(fake_index=2, activation="logit"))
    clf = DeepfakeClassifier(save_with_contract(graph, contract, tmp_path / "three.onnx"))
    logit = REDNESS_GAIN * (crop_redness(crops) - REDNESS_CENTRE)
    want = np.exp(2 * logit) / (1 + np.exp(logit) + np.exp(2 * logit))
    np.testing.assert_allclose(clf.predict(crops), want, atol=1e-5)
    # the same model read as if the middle unit were fake
    contract = replace(contract, output=OutputSpec(fake_index=1, activation="logit"))
    clf = DeepfakeClassifier(save_with_contract(graph, contract, tmp_path / "middle.onnx"))
    np.testing.assert_allclose(clf.predict(crops),
                               np.exp(logit) / (1 + np.exp(logit) + np.exp(2 * logit)), atol=1e-5)


def test_stopped_service_fails_pending_requests(tmp_path: Path, crops: np.ndarray) -> None:
    clf = DeepfakeClassifier(build_redness_model(tmp_path / "m.onnx"))
    service = InferenceService(clf)
    pending = service.submit(crops[:2])
    service.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        pending.result(timeout=1)
    with pytest.raises(RuntimeError, match="stopped"):
        service.submit(crops[:1]).result(timeout=1)
