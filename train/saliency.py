"""Occlusion sensitivity: where in a face crop a classifier finds its evidence.

A detector of blended faces should react to the blend boundary of fakes, not to the background,
the hair or the compression blocks of reals. To check that on any exported model, this slides a
patch (mid-grey, or a blurred copy of the crop) over the crop the runtime would classify, runs
every occluded copy through the model in batches, and maps at each pixel the mean drop in the
calibrated fake logit (or P(fake)) over the patches that covered it: red where hiding the pixels
makes the face look less fake (evidence for fake), blue where it makes it look more fake.

Faces, crops, preprocessing and calibration are the runtime's own (`FaceDetector`,
`crop_faces` with the contract's size/margin/align, `DeepfakeClassifier`), so the map explains
the scores `scan` reports. ONNX Runtime, NumPy and OpenCV only: it works on any model that
carries the contract, without TensorFlow.

    python -m deepfake_monitor.train.saliency clip.mp4 face.jpg --model m.onnx --out maps.png
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from deepfake_monitor.realtime.argtypes import add_verbose, positive_int
from deepfake_monitor.realtime.errors import SourceError, UserError
from deepfake_monitor.realtime.faces.crop import crop_faces, crop_matrix
from deepfake_monitor.realtime.faces.detector import DEFAULT_MODEL, FaceDetection, FaceDetector
from deepfake_monitor.realtime.faces.face_mesh import FACE_OVAL, FaceMesh
from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier, calibrated_logits
from deepfake_monitor.realtime.model.contract import MASK_OUTPUT
from deepfake_monitor.realtime.outputs.atomic import atomic_write_bytes, check_output_file

from .extract import ReadReport, SampledFrame, read_frames, read_image
from .layouts import IMAGE_EXTENSIONS

Fill = Literal["grey", "blur"]
Target = Literal["logit", "prob"]

GREY = 128
# Half-width of the band along the face oval counted as "boundary" in the heat shares, as a
# fraction of the crop side (10 px of a 128 px crop): a self-blend's or swap's seam runs along
# the face's outline, and a 16 px patch blurs the map by about this much.
BAND = 0.08


@dataclass(frozen=True)
class OcclusionConfig:
    patch: int = 16  # side of the occluding square, in crop (model input) pixels
    stride: int = 8
    fill: Fill = "grey"
    target: Target = "logit"  # what the drop is measured in
    batch: int = 64  # occluded copies per session call

    def check(self, size: int) -> None:
        if not 1 <= self.patch <= size:
            raise UserError(f"--patch must be within [1, {size}] (the model's crop side), "
                            f"got {self.patch}")
        if not 1 <= self.stride <= self.patch:
            raise UserError(f"--stride must be within [1, --patch {self.patch}] so that "
                            f"patches cover every pixel, got {self.stride}")
        if self.batch < 1:
            raise UserError(f"--batch must be at least 1, got {self.batch}")


def patch_starts(size: int, patch: int, stride: int) -> list[int]:
    """Top/left offsets of the patches along one axis; the last one always ends at the edge."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


def occluded_batches(crop: np.ndarray, config: OcclusionConfig
                     ) -> Iterator[tuple[np.ndarray, list[tuple[int, int]]]]:
    """Copies of the crop with one patch hidden each, `config.batch` at a time, with the
    (y, x) of each copy's patch."""
    size = crop.shape[0]
    p = config.patch
    if config.fill == "blur":
        filler = cv2.GaussianBlur(crop, (0, 0), sigmaX=p / 2, borderType=cv2.BORDER_REFLECT)
    else:
        filler = np.full_like(crop, GREY)
    starts = patch_starts(size, p, config.stride)
    positions = [(y, x) for y in starts for x in starts]
    for first in range(0, len(positions), config.batch):
        chunk = positions[first : first + config.batch]
        copies = np.repeat(crop[None], len(chunk), axis=0)
        for i, (y, x) in enumerate(chunk):
            copies[i, y : y + p, x : x + p] = filler[y : y + p, x : x + p]
        yield copies, chunk


@dataclass(frozen=True)
class OcclusionMap:
    heat: np.ndarray  # (S, S) float64: mean drop of the target when the pixel is hidden
    score: float  # the target (calibrated logit or P(fake)) of the whole crop
    p_fake: float  # calibrated P(fake) of the whole crop, as the runtime reports it


def _targets(classifier: DeepfakeClassifier, crops: np.ndarray, target: Target) -> np.ndarray:
    logits = calibrated_logits(classifier.contract,
                               classifier.backend.run(classifier.preprocess(crops)))
    return logits if target == "logit" else 1.0 / (1.0 + np.exp(-logits))


def occlusion_map(classifier: DeepfakeClassifier, crop: np.ndarray,
                  config: OcclusionConfig) -> OcclusionMap:
    """The occlusion-sensitivity map of one (S, S, 3) uint8 BGR crop, S the model's input."""
    size = classifier.size
    if crop.shape != (size, size, 3) or crop.dtype != np.uint8:
        raise ValueError(f"crop must be ({size}, {size}, 3) uint8, got {crop.dtype} "
                         f"{crop.shape}")
    config.check(size)
    logit = float(calibrated_logits(classifier.contract,
                                    classifier.backend.run(classifier.preprocess(crop[None])))[0])
    p_fake = 1.0 / (1.0 + math.exp(-logit))
    score = logit if config.target == "logit" else p_fake
    total = np.zeros((size, size), np.float64)
    count = np.zeros((size, size), np.float64)
    p = config.patch
    for copies, positions in occluded_batches(crop, config):
        # The whole crop rides along in every call, as its own baseline: a session's numbers
        # for one input can move in the last bits with the batch size (1e-5 logit seen on the
        # CPU), which would otherwise tint the whole map.
        targets = _targets(classifier, np.concatenate([crop[None], copies]), config.target)
        drops = targets[0] - targets[1:]
        for drop, (y, x) in zip(drops, positions):
            total[y : y + p, x : x + p] += drop
            count[y : y + p, x : x + p] += 1
    return OcclusionMap(total / count, score, p_fake)


def predicted_mask(classifier: DeepfakeClassifier, crop: np.ndarray) -> np.ndarray | None:
    """The model's own manipulation mask of one crop (its "mask" output, a model trained with
    `--mask-weight`), at the crop's size, 0..1; None for a model without one."""
    names = classifier.backend.output_names
    if MASK_OUTPUT not in names:
        return None
    out = classifier.backend.run(classifier.preprocess(crop[None]))[names.index(MASK_OUTPUT)]
    grid = np.asarray(out, np.float32)[0, ..., 0]
    size = crop.shape[0]
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_LINEAR)


# -- faces of an input ------------------------------------------------------------------------


@dataclass(frozen=True)
class FaceMap:
    frame: int
    t: float
    crop: np.ndarray  # BGR, as the model saw it
    outline: np.ndarray  # (K, 2) the face mesh's oval, in crop pixels (continuous coordinates)
    map: OcclusionMap
    mask: np.ndarray | None = None  # the model's manipulation mask, if it has the output


@dataclass
class InputResult:
    path: Path
    name: str
    label: str | None = None  # "real" / "fake" from --labels
    faces: list[FaceMap] = field(default_factory=list)
    frames: int = 0
    error: str | None = None


def _largest(faces: Sequence[FaceDetection]) -> FaceDetection | None:
    return max(faces, key=lambda f: f.width * f.height, default=None)


def to_crop(points: np.ndarray, face: FaceDetection, size: int, margin: float,
            align: bool) -> np.ndarray:
    """Frame points (continuous coordinates) to crop pixels, through the crop's own map."""
    m = crop_matrix(face, size=size, margin=margin, align=align)
    # crop_matrix maps pixel indices (a pixel's centre is index + 0.5).
    return cv2.transform((np.asarray(points, np.float64)[:, :2] - 0.5)[None], m)[0] + 0.5


def regions(outline: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks of the face inside its oval, the band of +-BAND * size along the oval, and the
    rest (background, hair, neck, frame borders)."""
    pts = [np.round((outline - 0.5) * 16).astype(np.int32)]
    inside = np.zeros((size, size), np.uint8)
    cv2.fillPoly(inside, pts, 1, cv2.LINE_8, shift=4)
    band = np.zeros((size, size), np.uint8)
    cv2.polylines(band, pts, True, 1, max(1, round(2 * BAND * size)), cv2.LINE_8, shift=4)
    band_mask = band.astype(bool)
    face = inside.astype(bool) & ~band_mask
    return face, band_mask, ~face & ~band_mask


def heat_shares(heat: np.ndarray, outline: np.ndarray) -> tuple[float, float, float]:
    """Shares of the positive heat (evidence for "fake") inside the face, on the band along its
    oval, and outside: a blend detector's evidence should sit on the band."""
    positive = np.clip(heat, 0, None)
    total = positive.sum()
    if total <= 0:
        return (0.0, 0.0, 0.0)
    face, band, rest = regions(outline, heat.shape[0])
    return (float(positive[face].sum() / total), float(positive[band].sum() / total),
            float(positive[rest].sum() / total))


def _frames(path: Path, n: int) -> Iterator[SampledFrame]:
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        yield read_image(path)
    else:
        yield from read_frames(path, ReadReport(), frames_per_video=n)


def explain_input(path: Path, name: str, classifier: DeepfakeClassifier, detector: FaceDetector,
                  mesh: FaceMesh, config: OcclusionConfig, frames: int) -> InputResult:
    """Maps of the largest face in `frames` evenly spaced frames of a video (or an image)."""
    result = InputResult(path, name)
    crop = classifier.contract.crop
    size = classifier.size
    try:
        for frame in _frames(path, frames):
            result.frames += 1
            face = _largest(detector.detect(frame.image))
            if face is None:
                continue
            image = crop_faces(frame.image, [face], size=size, margin=crop.margin,
                               align=crop.align)[0]
            oval = mesh.landmarks(frame.image, [face])[0].points[list(FACE_OVAL)]
            result.faces.append(FaceMap(
                frame.index, frame.t, image, to_crop(oval, face, size, crop.margin, crop.align),
                occlusion_map(classifier, image, config), predicted_mask(classifier, image)))
    except SourceError as exc:
        result.error = str(exc)
    return result


# -- the figure ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridLayout:
    """Pixel sizes of the PNG: a legend on top, then a row per input with two header lines and
    one cell (crop | map [| the model's mask], caption below) per sampled face."""

    tile: int = 160
    panels: int = 2
    pad: int = 6
    legend: int = 56
    header: int = 38
    caption: int = 18
    min_width: int = 640

    @property
    def cell_width(self) -> int:
        return self.panels * self.tile + (self.panels - 1) * self.pad

    @property
    def row_height(self) -> int:
        return self.header + self.tile + self.caption + self.pad

    def size(self, rows: int, cols: int) -> tuple[int, int]:
        """(width, height) of a grid of `rows` inputs with at most `cols` faces each."""
        width = max(self.min_width, self.pad + max(cols, 1) * (self.cell_width + self.pad))
        return width, self.legend + rows * self.row_height + self.pad


FONT = cv2.FONT_HERSHEY_SIMPLEX
TEXT = (235, 235, 235)
DIM = (150, 150, 150)
BACKGROUND = (32, 32, 32)


def _text(img: np.ndarray, text: str, x: int, y: int, width: int, colour: tuple[int, int, int]
          = TEXT, scale: float = 0.42) -> None:
    """One line at baseline y, cut with '...' to fit `width` pixels (Hershey fonts are ASCII)."""
    text = text.encode("ascii", "replace").decode()
    if cv2.getTextSize(text, FONT, scale, 1)[0][0] > width:
        while text and cv2.getTextSize(text + "...", FONT, scale, 1)[0][0] > width:
            text = text[:-1]
        text += "..."
    cv2.putText(img, text, (x, y), FONT, scale, colour, 1, cv2.LINE_AA)


def heat_overlay(crop: np.ndarray, heat: np.ndarray, scale: float) -> np.ndarray:
    """The crop in dimmed grey with positive heat in red-to-yellow and negative in blue, each as
    opaque as its size relative to `scale`."""
    grey = cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    base = grey.astype(np.float32) * 0.55
    v = heat / scale if scale > 0 else np.zeros_like(heat)
    pos = np.clip(v, 0, 1).astype(np.float32)[..., None]
    neg = np.clip(-v, 0, 1).astype(np.float32)[..., None]
    hot = np.concatenate([np.zeros_like(pos), 255 * pos, np.full_like(pos, 255)], axis=2)
    cold = np.array([255, 110, 0], np.float32)
    a_pos, a_neg = 0.85 * pos ** 0.7, 0.7 * neg ** 0.7
    out = base * (1 - a_pos - a_neg) + hot * a_pos + cold * a_neg
    return np.clip(out, 0, 255).astype(np.uint8)


def _scale(face: FaceMap, shared: float | None) -> float:
    return shared if shared is not None else float(np.abs(face.map.heat).max())


def shares_text(result: InputResult) -> str:
    """Where the evidence for "fake" sits, averaged over the input's faces, beside what heat
    spread evenly over the crop would give."""
    shares = np.mean([heat_shares(f.map.heat, f.outline) for f in result.faces], axis=0)
    area = np.mean([heat_shares(np.ones_like(f.map.heat), f.outline) for f in result.faces],
                   axis=0)
    return ("heat face/oval band/out {:.0%}/{:.0%}/{:.0%}".format(*shares)
            + " (area {:.0%}/{:.0%}/{:.0%})".format(*area))


def render_grid(results: Sequence[InputResult], config: OcclusionConfig, model_name: str, *,
                shared_scale: bool = False, layout: GridLayout | None = None) -> np.ndarray:
    """The figure as a BGR image."""
    masks = any(f.mask is not None for r in results for f in r.faces)
    lay = layout or GridLayout(panels=3 if masks else 2)
    cols = max((len(r.faces) for r in results), default=1)
    width, height = lay.size(len(results), cols)
    img = np.full((height, width, 3), BACKGROUND, np.uint8)
    unit = "calibrated fake logit" if config.target == "logit" else "P(fake)"
    shared = max((float(np.abs(f.map.heat).max()) for r in results for f in r.faces),
                 default=0.0) if shared_scale else None
    inner = width - 2 * lay.pad
    _text(img, f"Occlusion sensitivity of {model_name}", lay.pad, 16, inner)
    _text(img, f"{config.fill} {config.patch}px patch, stride {config.stride}; heat = drop in "
               f"{unit} when hidden, scale " + ("shared" if shared_scale else "per crop")
               + " (+-max in caption)", lay.pad, 33, inner, DIM)
    _text(img, "red/yellow: evidence for fake, blue: for real; line: face oval (face mesh)"
               + ("; third: the model's own mask (red: replaced)" if masks else ""),
          lay.pad, 49, inner, DIM)
    t = lay.tile
    for row, result in enumerate(results):
        y0 = lay.legend + row * lay.row_height
        parts = [result.name]
        if result.label is not None:
            parts.append(f"label {result.label}")
        detail = ""
        if result.faces:
            ps = [f.map.p_fake for f in result.faces]
            parts.append(f"P(fake) mean {np.mean(ps):.2f}")
            detail = (f"{len(ps)} of {result.frames} frame(s) with a face; "
                      + shares_text(result))
        elif result.error:
            detail = f"error: {result.error}"
        else:
            detail = f"no face in {result.frames} frame(s)"
        colour = {"fake": (110, 140, 255), "real": (140, 230, 140)}.get(result.label or "", TEXT)
        _text(img, "   ".join(parts), lay.pad, y0 + 15, inner, colour)
        _text(img, detail, lay.pad, y0 + 31, inner, DIM)
        for col, face in enumerate(result.faces):
            x0 = lay.pad + col * (lay.cell_width + lay.pad)
            ty = y0 + lay.header
            crop = cv2.resize(face.crop, (t, t), interpolation=cv2.INTER_NEAREST
                              if t % face.crop.shape[0] == 0 else cv2.INTER_LINEAR)
            scale = _scale(face, shared)
            heat = cv2.resize(face.map.heat.astype(np.float32), (t, t),
                              interpolation=cv2.INTER_LINEAR)
            overlay = heat_overlay(crop, heat, scale)
            # Continuous crop coordinates to the tile's pixel indices.
            oval = face.outline * (t / face.crop.shape[0]) - 0.5
            cv2.polylines(overlay, [np.round(oval * 16).astype(np.int32)], True,
                          (255, 255, 255), 1, cv2.LINE_AA, shift=4)
            img[ty : ty + t, x0 : x0 + t] = crop
            img[ty : ty + t, x0 + t + lay.pad : x0 + 2 * t + lay.pad] = overlay
            if face.mask is not None and lay.panels > 2:
                x2 = x0 + 2 * (t + lay.pad)
                img[ty : ty + t, x2 : x2 + t] = heat_overlay(
                    crop, cv2.resize(face.mask, (t, t), interpolation=cv2.INTER_LINEAR), 1.0)
            when = ("image" if result.path.suffix.lower() in IMAGE_EXTENSIONS
                    else f"frame {face.frame}")
            _text(img, f"{when}  P(fake) {face.map.p_fake:.2f}  heat +-{scale:.2g}",
                  x0, ty + t + 13, lay.cell_width)
    return img


# -- command line -------------------------------------------------------------------------------


_EPILOG = """\
how to read it: each row is one input, each cell one sampled frame's largest face: the crop
exactly as the model sees it (size, margin, alignment from the model's contract) and the
occlusion map over it. Red/yellow pixels are where hiding the image lowers the fake score
(the model's evidence for "fake"), blue where hiding it raises the score. The white line is
the face oval from the face mesh (the outline self-blended training fakes blend along); the
header gives the mean share of the red heat inside the face, on a band of +-8 % of the crop
side along the oval (where a blend's seam runs) and outside it (background, hair, neck,
frame borders), and beside it those regions' shares of the crop's area (what heat spread
evenly would give). A blend detector that works should put its heat on the band of fakes;
heat on the background or in blocks of reals points at shortcuts. A grey patch inside a face
is itself a pasted-looking square, so blue inside faces is partly the occluder's own doing;
--fill blur adds no edges.

cost: (ceil((S - patch) / stride) + 1)^2 model runs per face (225 for S=128, patch 16,
stride 8), batched.

exit status: 0 every input read; 1 some could not be read (their rows say why); 2 bad
input (missing file or model, bad option).

example:
  python -m deepfake_monitor.train.saliency real.mp4 fake.mp4 --model m.onnx --out maps.png \\
      --frames 4 --labels labels.csv
"""


def _name(path: Path, labels_dir: Path | None) -> str:
    for base in (labels_dir, Path.cwd()):
        if base is not None:
            try:
                return str(path.resolve().relative_to(base.resolve()))
            except ValueError:
                pass
    return str(path)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m deepfake_monitor.train.saliency",
        description="Occlusion-sensitivity maps of a deepfake classifier: which parts of each "
                    "face crop its fake score depends on, drawn as a PNG grid (a row per "
                    "input). Uses the runtime's detector, crop, preprocessing and calibration, "
                    "so the maps explain the scores `scan` reports.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="VIDEO_OR_IMAGE", type=Path,
                   help="video files or images (images are one frame)")
    p.add_argument("--model", type=Path, default=None, metavar="M.onnx",
                   help="classifier with deepfake-monitor metadata (default: the bundled one)")
    p.add_argument("--out", type=Path, required=True, metavar="MAPS.png",
                   help="where the PNG goes")
    p.add_argument("--frames", type=positive_int, default=4, metavar="N",
                   help="evenly spaced frames per video; the largest face of each "
                        "(default: %(default)s)")
    p.add_argument("--labels", type=Path, metavar="CSV",
                   help="CSV with columns path,label (1/0 or fake/real; paths relative to the "
                        "CSV): labels go in the captions")
    p.add_argument("--patch", type=positive_int, default=16, metavar="PX",
                   help="occluding square's side in model-input pixels (default: %(default)s)")
    p.add_argument("--stride", type=positive_int, default=8, metavar="PX",
                   help="step between patches (default: %(default)s)")
    p.add_argument("--fill", choices=("grey", "blur"), default="grey",
                   help="what hides a patch: mid-grey, or the crop blurred (sigma patch/2), "
                        "which adds no edges of its own (default: %(default)s)")
    p.add_argument("--target", choices=("logit", "prob"), default="logit",
                   help="measure drops in the calibrated fake logit (does not saturate) or in "
                        "P(fake) (default: %(default)s)")
    p.add_argument("--shared-scale", action="store_true",
                   help="one heat scale for every crop, so map strengths compare across rows "
                        "(default: each crop scaled to its own largest drop)")
    p.add_argument("--batch", type=positive_int, default=64, metavar="N",
                   help="occluded copies per model call (default: %(default)s)")
    p.add_argument("--detector", default=DEFAULT_MODEL, metavar="short|full|PATH",
                   help="face detector (default: %(default)s)")
    p.add_argument("--providers", default=None, metavar="LIST",
                   help="ONNX Runtime execution providers, e.g. cuda,cpu (default: best "
                        "available)")
    add_verbose(p)
    return p


def _labels(path: Path | None) -> dict[Path, str]:
    if path is None:
        return {}
    from deepfake_monitor.realtime.outputs.labelled_metrics import read_labels

    return {p: ("fake" if lab.fake else "real") for p, lab in read_labels(path).labels.items()}


def run(args: argparse.Namespace) -> int:
    from deepfake_monitor.realtime.model.backend import parse_providers

    for path in args.inputs:
        if path.is_dir():
            raise UserError(f"{path}: is a folder; pass video or image files")
        if not path.is_file():
            raise UserError(f"{path}: no such file")
    if args.out.suffix.lower() != ".png":
        raise UserError(f"--out {args.out}: must be a .png file")
    out = check_output_file(str(args.out), "--out")
    if args.model is not None and not args.model.is_file():
        raise UserError(f"--model {args.model}: no such file")
    labels = _labels(args.labels)
    config = OcclusionConfig(patch=args.patch, stride=args.stride, fill=args.fill,
                             target=args.target, batch=args.batch)
    providers = parse_providers(args.providers)
    classifier = DeepfakeClassifier(args.model, providers=providers)
    config.check(classifier.size)
    detector = FaceDetector(args.detector, providers=providers)
    mesh = FaceMesh(providers=providers)
    runs = len(patch_starts(classifier.size, config.patch, config.stride)) ** 2
    print(f"saliency: {classifier.path.name} ({classifier.size} px crops), {runs} occluded "
          f"copies per face, {len(args.inputs)} input(s)", file=sys.stderr)
    results = []
    labels_dir = args.labels.parent if args.labels is not None else None
    for i, path in enumerate(args.inputs, start=1):
        started = time.perf_counter()
        result = explain_input(path, _name(path, labels_dir), classifier, detector, mesh,
                               config, args.frames)
        result.label = labels.get(path.resolve())
        results.append(result)
        if result.error:
            status = f"error: {result.error}"
        else:
            scores = " ".join(f"{f.map.p_fake:.2f}" for f in result.faces) or "-"
            status = (f"{len(result.faces)} face(s) in {result.frames} frame(s), "
                      f"P(fake) {scores}")
            if result.faces:
                status += f"; {shares_text(result)}"
        print(f"[{i}/{len(args.inputs)}] {result.name}: {status} "
              f"({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
    figure = render_grid(results, config, f"{classifier.name} {classifier.contract.card.version}",
                         shared_scale=args.shared_scale)
    ok, png = cv2.imencode(".png", figure)
    if not ok:
        raise UserError(f"--out {out}: could not encode the PNG")
    try:  # renamed into place: an interrupted run leaves no half-written figure
        atomic_write_bytes(out, png.tobytes())
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write: {exc.strerror or exc}") from None
    print(f"wrote {out} ({figure.shape[1]}x{figure.shape[0]})", file=sys.stderr)
    return 1 if any(r.error for r in results) else 0


def main(argv: Sequence[str] | None = None) -> int:
    from deepfake_monitor.realtime.log_setup import setup_logging

    args = build_parser().parse_args(argv)
    # The runtime's logging: OpenCV's and FFmpeg's own warnings about unreadable files quiet
    # (the row and the progress line say why), credentials masked.
    setup_logging(args.verbose)
    try:
        return run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no figure written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
