"""What a classifier head reads from its backbone: the pooled last features, or pooled features
of several depths.

A backbone fine-tuned on a few dozen real fakes memorises their faces (train/EXPERIMENTS.md:
unseen real faces score above the training ones). A frozen backbone cannot; its last layer alone
is ImageNet semantics, though, while blending and upsampling traces live in earlier layers --
so the "multilayer" head pools the feature maps at 1/8 and 1/16 of the input's side beside the
last features (as UnivFD-style linear probes on frozen features, with the low-level layers
added), and only the head learns.

The "patch" head goes the other way (Chai et al., "What makes fake images detectable?", ECCV
2020: truncated classifiers with small receptive fields generalise better to unseen
generators): the backbone is cut at its 1/8 map, where a unit sees about 70 px of a 160 px
crop -- part of a face, too little to recognise whose -- each location gets a logit, and the
crop's logit is their mean. A face swap's traces (skin texture, the blend) are local; the
identity shortcut that makes unseen faces look fake is not.
"""

from __future__ import annotations

import math

import keras

PATCH_STRIDE = 8
PATCH_WITHOUT_MASK = "the patch head has no 1/16 map for a mask head: use one of them"


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


def patch_backbone(net: keras.Model, input_size: int) -> keras.Model:
    """`net` cut at its last 1/`PATCH_STRIDE` map (its later layers dropped)."""
    found = feature_map(net, input_size, PATCH_STRIDE)
    if found is None:
        raise ValueError(f"{net.name}: no feature map at 1/{PATCH_STRIDE} of the input")
    return keras.Model(net.inputs, found, name=f"{net.name}_patch")


def patch_logit(features: keras.KerasTensor, dropout: float, width: int = 128
                ) -> keras.KerasTensor:
    """A logit per location (two 1 x 1 convolutions), averaged over the map."""
    x = keras.layers.Conv2D(width, 1, activation="relu", name="patch_hidden")(features)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = keras.layers.Conv2D(1, 1, dtype="float32", name="patch_logits")(x)
    x = keras.layers.GlobalAveragePooling2D(name="mean_patch_logit")(x)
    return keras.layers.Identity(dtype="float32", name="logit")(x)
