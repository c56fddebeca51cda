"""A layout of faces placed by hand (manual keypoints): the same shape of value Face Detect gives for a pose
photo, so InstantID Multi-Person takes either.

A hand-placed face has keypoints but no photo, so no embedding (``Face.embedding`` is None) and no detector box.
Its box is derived from its five points in one fixed way (:func:`keypoint_box`): a square centred on the
points' bounding box, ``KEYPOINT_BOX_FACTOR`` times that bounding box's longer side. In the ArcFace alignment
template the five points span about 41 of the 112 units from the eyes to the mouth, and a detector's box around
such a face spans about 90 (brows to chin, cheek to cheek): 2.2 times. Taking the longer side keeps the box the
size of the head when the face is turned (yaw narrows the points, not their height) or rolled.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

from ..errors import InputValueError
from .face_analysis import Face, ImageFaces
from .manual_keypoints import transform_points

KEYPOINT_BOX_FACTOR = 2.2
MIN_BOX_PIXELS = 1.0  # below this the five points (nearly) coincide: no face can be placed there
MANUAL_FACE_SCORE = 1.0  # a placed face is certain; the value only fills the detector's field


def keypoint_box(kps: np.ndarray) -> Tuple[float, float, float, float]:
    """(x1, y1, x2, y2) of a face from its five points (pixels): see the module's docstring."""
    pts = np.asarray(kps, np.float64).reshape(5, 2)
    low, high = pts.min(axis=0), pts.max(axis=0)
    centre = (low + high) / 2
    half = KEYPOINT_BOX_FACTOR * float((high - low).max()) / 2
    return (float(centre[0] - half), float(centre[1] - half), float(centre[0] + half), float(centre[1] + half))


def box_centre(box) -> Tuple[float, float]:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def _outside(x: float, y: float, width: int, height: int) -> bool:
    return not (0 <= x <= width and 0 <= y <= height)


def place_faces(faces: Sequence[np.ndarray], width: int, height: int, rotate: float = 0.0, scale: float = 1.0,
                offset_x: float = 0.0, offset_y: float = 0.0, input_name: str = "points") -> List[np.ndarray]:
    """Each face's canvas fractions -> pixels, the node's transform applied to every face on its own: turned and
    scaled about that face's own centre, then all moved by the offsets (for one face: what it always did). A face
    whose box centre ends up off the picture, or whose points coincide, is refused naming the input to change."""
    placed = []
    for i, face in enumerate(faces):
        kps = transform_points(face, width, height, rotate, scale, offset_x, offset_y)
        box = keypoint_box(kps)
        if box[2] - box[0] < MIN_BOX_PIXELS:
            raise InputValueError(f"face {i}'s five points (nearly) coincide, so it has no size: spread them out "
                                  "(eyes apart, mouth below) or raise 'scale'", input_name)
        x, y = box_centre(box)
        if _outside(x, y, width, height):
            unmoved = keypoint_box(transform_points(face, width, height, rotate, scale))
            name = input_name
            if not _outside(*box_centre(unmoved), width, height):
                name = "offset_x" if not 0 <= x <= width else "offset_y"
            raise InputValueError(f"face {i}'s centre ({x:.0f}, {y:.0f}) is off the {width}x{height} picture, so "
                                  "it cannot be part of the layout: move it onto the picture (its points, or "
                                  "offset_x / offset_y), or remove it", name)
        placed.append(kps)
    return placed


def manual_image_faces(faces_px: Sequence[np.ndarray], width: int, height: int) -> ImageFaces:
    """Placed faces (pixels) -> the ImageFaces of a width x height canvas, in the order given, without
    embeddings."""
    faces = []
    for kps in faces_px:
        bbox = np.asarray(keypoint_box(kps), np.float32)
        kps = np.asarray(kps, np.float32).reshape(5, 2)
        for a in (bbox, kps):
            a.setflags(write=False)  # like detected faces: cached by ComfyUI, nobody may edit them
        faces.append(Face(bbox=bbox, kps=kps, det_score=MANUAL_FACE_SCORE, embedding=None))
    return ImageFaces((int(width), int(height)), tuple(faces))


def has_embeddings(images: Sequence[ImageFaces]) -> bool:
    return all(f.embedding is not None for image in images for f in image.faces)


def require_embeddings(images: Sequence[ImageFaces], input_name: str = "faces") -> None:
    """Faces placed by hand carry no face embedding: refuse them where an embedding is needed, naming the fix."""
    if not has_embeddings(images):
        raise InputValueError("these faces were placed by hand ('InstantID Keypoints (manual)'), so they have no "
                              "face embedding to take an identity from: connect 'InstantID Face Detect' on a photo "
                              "of the person (or 'InstantID Load Identity') here", input_name)
