"""MediaPipe's 468-point face mesh on ONNX Runtime: a face's outline, eyes and mouth as points.

Training needs masks that follow the face (self-blended fakes blend inside the face oval); the
detector's six points and box cannot draw one. The model is MediaPipe's `face_landmark.tflite`
converted to ONNX by `export/convert_face_mesh.py` (assets/NOTICE-blazeface.md).

Input as in MediaPipe's face landmark graph (face_detection_front_detection_to_roi.pbtxt and
face_landmark_cpu.pbtxt): the detection box made square on its longer side, enlarged 1.5x,
turned so the eye line is level, sampled bilinearly to 192x192 with the frame's edge pixels
replicated beyond its border, RGB scaled to [0, 1]. That is the project's crop geometry with
margin 0.25 and align=True, so the landmarks go back to the frame through the exact inverse of
`crop_matrix`. The model outputs 468 (x, y, z) in input pixels, z in the same scale as x
(relative to the face's centre plane, smaller is nearer the camera), and a face-presence logit.
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
from .crop import crop_matrix
from .detector import LOGIT_CLIP, FaceDetection

MODEL_FILE = "face_mesh.onnx"
INPUT_SIZE = 192
NUM_LANDMARKS = 468
# side = max(box w, h) * (1 + 2 * margin) = 1.5x the box, MediaPipe's ROI scale for this model.
ROI_MARGIN = 0.25

# Closed contours, each ordered around its region, made by chaining the edge lists of MediaPipe's
# mediapipe/python/solutions/face_mesh_connections.py (FACEMESH_FACE_OVAL, FACEMESH_LIPS,
# FACEMESH_{LEFT,RIGHT}_EYE, FACEMESH_{LEFT,RIGHT}_EYEBROW; FACEMESH_NOSE in MediaPipe >= 0.10).
# "Left" and "right" are the subject's, as in MediaPipe: the right eye is on the image's left in
# an unmirrored frame.
FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
RIGHT_EYE: tuple[int, ...] = (
    33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246,
)
LEFT_EYE: tuple[int, ...] = (
    263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466,
)
RIGHT_EYEBROW: tuple[int, ...] = (46, 53, 52, 65, 55, 107, 66, 105, 63, 70)
LEFT_EYEBROW: tuple[int, ...] = (276, 283, 282, 295, 285, 336, 296, 334, 293, 300)
LIPS_OUTER: tuple[int, ...] = (
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185,
)
LIPS_INNER: tuple[int, ...] = (
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191,
)
# FACEMESH_NOSE is a bridge line (168 between the eyes down to 2 under the tip) plus an outline
# of the nostrils and sides; NOSE is that outline, NOSE_BRIDGE the line.
NOSE: tuple[int, ...] = (
    4, 275, 440, 344, 278, 294, 327, 326, 2, 97, 98, 64, 48, 115, 220, 45,
)
NOSE_BRIDGE: tuple[int, ...] = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2)
NOSE_TIP = 1


@dataclass(frozen=True, slots=True, eq=False)
class FaceMeshResult:
    """One face's mesh. Compared by identity (eq=False), like FaceDetection.

    `points` (468, 3) float32: x, y in frame pixels (continuous coordinates, as the detector's
    landmarks: pixel (i, j) covers [i, i + 1) x [j, j + 1)), z in the same pixel scale.
    `presence` is the model's face probability; MediaPipe drops faces below 0.5.
    """

    points: np.ndarray
    presence: float


def resolve_mesh_model(model_path: str | Path | None) -> Path:
    if model_path is None:
        path = ASSETS_DIR / MODEL_FILE
        if not path.is_file():
            raise ModelError(f"bundled face mesh {path} is missing; regenerate it with "
                             "export/convert_face_mesh.py")
        return path
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise ModelError(f"face mesh model {str(model_path)!r}: not an existing .onnx file")
    return path


def crop_inputs(
    frame_bgr: np.ndarray, faces: Sequence[FaceDetection], size: int = INPUT_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """The model's input for each face, (N, size, size, 3) float32 RGB in [0, 1], and the
    (N, 2, 3) frame-to-input affine maps that cut them."""
    if (frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8
            or frame_bgr.shape[0] == 0 or frame_bgr.shape[1] == 0):
        raise ValueError(f"expected an HxWx3 uint8 BGR frame, got {frame_bgr.dtype} "
                         f"of shape {frame_bgr.shape}")
    crops = np.empty((len(faces), size, size, 3), np.uint8)
    matrices = np.empty((len(faces), 2, 3), np.float64)
    for i, face in enumerate(faces):
        matrices[i] = crop_matrix(face, size=size, margin=ROI_MARGIN, align=True)
        # Replicated edges rather than crop.py's black: MediaPipe's ImageToTensorCalculator
        # replicates by default, and the model was trained on what that graph feeds it.
        cv2.warpAffine(frame_bgr, matrices[i], (size, size), dst=crops[i],
                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    tensor = crops[..., ::-1].astype(np.float32)
    tensor *= 1.0 / 255.0
    return tensor, matrices


def to_frame(raw: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """(N, 468, 3) landmarks in input pixels -> frame pixels, through each crop's inverse map.

    The model's x, y are continuous input coordinates; crop_matrix maps pixel indices (centre
    at index + 0.5), hence the half-pixel shifts either side of the inverse.
    """
    out = np.empty(raw.shape, np.float32)
    for i in range(len(raw)):
        inverse = cv2.invertAffineTransform(matrices[i])
        xy = raw[i, :, :2].astype(np.float64) - 0.5
        out[i, :, :2] = xy @ inverse[:, :2].T + inverse[:, 2] + 0.5
        out[i, :, 2] = raw[i, :, 2] * np.sqrt(abs(np.linalg.det(inverse[:, :2])))
    return out


class FaceMesh:
    """The face mesh on ONNX Runtime: `landmarks(frame, faces)`, all faces in one model call."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        providers: Sequence[str] | None = None,
        intra_op_threads: int | None = None,
    ) -> None:
        self.model_path = resolve_mesh_model(model_path)
        self.backend = OnnxBackend(self.model_path, providers, intra_op_threads=intra_op_threads)
        shape = self.backend.input_shape
        if len(shape) != 4 or shape[1:] != [INPUT_SIZE, INPUT_SIZE, 3]:
            raise ModelError(f"{self.model_path}: expected an NHWC {INPUT_SIZE}x{INPUT_SIZE} RGB "
                             f"input, got {shape}")
        if self.backend.input_type != "tensor(float)":
            raise ModelError(f"{self.model_path}: expected a float32 input, "
                             f"got {self.backend.input_type}")
        widths = [o.shape[-1] for o in self.backend.session.get_outputs()]
        if len(widths) != 2 or set(widths) != {NUM_LANDMARKS * 3, 1}:
            raise ModelError(f"{self.model_path}: expected face mesh outputs of "
                             f"{NUM_LANDMARKS * 3} landmark values and 1 face logit, "
                             f"got widths {widths}")
        self._landmark_output = widths.index(NUM_LANDMARKS * 3)
        self._flag_output = widths.index(1)

    def landmarks(
        self, frame_bgr: np.ndarray, faces: Sequence[FaceDetection]
    ) -> list[FaceMeshResult]:
        """The mesh of each detected face in a BGR frame, in the order of `faces`."""
        if len(faces) == 0:
            return []
        tensor, matrices = crop_inputs(frame_bgr, faces)
        outputs = self.backend.run(tensor)
        raw = outputs[self._landmark_output].reshape(len(faces), NUM_LANDMARKS, 3)
        logits = outputs[self._flag_output].reshape(len(faces))
        presence = 1.0 / (1.0 + np.exp(-np.clip(logits, -LOGIT_CLIP, LOGIT_CLIP)))
        points = to_frame(raw, matrices)
        return [FaceMeshResult(points[i], float(presence[i])) for i in range(len(faces))]
