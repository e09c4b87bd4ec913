"""Fakes made from real faces only: self-blended images (SBI) and simple face swaps.

Self-blended images (Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images",
CVPR 2022): a face is blended with a slightly altered copy of itself (colour, geometry,
sharpness) inside a soft face mask. The result carries the traces that most face-manipulation
methods share -- a blending boundary, a colour/texture mismatch between the inner face and its
surroundings, a small misregistration -- without any identity change, so a detector trained on
them cannot cheat by learning identities or one generator's fingerprint. `face_swap` pastes a
different real person's face in the same way (closer to classic swaps, with an identity change).

Everything works on the FULL frame and returns a full frame that differs from the input only
where the returned mask is > 0, so training crops are cut from it by `realtime.crop.crop_faces`
exactly as the live pipeline cuts them (blending artifacts then look the same, at the same
scale, as they would live). Internally only a region around the face is processed, for speed.

BlazeFace gives six landmarks (eyes, nose tip, mouth centre, ear tragions) instead of the 68
that SBI's masks were built from, so the mask is a convex region derived from those six points
(eyebrow/forehead line above the eyes, the ears, a jaw line and the chin extrapolated from the
eye-to-mouth vector), then randomly deformed, eroded/dilated and feathered.

Only NumPy and OpenCV; all randomness comes from the `np.random.Generator` passed in, so a seed
reproduces a fake exactly (the sample clip relies on that for a temporally stable fake).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from deepfake_monitor.realtime.faces.detector import FaceDetection

RIGHT_EYE, LEFT_EYE, NOSE, MOUTH, RIGHT_EAR, LEFT_EAR = range(6)

MaskKind = Literal["hull", "inner", "ellipse"]
MASK_KINDS: tuple[MaskKind, ...] = ("hull", "inner", "ellipse")

# Region processed around a face, as a fraction of the face size added on each side. It must
# hold the largest mask after deformation, dilation and feathering (see SBIConfig's maxima).
ROI_PAD = 0.75


@dataclass(frozen=True)
class SBIConfig:
    """Ranges of the random alterations. Sizes are fractions of the face size (the longer side
    of the detection box), so a fake looks the same whatever the face's size in pixels.

    Defaults follow the SBI paper's ranges, adapted to whole-frame processing: a copy scaled by
    0.95-1.05 and shifted by up to 3 %, colour moved in HSV, brightness/contrast and per-channel
    offsets, a sharpen or blur half of the time, and a blend ratio drawn from `blend_ratios`.
    """

    scale: tuple[float, float] = (0.95, 1.05)
    shift: float = 0.03
    hue: float = 5.0  # max hue shift, OpenCV units (0..180 is the full circle)
    saturation: tuple[float, float] = (0.8, 1.2)
    value: tuple[float, float] = (0.85, 1.15)
    brightness: float = 0.08  # max offset, fraction of 255
    contrast: tuple[float, float] = (0.85, 1.15)
    rgb_shift: float = 10.0  # max per-channel offset, pixel values
    filter_prob: float = 0.5  # chance of sharpening or blurring the copy
    # chance of rendering the copy at a lower resolution and scaling it back up, as a face
    # generator does (DeepFaceLive and most swappers render faces at 128-320 px)
    lowres_prob: float = 0.0
    lowres_scale: tuple[float, float] = (0.35, 0.8)  # fraction of the face's size in pixels
    mask_kinds: tuple[MaskKind, ...] = MASK_KINDS
    mask_scale: tuple[float, float] = (0.9, 1.05)
    elastic: float = 0.03  # max displacement of the mask outline
    morph: float = 0.04  # max erosion/dilation radius
    feather: tuple[float, float] = (0.01, 0.06)  # Gaussian sigma of the mask edge
    blend_ratios: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)


# Named strengths for `synthesize --blend`. "strong": wider colour ranges and no faint (25 %)
# blends. A small network trained from scratch on a few hundred faces did not pick up the
# paper's subtle blends (held-out AUC stayed at chance); it learns these, and they still
# transfer to paper-strength ones (the default model's card reports both).
BLEND_PRESETS: dict[str, SBIConfig] = {
    "paper": SBIConfig(),
    # The paper's ranges, and half of the altered copies rendered at a lower resolution: the
    # softer inner face that live face swaps show (the dev set's DeepFaceLive fakes).
    "lowres": SBIConfig(lowres_prob=0.5),
    "strong": SBIConfig(hue=15.0, saturation=(0.6, 1.4), value=(0.75, 1.25), brightness=0.15,
                        contrast=(0.8, 1.2), rgb_shift=25.0, feather=(0.01, 0.05),
                        blend_ratios=(0.5, 0.75, 1.0, 1.0)),
}


@dataclass(frozen=True)
class FakeResult:
    """A manipulated frame and the blend weight of the altered face at every pixel.

    `image` has the input frame's shape and dtype; it equals the input wherever `mask` is 0.
    `mask` is (H, W) float32 in [0, 1].
    """

    image: np.ndarray
    mask: np.ndarray


def face_size(face: FaceDetection) -> float:
    """The scale every alteration is measured in: the longer side of the detection box."""
    return float(max(face.width, face.height, 1.0))


def _roi(face: FaceDetection, shape: tuple[int, ...], pad: float = ROI_PAD) -> tuple[int, ...]:
    """Integer (x0, y0, x1, y1) of the region processed around a face, clipped to the frame."""
    x1, y1, x2, y2 = face.box
    p = pad * face_size(face)
    h, w = shape[:2]
    return (max(0, math.floor(x1 - p)), max(0, math.floor(y1 - p)),
            min(w, math.ceil(x2 + p)), min(h, math.ceil(y2 + p)))


def face_outline(face: FaceDetection, rng: np.random.Generator | None = None,
                 kind: MaskKind = "hull") -> np.ndarray:
    """Points (K, 2) in frame pixels whose convex hull is the face region for a mask.

    Why these points: the eyes-to-mouth vector gives the face's "down" direction and scale
    whatever the head roll; the eyebrows and lower forehead lie above the eyes along it, the
    chin below the mouth, and the cheeks reach towards (not to: the tragion is beside the face)
    the ears. "inner" keeps the central face (eyes, nose, mouth: what swaps that preserve the
    jaw replace); "hull" reaches the jaw and the ears. With `rng`, the forehead height, chin
    length and cheek width vary a little so that the boundary is not always in one place.
    """
    lm = np.asarray(face.landmarks, np.float64)
    eyes_mid = (lm[RIGHT_EYE] + lm[LEFT_EYE]) / 2
    down = lm[MOUTH] - eyes_mid
    size = face_size(face)
    if np.linalg.norm(down) < 0.1 * size:  # degenerate landmarks: fall back to the box
        down = np.array([0.0, 0.35 * size])

    def u(lo: float, hi: float) -> float:
        return float(rng.uniform(lo, hi)) if rng is not None else (lo + hi) / 2

    centre = (eyes_mid + lm[MOUTH]) / 2
    if kind == "ellipse":
        across = lm[LEFT_EAR] - lm[RIGHT_EAR]
        width = max(float(np.linalg.norm(across)), 1e-3) * u(0.38, 0.48)
        height = float(np.linalg.norm(down)) * u(1.05, 1.3)
        angle = math.atan2(down[1], down[0]) - math.pi / 2
        t = np.linspace(0, 2 * math.pi, 36, endpoint=False)
        pts = np.stack([width * np.cos(t), height * np.sin(t)], axis=1)
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        return (pts @ rot.T + centre + down * u(0.05, 0.2)).astype(np.float32)
    forehead = u(0.35, 0.7) if kind == "hull" else u(0.25, 0.4)
    chin = u(0.7, 0.95) if kind == "hull" else u(0.35, 0.55)
    reach = u(0.75, 0.9) if kind == "hull" else u(0.5, 0.62)  # fraction of the way to the ears
    ears = [eyes_mid + (lm[e] - eyes_mid) * reach for e in (RIGHT_EAR, LEFT_EAR)]
    eyes = [lm[e] + (lm[e] - eyes_mid) * 0.35 for e in (RIGHT_EYE, LEFT_EYE)]
    chin_pt = lm[MOUTH] + down * chin
    jaw = [eyes_mid + (e - eyes_mid) * 0.75 + down * (0.95 + chin * 0.5) for e in ears]
    pts = [e - down * forehead for e in eyes] + [eyes_mid - down * forehead * 1.1]
    pts += ears + jaw + [chin_pt, chin_pt + (ears[0] - eyes_mid) * 0.3,
                         chin_pt + (ears[1] - eyes_mid) * 0.3]
    pts += [lm[MOUTH] + (lm[MOUTH] - lm[NOSE]) * 0.2]  # lip line for rolled or profile faces
    return np.asarray(pts, np.float32)


def base_mask(shape: tuple[int, ...], face: FaceDetection, rng: np.random.Generator | None = None,
              kind: MaskKind = "hull", offset: tuple[int, int] = (0, 0),
              outline: np.ndarray | None = None) -> np.ndarray:
    """Binary (0/1 float32) convex face region for an image of `shape`.

    `offset` (x0, y0) is subtracted from frame coordinates: pass a region's corner to draw the
    mask of that region only. With `rng`, the hull is also scaled about its centroid.
    `outline` (K, 2), frame pixels: the face's own contour (the face mesh's oval) instead of
    the one guessed from the six detector landmarks; `kind` then picks how much of it is kept
    ("inner" and "ellipse" shrink it towards the eyes-mouth centre, as a swap that keeps the
    jaw would).
    """
    if outline is not None:
        pts = _outline_kind(np.asarray(outline, np.float64)[:, :2], face, rng, kind)
    else:
        pts = face_outline(face, rng, kind).astype(np.float64)
    pts = pts - np.asarray(offset, np.float64)
    if rng is not None:
        c = pts.mean(axis=0)
        pts = c + (pts - c) * rng.uniform(0.9, 1.05)
    hull = cv2.convexHull(np.round(pts * 16).astype(np.int32))
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_AA, shift=4)
    return (mask > 0).astype(np.float32)


def _outline_kind(outline: np.ndarray, face: FaceDetection, rng: np.random.Generator | None,
                  kind: MaskKind) -> np.ndarray:
    """A dense face contour, whole ("hull") or drawn in towards the centre of the eyes and the
    mouth ("inner": by 15-30 %, "ellipse": the contour's fitted ellipse, by 5-20 %)."""
    if kind == "hull":
        return outline
    lm = np.asarray(face.landmarks, np.float64)
    centre = ((lm[RIGHT_EYE] + lm[LEFT_EYE]) / 2 + lm[MOUTH]) / 2
    lo, hi = (0.15, 0.3) if kind == "inner" else (0.05, 0.2)
    shrink = float(rng.uniform(lo, hi)) if rng is not None else (lo + hi) / 2
    pts = outline
    if kind == "ellipse" and len(outline) >= 5:
        (cx, cy), (w, h), angle = cv2.fitEllipse(outline.astype(np.float32))
        t = np.linspace(0, 2 * math.pi, 36, endpoint=False)
        a = math.radians(angle)
        local = np.stack([w / 2 * np.cos(t), h / 2 * np.sin(t)], axis=1)
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        pts = local @ rot.T + (cx, cy)
    return centre + (pts - centre) * (1.0 - shrink)


def deform_mask(mask: np.ndarray, size: float, rng: np.random.Generator,
                config: SBIConfig | None = None, work_size: float = 160.0) -> np.ndarray:
    """Randomly distort a binary mask and feather its edge into blend weights in [0, 1].

    Why: a fixed landmark polygon would put the blending boundary in a fixed place, which a
    detector could learn instead of the boundary's traces. The SBI recipe: an elastic warp of
    the outline (a smooth random displacement field), erosion or dilation, a Gaussian blur of
    the edge of random width, and a random blend ratio (a partly transparent altered face).

    Faces larger than `work_size` pixels are deformed at that scale and the weights scaled back
    up: they are smooth, so nothing is lost, and a 1080p face costs what a small one does.
    """
    cfg = config or SBIConfig()
    h, w = mask.shape[:2]
    out = mask.astype(np.float32)
    f = min(1.0, work_size / max(size, 1.0))
    if f < 1.0:
        out = cv2.resize(out, (max(1, round(w * f)), max(1, round(h * f))),
                         interpolation=cv2.INTER_AREA)
        out = (out > 0.5).astype(np.float32)
    sh, sw = out.shape[:2]
    amp = cfg.elastic * size * f
    if amp > 0.5:
        grid = rng.normal(0.0, 1.0, (2, 5, 5)).astype(np.float32)
        dx = cv2.resize(grid[0], (sw, sh), interpolation=cv2.INTER_CUBIC) * amp
        dy = cv2.resize(grid[1], (sw, sh), interpolation=cv2.INTER_CUBIC) * amp
        xs, ys = np.meshgrid(np.arange(sw, dtype=np.float32), np.arange(sh, dtype=np.float32))
        out = cv2.remap(out, xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        out = (out > 0.5).astype(np.float32)
    radius = round(float(rng.uniform(0, cfg.morph)) * size * f)
    erode = rng.random() < 0.5
    if radius >= 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        out = cv2.erode(out, kernel) if erode else cv2.dilate(out, kernel)
    sigma = max(0.5, float(rng.uniform(*cfg.feather)) * size * f)
    ksize = 2 * math.ceil(3 * sigma) + 1
    if out.any():
        # Feather the edge; renormalise so that even a small mask keeps full weight inside.
        out = cv2.GaussianBlur(out, (ksize, ksize), sigma, borderType=cv2.BORDER_CONSTANT)
        out = np.clip(out / max(float(out.max()), 1e-6), 0.0, 1.0)
    if f < 1.0:
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    ratio = float(rng.choice(cfg.blend_ratios))
    out *= ratio
    out[out < 1.0 / 512] = 0.0  # weights too small to change any 8-bit pixel
    return out


def color_jitter(image: np.ndarray, rng: np.random.Generator,
                 config: SBIConfig | None = None) -> np.ndarray:
    """HSV shift, brightness/contrast and per-channel offsets of a BGR uint8 image, as float32.

    The mismatch in colour between the inner face and its surroundings is one of the traces
    face manipulations leave (the pasted face was lit or graded differently).
    """
    cfg = config or SBIConfig()
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = np.mod(hsv[..., 0] + rng.uniform(-cfg.hue, cfg.hue), 180.0)
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(*cfg.saturation), 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(*cfg.value), 0, 255)
    out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    mean = float(out.mean())
    out = (out - mean) * rng.uniform(*cfg.contrast) + mean
    out += rng.uniform(-cfg.brightness, cfg.brightness) * 255.0
    out += rng.uniform(-cfg.rgb_shift, cfg.rgb_shift, 3).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.float32)


def render_low_resolution(image: np.ndarray, rng: np.random.Generator,
                          scale: tuple[float, float]) -> np.ndarray:
    """Downscale (area) and upscale back (bilinear or bicubic) a float32 image: the detail a
    face generator working at a lower resolution than the frame cannot give back."""
    h, w = image.shape[:2]
    f = float(rng.uniform(*scale))
    small = cv2.resize(image, (max(2, round(w * f)), max(2, round(h * f))),
                       interpolation=cv2.INTER_AREA)
    up = cv2.INTER_CUBIC if rng.random() < 0.5 else cv2.INTER_LINEAR
    return np.clip(cv2.resize(small, (w, h), interpolation=up), 0, 255).astype(np.float32)


def sharpen_or_blur(image: np.ndarray, size: float, rng: np.random.Generator) -> np.ndarray:
    """Unsharp-mask or Gaussian-blur a float32 image: a texture/sharpness mismatch, as when a
    generated face is rendered at another resolution than the frame it is pasted into."""
    sigma = max(0.6, float(rng.uniform(0.004, 0.012)) * size)
    blurred = cv2.GaussianBlur(image, (0, 0), sigma)
    if rng.random() < 0.5:
        return blurred
    amount = float(rng.uniform(0.3, 1.0))
    return np.clip(image + amount * (image - blurred), 0, 255).astype(np.float32)


def _jitter_matrix(centre: tuple[float, float], size: float, rng: np.random.Generator,
                   config: SBIConfig) -> np.ndarray:
    """The copy's scale about the face centre and shift: the misregistration of a pasted face."""
    s = float(rng.uniform(*config.scale))
    tx, ty = (rng.uniform(-config.shift, config.shift, 2) * size).tolist()
    m = cv2.getRotationMatrix2D(centre, 0.0, s)
    m[:, 2] += (tx, ty)
    return m


def _support(weights: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding rectangle (x0, y0, x1, y1) of the non-zero weights, or None when all are 0."""
    x, y, w, h = cv2.boundingRect((weights > 0).astype(np.uint8))
    return None if w == 0 or h == 0 else (x, y, x + w, y + h)


def _blend(frame: np.ndarray, roi: tuple[int, ...], source: np.ndarray,
           weights: np.ndarray) -> FakeResult:
    """Blend a float source into the frame's region with per-pixel weights; full-frame result."""
    x0, y0, x1, y1 = roi
    target = frame[y0:y1, x0:x1].astype(np.float32)
    w3 = weights[..., None]
    mixed = target + w3 * (source.astype(np.float32) - target)
    out = frame.copy()
    out[y0:y1, x0:x1] = np.clip(np.rint(mixed), 0, 255).astype(frame.dtype)
    mask = np.zeros(frame.shape[:2], np.float32)
    mask[y0:y1, x0:x1] = weights
    return FakeResult(out, mask)


def _check_frame(frame: np.ndarray) -> None:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 BGR frame, got {frame.shape} {frame.dtype}")


def self_blend(frame: np.ndarray, face: FaceDetection, rng: np.random.Generator,
               config: SBIConfig | None = None, outline: np.ndarray | None = None) -> FakeResult:
    """A self-blended fake of one face in a BGR uint8 frame (see the module docstring).

    The altered copy (scale/shift, colour jitter, optional sharpen/blur) is blended over the
    original inside a randomly deformed, feathered face mask. The copy is only computed where
    the mask is non-zero.
    """
    _check_frame(frame)
    cfg = config or SBIConfig()
    size = face_size(face)
    x0, y0, x1, y1 = _roi(face, frame.shape)
    empty = FakeResult(frame.copy(), np.zeros(frame.shape[:2], np.float32))
    if x1 <= x0 or y1 <= y0:
        return empty
    patch = frame[y0:y1, x0:x1]
    kind = cfg.mask_kinds[int(rng.integers(len(cfg.mask_kinds)))]
    mask = base_mask(patch.shape, face, rng, kind, offset=(x0, y0), outline=outline)
    weights = deform_mask(mask, size, rng, cfg)
    bx1, by1, bx2, by2 = face.box
    m = _jitter_matrix(((bx1 + bx2) / 2 - x0, (by1 + by2) / 2 - y0), size, rng, cfg)
    support = _support(weights)
    if support is None:
        return empty
    sx0, sy0, sx1, sy1 = support
    m[:, 2] -= (sx0, sy0)  # warp the whole region's copy into the mask's rectangle
    source = cv2.warpAffine(patch, m, (sx1 - sx0, sy1 - sy0), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT_101)
    source = color_jitter(source, rng, cfg)
    if rng.random() < cfg.lowres_prob:
        source = render_low_resolution(source, rng, cfg.lowres_scale)
    if rng.random() < cfg.filter_prob:
        source = sharpen_or_blur(source, size, rng)
    return _blend(frame, (x0 + sx0, y0 + sy0, x0 + sx1, y0 + sy1), source,
                  weights[sy0:sy1, sx0:sx1])


def similarity_transform(src: np.ndarray, dst: np.ndarray,
                         weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) taking src to dst points.

    Weighted Umeyama; returns a 2x3 matrix for `cv2.warpAffine`. Two points fix it exactly;
    more spread the error.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    s, d = src - mu_s, dst - mu_d
    cov = (d * w[:, None]).T @ s
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[1, 1] = -1
    rot = u @ e @ vt
    var = float((w * (s**2).sum(axis=1)).sum())
    scale = float(np.trace(np.diag(sig) @ e)) / var if var > 0 else 1.0
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def lab_color_transfer(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match the source's LAB mean and spread to the target's inside `mask` (Reinhard et al.).

    Swapped faces are always colour-corrected this way or similarly; without it a swap would be
    trivially detectable by a skin-tone jump that real deepfakes do not show.
    """
    sel = mask > 0.5
    if sel.sum() < 16:
        return source.astype(np.float32)
    s_lab = cv2.cvtColor(np.clip(source, 0, 255).astype(np.uint8), cv2.COLOR_BGR2LAB)
    t_lab = cv2.cvtColor(target, cv2.COLOR_BGR2LAB)
    s_lab = s_lab.astype(np.float32)
    t_px = t_lab[sel].astype(np.float32)
    s_px = s_lab[sel]
    s_mu, s_sd = s_px.mean(axis=0), s_px.std(axis=0) + 1e-3
    t_mu, t_sd = t_px.mean(axis=0), t_px.std(axis=0) + 1e-3
    out = (s_lab - s_mu) * (t_sd / s_sd) + t_mu
    out = np.clip(out, 0, 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_LAB2BGR).astype(np.float32)


def face_swap(target_frame: np.ndarray, target_face: FaceDetection, source_frame: np.ndarray,
              source_face: FaceDetection, rng: np.random.Generator,
              config: SBIConfig | None = None, target_outline: np.ndarray | None = None,
              source_outline: np.ndarray | None = None) -> FakeResult:
    """Paste the source person's face over the target's: a crude swap from two real faces.

    The source is aligned to the target by a similarity transform fitted to the landmarks (eyes
    weighted twice as much as the nose and mouth: the eyes set the roll and scale, the mouth
    keeps the lower face in place when the two faces' proportions differ), colour-matched in LAB
    inside the mask, and blended in a deformed, feathered mask that is also limited to where the
    warped source has face (so no source background is pasted).
    """
    _check_frame(target_frame)
    _check_frame(source_frame)
    cfg = config or SBIConfig()
    size = face_size(target_face)
    roi = _roi(target_face, target_frame.shape)
    x0, y0, x1, y1 = roi
    if x1 <= x0 or y1 <= y0:
        return FakeResult(target_frame.copy(), np.zeros(target_frame.shape[:2], np.float32))
    idx = [RIGHT_EYE, LEFT_EYE, NOSE, MOUTH]
    m = similarity_transform(source_face.landmarks[idx], target_face.landmarks[idx],
                             np.array([2.0, 2.0, 1.0, 1.0]))
    m[:, 2] -= (x0, y0)  # into the target region's coordinates
    patch_shape = (y1 - y0, x1 - x0)
    warped = cv2.warpAffine(source_frame, m, (patch_shape[1], patch_shape[0]),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    kind = cfg.mask_kinds[int(rng.integers(len(cfg.mask_kinds)))]
    mask = base_mask(patch_shape, target_face, rng, kind, offset=(x0, y0),
                     outline=target_outline)
    src_mask = base_mask(source_frame.shape, source_face, None, "hull", outline=source_outline)
    src_mask = cv2.warpAffine(src_mask, m, (patch_shape[1], patch_shape[0]),
                              flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)
    mask = mask * (src_mask > 0.5)
    patch = target_frame[y0:y1, x0:x1]
    source = lab_color_transfer(warped, patch, mask)
    weights = deform_mask(mask, size, rng, SBIConfig(
        elastic=cfg.elastic, morph=cfg.morph, feather=cfg.feather, blend_ratios=(0.75, 1.0, 1.0),
    ))
    support = _support(weights)
    if support is None:
        return FakeResult(target_frame.copy(), np.zeros(target_frame.shape[:2], np.float32))
    sx0, sy0, sx1, sy1 = support
    return _blend(target_frame, (x0 + sx0, y0 + sy0, x0 + sx1, y0 + sy1),
                  source[sy0:sy1, sx0:sx1], weights[sy0:sy1, sx0:sx1])


def mesh_warp(source: np.ndarray, source_points: np.ndarray, target_points: np.ndarray,
              shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The source face warped onto the target's face mesh, triangle by triangle (piecewise
    affine over a Delaunay triangulation of the target's landmarks), as an image of `shape`,
    and the (H, W) bool map of where the mesh covers it.

    Why: a face swap renders the donor's face in the target's pose and expression; a
    similarity transform of the donor (`face_swap`) keeps the donor's expression (an open mouth
    pasted over a closed one), a give-away that no real swap has. One `cv2.remap` with a map
    from barycentric coordinates keeps it fast (a few ms for a 160 px crop).
    """
    from scipy.spatial import Delaunay

    src = np.asarray(source_points, np.float64)[:, :2]
    dst = np.asarray(target_points, np.float64)[:, :2]
    h, w = shape[:2]
    tri = Delaunay(dst)
    # only the pixels of the mesh's bounding box can be inside it
    x0, y0 = np.clip(np.floor(dst.min(axis=0)).astype(int), 0, (w, h))
    x1, y1 = np.clip(np.ceil(dst.max(axis=0)).astype(int) + 1, 0, (w, h))
    ys, xs = np.mgrid[y0:y1, x0:x1]
    pixels = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    simplex = tri.find_simplex(pixels)
    inside = simplex >= 0
    affine = tri.transform[simplex[inside]]  # (n, 3, 2): barycentric coordinates of a pixel
    b = np.einsum("nij,nj->ni", affine[:, :2], pixels[inside] - affine[:, 2])
    bary = np.concatenate([b, 1.0 - b.sum(axis=1, keepdims=True)], axis=1)
    mapped = np.einsum("ni,nij->nj", bary, src[tri.simplices[simplex[inside]]])
    map_x = np.full((h, w), -1.0, np.float32)
    map_y = np.full((h, w), -1.0, np.float32)
    covered = np.zeros((h, w), bool)
    flat = (pixels[inside, 1].astype(int), pixels[inside, 0].astype(int))
    map_x[flat], map_y[flat] = mapped[:, 0], mapped[:, 1]
    covered[flat] = True
    warped = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REFLECT_101)
    return warped, covered


def mesh_swap(target_frame: np.ndarray, target_face: FaceDetection, target_mesh: np.ndarray,
              source_frame: np.ndarray, source_mesh: np.ndarray, rng: np.random.Generator,
              config: SBIConfig | None = None,
              oval: Sequence[int] | None = None) -> FakeResult:
    """Another person's face rendered in the target's pose and expression (`mesh_warp`),
    colour-matched in LAB, sometimes at a lower resolution (`config.lowres_prob`), blended in a
    deformed, feathered mask of the target's face oval: a swap as live face-swap tools make
    one, with a real face's texture where theirs has a generator's. Frames are small here (the
    training crops); the whole frame is processed."""
    _check_frame(target_frame)
    _check_frame(source_frame)
    cfg = config or SBIConfig()
    if oval is None:
        from deepfake_monitor.realtime.faces.face_mesh import FACE_OVAL as oval
    target_mesh = np.asarray(target_mesh, np.float32)
    warped, covered = mesh_warp(source_frame, source_mesh, target_mesh, target_frame.shape)
    # beyond the mesh the target stays itself, so a feathered edge there changes nothing
    warped = np.where(covered[..., None], warped, target_frame)
    kind = cfg.mask_kinds[int(rng.integers(len(cfg.mask_kinds)))]
    mask = base_mask(target_frame.shape, target_face, rng, kind,
                     outline=target_mesh[list(oval), :2]) * covered
    source = lab_color_transfer(warped, target_frame, mask)
    if rng.random() < cfg.lowres_prob:
        source = render_low_resolution(source, rng, cfg.lowres_scale)
    weights = deform_mask(mask, face_size(target_face), rng, SBIConfig(
        elastic=cfg.elastic, morph=cfg.morph, feather=cfg.feather, blend_ratios=(0.75, 1.0, 1.0),
    ))
    h, w = target_frame.shape[:2]
    return _blend(target_frame, (0, 0, w, h), source, weights)


def face_patch(frame: np.ndarray, face: FaceDetection,
               pad: float = ROI_PAD) -> tuple[np.ndarray, FaceDetection]:
    """A copy of the region around a face, and the face in that region's coordinates.

    Lets a swap donor be kept without its whole frame (a 1080p frame is 6 MB; the region is
    enough for `face_swap`, which only reads pixels near the face).
    """
    x0, y0, x1, y1 = _roi(face, frame.shape, pad)
    bx1, by1, bx2, by2 = face.box
    moved = FaceDetection((bx1 - x0, by1 - y0, bx2 - x0, by2 - y0), face.score,
                          (np.asarray(face.landmarks, np.float32) - (x0, y0)).astype(np.float32))
    return frame[y0:y1, x0:x1].copy(), moved
