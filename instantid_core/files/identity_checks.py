"""Checks of a saved identity's contents, field by field, before anything uses them.

A file that passes holds only values the nodes can work with: header counts that are whole numbers matching the
tensors, photo hashes that are a list of sha256 strings, finite keypoints and boxes on (or just beside) their
photo, photo sizes within what Face Keypoints accepts, and face-to-photo indices that name a photo. Anything
else is an ``IdentityFileError`` naming the file and the field, so a crafted or damaged file never reaches
numpy or torch as NaN, a zero size or a 10⁶-pixel canvas.
"""
from __future__ import annotations

import json
import re
from typing import Dict, List, Tuple

import numpy as np

from ..errors import IdentityFileError

# Face Keypoints draws its canvas at the photo's size when its width/height are 0, and accepts at most 8192
# (nodes/face_nodes.py): a larger photo size in a file would bypass that limit (memory in the gigabytes).
MAX_PHOTO_SIDE = 8192
MAX_FACES = 4096        # far above any real identity (a face is ~2 KB); bounds the work a crafted header causes
# The detector places the keypoints of a face cut off by the photo's edge a little beyond it: allowed up to this
# fraction of the photo's side, outside the photo.
EDGE_MARGIN = 0.25
SHA256 = re.compile(r"[0-9a-f]{64}")


def _bad(file: str, field: str, what: str) -> IdentityFileError:
    return IdentityFileError(f"{file}: '{field}' {what}; the file is damaged or was not written by this pack: "
                             "save the identity again from the photos")


def _count(file: str, header: Dict[str, str], key: str) -> int:
    text = header.get(key)
    if not isinstance(text, str) or not re.fullmatch(r"\d{1,6}", text.strip()):
        raise _bad(file, key, f"is {text!r}, not a whole number")
    return int(text)


def checked_header(file: str, header: Dict[str, str]) -> Tuple[int, int, Tuple[str, ...]]:
    """(photo count, face count, photo hashes) from the header's own fields, each of its type."""
    for key in ("name", "created", "combine"):
        if key in header and not isinstance(header[key], str):
            raise _bad(file, key, "is not text")
    photos, faces = _count(file, header, "photo_count"), _count(file, header, "face_count")
    if not 1 <= faces <= MAX_FACES:
        raise _bad(file, "face_count", f"is {faces}; an identity holds 1 to {MAX_FACES} faces")
    if not 1 <= photos <= faces:
        raise _bad(file, "photo_count", f"is {photos} for {faces} faces (every saved photo has a face)")
    raw = header.get("photo_sha256", "[]")
    try:
        hashes = json.loads(raw) if isinstance(raw, str) and len(raw) <= 80 * (MAX_FACES + 1) else None
    except (ValueError, RecursionError):
        hashes = None
    if not isinstance(hashes, list) or not all(isinstance(h, str) and (h == "" or SHA256.fullmatch(h))
                                               for h in hashes):
        shown = raw if len(str(raw)) <= 40 else str(raw)[:40] + "…"
        raise _bad(file, "photo_sha256", f"is {shown!r}, not a list of sha256 strings")
    if hashes and len(hashes) != photos:
        raise _bad(file, "photo_sha256", f"holds {len(hashes)} hashes for {photos} photos")
    return photos, faces, tuple(hashes)


def _finite_float(file: str, t: Dict[str, np.ndarray], key: str) -> np.ndarray:
    a = t[key]
    if a.dtype.kind != "f":
        raise _bad(file, key, f"holds {a.dtype} values, not floating point")
    if not np.all(np.isfinite(a)):
        raise _bad(file, key, "holds NaN or infinite values")
    return a.astype(np.float64)


def _whole(file: str, t: Dict[str, np.ndarray], key: str) -> np.ndarray:
    a = t[key]
    if a.dtype.kind not in "iu":
        raise _bad(file, key, f"holds {a.dtype} values, not whole numbers")
    return a.astype(np.int64)


def checked_tensors(file: str, t: Dict[str, np.ndarray], photos: int, faces: int) -> None:
    """Types, ranges and agreement of the tensors with each other and with the header's counts (their shapes
    are already known to fit the format)."""
    count = t["embeddings"].shape[0]
    if count != faces:
        raise _bad(file, "face_count", f"says {faces} faces, the tensors hold {count}")
    sizes = _whole(file, t, "photo_sizes")
    if sizes.shape[0] != photos:
        raise _bad(file, "photo_count", f"says {photos} photos, 'photo_sizes' holds {sizes.shape[0]}")
    if sizes.min() < 1 or sizes.max() > MAX_PHOTO_SIDE:
        raise _bad(file, "photo_sizes", f"holds {sizes.min()} … {sizes.max()}; a photo side is 1 … "
                                        f"{MAX_PHOTO_SIDE} pixels (Face Keypoints' limit)")
    owner = _whole(file, t, "photo_of_face")
    if owner.min() < 0 or owner.max() >= photos:
        raise _bad(file, "photo_of_face", f"holds {owner.min()} … {owner.max()}; a face's photo is 0 … {photos - 1}")
    scores = _finite_float(file, t, "det_scores")
    if scores.min() < 0 or scores.max() > 1:
        raise _bad(file, "det_scores", "holds values outside 0 … 1")
    size_of_face = sizes[owner].astype(np.float64)  # [F, 2] (width, height) of each face's photo
    lo, hi = -EDGE_MARGIN * size_of_face, (1 + EDGE_MARGIN) * size_of_face
    kps = _finite_float(file, t, "kps")
    if np.any(kps < lo[:, None, :]) or np.any(kps > hi[:, None, :]):
        raise _bad(file, "kps", "holds keypoints outside their photo")
    boxes = _finite_float(file, t, "bboxes")
    corners = boxes.reshape(-1, 2, 2)
    if np.any(corners < lo[:, None, :]) or np.any(corners > hi[:, None, :]):
        raise _bad(file, "bboxes", "holds face boxes outside their photo")
    if np.any(boxes[:, 2] <= boxes[:, 0]) or np.any(boxes[:, 3] <= boxes[:, 1]):
        raise _bad(file, "bboxes", "holds empty face boxes")

