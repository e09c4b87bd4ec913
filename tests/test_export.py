"""Keras → ONNX export with the contract, parity-checked, and `inspect`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tf2onnx")
keras = pytest.importorskip("keras")

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from deepfake_monitor.realtime.classifier import DeepfakeClassifier  # noqa: E402
from deepfake_monitor.realtime.cli import main  # noqa: E402
from deepfake_monitor.realtime.contract import (  # noqa: E402
    CropSpec,
    InputSpec,
    ModelCard,
    ModelContract,
    OutputSpec,
)
from deepfake_monitor.realtime.crop import crop_faces  # noqa: E402
from deepfake_monitor.realtime.detector import FaceDetector  # noqa: E402

SIZE = 64


def _tiny_model() -> keras.Model:
    """RGB 0..255 in, one logit out, like train/training.py's models but small. The
    Normalization with fixed mean/variance is what EfficientNet carries: eager constants that
    the converter would otherwise turn into extra graph inputs."""
    from deepfake_monitor.train.training import BackbonePreprocess

    keras.utils.set_random_seed(1)
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = BackbonePreprocess("tf", name="preprocess")(inputs)
    x = keras.layers.Normalization(mean=[0.1, 0.0, -0.1], variance=[0.5, 0.6, 0.7])(x)
    for filters in (8, 16):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation("hard_swish")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    logit = keras.layers.Dense(1, name="logit")(x)
    model = keras.Model(inputs, logit, name="tiny")
    model(np.zeros((1, SIZE, SIZE, 3), np.float32))
    return model


def _contract() -> ModelContract:
    return ModelContract(
        input=InputSpec(size=SIZE, scale=1.0),
        crop=CropSpec(margin=0.25, align=False),
        output=OutputSpec(fake_index=0, activation="logit", index=0),
        card=ModelCard(name="tiny export test", version="1", training_data="none",
                       metrics={"auc": 0.5}),
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("run")
    _tiny_model().save(run / "best.keras")
    (run / "contract.json").write_text(_contract().to_json(), encoding="utf-8")
    return run


@pytest.fixture(scope="module")
def exported(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    from deepfake_monitor.export.keras_export import export

    result = export(run_dir, out)
    return out, f"{result.max_diff:.3g} {result.sample_source}"


def _astronaut_crops(astronaut_bgr: np.ndarray) -> np.ndarray:
    faces = FaceDetector().detect(astronaut_bgr)
    assert faces
    return crop_faces(astronaut_bgr, faces[:1] * 3, size=SIZE, margin=0.25, align=False)


def test_export_cli_writes_verified_model(run_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.onnx"
    assert main(["export", str(run_dir), "--out", str(out), "--opset", "17"]) == 0
    err = capsys.readouterr().err
    assert "parity max |diff|" in err and "astronaut" in err
    diff = float(err.split("max |diff| ")[1].split()[0])
    assert diff <= 1e-4
    assert [p.name for p in tmp_path.iterdir()] == ["cli.onnx"]


def test_exported_model_matches_keras_in_the_classifier(
        exported: tuple[Path, str], run_dir: Path, astronaut_bgr: np.ndarray) -> None:
    path, _ = exported
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["input"]  # Normalization constants folded
    clf = DeepfakeClassifier(path)
    assert clf.size == SIZE and clf.name == "tiny export test"
    crops = _astronaut_crops(astronaut_bgr)
    crops[1] = crops[1][:, ::-1]
    probs = clf.predict(crops)
    model = keras.saving.load_model(run_dir / "best.keras", compile=False)
    logits = np.asarray(model(crops[..., ::-1].astype(np.float32))).reshape(-1)
    assert np.ptp(logits) > 1e-3  # the model is not degenerate: parity means something
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-logits)), atol=1e-5)
    assert clf.predict(crops[:1]).shape == (1,)  # dynamic batch axis


def test_inspect_round_trips_the_contract(exported: tuple[Path, str], run_dir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = exported
    assert main(["inspect", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["contract"] == json.loads((run_dir / "contract.json").read_text())
    assert info["inputs"] == [{"name": "input", "shape": ["N", SIZE, SIZE, 3],
                               "type": "float32"}]
    assert info["outputs"][0]["shape"] == ["N", 1]
    assert info["outputs"][0]["name"] == "logit" and info["opset"]["ai.onnx"] == 17
    assert info["bytes"] == path.stat().st_size
    assert main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    assert "tiny export test" in text and "input" in text and "[N, 64, 64, 3]" in text


def test_inspect_refuses_a_model_without_contract(exported: tuple[Path, str], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    model = onnx.load(str(exported[0]))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    assert main(["inspect", str(bare)]) == 2
    assert "not a deepfake-monitor model" in capsys.readouterr().err


def test_broken_graph_is_refused_and_nothing_written(run_dir: Path, tmp_path: Path) -> None:
    from deepfake_monitor.export.keras_export import ParityError, export

    def tamper(model: onnx.ModelProto) -> None:
        init = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
        value = numpy_helper.to_array(init).copy()
        value += 0.1  # every weight of the largest tensor: a wrong conversion
        init.CopyFrom(numpy_helper.from_array(value, init.name))

    out = tmp_path / "broken.onnx"
    with pytest.raises(ParityError, match=r"max \|diff\|"):
        export(run_dir, out, tamper=tamper)
    assert list(tmp_path.iterdir()) == []


def test_bare_keras_file_needs_a_contract(run_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bare = tmp_path / "model.keras"
    shutil.copy(run_dir / "best.keras", bare)
    out = tmp_path / "m.onnx"
    assert main(["export", str(bare), "--out", str(out)]) == 2
    assert "--contract" in capsys.readouterr().err
    assert not out.exists()


def test_parity_uses_the_runs_validation_crops(run_dir: Path, tmp_path: Path,
                                                astronaut_bgr: np.ndarray) -> None:
    import cv2

    from deepfake_monitor.export.keras_export import export

    faces = tmp_path / "faces"
    (faces / "crops").mkdir(parents=True)
    rows = ["crop_path,label,split,video_id,track,t"]
    for i, crop in enumerate(_astronaut_crops(astronaut_bgr)):
        cv2.imwrite(str(faces / "crops" / f"{i}.png"), crop)
        rows.append(f"crops/{i}.png,real,val,v{i},0,0.0")
    (faces / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    (run / "config.json").write_text(json.dumps({"faces": str(faces)}), encoding="utf-8")
    result = export(run, tmp_path / "v.onnx")
    assert result.sample_source == "run validation crops" and result.samples == 3
    assert result.max_diff <= 1e-4
