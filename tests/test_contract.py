"""The model contract: round trip, and refusal of models that lack it or contradict it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from tiny_models import build_redness_model, redness_contract, redness_graph

from deepfake_monitor.export.metadata import embed_contract, read_contract
from deepfake_monitor.realtime.errors import ModelError
from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier
from deepfake_monitor.realtime.model.contract import METADATA_KEY, ModelContract


def test_round_trip_through_json_and_onnx_metadata() -> None:
    contract = redness_contract(96, layout="NCHW", activation="softmax", threshold=0.4,
                                temperature=1.7, margin=0.3)
    assert ModelContract.from_json(contract.to_json()) == contract
    model = embed_contract(redness_graph(96, layout="NCHW", activation="softmax"), contract)
    assert read_contract(model) == contract
    # Embedding again replaces the entry instead of adding a second one.
    embed_contract(model, contract)
    assert [p.key for p in model.metadata_props].count(METADATA_KEY) == 1


def _mutated(**changes: object) -> str:
    data = json.loads(redness_contract().to_json())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = data
        for key in parents:
            node = node[key]
        if value is None:
            node.pop(leaf)
        else:
            node[leaf] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"input__layout": "NHCW"}, "input.layout"),
        ({"input__size": 0}, "input.size"),
        ({"input__size": 64.5}, "input.size"),
        ({"input__std": [1, 0, 1]}, "input.std"),
        ({"input__mean": [0, 0]}, "input.mean"),
        ({"input__color": "RGBA"}, "input.color"),
        ({"input__scale": None}, "input.scale"),
        ({"output__fake_index": -1}, "output.fake_index"),
        ({"output__activation": "relu"}, "output.activation"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": 0.0}, "threshold"),
        ({"calibration__temperature": 0}, "calibration.temperature"),
        ({"crop__margin": -0.1}, "crop.margin"),
        ({"crop__align": "yes"}, "crop.align"),
        ({"card__name": ""}, "card.name"),
        ({"card": None}, "card"),
        ({"schema": 2}, "schema"),
    ],
)
def test_inconsistent_fields_are_refused_naming_the_field(changes: dict, field: str) -> None:
    with pytest.raises(ModelError) as err:
        ModelContract.from_json(_mutated(**changes), source="m.onnx")
    message = str(err.value)
    assert message.startswith("m.onnx: ")
    assert field.split(".")[-1] in message


@pytest.mark.parametrize(("changes", "message"), [
    # the range named is the range checked: 0 and 1 are outside it, and it says so
    ({"threshold": 0.0}, "'threshold' must be within (0, 1), got 0.0"),
    ({"threshold": 1}, "'threshold' must be within (0, 1), got 1"),
    ({"threshold": 1.5}, "'threshold' must be within (0, 1), got 1.5"),
    ({"crop__margin": 2.5}, "'crop.margin' must be within [0, 2], got 2.5"),
])
def test_range_errors_name_the_range_they_check(changes: dict, message: str) -> None:
    with pytest.raises(ModelError) as err:
        ModelContract.from_json(_mutated(**changes), source="m.onnx")
    assert str(err.value) == f"m.onnx: metadata field {message}"
    data = json.loads(_mutated(crop__margin=0.0, threshold=0.001))  # the ends that are inside
    assert ModelContract.from_json(json.dumps(data)).crop.margin == 0.0


def test_invalid_json_is_refused() -> None:
    with pytest.raises(ModelError, match="not valid JSON"):
        ModelContract.from_metadata({METADATA_KEY: "{oops"}, source="m.onnx")


def test_model_without_metadata_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bare.onnx"
    onnx.save(redness_graph(), str(path))
    with pytest.raises(ModelError) as err:
        DeepfakeClassifier(path)
    assert str(path) in str(err.value)
    assert "no 'deepfake_monitor' entry" in str(err.value)


def test_file_that_is_not_onnx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_text("definitely not a protobuf")
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        DeepfakeClassifier(path)


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        DeepfakeClassifier(tmp_path / "nope.onnx")


def _save(path: Path, model: onnx.ModelProto, contract: ModelContract) -> Path:
    onnx.save(embed_contract(model, contract), str(path))
    return path


@pytest.mark.parametrize(
    ("graph_args", "contract_args", "expected"),
    [
        ({"size": 32}, {"size": 64}, "graph's input is"),
        ({"layout": "NCHW"}, {"layout": "NHWC"}, "graph's input is"),
        ({"activation": "logit"}, {"activation": "softmax"}, "fake_index 1"),
    ],
)
def test_contract_that_contradicts_the_graph_is_refused(
    tmp_path: Path, graph_args: dict, contract_args: dict, expected: str
) -> None:
    path = _save(tmp_path / "m.onnx", redness_graph(**graph_args),
                 redness_contract(**contract_args))
    with pytest.raises(ModelError, match=expected):
        DeepfakeClassifier(path)


def test_softmax_on_a_single_unit_is_refused(tmp_path: Path) -> None:
    contract = redness_contract(activation="logit")
    data = json.loads(contract.to_json())
    data["output"]["activation"] = "softmax"
    bad = ModelContract.from_json(json.dumps(data))
    path = _save(tmp_path / "m.onnx", redness_graph(activation="logit"), bad)
    with pytest.raises(ModelError, match="single unit"):
        DeepfakeClassifier(path)


def test_valid_model_loads(tmp_path: Path) -> None:
    clf = DeepfakeClassifier(build_redness_model(tmp_path / "ok.onnx", 48))
    assert clf.size == 48
    assert clf.contract.card.name == "redness-test"


def _graph_with_input(dims: list, elem: int = onnx.TensorProto.FLOAT) -> onnx.ModelProto:
    """A real graph whose input has `dims` and element type `elem`; one logit out: the mean
    pixel value minus 100."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", elem, dims)
    y = helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["N", 1])
    axes = list(range(1, len(dims)))
    nodes = [helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["f"], ["mean"], axes=axes, keepdims=1),
             helper.make_node("Reshape", ["mean", "shape"], ["flat"]),
             helper.make_node("Sub", ["flat", "hundred"], ["logit"])]
    inits = [onnx.numpy_helper.from_array(np.array([-1, 1], np.int64), "shape"),
             onnx.numpy_helper.from_array(np.array(100.0, np.float32), "hundred")]
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


@pytest.mark.parametrize(
    ("dims", "elem", "contract_changes", "expected"),
    [
        # the graph takes uint8 pixels, the contract says float32 (and the other way round)
        (["N", 64, 64, 3], onnx.TensorProto.UINT8, {}, "says float32 input but the graph "
                                                       r"takes tensor\(uint8\)"),
        (["N", 64, 64, 3], onnx.TensorProto.FLOAT, {"input__dtype": "uint8"},
         r"says uint8 input but the graph takes tensor\(float\)"),
        # not an image batch: a flattened vector, and a single image without a batch axis
        (["N", 12288], onnx.TensorProto.FLOAT, {}, r"4-D image batch, graph has shape \[N, "
                                                   r"12288\]"),
        ([64, 64, 3], onnx.TensorProto.FLOAT, {}, r"4-D image batch, graph has shape "
                                                  r"\[64, 64, 3\]"),
        # the contract names an output the graph does not have
        (["N", 64, 64, 3], onnx.TensorProto.FLOAT, {"output__index": 1},
         r"names output 1 but the graph has 1 output\(s\)"),
    ],
)
def test_contract_that_contradicts_the_graphs_input_or_outputs_is_refused(
    tmp_path: Path, dims: list, elem: int, contract_changes: dict, expected: str
) -> None:
    contract = ModelContract.from_json(_mutated(**contract_changes))
    path = _save(tmp_path / "m.onnx", _graph_with_input(dims, elem), contract)
    with pytest.raises(ModelError, match=expected) as err:
        DeepfakeClassifier(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def test_uint8_contract_on_a_uint8_graph_loads_and_runs(tmp_path: Path) -> None:
    """The refusal above is about the mismatch: a uint8 graph with a uint8 contract works, and
    gets the crop's raw pixels."""
    contract = ModelContract.from_json(_mutated(input__dtype="uint8"))
    path = _save(tmp_path / "u8.onnx", _graph_with_input(["N", 64, 64, 3],
                                                         onnx.TensorProto.UINT8), contract)
    clf = DeepfakeClassifier(path)
    crops = np.full((2, 64, 64, 3), 98, np.uint8)
    crops[1, :32] = 104  # mean 101
    logits = np.array([-2.0, 1.0]) / contract.temperature  # the graph's mean pixel - 100
    np.testing.assert_allclose(clf.predict(crops), 1 / (1 + np.exp(-logits)), atol=1e-6)
