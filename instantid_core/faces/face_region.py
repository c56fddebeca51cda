"""Where a face is cut out of a photo, and how to put it back: the crop description and the two warps.

A crop is a similarity transform (uniform scale, optional rotation, shift) from the source photo to a crop
canvas whose long side is a user value: a tiny face is scaled up so the diffusion model sees it at a size it was
trained on, a tilted head is turned so its eyes are level (IdentityNet then sees an upright face), and a face
at the photo's border gets padded context (edge or reflect) instead of a failure. Everything a later stitch
needs is in the frozen :class:`FaceCrop`; nothing here knows about ComfyUI.

Coordinates are OpenCV's: pixel centres at integer positions, x right, y down; sizes are (width, height).
Images are float32 numpy arrays [H, W, C] in 0..1 (ComfyUI's IMAGE layout without the batch axis).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from ..input_checks import require_finite
from ..errors import InputValueError

PAD_MODES = ("edge", "reflect")
LONG_SIDE_STEP = 8  # VAE downscale factor: a crop of this multiple encodes without a rounding crop
MIN_LONG_SIDE = 64
MAX_LONG_SIDE = 4096
MAX_GROW = 1024  # face mask limits, crop pixels
MAX_FEATHER = 512

Affine = Tuple[Tuple[float, float, float], Tuple[float, float, float]]


@dataclass(frozen=True)
class FaceCrop:
    """One face's crop: enough to cut it out again and to put a generated crop back.

    ``to_crop`` maps source pixels to crop pixels, ``to_source`` is its inverse (2x3 affines). ``scale`` is crop
    pixels per source pixel (> 1: the face was scaled up), ``angle`` the degrees the photo was turned to level
    the eyes (0 without alignment). ``face_index`` is the face's index under the selection rule used, -1 when
    the image had no face (a pass-through crop: its mask is empty and stitching leaves the photo unchanged)."""
    source_size: Tuple[int, int]
    crop_size: Tuple[int, int]
    to_crop: Affine
    to_source: Affine
    pad_mode: str = "edge"
    scale: float = 1.0
    angle: float = 0.0
    face_index: int = 0
    image_index: int = 0
    face_box: Tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # x1, y1, x2, y2 in source pixels
    face_kps: Tuple[Tuple[float, float], ...] = ()  # the 5 keypoints in source pixels (empty if none)
    mask_grow: float = 0.0  # the face mask's grow and feather, in crop pixels (face_mask.py), so that the
    feather: float = 24.0   # stitch rebuilds the very mask the crop node gave out

    @property
    def has_face(self) -> bool:
        return self.face_index >= 0

    def to_crop_points(self, points) -> np.ndarray:
        return apply_affine(self.to_crop, points)

    def to_source_points(self, points) -> np.ndarray:
        return apply_affine(self.to_source, points)

    def crop_kps(self) -> np.ndarray:
        """The face's keypoints in crop pixels [5, 2] (IdentityNet keeps the original pose)."""
        if not self.face_kps:
            raise InputValueError("this crop has no face (the image had none), so it has no keypoints", "faces")
        return self.to_crop_points(self.face_kps)

    def summary(self) -> str:
        w, h = self.crop_size
        if not self.has_face:
            return f"image {self.image_index}: no face, passed through ({w}x{h} crop, empty mask)"
        zoom = f"face scaled up {self.scale:.2f}x" if self.scale > 1.0 else f"scale {self.scale:.2f}x"
        return (f"image {self.image_index}, face {self.face_index}: {w}x{h} crop, {zoom}, "
                f"turned {self.angle:+.1f} deg, padding '{self.pad_mode}'")


def apply_affine(matrix: Affine, points) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    m = np.asarray(matrix, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def _invert(m: np.ndarray) -> np.ndarray:
    full = np.vstack([m, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def _frozen(m: np.ndarray) -> Affine:
    return tuple(tuple(float(v) for v in row) for row in m)


def eye_angle(kps) -> float:
    """Degrees the line from keypoint 0 (left eye in the image) to keypoint 1 rises against the x axis."""
    k = np.asarray(kps, dtype=np.float64).reshape(-1, 2)
    dx, dy = k[1] - k[0]
    return math.degrees(math.atan2(dy, dx))


@dataclass(frozen=True)
class CropSettings:
    """The user's crop choices, checked once. ``padding``: context around the face box on each side, as a
    fraction of the box (0.5 -> the region is twice the face). ``mask_grow`` / ``feather``: the face mask's, in
    crop pixels."""
    padding: float = 0.5
    align: bool = True
    long_side: int = 1024
    pad_mode: str = "edge"
    mask_grow: float = 0.0
    feather: float = 24.0

    def checked(self) -> "CropSettings":
        padding = require_finite(self.padding, "padding")
        if not 0.0 <= padding <= 10.0:
            raise InputValueError(f"padding {padding} is outside 0..10 (a fraction of the face box)", "padding")
        long_side = int(require_finite(self.long_side, "long_side"))
        if not MIN_LONG_SIDE <= long_side <= MAX_LONG_SIDE or long_side % LONG_SIDE_STEP:
            raise InputValueError(f"long_side {long_side} must be a multiple of {LONG_SIDE_STEP} between "
                                  f"{MIN_LONG_SIDE} and {MAX_LONG_SIDE}", "long_side")
        if self.pad_mode not in PAD_MODES:
            raise InputValueError(f"unknown pad mode {self.pad_mode!r}; choose one of {', '.join(PAD_MODES)}",
                                  "pad_mode")
        grow, feather = require_finite(self.mask_grow, "mask_grow"), require_finite(self.feather, "feather")
        if abs(grow) > MAX_GROW:
            raise InputValueError(f"mask_grow {grow} is outside -{MAX_GROW}..{MAX_GROW} pixels", "mask_grow")
        if not 0 <= feather <= MAX_FEATHER:
            raise InputValueError(f"feather {feather} is outside 0..{MAX_FEATHER} pixels", "feather")
        return CropSettings(padding, bool(self.align), long_side, self.pad_mode, grow, feather)


def crop_size_for(region_wh: Tuple[float, float], long_side: int) -> Tuple[int, int]:
    """(w, h) with the long side ``long_side`` and the short side the nearest multiple of 8 to the region's
    aspect ratio (at least 8)."""
    w, h = region_wh
    short = max(LONG_SIDE_STEP, int(round(long_side * min(w, h) / max(w, h) / LONG_SIDE_STEP)) * LONG_SIDE_STEP)
    return (long_side, short) if w >= h else (short, long_side)


def plan_crop(face_box, face_kps, source_size: Tuple[int, int], settings: CropSettings, *, face_index: int = 0,
              image_index: int = 0, crop_size: Optional[Tuple[int, int]] = None) -> FaceCrop:
    """The crop around one face. ``crop_size`` forces the canvas size (a batch shares one); the region then
    grows on one side to that aspect ratio, so the scale stays uniform."""
    settings = settings.checked()
    box = np.asarray(face_box, dtype=np.float64).reshape(4)
    kps = np.asarray(face_kps, dtype=np.float64).reshape(-1, 2) if face_kps is not None else np.zeros((0, 2))
    if not (np.all(np.isfinite(box)) and np.all(np.isfinite(kps))):
        raise InputValueError("the face box or keypoints are not finite numbers", "faces")
    bw, bh = box[2] - box[0], box[3] - box[1]
    if bw <= 0 or bh <= 0:
        raise InputValueError(f"the face box {box.round(1).tolist()} is empty", "faces")
    centre = np.array([(box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0])
    angle = eye_angle(kps) if settings.align and len(kps) >= 2 else 0.0
    region = (bw * (1.0 + 2.0 * settings.padding), bh * (1.0 + 2.0 * settings.padding))
    size = tuple(int(v) for v in crop_size) if crop_size is not None else crop_size_for(region, settings.long_side)
    # the largest uniform scale at which the whole region fits the canvas; the canvas's extra length on the
    # other side becomes extra context
    scale = min(size[0] / region[0], size[1] / region[1])
    to_crop = _similarity(centre, angle, scale, size)
    return FaceCrop(tuple(int(v) for v in source_size), size, _frozen(to_crop), _frozen(_invert(to_crop)),
                    settings.pad_mode, float(scale), float(angle), int(face_index), int(image_index),
                    tuple(float(v) for v in box), tuple((float(x), float(y)) for x, y in kps),
                    settings.mask_grow, settings.feather)


def passthrough_crop(source_size: Tuple[int, int], settings: CropSettings, *, image_index: int = 0,
                     crop_size: Optional[Tuple[int, int]] = None) -> FaceCrop:
    """For an image without a face: the whole image as the crop, marked faceless (its mask is empty)."""
    settings = settings.checked()
    w, h = (int(v) for v in source_size)
    size = tuple(int(v) for v in crop_size) if crop_size is not None else crop_size_for((w, h), settings.long_side)
    scale = min(size[0] / w, size[1] / h)
    to_crop = _similarity(np.array([(w - 1) / 2.0, (h - 1) / 2.0]), 0.0, scale, size)
    return FaceCrop((w, h), size, _frozen(to_crop), _frozen(_invert(to_crop)), settings.pad_mode, float(scale),
                    0.0, -1, int(image_index), mask_grow=settings.mask_grow, feather=settings.feather)


def _similarity(centre: np.ndarray, angle_deg: float, scale: float, size: Tuple[int, int]) -> np.ndarray:
    """Source -> crop: move the centre to the origin, turn by -angle (levels a line at +angle), scale, move to
    the canvas centre."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    rot = scale * np.array([[c, s], [-s, c]])
    target = np.array([(size[0] - 1) / 2.0, (size[1] - 1) / 2.0])
    return np.hstack([rot, (target - rot @ centre)[:, None]])


# --- the warps ------------------------------------------------------------------------------------------------

def warp(image: np.ndarray, matrix, out_size: Tuple[int, int], border: str = "constant") -> np.ndarray:
    """Resample ``image`` [H, W, C] (or [H, W]) through ``matrix`` (input -> output pixels) onto ``out_size``.

    Bilinear; where the output is coarser than the input (scale < 1) the input is first area-averaged down to
    the output's density, so a large face shrunk into the crop, or a detailed crop shrunk back into a small
    face, does not alias. ``border``: 'constant' (zeros), 'edge' or 'reflect' for pixels outside the input."""
    import cv2

    m = np.asarray(matrix, dtype=np.float64)
    img = np.ascontiguousarray(image, dtype=np.float32)
    density = math.sqrt(abs(np.linalg.det(m[:, :2])))
    if density < 0.999:
        h, w = img.shape[:2]
        small = (max(1, int(round(w * density))), max(1, int(round(h * density))))
        fx, fy = small[0] / w, small[1] / h
        img = cv2.resize(img, small, interpolation=cv2.INTER_AREA)
        # resized pixel centres: x' = (x + 0.5) * fx - 0.5; compose the inverse of that into the matrix
        undo = np.array([[1.0 / fx, 0.0, 0.5 / fx - 0.5], [0.0, 1.0 / fy, 0.5 / fy - 0.5], [0.0, 0.0, 1.0]])
        m = m @ undo
    modes = {"constant": cv2.BORDER_CONSTANT, "edge": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101}
    channels = img.shape[2] if img.ndim == 3 else 0
    if channels > 4:  # OpenCV warps at most 4 channels at once
        return np.stack([warp(img[:, :, i], m, out_size, border) for i in range(channels)], axis=2)
    out = cv2.warpAffine(img, m, tuple(int(v) for v in out_size), flags=cv2.INTER_LINEAR,
                         borderMode=modes[border], borderValue=0)
    if img.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel axis
        out = out[:, :, None]
    return out


def cut_crop(image: np.ndarray, crop: FaceCrop) -> np.ndarray:
    """The crop canvas [h, w, C] of one source image [H, W, C]; outside the photo it is padded by crop.pad_mode."""
    h, w = image.shape[:2]
    if (w, h) != crop.source_size:
        raise InputValueError(f"the crop description was made for a {crop.source_size[0]}x{crop.source_size[1]} "
                              f"image, this image is {w}x{h}", "image")
    return np.clip(warp(image, crop.to_crop, crop.crop_size, crop.pad_mode), 0.0, 1.0)


def plan_crops(faces: Sequence[Optional[Tuple[object, object, int]]], source_size: Tuple[int, int],
               settings: CropSettings) -> Tuple[FaceCrop, ...]:
    """One crop per image of a batch: ``faces[i]`` is (box, kps, face_index) or None (no face: a pass-through
    crop). All crops share the canvas size of the first face's crop, so the crops stack into one batch."""
    settings = settings.checked()
    first = next((f for f in faces if f is not None), None)
    size = None if first is None else plan_crop(first[0], first[1], source_size, settings).crop_size
    if size is None:
        size = crop_size_for(source_size, settings.long_side)
    return tuple(passthrough_crop(source_size, settings, image_index=i, crop_size=size) if f is None else
                 plan_crop(f[0], f[1], source_size, settings, face_index=f[2], image_index=i, crop_size=size)
                 for i, f in enumerate(faces))
