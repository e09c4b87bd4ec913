"""Writing the model contract into ONNX files (the runtime reads it; see
realtime/model/contract.py)."""

from __future__ import annotations

from pathlib import Path

import onnx

from deepfake_monitor.realtime.model.contract import METADATA_KEY, ModelContract


def embed_contract(model: onnx.ModelProto, contract: ModelContract) -> onnx.ModelProto:
    """Set (or replace) the contract entry in the model's metadata_props, in place."""
    for prop in list(model.metadata_props):
        if prop.key == METADATA_KEY:
            model.metadata_props.remove(prop)
    entry = model.metadata_props.add()
    entry.key = METADATA_KEY
    entry.value = contract.to_json()
    return model


def read_contract(model: onnx.ModelProto, *, source: str = "model") -> ModelContract:
    return ModelContract.from_metadata({p.key: p.value for p in model.metadata_props},
                                       source=source)


def save_with_contract(model: onnx.ModelProto, contract: ModelContract, path: Path) -> Path:
    """Validate the graph, embed the contract and write the file."""
    onnx.checker.check_model(model)
    embed_contract(model, contract)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
