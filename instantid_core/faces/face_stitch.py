"""Putting a generated crop back into its photo.

The crop and its mask are warped back with the inverse of the crop's transform and blended through the mask.
Where the warped mask is 0 the result is the original pixel, bit for bit (selected, not computed). The optional
colour match moves the new face's mean and spread in CIE Lab to those of the pixels it replaces (the original
face under the same mask, lit by the photo's own light), so a generated face does not stand out in tone.
"""
from __future__ import annotations

import numpy as np

from ..input_checks import require_finite
from ..errors import InputValueError
from .face_region import FaceCrop, warp

COLOR_MATCH_MODES = ("off", "lab_mean_std")


def check_crop_image(image: np.ndarray, crop: FaceCrop, input_name: str) -> None:
    h, w = image.shape[:2]
    if (w, h) != crop.crop_size:
        raise InputValueError(f"this image is {w}x{h}, the crop description's crop is "
                              f"{crop.crop_size[0]}x{crop.crop_size[1]}: connect the image generated from that "
                              f"crop (same size)", input_name)


def stitch(original: np.ndarray, generated: np.ndarray, crop: FaceCrop, mask: np.ndarray,
           color_match: str = "off", color_strength: float = 1.0, blend: float = 1.0) -> np.ndarray:
    """original [H, W, C], generated [h, w, C] (the crop size), mask [h, w] in crop pixels -> [H, W, C]."""
    blend = require_finite(blend, "blend")
    color_strength = require_finite(color_strength, "color_strength")
    if not 0.0 <= blend <= 1.0:
        raise InputValueError(f"blend {blend} is outside 0..1", "blend")
    if not 0.0 <= color_strength <= 1.0:
        raise InputValueError(f"color_strength {color_strength} is outside 0..1", "color_strength")
    if color_match not in COLOR_MATCH_MODES:
        raise InputValueError(f"unknown colour match {color_match!r}; choose one of "
                              f"{', '.join(COLOR_MATCH_MODES)}", "color_match")
    H, W = original.shape[:2]
    if (W, H) != crop.source_size:
        raise InputValueError(f"the crop description was made from a {crop.source_size[0]}x{crop.source_size[1]} "
                              f"image, this image is {W}x{H}: connect the photo the crop was cut from", "image")
    check_crop_image(generated, crop, "generated")
    if mask.shape != generated.shape[:2]:
        raise InputValueError(f"the mask is {mask.shape[1]}x{mask.shape[0]}, the crop is "
                              f"{crop.crop_size[0]}x{crop.crop_size[1]}: give a mask of the crop's size", "mask")
    if original.shape[2] != generated.shape[2]:
        raise InputValueError(f"the generated crop has {generated.shape[2]} channels, the image "
                              f"{original.shape[2]}", "generated")
    if not np.isfinite(generated).all():
        raise InputValueError("the generated crop contains NaN or infinite values", "generated")
    weight = np.clip(warp(np.clip(mask, 0.0, 1.0), crop.to_source, (W, H), "constant"), 0.0, 1.0) * blend
    if not (weight > 0).any():
        return original.copy()
    face = warp(generated, crop.to_source, (W, H), "constant")
    if color_match == "lab_mean_std" and color_strength > 0:
        face = match_colour(face, original, weight, color_strength)
    w3 = weight[:, :, None]
    mixed = (original * (1.0 - w3) + face * w3).astype(original.dtype)
    return np.where(w3 > 0, np.clip(mixed, 0.0, 1.0), original)


def match_colour(face: np.ndarray, original: np.ndarray, weight: np.ndarray, strength: float) -> np.ndarray:
    """Shift/scale each Lab channel of ``face`` so its weighted mean and std equal ``original``'s under the
    same weights; RGB(A) beyond 3 channels is left alone."""
    import cv2

    sel = weight > 0
    w = weight[sel][:, None].astype(np.float64)
    rgb = np.ascontiguousarray(np.clip(face[:, :, :3], 0.0, 1.0), dtype=np.float32)
    src = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    ref = cv2.cvtColor(np.ascontiguousarray(original[:, :, :3], dtype=np.float32), cv2.COLOR_RGB2Lab)

    def stats(lab):
        v = lab[sel].astype(np.float64)
        mean = (v * w).sum(0) / w.sum()
        std = np.sqrt(((v - mean) ** 2 * w).sum(0) / w.sum())
        return mean, np.maximum(std, 1e-6)

    (m_src, s_src), (m_ref, s_ref) = stats(src), stats(ref)
    gain = 1.0 + strength * (s_ref / s_src - 1.0)
    moved = (src - m_src) * gain + m_src + strength * (m_ref - m_src)
    out = face.copy()
    out[:, :, :3] = np.clip(cv2.cvtColor(moved.astype(np.float32), cv2.COLOR_Lab2RGB), 0.0, 1.0)
    return out
