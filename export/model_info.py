"""What `inspect` shows of an ONNX file, read with ONNX Runtime alone.

`inspect` is registered from the export package, but the runtime install (`pip install .`) has
neither onnx nor TensorFlow, and inspecting a model is what a runtime user needs. ONNX Runtime
gives the metadata (`get_modelmeta()`, which holds our contract) and the graph's inputs and
outputs; the opset imports and the producer's version, which it does not expose, are read from
the file's top-level protobuf fields (a few lines of wire format, the graph itself skipped).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from deepfake_monitor.realtime.errors import ModelError, UserError
from deepfake_monitor.realtime.model.contract import ModelContract

# ONNX Runtime's type strings, named as numpy names them
_TYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(int8)": "int8",
          "tensor(int32)": "int32", "tensor(int64)": "int64", "tensor(bool)": "bool",
          "tensor(float16)": "float16", "tensor(double)": "float64"}

# ModelProto's top-level fields (onnx.proto): producer_name 2, producer_version 3,
# opset_import 8 (OperatorSetIdProto: domain 1, version 2)
_PRODUCER_NAME, _PRODUCER_VERSION, _OPSET_IMPORT = 2, 3, 8


def _varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes | memoryview) -> list[tuple[int, int | memoryview]]:
    """(field number, value) of one protobuf message: ints for varints, bytes for the rest."""
    view = memoryview(data)
    out: list[tuple[int, int | memoryview]] = []
    pos = 0
    while pos < len(view):
        key, pos = _varint(view, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(view, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _varint(view, pos)
            if pos + size > len(view):
                raise ValueError("truncated field")
            out.append((number, view[pos : pos + size]))
            pos += size
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return out


def read_header(path: Path) -> dict[str, Any]:
    """Opset imports and producer of an ONNX file, without the onnx package."""
    opset: dict[str, int] = {}
    producer = {_PRODUCER_NAME: "", _PRODUCER_VERSION: ""}
    for number, value in _fields(path.read_bytes()):
        if number in producer and isinstance(value, memoryview):
            producer[number] = bytes(value).decode("utf-8", "replace")
        elif number == _OPSET_IMPORT and isinstance(value, memoryview):
            entry = dict(_fields(value))
            domain = entry.get(1, b"")
            version = entry.get(2, 0)
            name = bytes(domain).decode() if isinstance(domain, memoryview) else ""
            opset[name or "ai.onnx"] = int(version) if isinstance(version, int) else 0
    return {"opset": opset,
            "producer": producer_text(producer[_PRODUCER_NAME], producer[_PRODUCER_VERSION])}


def producer_text(name: str, version: str) -> str:
    """"tf2onnx 1.17.0": tf2onnx writes its version and its git hash, the word None where the
    hash is unknown ("1.17.0 None"), which says nothing."""
    return " ".join(w for w in f"{name} {version}".split() if w != "None")


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What `inspect` prints: contract, inputs, outputs, opset, size. ModelError without ours."""
    import onnxruntime as ort

    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such file")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
        header = read_header(p)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{p}: not an ONNX model ({reason})") from exc

    def tensors(values: Any) -> list[dict[str, Any]]:
        return [{"name": v.name,
                 "shape": [d if isinstance(d, int) else (d or None) for d in v.shape],
                 "type": _TYPES.get(v.type, v.type)} for v in values]

    meta = session.get_modelmeta()
    info: dict[str, Any] = {"file": str(p), "bytes": p.stat().st_size, **header,
                            "inputs": tensors(session.get_inputs()),
                            "outputs": tensors(session.get_outputs())}
    info["contract"] = ModelContract.from_metadata(dict(meta.custom_metadata_map),
                                                   source=str(p)).summary()
    return info
