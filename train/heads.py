"""What a classifier head reads from its backbone: the pooled last features, or pooled features
of several depths.

A backbone fine-tuned on a few dozen real fakes memorises their faces (train/EXPERIMENTS.md:
unseen real faces score above the training ones). A frozen backbone cannot; its last layer alone
is ImageNet semantics, though, while blending and upsampling traces live in earlier layers --
so the "multilayer" head pools the feature maps at 1/8 and 1/16 of the input's side beside the
last features (as UnivFD-style linear probes on frozen features, with the low-level layers
added), and only the head learns.
"""

from __future__ import annotations

import math

import keras

HEADS = ("pooled", "multilayer")


def feature_map(net: keras.Model, input_size: int, stride: int) -> keras.KerasTensor | None:
    """The last feature map of `net` (a functional backbone) at 1/`stride` of the input's side
    ("same" padding rounds up); None where it has none."""
    side = math.ceil(input_size / stride)
    exact = [m for m in feature_maps(net) if m.shape[1] == side and m.shape[2] == side]
    return exact[-1] if exact else None


def last_feature_map(net: keras.Model) -> keras.KerasTensor:
    maps = feature_maps(net)
    if not maps:
        raise ValueError(f"{net.name}: no feature map")
    return maps[-1]


def feature_maps(net: keras.Model) -> list[keras.KerasTensor]:
    """Every layer output of `net` that is a feature map (N, H, W, C), input to output."""
    return [layer.output for layer in net.layers
            if len(getattr(layer.output, "shape", ())) == 4]


def multilayer_backbone(net: keras.Model, input_size: int) -> keras.Model:
    """`net` with one output: its pooled features beside the pooled 1/8 and 1/16 maps."""
    pooled = [keras.layers.GlobalAveragePooling2D(name=f"pool_s{stride}")(m)
              for stride in (8, 16)
              if (m := feature_map(net, input_size, stride)) is not None]
    merged = keras.layers.Concatenate(name="multilayer")([*pooled, net.outputs[0]])
    return keras.Model(net.inputs, merged, name=f"{net.name}_multilayer")
