"""The manipulation mask: where a fake differs from the frame it was made from.

A second training target beside the fake/real logit (as Face X-ray and SBI's localisation do):
a small head on the backbone's stride-16 features predicts, per cell of a coarse grid, the share
of the cell that was replaced. It asks the network to find the *region* of a swap, not just one
number for the crop, and it is the per-face explanation users ask for (heat where the face was
replaced) -- kept in the exported ONNX graph as a second output, "mask", that the runtime may
ignore (the contract's output index still points at the logit).

Targets, all on the same grid:
- an aligned pair (a live swap's swapped half beside the same frame of its original): the pixels
  where the two differ, after the small shift between the halves (their crop boxes differ) is
  undone, blurred, thresholded against the background's own difference (re-encoding noise),
  closed and filled;
  pairs whose backgrounds differ too (reenactment, talking heads: the driving video is another
  clip) are not pixel-aligned and get no mask target;
- a self-blend or online swap: its own blend mask;
- a real crop: zeros (nothing was replaced);
- a fake without a twin: IGNORE (unknown), left out of the mask loss.
"""

from __future__ import annotations

import math

import cv2
import keras
import numpy as np

from deepfake_monitor.realtime.model.contract import MASK_OUTPUT

from .heads import feature_map, last_feature_map

STRIDE = 16  # the backbone feature map the head reads: 10 x 10 cells at 160 px
IGNORE = -1.0
ALIGNED_MAX_BACKGROUND = 15.0  # median |difference| (0..255) outside the face: still aligned
MIN_CHANGE = 12.0  # smallest |difference| that counts as changed, whatever the background
RING = 0.12  # the crop's border band where the background is measured (share of the side)


def grid_side(size: int) -> int:
    """Cells along one side of the mask grid for `size` px crops ("same" padding rounds up)."""
    return math.ceil(size / STRIDE)


def to_grid(mask: np.ndarray, side: int) -> np.ndarray:
    """A full-resolution mask (0..1) as the share of each grid cell that it covers."""
    return cv2.resize(mask.astype(np.float32), (side, side),
                      interpolation=cv2.INTER_AREA).clip(0.0, 1.0)


def unknown(side: int) -> np.ndarray:
    return np.full((side, side), IGNORE, np.float32)


def nothing_replaced(side: int) -> np.ndarray:
    """The target of a real crop."""
    return np.zeros((side, side), np.float32)


def difference_mask(real: np.ndarray, fake: np.ndarray) -> np.ndarray | None:
    """The region where `fake` (an H x W x 3 crop) was replaced relative to `real`, the same
    frame of its original, as a float32 0/1 mask; None where the two are not pixel-aligned
    (their backgrounds differ as well: not a swap of this very frame)."""
    if real.shape != fake.shape:
        raise ValueError(f"crops differ in shape: {real.shape} and {fake.shape}")
    side = real.shape[0]
    a, b = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32) for x in (real, fake))
    window = cv2.createHanningWindow(a.shape[::-1], cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(a, b, window)  # the halves' crop boxes differ a little
    shift = np.float32([[1, 0, -dx], [0, 1, -dy]])
    moved = cv2.warpAffine(fake, shift, fake.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
    diff = np.abs(real.astype(np.float32) - moved.astype(np.float32)).max(axis=2)
    ring = np.ones_like(diff, bool)
    band = max(1, int(RING * side))
    ring[band:-band, band:-band] = False
    background = float(np.median(cv2.GaussianBlur(diff, (0, 0), 2.0)[ring]))
    if background > ALIGNED_MAX_BACKGROUND:
        return None
    changed = (cv2.GaussianBlur(diff, (0, 0), side / 40) > max(MIN_CHANGE, 3 * background))
    k = max(3, side // 8) | 1
    closed = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(closed)
    cv2.drawContours(filled, [c for c in contours if cv2.contourArea(c) > 0.005 * side * side],
                     -1, 1, thickness=-1)
    return filled.astype(np.float32)


def pair_targets(real: np.ndarray, fake: np.ndarray, side: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Grid targets of an aligned couple: zeros for the real, its difference for the fake
    (IGNORE where the pair is not pixel-aligned)."""
    region = difference_mask(real, fake)
    return (nothing_replaced(side),
            unknown(side) if region is None else to_grid(region, side))


# -- the head and its loss --------------------------------------------------------------------


def stride16_features(net: keras.Model, input_size: int) -> keras.KerasTensor:
    """The last feature map of `net` at 1/16 of the input's side; a backbone without one (the
    compact network keeps its resolution with dilations) gives its last feature map, resized
    to the grid."""
    found = feature_map(net, input_size, STRIDE)
    if found is not None:
        return found
    side = grid_side(input_size)
    return keras.layers.Resizing(side, side, name="mask_features")(last_feature_map(net))


def mask_head(features: keras.KerasTensor, width: int = 64) -> keras.KerasTensor:
    """Two 1 x 1 convolutions: the share of each cell that was replaced, 0..1."""
    x = keras.layers.Conv2D(width, 1, activation="relu", name="mask_hidden")(features)
    return keras.layers.Conv2D(1, 1, activation="sigmoid", dtype="float32",
                               name=MASK_OUTPUT)(x)


@keras.saving.register_keras_serializable(package="deepfake_monitor")
def masked_cross_entropy(y_true: keras.KerasTensor, y_pred: keras.KerasTensor
                         ) -> keras.KerasTensor:
    """Binary cross-entropy over the cells with a target (IGNORE cells left out), per crop;
    a crop without any target costs nothing."""
    y_true = keras.ops.reshape(y_true, keras.ops.shape(y_pred))
    known = keras.ops.cast(y_true >= 0.0, "float32")
    target = keras.ops.maximum(y_true, 0.0)
    p = keras.ops.clip(y_pred, 1e-6, 1.0 - 1e-6)
    bce = -(target * keras.ops.log(p) + (1.0 - target) * keras.ops.log(1.0 - p))
    return keras.ops.sum(bce * known, axis=(1, 2, 3)) / keras.ops.maximum(
        keras.ops.sum(known, axis=(1, 2, 3)), 1.0)


class PlainMetricNames(keras.callbacks.Callback):
    """A two-output model logs `logit_auc`, `val_logit_auc`, ...: copy them to the names a
    one-output model logs (`auc`, `val_auc`), which checkpoints, early stopping, the history
    file and `folds` read. Must come first among the callbacks: they share one logs dict."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        for key in list(logs):
            for prefix in ("logit_", "val_logit_"):
                if key.startswith(prefix) and not key.endswith("_loss"):
                    logs[key.replace("logit_", "", 1)] = logs[key]
