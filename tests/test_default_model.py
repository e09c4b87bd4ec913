"""The bundled default classifier and sample clip: the README's main command depends on both."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_monitor.assets import ASSETS_DIR
from deepfake_monitor.realtime.faces.crop import crop_faces
from deepfake_monitor.realtime.faces.detector import FaceDetector
from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier, default_model_path
from deepfake_monitor.train.make_sample_clip import sample_half_scores

SAMPLE = ASSETS_DIR / "samples" / "astronaut_sbi.mp4"


@pytest.fixture(scope="module")
def classifier() -> DeepfakeClassifier:
    return DeepfakeClassifier()


def test_bundled_model_loads_with_its_contract(classifier: DeepfakeClassifier) -> None:
    path = default_model_path()
    assert classifier.path == path
    assert path.stat().st_size < 20 * 1024 * 1024
    contract = classifier.contract
    assert contract.card.name and contract.card.version
    # the card says how to reproduce it: the recipe runs the project's own pipeline
    assert "deepfake_monitor.train.swap_recipe" in contract.card.description
    assert contract.card.limits and contract.card.training_data
    # ... which corpora trained it, and how it does on real deepfakes it never saw
    assert "realfakes" in contract.card.training_data
    metrics = contract.card.metrics
    for key in ("devset_video_auc", "devset_real_flagged", "heldout_video_auc",
                "memorisation_auc"):
        assert key in metrics, key
    assert metrics["devset_video_auc"] >= 0.70  # the bar a new default had to pass
    assert 0.0 < contract.threshold < 1.0
    assert contract.temperature > 0
    assert (ASSETS_DIR / "deepfake_classifier.md").is_file()


def test_bundled_model_runs_any_batch_size(classifier: DeepfakeClassifier,
                                           astronaut_bgr: np.ndarray) -> None:
    face = FaceDetector("full").detect(astronaut_bgr)[0]
    spec = classifier.contract.crop
    crop = crop_faces(astronaut_bgr, [face], size=classifier.size, margin=spec.margin,
                      align=spec.align)
    one = classifier.predict(crop)
    many = classifier.predict(np.repeat(crop, 5, axis=0))
    assert one.shape == (1,) and many.shape == (5,)
    assert 0.0 <= float(one[0]) <= 1.0
    np.testing.assert_allclose(many, one[0], atol=1e-5)


def test_sample_clip_manipulated_half_scores_higher(classifier: DeepfakeClassifier) -> None:
    assert SAMPLE.is_file()
    assert SAMPLE.stat().st_size < 2 * 1024 * 1024
    untouched, manipulated = sample_half_scores(classifier.path, SAMPLE)
    assert len(untouched) >= 20 and len(manipulated) >= 20, "faces missing in the sample clip"
    # The bundled model learned real face swaps, not crude self-blends: the blend raises its
    # score by about 0.1 (0.2 was a self-blend detector and rose by more).
    assert np.mean(manipulated) > np.mean(untouched) + 0.05
    # Not one lucky frame: most manipulated frames score above the untouched half's median.
    assert np.mean(np.array(manipulated) > np.median(untouched)) > 0.8
