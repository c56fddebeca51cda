"""Pixel facts about screenshots (PNG -> numpy via Pillow, which ComfyUI itself requires)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def load_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def hex_rgb(colour: str) -> tuple:
    c = colour.lstrip("#")
    return tuple(int(c[i:i + 2], 16) for i in (0, 2, 4))


def crop(img: np.ndarray, rect: dict, pad: int = 0) -> np.ndarray:
    """``rect`` in page CSS pixels (device scale factor 1): {x, y, width, height}."""
    h, w = img.shape[:2]
    x0 = max(0, int(round(rect["x"])) - pad)
    y0 = max(0, int(round(rect["y"])) - pad)
    x1 = min(w, int(round(rect["x"] + rect["width"])) + pad)
    y1 = min(h, int(round(rect["y"] + rect["height"])) + pad)
    return img[y0:y1, x0:x1]


def near(pixels: np.ndarray, colour, tol: int = 40) -> np.ndarray:
    """Boolean mask of pixels within ``tol`` (max channel difference) of ``colour``."""
    rgb = np.asarray(hex_rgb(colour) if isinstance(colour, str) else colour, dtype=np.int16)
    return (np.abs(pixels.astype(np.int16) - rgb).max(axis=-1) <= tol)


def colour_count(pixels: np.ndarray, colour, tol: int = 40) -> int:
    return int(near(pixels, colour, tol).sum())
