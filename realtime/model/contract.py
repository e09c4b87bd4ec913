"""The model contract: how to feed a classifier and read its output, carried inside the ONNX file.

Training writes it (through `export/`), the runtime reads it, and nothing is guessed: a model
without it, or with fields that contradict each other or the graph, is refused with a message
that names the file and the field.

Stored as one JSON string in the ONNX `metadata_props` under the key `deepfake_monitor`:

    {"schema": 1,
     "input":  {"size": 224, "layout": "NHWC", "color": "RGB", "dtype": "float32",
                "scale": 0.00392156862745098, "mean": [0, 0, 0], "std": [1, 1, 1]},
     "crop":   {"margin": 0.25, "align": true},
     "output": {"index": 0, "fake_index": 1, "activation": "softmax"},
     "calibration": {"temperature": 1.0},
     "threshold": 0.5,
     "card": {"name": "...", "version": "...", "training_data": "...", "metrics": {...}}}

A pixel value v (0..255, in `color` order) becomes (v * scale - mean) / std.
`activation` says what the output holds: "softmax" (class probabilities), "sigmoid" (a
probability per unit), or "logit" (raw scores: softmax over classes, or a sigmoid when there is
one unit). A calibration temperature T divides the fake-vs-real logit before the final sigmoid.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..errors import ModelError

METADATA_KEY = "deepfake_monitor"
SCHEMA_VERSION = 1

Layout = Literal["NHWC", "NCHW"]
ColorOrder = Literal["RGB", "BGR"]
Activation = Literal["softmax", "sigmoid", "logit"]
InputType = Literal["float32", "uint8"]

_LAYOUTS = ("NHWC", "NCHW")
_COLORS = ("RGB", "BGR")
_ACTIVATIONS = ("softmax", "sigmoid", "logit")
_DTYPES = ("float32", "uint8")


@dataclass(frozen=True)
class InputSpec:
    size: int
    layout: Layout = "NHWC"
    color: ColorOrder = "RGB"
    dtype: InputType = "float32"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class CropSpec:
    margin: float = 0.25
    align: bool = False


# An optional second graph output, by name: the manipulation mask (per cell of a coarse grid
# over the crop, the share that was replaced, 0..1; train/manipulation_mask.py). The score
# never depends on it; `train.saliency` draws it.
MASK_OUTPUT = "mask"


@dataclass(frozen=True)
class OutputSpec:
    fake_index: int = 1
    activation: Activation = "softmax"
    index: int = 0


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: str = "0"
    training_data: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    limits: str = ""


@dataclass(frozen=True)
class ModelContract:
    input: InputSpec
    crop: CropSpec
    output: OutputSpec
    card: ModelCard
    threshold: float = 0.5
    temperature: float = 1.0

    def to_json(self) -> str:
        data = {
            "schema": SCHEMA_VERSION,
            "input": {**asdict(self.input), "mean": list(self.input.mean),
                      "std": list(self.input.std)},
            "crop": asdict(self.crop),
            "output": asdict(self.output),
            "calibration": {"temperature": self.temperature},
            "threshold": self.threshold,
            "card": asdict(self.card),
        }
        return json.dumps(data, sort_keys=False)

    def summary(self) -> dict[str, Any]:
        """The metadata as a plain dict (what reports print under "model")."""
        data: dict[str, Any] = json.loads(self.to_json())
        return data

    @classmethod
    def from_json(cls, text: str, *, source: str = "model") -> ModelContract:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(
                f"{source}: metadata '{METADATA_KEY}' is not valid JSON ({exc})"
            ) from exc
        if not isinstance(data, dict):
            raise ModelError(f"{source}: metadata '{METADATA_KEY}' must be a JSON object")
        return _parse(data, source)

    @classmethod
    def from_metadata(cls, metadata: dict[str, str], *, source: str = "model") -> ModelContract:
        """Read the contract from an ONNX model's custom metadata map."""
        if METADATA_KEY not in metadata:
            keys = ", ".join(sorted(metadata)) or "none"
            raise ModelError(
                f"{source}: not a deepfake-monitor model: its ONNX metadata has no "
                f"'{METADATA_KEY}' entry (found: {keys}); export it with `deepfake-monitor export`"
            )
        return cls.from_json(metadata[METADATA_KEY], source=source)

    def check_graph(self, input_shape: list[int | None], input_type: str,
                    output_shapes: list[list[int | None]], *, source: str = "model") -> None:
        """Refuse a contract that contradicts the graph it is attached to."""
        if len(input_shape) != 4:
            raise ModelError(f"{source}: input must be a 4-D image batch, graph has shape "
                             f"{_shape_text(input_shape)}")
        s = self.input.size
        expected = [None, s, s, 3] if self.input.layout == "NHWC" else [None, 3, s, s]
        for axis, (want, got) in enumerate(zip(expected, input_shape)):
            if axis > 0 and got is not None and got != want:
                raise ModelError(
                    f"{source}: metadata says {self.input.layout} {s}x{s} input "
                    f"({_shape_text(expected)}) but the graph's input is {_shape_text(input_shape)}"
                )
        want_type = "tensor(float)" if self.input.dtype == "float32" else "tensor(uint8)"
        if input_type != want_type:
            raise ModelError(f"{source}: metadata says {self.input.dtype} input but the graph "
                             f"takes {input_type}")
        if self.output.index >= len(output_shapes):
            raise ModelError(f"{source}: metadata names output {self.output.index} but the graph "
                             f"has {len(output_shapes)} output(s)")
        shape = output_shapes[self.output.index]
        units = shape[-1] if len(shape) >= 2 else 1
        if units is not None and self.output.fake_index >= units:
            raise ModelError(f"{source}: metadata says fake_index {self.output.fake_index} but the "
                             f"output has {units} unit(s)")
        if self.output.activation == "softmax" and units == 1:
            raise ModelError(f"{source}: metadata says softmax but the output has a single unit; "
                             "use 'sigmoid' or 'logit'")


def _shape_text(shape: list[int | None]) -> str:
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def _section(data: dict[str, Any], key: str, source: str, *, required: bool = True) -> dict:
    value = data.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ModelError(f"{source}: metadata field '{key}' is missing or not an object")
    return value


def _number(section: dict[str, Any], key: str, where: str, source: str, default: Any = None,
            *, positive: bool = False, lo: float | None = None, hi: float | None = None,
            open_ends: bool = False) -> float:
    """The number at `key`, within [lo, hi] ((lo, hi) with `open_ends`); the error names the
    range that is checked, as argtypes.Ranged does."""
    value = section.get(key, default)
    name = f"{where}.{key}" if where else key
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ModelError(f"{source}: metadata field '{name}' must be a number, got {value!r}")
    if positive and value <= 0:
        raise ModelError(f"{source}: metadata field '{name}' must be > 0, got {value}")
    below = lo is not None and (value <= lo if open_ends else value < lo)
    above = hi is not None and (value >= hi if open_ends else value > hi)
    if below or above:
        left, right = "()" if open_ends else "[]"
        low, high = ("-inf" if lo is None else f"{lo:g}"), ("inf" if hi is None else f"{hi:g}")
        raise ModelError(f"{source}: metadata field '{name}' must be within "
                         f"{left}{low}, {high}{right}, got {value}")
    return float(value)


def _choice(section: dict[str, Any], key: str, where: str, options: tuple[str, ...], source: str,
            default: str | None = None) -> str:
    value = section.get(key, default)
    if isinstance(value, str) and value.upper() in options:
        value = value.upper()
    elif isinstance(value, str) and value.lower() in options:
        value = value.lower()
    if value not in options:
        raise ModelError(f"{source}: metadata field '{where}.{key}' must be one of "
                         f"{', '.join(options)}; got {value!r}")
    return value


def _triple(section: dict[str, Any], key: str, source: str, default: float,
            *, positive: bool = False) -> tuple[float, float, float]:
    value = section.get(key, [default] * 3)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value] * 3
    if not isinstance(value, list) or len(value) != 3:
        raise ModelError(f"{source}: metadata field 'input.{key}' must be 3 numbers (one per "
                         f"channel), got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ModelError(f"{source}: metadata field 'input.{key}' holds {v!r}, not a number")
        if positive and v <= 0:
            raise ModelError(f"{source}: metadata field 'input.{key}' must be > 0, got {v}")
        out.append(float(v))
    return (out[0], out[1], out[2])


def _parse(data: dict[str, Any], source: str) -> ModelContract:
    schema = data.get("schema", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        raise ModelError(f"{source}: metadata schema {schema!r} is not supported "
                         f"(this version reads schema {SCHEMA_VERSION})")
    inp = _section(data, "input", source)
    size = inp.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 2048:
        raise ModelError(f"{source}: metadata field 'input.size' must be an integer within "
                         f"[16, 2048], got {size!r}")
    input_spec = InputSpec(
        size=size,
        layout=_choice(inp, "layout", "input", _LAYOUTS, source),  # type: ignore[arg-type]
        color=_choice(inp, "color", "input", _COLORS, source),  # type: ignore[arg-type]
        dtype=_choice(inp, "dtype", "input", _DTYPES, source, "float32"),  # type: ignore[arg-type]
        scale=_number(inp, "scale", "input", source, positive=True),
        mean=_triple(inp, "mean", source, 0.0),
        std=_triple(inp, "std", source, 1.0, positive=True),
    )
    crop = _section(data, "crop", source)
    align = crop.get("align", False)
    if not isinstance(align, bool):
        raise ModelError(f"{source}: metadata field 'crop.align' must be true or false")
    crop_spec = CropSpec(margin=_number(crop, "margin", "crop", source, lo=0.0, hi=2.0),
                         align=align)
    out = _section(data, "output", source)
    fake_index = out.get("fake_index")
    index = out.get("index", 0)
    for key, value in (("fake_index", fake_index), ("index", index)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ModelError(f"{source}: metadata field 'output.{key}' must be an integer >= 0, "
                             f"got {value!r}")
    output_spec = OutputSpec(
        fake_index=fake_index,  # type: ignore[arg-type]
        activation=_choice(out, "activation", "output", _ACTIVATIONS, source),  # type: ignore[arg-type]
        index=index,
    )
    calibration = _section(data, "calibration", source, required=False)
    temperature = _number(calibration, "temperature", "calibration", source, 1.0, positive=True)
    threshold = _number(data, "threshold", "", source, lo=0.0, hi=1.0, open_ends=True)
    card = _section(data, "card", source)
    name = card.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ModelError(f"{source}: metadata field 'card.name' must be a non-empty string")
    metrics = card.get("metrics", {})
    if not isinstance(metrics, dict):
        raise ModelError(f"{source}: metadata field 'card.metrics' must be an object")
    model_card = ModelCard(
        name=name,
        version=str(card.get("version", "0")),
        training_data=str(card.get("training_data", "")),
        metrics=metrics,
        description=str(card.get("description", "")),
        limits=str(card.get("limits", "")),
    )
    return ModelContract(input=input_spec, crop=crop_spec, output=output_spec, card=model_card,
                         threshold=threshold, temperature=temperature)
