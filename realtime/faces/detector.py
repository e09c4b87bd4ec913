"""BlazeFace face detection on ONNX Runtime: letterbox, SSD anchor decoding, weighted NMS.

The models are MediaPipe's BlazeFace detectors converted to ONNX by
`export/convert_blazeface.py` (assets/NOTICE-blazeface.md). Post-processing follows MediaPipe's
face detection graphs (TensorsToDetections + weighted NonMaxSuppression) so that the converted
models behave as they do there.

Default model: full range (192x192), chosen by measurement. On 60 evenly spaced frames of each
of the 19 clips in shared/media/videos it finds a face in 99.4% of frames (1133/1140) against
92.1% for short range (128x128). Short range finds nothing in the 1080p street crowd
(facenet-pytorch-video: faces ~5% of the frame height) and misses 20-30% of frames where the
face is a smaller part of the frame (Hamilton stage shots, a 720x1080 portrait clip); on close
talking heads both find 100%. It costs ~4 ms a frame on 2 CPU cores against ~2 ms, still small
next to the classifier. Use "short" for webcam-distance faces where every millisecond counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deepfake_monitor.assets import ASSETS_DIR

from ..errors import ModelError
from ..model.backend import OnnxBackend

BUNDLED_MODELS: dict[str, str] = {
    "short": "blazeface_short.onnx",
    "full": "blazeface_full.onnx",
}

DEFAULT_MODEL = "full"

# Intra-op threads of the detector's session inside the analysis pipelines (scan, watch, app).
# Every stream's detect thread calls the detector itself, beside decoding and the classifier,
# so the parallelism comes from the pipeline; a 4 ms model split over a thread pool mostly
# pays for waking the pool (~20 % more CPU per frame on 2 cores, measured by `bench`), and
# streams calling one session at once would contend for that one pool.
PIPELINE_INTRA_OP_THREADS = 1

# SSD anchor layout per model input size, as MediaPipe's SsdAnchorsCalculator derives it from
# the options in face_detection_{short,full}_range_common.pbtxt: a (stride, anchors per cell)
# pair per feature map. Short range: strides [8, 16, 16, 16] with interpolated aspect ratio 1.0,
# i.e. 2 anchors per layer, layers of equal stride merged -> 16x16x2 + 8x8x6 = 896 anchors.
# Full range: one layer of stride 4, no interpolated ratio -> 48x48x1 = 2304 anchors. Anchors
# have a fixed size of 1, so only their centres matter.
ANCHOR_LAYOUTS: dict[int, tuple[tuple[int, int], ...]] = {
    128: ((8, 2), (16, 6)),
    192: ((4, 1),),
}

NUM_KEYPOINTS = 6
# MediaPipe clips logits at 100 before the sigmoid; 80 keeps exp() finite in float32.
LOGIT_CLIP = 80.0


@dataclass(frozen=True, slots=True, eq=False)
class FaceDetection:
    """One face in frame pixels.

    Compared and hashed by identity (eq=False): field equality would compare a NumPy array,
    which has no single truth value.

    `landmarks` (6, 2) in MediaPipe's order: the subject's right eye, left eye, nose tip, mouth
    centre, right ear tragion, left ear tragion. The subject's right eye is on the image's left
    in an unmirrored frame. The box is clipped to the frame; landmarks are not, since a point
    just outside the frame still gives the right eye line for alignment.
    """

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float
    landmarks: np.ndarray

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def ssd_anchors(input_size: int) -> np.ndarray:
    """Anchor centres (A, 2) as x, y in [0, 1], in the order the model emits its predictions."""
    layout = ANCHOR_LAYOUTS.get(input_size)
    if layout is None:
        raise ModelError(f"no BlazeFace anchor layout for input size {input_size} "
                         f"(known: {', '.join(map(str, ANCHOR_LAYOUTS))})")
    parts = []
    for stride, per_cell in layout:
        cells = input_size // stride
        centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        xs, ys = np.meshgrid(centres, centres)  # row-major: y outer, x inner
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        parts.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(parts)


def resolve_model(model: str | Path) -> Path:
    """'short' / 'full' name a bundled model; anything else is a path to an .onnx file."""
    name = str(model)
    if name in BUNDLED_MODELS:
        path = ASSETS_DIR / BUNDLED_MODELS[name]
        if not path.is_file():
            raise ModelError(f"bundled face detector {path} is missing; regenerate it with "
                             "export/convert_blazeface.py")
        return path
    path = Path(name).expanduser()
    if not path.is_file():
        raise ModelError(f"face detector {name!r}: not 'short', 'full' or an existing .onnx file")
    return path


@dataclass(frozen=True, slots=True)
class _Letterbox:
    """Where a frame landed in the square model input: offset and per-axis scale, in pixels."""

    offset_x: float
    offset_y: float
    scale_x: float
    scale_y: float
    width: int
    height: int


class FaceDetector:
    """BlazeFace on ONNX Runtime: `detect(frame)` or `detect_batch(frames)` in one session call."""

    def __init__(
        self,
        model: str | Path = DEFAULT_MODEL,
        *,
        providers: Sequence[str] | None = None,
        min_score: float = 0.5,
        iou_threshold: float = 0.3,
        max_faces: int = 16,
        intra_op_threads: int | None = None,
    ) -> None:
        self.model_path = resolve_model(model)
        self.backend = OnnxBackend(self.model_path, providers, intra_op_threads=intra_op_threads)
        self.min_score = min_score
        self.iou_threshold = iou_threshold
        self.max_faces = max_faces
        shape = self.backend.input_shape
        if len(shape) != 4 or shape[3] != 3 or shape[1] is None or shape[1] != shape[2]:
            raise ModelError(f"{self.model_path}: expected a square NHWC RGB input, got {shape}")
        if self.backend.input_type != "tensor(float)":
            raise ModelError(f"{self.model_path}: expected a float32 input, "
                             f"got {self.backend.input_type}")
        self.input_size: int = int(shape[1])
        self.anchors = ssd_anchors(self.input_size)
        outputs = self.backend.session.get_outputs()
        widths = sorted(o.shape[-1] for o in outputs) if len(outputs) == 2 else []
        if widths != [1, 4 + 2 * NUM_KEYPOINTS]:
            raise ModelError(f"{self.model_path}: expected BlazeFace outputs (N, A, 16) and "
                             f"(N, A, 1), got {[o.shape for o in outputs]}")
        # Regressors first, whatever order the file lists them in.
        self._order = [0, 1] if outputs[0].shape[-1] != 1 else [1, 0]
        anchors = outputs[0].shape[1]
        if isinstance(anchors, int) and anchors != len(self.anchors):
            raise ModelError(f"{self.model_path}: {anchors} predictions per image, but a "
                             f"{self.input_size}px BlazeFace has {len(self.anchors)} anchors")

    def detect(self, frame_bgr: np.ndarray) -> list[FaceDetection]:
        """Faces in one BGR frame, best score first."""
        return self.detect_batch([frame_bgr])[0]

    def detect_batch(self, frames_bgr: Sequence[np.ndarray]) -> list[list[FaceDetection]]:
        """Faces in each of several BGR frames (any sizes), with one model call for all."""
        if len(frames_bgr) == 0:
            return []
        size = self.input_size
        batch = np.zeros((len(frames_bgr), size, size, 3), np.uint8)
        boxes = [self._letterbox(frame, batch[i]) for i, frame in enumerate(frames_bgr)]
        tensor = batch.astype(np.float32)
        tensor *= 2.0 / 255.0
        tensor -= 1.0
        outputs = self.backend.run(tensor)
        regressors, logits = outputs[self._order[0]], outputs[self._order[1]]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[..., 0], -LOGIT_CLIP, LOGIT_CLIP)))
        return [self._decode(regressors[i], scores[i], boxes[i]) for i in range(len(boxes))]

    def _letterbox(self, frame: np.ndarray, out: np.ndarray) -> _Letterbox:
        """Resize the frame into `out` keeping its aspect, centred on black, BGR -> RGB."""
        if (frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] == 0
                or frame.shape[1] == 0 or frame.dtype != np.uint8):
            raise ValueError(f"expected an HxWx3 uint8 BGR frame, got {frame.dtype} "
                             f"of shape {frame.shape}")
        h, w = frame.shape[:2]
        size = self.input_size
        scale = size / max(h, w)
        new_w = min(size, max(1, round(w * scale)))
        new_h = min(size, max(1, round(h * scale)))
        resized = shrink(frame, new_w, new_h)
        x0, y0 = (size - new_w) // 2, (size - new_h) // 2
        out[y0 : y0 + new_h, x0 : x0 + new_w] = resized[..., ::-1]
        return _Letterbox(x0, y0, new_w / w, new_h / h, w, h)

    def _decode(self, raw: np.ndarray, scores: np.ndarray, lb: _Letterbox) -> list[FaceDetection]:
        """Candidates above min_score -> weighted NMS -> frame pixels."""
        keep = np.flatnonzero(scores >= self.min_score)
        if keep.size == 0:
            return []
        size = float(self.input_size)
        raw = raw[keep].reshape(-1, 2 + NUM_KEYPOINTS, 2) / size
        anchors = self.anchors[keep][:, None, :]
        centre = raw[:, 0:1] + anchors
        half = raw[:, 1:2] / 2
        points = raw[:, 2:] + anchors
        # Rows: x1y1, x2y2, then the keypoints; normalised letterbox coordinates.
        dets = np.concatenate([centre - half, centre + half, points], axis=1)
        valid = (half[:, 0] > 0).all(axis=1)
        dets, cand_scores = dets[valid], scores[keep][valid]
        merged = weighted_nms(dets, cand_scores, self.iou_threshold, self.max_faces)
        faces = []
        for det, score in merged:
            pts = det * size
            pts[:, 0] = (pts[:, 0] - lb.offset_x) / lb.scale_x
            pts[:, 1] = (pts[:, 1] - lb.offset_y) / lb.scale_y
            x1, x2 = np.clip(pts[[0, 1], 0], 0, lb.width)
            y1, y2 = np.clip(pts[[0, 1], 1], 0, lb.height)
            if x2 <= x1 or y2 <= y1:
                continue
            box = (float(x1), float(y1), float(x2), float(y2))
            faces.append(FaceDetection(box, float(score), pts[2:].astype(np.float32)))
        return faces


def shrink(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to (width, height), anti-aliased when shrinking a lot.

    Bilinear alone samples 2x2 source pixels per output pixel, which aliases at the 5-15x
    reductions from video to 128/192 px; INTER_AREA fixes that but costs 1-2 ms at 720p.
    Bilinear to twice the size and then an exact 2x area halving (a fast path in OpenCV) is
    close in quality for about 0.2 ms.
    """
    h, w = frame.shape[:2]
    if 2 * width < w and 2 * height < h:
        frame = cv2.resize(frame, (2 * width, 2 * height), interpolation=cv2.INTER_LINEAR)
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (x1, y1, x2, y2) box against (K, 4) boxes."""
    ix1 = np.maximum(box[0], boxes[:, 0])
    iy1 = np.maximum(box[1], boxes[:, 1])
    ix2 = np.minimum(box[2], boxes[:, 2])
    iy2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(
    dets: np.ndarray, scores: np.ndarray, iou_threshold: float, max_out: int
) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression.

    dets: (K, 2 + keypoints, 2), rows x1y1, x2y2, keypoints. The best remaining detection takes
    every remaining one overlapping it by IoU > iou_threshold (itself included) and becomes
    their score-weighted average, keeping its own score. BlazeFace fires on many neighbouring
    anchors per face; averaging them steadies boxes and landmarks from frame to frame.
    """
    order = np.argsort(-scores, kind="stable")
    dets, scores = dets[order], scores[order]
    flat = dets[:, :2].reshape(-1, 4)
    remaining = np.arange(len(dets))
    out: list[tuple[np.ndarray, float]] = []
    while remaining.size and len(out) < max_out:
        seed = remaining[0]
        overlap = box_iou(flat[seed], flat[remaining]) > iou_threshold
        overlap[0] = True  # a degenerate seed still stands for itself
        members = remaining[overlap]
        weights = scores[members]
        merged = np.tensordot(weights, dets[members], axes=1) / weights.sum()
        out.append((merged, float(scores[seed])))
        remaining = remaining[~overlap]
    return out
