"""Custom Keras layers that trained models contain, registered for loading.

They live in `export/` because the exporter loads saved models (and `train/` builds them):
dependencies point train -> export -> realtime.
"""

from __future__ import annotations

from typing import Any

import keras

_CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)
_TORCH_MEAN_RGB = (0.485, 0.456, 0.406)  # torchvision's ImageNet statistics, on 0..1
_TORCH_STD_RGB = (0.229, 0.224, 0.225)
MODES = ("tf", "caffe", "torch", "lite", "none")


@keras.saving.register_keras_serializable(package="deepfake_monitor")
class BackbonePreprocess(keras.layers.Layer):
    """The backbone's `preprocess_input` as a layer, so a saved model takes RGB 0..255.

    "tf": to [-1, 1]; "caffe": RGB→BGR and ImageNet mean subtracted; "torch": to 0..1, then
    torchvision's ImageNet mean and std; "lite": (x - 127) / 128, what the EfficientNet-Lite
    checkpoints were trained on (TF's edge models, for post-quantization); "none": unchanged.
    Built from plain ops, so it converts to ONNX and loads without Python lambdas.
    """

    def __init__(self, mode: str = "tf", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"unknown preprocessing mode {mode!r}")
        self.mode = mode

    def call(self, inputs: Any) -> Any:
        x = keras.ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "caffe":
            x = x - keras.ops.convert_to_tensor(_CAFFE_MEAN_RGB, dtype=self.compute_dtype)
            return keras.ops.flip(x, axis=-1)
        if self.mode == "torch":
            mean = [255.0 * m for m in _TORCH_MEAN_RGB]
            scale = [1.0 / (255.0 * s) for s in _TORCH_STD_RGB]
            return (x - keras.ops.convert_to_tensor(mean, dtype=self.compute_dtype)) \
                * keras.ops.convert_to_tensor(scale, dtype=self.compute_dtype)
        if self.mode == "lite":
            return (x - 127.0) * (1.0 / 128.0)
        return x

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode}
