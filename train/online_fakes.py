"""Training pairs made on the fly: each real face crop, then a fresh fake of that very crop.

Why pairs from the same decoded crop: a detector trained on a fixed set of fakes next to a set
of reals learns whatever else differs between the two sets -- which people, which recording,
which compression -- instead of the manipulation (measured: ImageNet EfficientNet-Lite0 on
synthesize's offline fakes reached 0.94 AUC on held-out synthetic fakes and 0.55 on real
deepfakes). When every fake is the real crop it sits next to, blended with an altered copy of
itself (the SBI recipe) or with another person's face, the blend is the only thing that tells
the two apart. Every degradation (video re-compression, low light, colour casts, and the
Keras-side JPEG/scaling/blur/noise of `training.augment_image`) is drawn independently for each
sample after blending, so both classes see the same distribution of them.

Masks come from the face's own contour when the face mesh model is bundled
(`realtime/faces/face_mesh.py`: the convex hull of MediaPipe's face-oval landmarks, then deformed,
eroded or dilated and feathered as in the paper), else from the six BlazeFace landmarks.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import cv2
import numpy as np

from deepfake_monitor.realtime.errors import UserError
from deepfake_monitor.realtime.faces.detector import FaceDetection

log = logging.getLogger(__name__)

REAL, FAKE = 0.0, 1.0
MIN_MESH_PRESENCE = 0.5


@dataclass(frozen=True)
class Degrade:
    """Camera and streaming degradations applied to every training sample, real or fake, after
    blending (0 turns one off). The Keras-side augmentations come after these."""

    h264: float = 0.35  # an H.264 intra-frame round trip (yuv420p), as video calls and webcams
    h264_crf: tuple[int, int] = (18, 40)
    low_light: float = 0.15  # darker, lower contrast, with sensor noise
    cast: float = 0.2  # a colour cast (white balance off)
    cast_gain: float = 0.12  # max relative gain change per channel


def h264_round_trip(rgb: np.ndarray, crf: int) -> np.ndarray:
    """One frame encoded with libx264 at `crf` and decoded again: blocking, ringing and
    4:2:0 chroma as a webcam stream or a video call gives them. Even sides are needed by
    yuv420p: odd sides are padded by edge replication and cut back."""
    import av

    h, w = rgb.shape[:2]
    padded = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height = padded.shape[1], padded.shape[0]
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"crf": str(int(crf)), "preset": "ultrafast", "tune": "zerolatency"}
    packets = codec.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(padded),
                                                      format="rgb24"))
    packets += codec.encode(None)
    decoder = av.CodecContext.create("h264", "r")
    frames = []
    for packet in packets:
        frames += decoder.decode(packet)
    frames += decoder.decode(None)
    if not frames:  # cannot happen with libx264, but never hand back nothing
        return rgb
    return frames[0].to_ndarray(format="rgb24")[:h, :w]


def degrade(rgb: np.ndarray, rng: np.random.Generator, d: Degrade) -> np.ndarray:
    """A uint8 RGB crop after a random draw of `d`'s degradations."""
    out = rgb
    if d.cast and rng.random() < d.cast:
        gains = 1.0 + rng.uniform(-d.cast_gain, d.cast_gain, 3)
        out = np.clip(out.astype(np.float32) * gains, 0, 255).astype(np.uint8)
    if d.low_light and rng.random() < d.low_light:
        x = out.astype(np.float32) / 255.0
        x = x ** rng.uniform(1.2, 2.0) * rng.uniform(0.5, 0.85)
        x = x + rng.normal(0.0, rng.uniform(0.005, 0.03), x.shape)
        out = np.clip(x * 255.0, 0, 255).astype(np.uint8)
    if d.h264 and rng.random() < d.h264:
        out = h264_round_trip(out, int(rng.integers(d.h264_crf[0], d.h264_crf[1] + 1)))
    return out


def read_crop(path: str, size: int) -> np.ndarray:
    """A crop file as BGR at size x size (crops of another size are resized)."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise UserError(f"{path}: unreadable crop")
    if image.shape[:2] != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


def load_face_mesh() -> Any | None:
    """The bundled face mesh (realtime/faces/face_mesh.py), or None where it cannot be loaded (the
    six-landmark outline is used then, with a warning)."""
    try:
        from deepfake_monitor.realtime.faces.face_mesh import FaceMesh
    except ImportError:
        return None
    try:
        return FaceMesh()
    except (UserError, FileNotFoundError, OSError) as exc:
        log.warning("face mesh unavailable (%s): masks from the six detector landmarks", exc)
        return None


def face_meshes(images: Sequence[np.ndarray], faces: Sequence[FaceDetection | None],
                mesh: Any | None = None) -> list[np.ndarray | None]:
    """The 468 face-mesh landmarks (468, 2) of each image's face (`mesh`, else the bundled
    model), or None where there is no face, the mesh finds none (presence < 0.5), or no mesh
    model is available: the six-landmark outline and similarity swaps are used there."""
    mesh = mesh if mesh is not None else load_face_mesh()
    if mesh is None:
        return [None] * len(images)
    out: list[np.ndarray | None] = []
    for image, face in zip(images, faces):
        if face is None:
            out.append(None)
            continue
        result = mesh.landmarks(image, [face])[0]
        # Below 0.5 the mesh is not on a face (MediaPipe's own cut-off): keep the fallback.
        out.append(np.asarray(result.points, np.float32)[:, :2]
                   if result.presence >= MIN_MESH_PRESENCE else None)
    return out


def face_outlines(images: Sequence[np.ndarray], faces: Sequence[FaceDetection | None],
                  mesh: Any | None = None) -> list[np.ndarray | None]:
    """The face-oval contour (K, 2) of each image's face (see `face_meshes`)."""
    from deepfake_monitor.realtime.faces.face_mesh import FACE_OVAL

    return [None if m is None else m[list(FACE_OVAL)]
            for m in face_meshes(images, faces, mesh)]


class OnlineBlends:
    """Endless (crop, label) pairs: a real training crop, then a fake -- with chance `share` a
    NEW fake of that very crop (a self-blend, or with chance `swap` a swap with another
    identity's training crop), else one of the dataset's fakes.

    The face's landmarks (and face-oval contour) in each real crop come from the engine's
    detector (and the face mesh), run once. Crops without a detected face pair with a dataset
    fake; with no dataset fakes at all, only crops with a face are drawn.
    """

    def __init__(self, reals: Sequence[Any], fakes: Sequence[Any], size: int,
                 share: float, blend: str = "strong", seed: int = 0, swap: float = 0.0,
                 degradations: Degrade | None = None, mesh: bool = True,
                 mask_side: int | None = None) -> None:
        from deepfake_monitor.realtime.faces.detector import FaceDetector
        from deepfake_monitor.realtime.faces.face_mesh import FACE_OVAL

        from .sbi import BLEND_PRESETS

        if blend not in BLEND_PRESETS:
            raise UserError(f"unknown blend strength {blend!r}")
        self.reals, self.fakes, self.size, self.share = list(reals), list(fakes), size, share
        self.swap = swap
        self.blend = BLEND_PRESETS[blend]
        self.degradations = degradations
        self.mask_side = mask_side  # with a side: (crop, label, mask grid) triples
        self.rng = np.random.default_rng(seed)
        # Faces (and meshes) only where fakes are made online: with share 0 every fake is a
        # dataset fake, and reading every real crop up front would be wasted.
        self.faces: list[FaceDetection | None] = [None] * len(self.reals)
        images = []
        if share > 0:
            detector = FaceDetector("full", min_score=0.3)
            for i, s in enumerate(self.reals):
                image = self._read(s.path)
                found = detector.detect(image)
                self.faces[i] = max(found, key=lambda f: f.width * f.height) if found else None
                if mesh:
                    images.append(image)
        self.meshes = (face_meshes(images, self.faces) if share > 0 and mesh
                       else [None] * len(self.reals))
        self.outlines = [None if m is None else m[list(FACE_OVAL)] for m in self.meshes]
        log.info("online fakes: a face found in %d of %d real training crops (face mesh "
                 "contours: %d)", sum(f is not None for f in self.faces), len(self.faces),
                 sum(o is not None for o in self.outlines))
        self.with_face = [i for i, f in enumerate(self.faces) if f is not None]
        if not self.fakes and not (self.with_face and share >= 1.0):
            raise UserError("online fakes: without dataset fakes every fake must be made "
                            "online (share 1) from crops where a face is found")

    def _read(self, path: str) -> np.ndarray:
        return read_crop(path, self.size)

    def _finish(self, bgr: np.ndarray) -> np.ndarray:
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if self.degradations is not None:
            rgb = degrade(rgb, self.rng, self.degradations)
        return rgb

    def __call__(self) -> Iterator[tuple[Any, ...]]:
        """(crop, label) pairs, or with `mask_side` (crop, label, mask grid) triples: zeros
        for a real crop, the blend mask of a fake made here, unknown for a dataset fake."""
        from .manipulation_mask import nothing_replaced, to_grid, unknown

        side = self.mask_side
        for real, fake, region in self._couples():
            if side is None:
                yield real, np.float32(REAL)
                yield fake, np.float32(FAKE)
                continue
            yield real, np.float32(REAL), nothing_replaced(side)
            yield (fake, np.float32(FAKE),
                   unknown(side) if region is None else to_grid(region, side))

    def _couples(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """Endless (real crop, fake crop, the fake's blend mask or None), finished (RGB,
        degraded) in the order the random draws have always been made."""
        from .sbi import face_swap, mesh_swap, self_blend

        pool = self.with_face if not self.fakes else None
        while True:
            i = (pool[int(self.rng.integers(len(pool)))] if pool is not None
                 else int(self.rng.integers(len(self.reals))))
            real = self._read(self.reals[i].path)
            finished = self._finish(real)
            face = self.faces[i]
            donor = self._donor(i) if self.rng.random() < self.swap else None
            if face is not None and (pool is not None or self.rng.random() < self.share):
                if donor is None:
                    made = self_blend(real, face, self.rng, self.blend, outline=self.outlines[i])
                elif self.meshes[i] is not None and self.meshes[donor] is not None:
                    made = mesh_swap(real, face, self.meshes[i],
                                     self._read(self.reals[donor].path), self.meshes[donor],
                                     self.rng, self.blend)
                else:
                    made = face_swap(real, face, self._read(self.reals[donor].path),
                                     self.faces[donor], self.rng, self.blend,
                                     target_outline=self.outlines[i],
                                     source_outline=self.outlines[donor])
                yield finished, self._finish(made.image), made.mask
            else:
                fake = self._read(self.fakes[int(self.rng.integers(len(self.fakes)))].path)
                yield finished, self._finish(fake), None

    def _donor(self, i: int) -> int | None:
        """Another identity's real crop with a face (None: no such crop after a few tries).
        Where both have a face mesh, the candidate whose mesh fits this face's best after a
        similarity transform (same pose and expression, nearly), among a few drawn, and one
        whose face lies inside its crop: a swap from a face turned the other way smears."""
        if not self.with_face:
            return None
        me = self.reals[i].identity or self.reals[i].video_id
        candidates = []
        for _ in range(12):
            j = self.with_face[int(self.rng.integers(len(self.with_face)))]
            if (self.reals[j].identity or self.reals[j].video_id) != me:
                candidates.append(j)
        if not candidates:
            return None
        target = self.meshes[i]
        if target is None:
            return candidates[0]
        fits = [(mesh_fit(self.meshes[j], target, self.size), j) for j in candidates
                if self.meshes[j] is not None]
        return min(fits)[1] if fits else candidates[0]


def mesh_fit(source: np.ndarray, target: np.ndarray, size: int) -> float:
    """How badly `source`'s face mesh fits `target`'s after the best similarity transform:
    RMS residual over the target's face size (infinite where the source face leaves its
    crop, whose border is black padding)."""
    from .sbi import similarity_transform

    if source.min() < 0 or source.max() > size - 1:
        return math.inf
    m = similarity_transform(source, target)
    moved = source @ m[:, :2].T + m[:, 2]
    scale = float(np.ptp(target, axis=0).max()) or 1.0
    return float(np.sqrt(((moved - target) ** 2).sum(axis=1).mean())) / scale
