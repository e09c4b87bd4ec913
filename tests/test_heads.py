"""Classifier heads (train/heads.py): the multi-layer probe of a frozen backbone and the
truncated patch classifier."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")


def test_multilayer_head_on_a_frozen_backbone_trains_only_its_head() -> None:
    import keras

    from deepfake_monitor.train.training import build_model

    model = build_model("efficientnet_lite0", 96, weights=None, freeze=1.0, head="multilayer")
    features = model.get_layer("dropout").input
    backbone = model.get_layer("efficientnet_lite0_multilayer")
    s8, s16 = (backbone.get_layer(f"pool_s{k}") for k in (8, 16))
    assert s8.input.shape[1:3] == (12, 12) and s16.input.shape[1:3] == (6, 6)  # 96 / 8, / 16
    assert features.shape[-1] == s8.output.shape[-1] + s16.output.shape[-1] + 1280
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert trainable == {"logit"}, trainable  # the backbone is fixed: only the head learns
    x = np.random.default_rng(0).uniform(0, 255, (2, 96, 96, 3)).astype(np.float32)
    assert model(x).shape == (2, 1)
    pooled = build_model("efficientnet_lite0", 96, weights=None, freeze=1.0)
    assert pooled.get_layer("dropout").input.shape[-1] == 1280
    with pytest.raises(Exception, match="unknown head"):
        from deepfake_monitor.train.training import TrainConfig

        TrainConfig(faces="", out="", head="deep")
    assert isinstance(model, keras.Model)


def test_patch_head_sees_only_part_of_the_crop() -> None:
    import keras

    from deepfake_monitor.train.training import build_model

    model = build_model("efficientnet_lite0", 96, weights="imagenet", freeze=0.0, head="patch")
    per_patch = keras.Model(model.inputs, model.get_layer("patch_logits").output)
    x = np.random.default_rng(0).uniform(0, 255, (1, 96, 96, 3)).astype(np.float32)
    changed = x.copy()
    changed[:, :16, :16] = 255 - changed[:, :16, :16]  # the top-left corner only
    a, b = (per_patch({"image": v}).numpy()[0, ..., 0] for v in (x, changed))
    assert a.shape == (12, 12)  # 96 / 8: the backbone is cut at its 1/8 map
    # the corner's patch sees the change, the far half of the map does not
    assert abs(a[0, 0] - b[0, 0]) > 1e-3 * np.abs(a).max()
    assert np.abs(a[6:, 6:] - b[6:, 6:]).max() < 1e-6
    # the crop's logit is their mean
    assert np.isclose(float(model({"image": x})[0, 0]), a.mean(), rtol=1e-4, atol=1e-6)
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert {"patch_hidden", "patch_logits"} <= trainable and len(trainable) > 2
    assert model.count_params() < 200_000  # the backbone's later layers are dropped
    with pytest.raises(Exception, match="mask head"):
        from deepfake_monitor.train.training import TrainConfig

        TrainConfig(faces="", out="", head="patch", mask_weight=1.0)
