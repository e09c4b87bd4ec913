"""Training and validation batches: crops read, made or paired, then augmented.

Augmentations are those that matter for deepfake detection in the wild: videos are re-encoded,
resized and filtered on their way to a viewer, so the artifacts a detector keys on must survive
JPEG re-compression, down/up-scaling, blur and noise; colour jitter, flips and cut-out stop it
from relying on one colour cast or one face region. Classes are balanced by sampling real and
fake crops equally often (datasets hold far more fakes than reals, or the reverse with SBI).

With a mask head (train/manipulation_mask.py) every batch also carries each crop's mask grid,
flipped with its crop; validation crops carry "unknown" grids (checkpoints are chosen on the
logit alone).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import tensorflow as tf

from .manipulation_mask import IGNORE
from .online_fakes import Degrade, OnlineBlends
from .paired import PairedSource, find_couples

FAKE, REAL = 1.0, 0.0  # training labels: fake is the positive class


class CropItem(Protocol):
    path: str
    label: float


class BatchSettings(Protocol):
    """The training settings the batches depend on (train/training.py's TrainConfig)."""

    batch_size: int
    degrade: bool
    paired: float
    aligned_share: float
    real_photos: float
    online_sbi: float
    online_swap: float
    online_blend: str
    mesh: bool
    seed: int


@dataclass(frozen=True)
class Augment:
    """Probabilities and ranges of the training augmentations (0 turns one off)."""

    flip: float = 0.5
    jpeg: float = 0.5
    jpeg_quality: tuple[int, int] = (30, 95)
    rescale: float = 0.3
    rescale_range: tuple[float, float] = (0.35, 0.9)  # fraction of the side
    blur: float = 0.2
    blur_sigma: tuple[float, float] = (0.3, 1.6)
    noise: float = 0.2
    noise_std: tuple[float, float] = (1.0, 8.0)  # pixel values
    color: float = 0.8
    brightness: float = 20.0  # max offset, pixel values
    contrast: tuple[float, float] = (0.8, 1.2)
    saturation: tuple[float, float] = (0.8, 1.2)
    hue: float = 0.02
    cutout: float = 0.3
    cutout_size: tuple[float, float] = (0.1, 0.4)  # fraction of the side



def decode(path: tf.Tensor, size: int) -> tf.Tensor:
    """A crop file as RGB float32 0..255 at size x size (TF decodes JPEG/PNG to RGB)."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image = tf.image.resize(tf.cast(image, tf.float32), (size, size), antialias=True)
    return tf.ensure_shape(image, (size, size, 3))


def _chance(p: float) -> tf.Tensor:
    return tf.random.uniform(()) < p


def _gaussian_blur(image: tf.Tensor, sigma: tf.Tensor) -> tf.Tensor:
    r = tf.range(-3.0, 4.0)
    k = tf.exp(-(r**2) / (2.0 * sigma**2))
    k = k / tf.reduce_sum(k)
    kernel = tf.tile(tf.reshape(k[:, None] * k[None, :], (7, 7, 1, 1)), (1, 1, 3, 1))
    padded = tf.pad(image[None], [[0, 0], [3, 3], [3, 3], [0, 0]], mode="REFLECT")
    return tf.nn.depthwise_conv2d(padded, kernel, (1, 1, 1, 1), "VALID")[0]


def augment_image(image: tf.Tensor, size: int, a: Augment) -> tf.Tensor:
    """One training crop's augmentations, RGB float32 0..255 in and out."""
    if a.flip:
        image = tf.cond(_chance(a.flip), lambda: tf.image.flip_left_right(image), lambda: image)
    if a.color:
        def jitter(x: tf.Tensor) -> tf.Tensor:
            x = x + tf.random.uniform((), -a.brightness, a.brightness)
            mean = tf.reduce_mean(x, axis=(0, 1), keepdims=True)
            x = (x - mean) * tf.random.uniform((), *a.contrast) + mean
            x = tf.clip_by_value(x, 0.0, 255.0) / 255.0
            x = tf.image.adjust_saturation(x, tf.random.uniform((), *a.saturation))
            x = tf.image.adjust_hue(x, tf.random.uniform((), -a.hue, a.hue))
            return tf.clip_by_value(x, 0.0, 1.0) * 255.0
        image = tf.cond(_chance(a.color), lambda: jitter(image), lambda: image)
    if a.rescale:
        def rescale(x: tf.Tensor) -> tf.Tensor:
            side = tf.cast(tf.cast(size, tf.float32) * tf.random.uniform((), *a.rescale_range),
                           tf.int32)
            small = tf.image.resize(x, (side, side), method="area")
            return tf.image.resize(small, (size, size), method="bilinear")
        image = tf.cond(_chance(a.rescale), lambda: rescale(image), lambda: image)
    if a.blur:
        image = tf.cond(_chance(a.blur),
                        lambda: _gaussian_blur(image, tf.random.uniform((), *a.blur_sigma)),
                        lambda: image)
    if a.noise:
        image = tf.cond(_chance(a.noise), lambda: image + tf.random.normal(
            tf.shape(image), stddev=tf.random.uniform((), *a.noise_std)), lambda: image)
    image = tf.clip_by_value(image, 0.0, 255.0)
    if a.jpeg:  # last of the photometric steps: a re-encoded video's order
        def jpeg(x: tf.Tensor) -> tf.Tensor:
            out = tf.image.random_jpeg_quality(tf.cast(tf.round(x), tf.uint8),
                                               a.jpeg_quality[0], a.jpeg_quality[1])
            return tf.cast(out, tf.float32)
        image = tf.cond(_chance(a.jpeg), lambda: jpeg(image), lambda: image)
    if a.cutout:
        def cutout(x: tf.Tensor) -> tf.Tensor:
            side = tf.cast(tf.cast(size, tf.float32) * tf.random.uniform((), *a.cutout_size),
                           tf.int32)
            y0 = tf.random.uniform((), 0, size - side + 1, dtype=tf.int32)
            x0 = tf.random.uniform((), 0, size - side + 1, dtype=tf.int32)
            rows = (tf.range(size) >= y0) & (tf.range(size) < y0 + side)
            cols = (tf.range(size) >= x0) & (tf.range(size) < x0 + side)
            hole = tf.cast(rows[:, None] & cols[None, :], tf.float32)[..., None]
            return x * (1.0 - hole) + 127.0 * hole
        image = tf.cond(_chance(a.cutout), lambda: cutout(image), lambda: image)
    return tf.ensure_shape(image, (size, size, 3))


def make_dataset(samples: Sequence[CropItem], size: int, batch_size: int, *, train: bool,
                 augment: Augment | None = None, balance: bool = True,
                 seed: int = 0, mask_side: int | None = None) -> tf.data.Dataset:
    """Batches of (image, label) -- with `mask_side`, (image, (label, unknown mask grid)).
    Training: shuffled, endless, class-balanced by sampling reals and fakes equally often;
    otherwise in manifest order, once."""
    auto = tf.data.AUTOTUNE

    def load(path: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, Any]:
        image = decode(path, size)
        if augment is not None:
            image = augment_image(image, size, augment)
        label = tf.reshape(label, (1,))
        if mask_side is None:
            return image, label
        return image, (label, tf.fill((mask_side, mask_side, 1), IGNORE))

    def source(items: Sequence[CropItem]) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices(
            ([s.path for s in items], np.array([s.label for s in items], np.float32)))

    if not train:
        return source(samples).map(load, num_parallel_calls=auto).batch(batch_size).prefetch(auto)
    groups = [[s for s in samples if s.label == c] for c in (REAL, FAKE)]
    if balance and all(groups):
        parts = [source(g).shuffle(len(g), seed=seed + i, reshuffle_each_iteration=True).repeat()
                 for i, g in enumerate(groups)]
        ds = tf.data.Dataset.sample_from_datasets(parts, [0.5, 0.5], seed=seed)
    else:
        ds = source(samples).shuffle(len(samples), seed=seed,
                                     reshuffle_each_iteration=True).repeat()
    return ds.map(load, num_parallel_calls=auto).batch(batch_size, drop_remainder=False) \
        .prefetch(auto)


def paired_dataset(samples: Sequence[Any], size: int, config: BatchSettings,
                   augment: Augment | None, mask_side: int | None = None) -> tf.data.Dataset:
    """Training batches from `PairedSource`: a share `config.paired` of couples from the
    dataset's real fakes, the rest online fakes of the real crops (`config.online_sbi` > 0) or
    random dataset couples; augmented like `make_dataset`'s; with `mask_side`, each crop's
    mask grid beside its label."""
    degradations = Degrade() if config.degrade else None
    couples = find_couples(samples)
    rest = None
    if config.paired < 1.0:
        # The rest: online fakes of every real crop, or (share 0) the dataset's own couples.
        online = config.online_sbi > 0
        rest = OnlineBlends([s for s in samples if s.label == REAL],
                            [] if online else [s for s in samples if s.label == FAKE], size,
                            1.0 if online else 0.0, config.online_blend, config.seed + 1,
                            swap=config.online_swap, degradations=degradations,
                            mesh=config.mesh, mask_side=mask_side)
    source = PairedSource(couples, size, config.paired, aligned_share=config.aligned_share,
                          rest=rest, degradations=degradations, seed=config.seed,
                          mask_side=mask_side, photo_share=config.real_photos)
    return batched(source, size, config.batch_size, augment, mask_side)


def batched(source: Callable[[], Iterator[tuple[Any, ...]]], size: int, batch_size: int,
            augment: Augment | None, mask_side: int | None = None) -> tf.data.Dataset:
    """Batches of a generator's (uint8 RGB crop, label[, mask grid]) items, augmented."""
    signature: tuple[tf.TensorSpec, ...] = (tf.TensorSpec((size, size, 3), tf.uint8),
                                            tf.TensorSpec((), tf.float32))
    if mask_side is not None:
        signature += (tf.TensorSpec((mask_side, mask_side), tf.float32),)
    ds = tf.data.Dataset.from_generator(source, output_signature=signature)

    def prepare(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = tf.cast(image, tf.float32)
        if augment is not None:
            x = augment_image(x, size, augment)
        return x, tf.reshape(label, (1,))

    def prepare_with_mask(image: tf.Tensor, label: tf.Tensor, mask: tf.Tensor
                          ) -> tuple[tf.Tensor, tuple[tf.Tensor, tf.Tensor]]:
        x, grid = tf.cast(image, tf.float32), mask[..., None]
        if augment is not None and augment.flip:  # the only augmentation that moves pixels
            flip = tf.random.uniform(()) < augment.flip
            x = tf.cond(flip, lambda: tf.image.flip_left_right(x), lambda: x)
            grid = tf.cond(flip, lambda: tf.image.flip_left_right(grid), lambda: grid)
        if augment is not None:
            x = augment_image(x, size, replace(augment, flip=0.0))
        return x, (tf.reshape(label, (1,)), grid)

    return ds.map(prepare if mask_side is None else prepare_with_mask,
                  num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size) \
        .prefetch(tf.data.AUTOTUNE)


def online_dataset(samples: Sequence[Any], size: int, batch_size: int, share: float,
                   blend: str, augment: Augment | None, seed: int,
                   swap: float = 0.0, degradations: Degrade | None = None,
                   mesh: bool = True, mask_side: int | None = None) -> tf.data.Dataset:
    """Training batches from `OnlineBlends` (see there), augmented like `make_dataset`'s."""
    source = OnlineBlends([s for s in samples if s.label == REAL],
                          [s for s in samples if s.label == FAKE], size, share, blend, seed,
                          swap=swap, degradations=degradations, mesh=mesh,
                          mask_side=mask_side)
    return batched(source, size, batch_size, augment, mask_side)
