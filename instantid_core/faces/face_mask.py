"""The feathered face mask of a crop, in crop pixels.

An ellipse inscribed in the face box (as the crop sees it: scaled, and upright after alignment), grown or
shrunk by ``grow`` crop pixels, then feathered *inward* over ``feather`` pixels with a smoothstep. Inward, so the
mask is exactly 0 outside the grown ellipse: a stitch changes no pixel there. The canvas's outermost pixels are
always 0, so a mask never ends in a hard edge at the crop's border (where the padding is).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputValueError
from .face_region import FaceCrop



def face_mask(crop: FaceCrop) -> np.ndarray:
    """float32 [h, w] in 0..1, by the crop's mask_grow and feather (checked when the crop was planned). A
    faceless (pass-through) crop gets an all-zero mask."""
    grow, feather = crop.mask_grow, crop.feather
    w, h = crop.crop_size
    if not crop.has_face:
        return np.zeros((h, w), np.float32)
    x1, y1, x2, y2 = crop.face_box
    centre = crop.to_crop_points([((x1 + x2) / 2.0, (y1 + y2) / 2.0)])[0]
    ax, ay = (x2 - x1) / 2.0 * crop.scale + grow, (y2 - y1) / 2.0 * crop.scale + grow
    if ax < 1.0 or ay < 1.0:
        raise InputValueError(f"mask_grow {grow} shrinks the face mask to nothing (the face is "
                              f"{2 * (ax - grow):.0f}x{2 * (ay - grow):.0f} crop pixels)", "mask_grow")
    xs = ((np.arange(w) - centre[0]) / ax) ** 2
    ys = ((np.arange(h) - centre[1]) / ay) ** 2
    hard = ys[:, None] + xs[None, :] <= 1.0
    hard[0, :] = hard[-1, :] = False
    hard[:, 0] = hard[:, -1] = False
    return feather_mask(hard, feather)


def feather_mask(hard: np.ndarray, feather: float) -> np.ndarray:
    """A binary mask softened inward: 1 at least ``feather`` px inside its edge, smoothstep to 0 at the edge."""
    import cv2

    hard = np.asarray(hard, dtype=bool)
    if feather <= 0:
        return hard.astype(np.float32)
    # distance (px) of each inside pixel to the nearest outside pixel; outside pixels are 0
    inside = cv2.distanceTransform(hard.astype(np.uint8), cv2.DIST_L2, 5)
    t = np.clip(inside / float(feather + 1.0), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)
