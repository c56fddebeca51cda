"""The 5-point face keypoint image IdentityNet was trained on.

Drawing rules (InstantID release): black canvas; a limb from each of points 0, 1, 3, 4 to the nose
(point 2), drawn as a filled ellipse of half-width 4 px in the colour of the limb's first point;
the canvas is then multiplied by 0.6; then a filled circle of radius 10 px at every point.
Colours, in point order: red, green, blue, yellow, magenta. OpenCV's rasteriser is used because the
published images were drawn with it, and exact pixels matter to a network trained on them.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence, Tuple

import numpy as np
import torch

COLORS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255))
LIMBS = ((0, 2), (1, 2), (3, 2), (4, 2))
LIMB_HALF_WIDTH = 4
POINT_RADIUS = 10
LIMB_DIM = 0.6


def scale_points(kps: np.ndarray, source_wh: Tuple[int, int], target_wh: Tuple[int, int]) -> np.ndarray:
    """Source-image pixel coordinates -> target canvas coordinates (independent x / y scale)."""
    kps = np.asarray(kps, dtype=np.float64).reshape(5, 2)
    sx = target_wh[0] / float(source_wh[0])
    sy = target_wh[1] / float(source_wh[1])
    return kps * np.array([sx, sy])


def draw_keypoints(faces_kps: Iterable[np.ndarray], width: int, height: int) -> np.ndarray:
    """Draw every face's 5 points (already in canvas coordinates) -> uint8 RGB [height, width, 3]."""
    import cv2  # lazy: keeps `import instantid_core` light

    if width < 1 or height < 1:
        raise ValueError(f"keypoint image size must be positive, got {width}×{height}")
    faces_kps = [np.asarray(k, dtype=np.float64).reshape(5, 2) for k in faces_kps]
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    for kps in faces_kps:
        for a, b in LIMBS:
            xs, ys = kps[[a, b], 0], kps[[a, b], 1]
            length = math.hypot(xs[0] - xs[1], ys[0] - ys[1])
            angle = math.degrees(math.atan2(ys[0] - ys[1], xs[0] - xs[1]))
            polygon = cv2.ellipse2Poly((int(np.mean(xs)), int(np.mean(ys))), (int(length / 2), LIMB_HALF_WIDTH),
                                       int(angle), 0, 360, 1)
            cv2.fillConvexPoly(canvas, polygon, COLORS[a])
    canvas = (canvas * LIMB_DIM).astype(np.uint8)
    for kps in faces_kps:
        for idx, (x, y) in enumerate(kps):
            cv2.circle(canvas, (int(x), int(y)), POINT_RADIUS, COLORS[idx], -1)
    return canvas


def keypoint_image(faces: Sequence[Tuple[np.ndarray, Tuple[int, int]]], width: int, height: int) -> torch.Tensor:
    """faces: (kps in source pixels, (source_w, source_h)) pairs, all drawn on one canvas.

    Returns ComfyUI's IMAGE layout: float32 [1, height, width, 3] in 0..1.
    """
    scaled = [scale_points(kps, size, (width, height)) for kps, size in faces]
    img = draw_keypoints(scaled, width, height)
    return torch.from_numpy(img.astype(np.float32) / 255.0).unsqueeze(0)
