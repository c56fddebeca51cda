"""One region mask per face of a multi-person layout, on the generation canvas.

Each face claims an ellipse around its box, the box's half-sizes grown by ``grow`` (a fraction of the face's
size: a detector box covers eyes to chin, the head is larger). Where ellipses overlap, the nearest face wins,
nearest measured in each face's own ellipse units (so a large face claims more than a small one at the same
distance in pixels). Each face's claimed area is then feathered *inward* over ``feather`` pixels, so the masks
never overlap: at any pixel at most one mask is non-zero, and at a seam both fall to zero. That is what keeps
one identity's term out of the other face's region exactly, not just mostly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..errors import InputValueError
from .face_mask import feather_mask

Box = Tuple[float, float, float, float]


@dataclass(frozen=True)
class FaceRegion:
    face_box: Box  # the face's box on the canvas
    box: Optional[Tuple[int, int, int, int]]  # the region's bounding box (x1, y1, x2, y2 exclusive); None: empty
    mask: np.ndarray  # float32 [height, width] in 0..1
    overlaps: Tuple[int, ...]  # the faces whose grown ellipse meets this one's


def scale_box(box: Sequence[float], source_wh: Tuple[int, int], target_wh: Tuple[int, int]) -> Box:
    """Source-image pixels -> canvas pixels, x and y scaled independently (as the keypoint image is drawn)."""
    sx, sy = target_wh[0] / float(source_wh[0]), target_wh[1] / float(source_wh[1])
    x1, y1, x2, y2 = (float(v) for v in box)
    return (x1 * sx, y1 * sy, x2 * sx, y2 * sy)


def _ellipse_distance(box: Box, grow: float, width: int, height: int) -> np.ndarray:
    """Per pixel (centre), the distance to the face's centre in units of its grown ellipse: <= 1 inside."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    ax, ay = max(x2 - x1, 1.0) / 2.0 * (1.0 + grow), max(y2 - y1, 1.0) / 2.0 * (1.0 + grow)
    xs = ((np.arange(width) + 0.5 - cx) / ax) ** 2
    ys = ((np.arange(height) + 0.5 - cy) / ay) ** 2
    return np.sqrt(ys[:, None] + xs[None, :])


def face_regions(boxes: Sequence[Box], width: int, height: int, grow: float = 0.5,
                 feather: float = 16.0) -> List[FaceRegion]:
    """Boxes already in canvas pixels -> one FaceRegion per box, same order."""
    if width < 1 or height < 1:
        raise InputValueError(f"the canvas must be at least 1x1 pixel, got {width}x{height}", "latent")
    if not np.isfinite(grow) or grow < -0.5:
        raise InputValueError(f"grow {grow} would shrink the regions to less than half a face (use -0.5 or more)",
                              "grow")
    if not np.isfinite(feather) or feather < 0:
        raise InputValueError(f"feather must be 0 or more pixels, got {feather}", "feather")
    if not boxes:
        return []
    distance = np.stack([_ellipse_distance(b, grow, width, height) for b in boxes])  # [F, H, W]
    inside = distance <= 1.0
    owner = np.argmin(distance, axis=0)  # ties go to the earlier (lefter) face
    regions = []
    for f, box in enumerate(boxes):
        hard = inside[f] & (owner == f)
        overlaps = tuple(g for g in range(len(boxes)) if g != f and (inside[f] & inside[g]).any())
        ys, xs = np.nonzero(hard)
        region_box = None if len(xs) == 0 else (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        mask = feather_mask(hard, feather)
        regions.append(FaceRegion(tuple(float(v) for v in box), region_box, mask, overlaps))
    return regions
