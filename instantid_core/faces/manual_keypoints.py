"""Manual keypoints: preset head poses, the JSON the keypoint editor stores (one face, or several: parse_faces),
and the global transform.

Points are stored as fractions of the canvas (x / width, y / height), so a pose survives a change of the
generation size the way a detected pose does (each axis scales on its own, as ``keypoints.scale_points`` does).
Everything that has to keep a face's proportions (the presets, rotation, scaling) works in pixels.

Presets are derived from the ArcFace 5-point alignment template (insightface's 112×112 reference face), made
symmetric, given plausible depths (the nose tip in front of the eyes, the mouth corners a little in front) and
turned about the vertical axis (yaw) or the view axis (roll), then projected orthographically. Directions are
said in picture terms: "left" is the left of the picture, whatever the person's own left is.
"""
from __future__ import annotations

import json
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import InputValueError

POINT_NAMES = ("left eye", "right eye", "nose", "left mouth corner", "right mouth corner")

# insightface's ArcFace alignment template (112×112 crop): left eye, right eye, nose, left/right mouth corner
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]])
# depth toward the viewer, in template units (about 1.8 mm each at a 63 mm eye distance): pupils 0, nose tip
# ~27 mm in front, mouth corners ~5 mm in front
DEPTH = np.array([0.0, 0.0, 15.0, 3.0, 3.0])
# where a preset face sits: its points' centre at these fractions of the canvas, its 112-unit template crop as
# wide as this fraction of the canvas' shorter side (eye distance ≈ 0.13 of it: a head-and-shoulders portrait)
PRESET_CENTRE = (0.5, 0.44)
PRESET_FACE_SIZE = 0.42

# name -> (yaw, roll) in degrees. Yaw < 0 turns the face toward the picture's left (the nose moves left); roll
# follows the 'rotate' input's sign (positive turns clockwise on the picture), so 'tilted left' (the top of the
# head leaning toward the picture's left) is a negative roll.
PRESET_POSES: Dict[str, Tuple[float, float]] = {
    "frontal": (0.0, 0.0),
    "three-quarter left": (-35.0, 0.0),
    "three-quarter right": (35.0, 0.0),
    "profile-ish left": (-65.0, 0.0),
    "profile-ish right": (65.0, 0.0),
    "tilted left": (0.0, -15.0),
    "tilted right": (0.0, 15.0),
}
CUSTOM = "custom"
PRESETS = tuple(PRESET_POSES) + (CUSTOM,)
# a stored coordinate outside this range is almost surely a pixel position, not a fraction of the canvas
COORD_LIMIT = (-1.0, 2.0)


def _symmetric_template() -> np.ndarray:
    """The template mirrored onto itself (left/right pairs averaged), centred on its points' mean."""
    t = ARCFACE_TEMPLATE.copy()
    mirrored = t[[1, 0, 2, 4, 3]] * [-1, 1] + [112, 0]
    t = (t + mirrored) / 2
    return t - t.mean(axis=0)


def preset_shape(name: str) -> np.ndarray:
    """A preset's points as offsets from the face centre in units of the canvas' shorter side, [5, 2]."""
    if name not in PRESET_POSES:
        raise InputValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}", "preset")
    yaw, roll = (math.radians(a) for a in PRESET_POSES[name])
    t = _symmetric_template()
    x = t[:, 0] * math.cos(yaw) + DEPTH * math.sin(yaw)
    pts = np.stack([x, t[:, 1]], axis=1)
    pts = pts - pts.mean(axis=0)  # a turned face stays where the frontal one is
    pts = pts @ _rotation(math.degrees(roll)).T
    return pts * (PRESET_FACE_SIZE / 112.0)


def preset_points(name: str, width: int, height: int) -> np.ndarray:
    """A preset placed on a width × height canvas, as fractions of the canvas, [5, 2]."""
    shape = preset_shape(name) * min(width, height)
    return (shape + [PRESET_CENTRE[0] * width, PRESET_CENTRE[1] * height]) / [width, height]


def _rotation(degrees: float) -> np.ndarray:
    """2-D rotation in picture coordinates (y down): positive turns clockwise as seen on screen."""
    a = math.radians(degrees)
    return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])


def transform_points(points: np.ndarray, width: int, height: int, rotate: float = 0.0, scale: float = 1.0,
                     offset_x: float = 0.0, offset_y: float = 0.0) -> np.ndarray:
    """Fractions of the canvas -> pixel positions, with the whole set turned by ``rotate`` degrees and scaled by
    ``scale`` about its own centre (the mean of the five points), then moved by (offset_x · width, offset_y ·
    height). The web editor (web/keypoint_editor.js) applies the same formula to draw its preview."""
    px = np.asarray(points, dtype=np.float64).reshape(5, 2) * [width, height]
    centre = px.mean(axis=0)
    moved = (px - centre) @ (_rotation(rotate) * scale).T + centre
    return moved + [offset_x * width, offset_y * height]


def face_points(kps: np.ndarray, image_size: Tuple[int, int]) -> np.ndarray:
    """A detected face's keypoints (source pixels) as fractions of its photo, [5, 2]."""
    return np.asarray(kps, dtype=np.float64).reshape(5, 2) / [image_size[0], image_size[1]]


_ONE_FACE_FIX = (f"expected a JSON list of five [x, y] pairs ({', '.join(POINT_NAMES)}), each a fraction of the "
                 f"width / height, e.g. [[0.43, 0.4], [0.57, 0.4], [0.5, 0.47], [0.44, 0.54], [0.56, 0.54]]")
_FACES_FIX = ("for several faces, a JSON list with one entry per face: five [x, y] pairs, or a preset placed "
              'on the picture, e.g. [{"preset": "frontal", "center": [0.3, 0.45], "scale": 0.5}, '
              '{"preset": "three-quarter left", "center": [0.7, 0.45], "scale": 0.5}]')
# keys of a face written as an object: its own points, or a preset with where / how large / how turned
FACE_KEYS = ("points", "preset", "center", "scale", "rotate")


def _load(text: str, input_name: str, fix: str):
    try:
        return json.loads(text, parse_constant=lambda c: float("nan"))
    except ValueError as exc:
        raise InputValueError(f"the points are not valid JSON ({exc}); {fix}", input_name) from None


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _five_pairs(data, input_name: str, fix: str, face: str = "") -> np.ndarray:
    """Five [x, y] pairs of finite fractions of the canvas -> [5, 2]; ``face``: "face 1: " for several faces."""
    if not isinstance(data, list) or len(data) != 5:
        count = f"{len(data)} entries" if isinstance(data, list) else f"a {type(data).__name__}"
        raise InputValueError(f"{face}found {count}; {fix}", input_name)
    for i, pair in enumerate(data):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(_is_number(v) for v in pair):
            raise InputValueError(f"{face}point {i} ({POINT_NAMES[i]}) is {pair!r}, not an [x, y] pair of numbers; "
                                  f"{fix}", input_name)
    pts = np.asarray(data, dtype=np.float64)
    bad = [POINT_NAMES[i] for i in range(5) if not np.all(np.isfinite(pts[i]))]
    if bad:
        raise InputValueError(f"{face}{', '.join(bad)}: not a finite number (NaN or infinity); {fix}", input_name)
    low, high = COORD_LIMIT
    if pts.min() < low or pts.max() > high:
        raise InputValueError(f"{face}coordinates must be fractions of the canvas (0..1; at most {low}..{high} for "
                              f"points off the picture), found {pts.min():g}..{pts.max():g}: pixel positions? "
                              f"Divide x by the width and y by the height.", input_name)
    return pts


def parse_points(text: str, input_name: str = "points") -> Optional[np.ndarray]:
    """The editor's JSON for one face (a list of five [x, y] pairs, fractions of the canvas, in POINT_NAMES order,
    or {"points": that list}) -> [5, 2]; None for an empty string. Anything else is refused with a message that
    names the input."""
    if text is None or not str(text).strip():
        return None
    data = _load(text, input_name, _ONE_FACE_FIX)
    if isinstance(data, dict):
        if "points" not in data:
            raise InputValueError(f"found an object without a 'points' list; {_ONE_FACE_FIX}", input_name)
        data = data["points"]
    return _five_pairs(data, input_name, _ONE_FACE_FIX)


def _is_one_face(data) -> bool:
    """A list of pairs (even a malformed one: its errors are then about the one face) rather than of faces."""
    return isinstance(data, list) and bool(data) and all(
        isinstance(item, (list, tuple)) and not any(isinstance(v, (list, tuple, dict)) for v in item)
        for item in data)


def _preset_face(entry: dict, width: int, height: int, input_name: str, face: str) -> np.ndarray:
    name = entry["preset"]
    if name not in PRESET_POSES:
        raise InputValueError(f"{face}unknown preset {name!r}; a face's preset is one of {', '.join(PRESET_POSES)} "
                              "(for your own points give 'points' instead)", input_name)
    centre = entry.get("center", list(PRESET_CENTRE))
    if (not isinstance(centre, (list, tuple)) or len(centre) != 2 or not all(_is_number(v) for v in centre)
            or not all(math.isfinite(v) for v in centre)):
        raise InputValueError(f"{face}'center' is {centre!r}, not an [x, y] pair of finite fractions of the "
                              "width / height", input_name)
    values = {}
    for key, default in (("scale", 1.0), ("rotate", 0.0)):
        v = entry.get(key, default)
        if not _is_number(v) or not math.isfinite(v):
            raise InputValueError(f"{face}'{key}' is {v!r}, not a finite number", input_name)
        values[key] = float(v)
    if values["scale"] <= 0:
        raise InputValueError(f"{face}'scale' must be positive, got {values['scale']:g}", input_name)
    base = preset_points(name, width, height)  # its points' mean sits at PRESET_CENTRE
    placed = transform_points(base, width, height, values["rotate"], values["scale"],
                              float(centre[0]) - PRESET_CENTRE[0], float(centre[1]) - PRESET_CENTRE[1])
    return _five_pairs((placed / [width, height]).tolist(), input_name, _FACES_FIX, face)


def _face_entry(entry, index: int, width: int, height: int, input_name: str) -> np.ndarray:
    face = f"face {index}: "
    if not isinstance(entry, dict):
        return _five_pairs(entry, input_name, _FACES_FIX, face)
    unknown = sorted(set(entry) - set(FACE_KEYS))
    if unknown:
        raise InputValueError(f"{face}unknown key(s) {', '.join(map(repr, unknown))}; a face object takes "
                              f"{', '.join(FACE_KEYS)}; {_FACES_FIX}", input_name)
    if ("points" in entry) == ("preset" in entry):
        raise InputValueError(f"{face}give either 'points' (five [x, y] pairs) or 'preset' (a pose name), not "
                              f"{'both' if 'points' in entry else 'neither'}; {_FACES_FIX}", input_name)
    if "points" in entry:
        extra = sorted(set(entry) - {"points"})
        if extra:
            raise InputValueError(f"{face}{', '.join(extra)} only go with 'preset' (a face's own points are "
                                  "placed as written; the node's rotate/scale/offset still act on them)", input_name)
        return _five_pairs(entry["points"], input_name, _FACES_FIX, face)
    return _preset_face(entry, width, height, input_name, face)


def parse_faces(text: str, width: int, height: int, input_name: str = "points") -> Optional[List[np.ndarray]]:
    """The 'points' string -> one [5, 2] array of canvas fractions per face, in the order written; None for an
    empty string. Accepted (see docs/manual_keypoints.md):

    * one face, as before: five [x, y] pairs, or {"points": five pairs};
    * several faces: a list of faces, or {"faces": that list}. A face is five [x, y] pairs, {"points": five
      pairs}, or a preset placed on the picture: {"preset": name, "center": [x, y], "scale": s, "rotate": deg}
      (center: where the points' mean goes, fractions of width / height, default the single preset's place;
      scale 1 = the single preset's size; rotate in degrees, clockwise).

    width / height place the presets (they keep a face's proportions in pixels)."""
    if text is None or not str(text).strip():
        return None
    data = _load(text, input_name, _ONE_FACE_FIX + "; or " + _FACES_FIX)
    if isinstance(data, dict) and "faces" not in data:
        return [parse_points(text, input_name)]
    if isinstance(data, dict):
        extra = sorted(set(data) - {"faces"})
        if extra:
            raise InputValueError(f"found {', '.join(map(repr, extra))} next to 'faces'; {_FACES_FIX}", input_name)
        data = data["faces"]
        if not isinstance(data, list):
            raise InputValueError(f"'faces' is a {type(data).__name__}, not a list; {_FACES_FIX}", input_name)
    if _is_one_face(data) or not isinstance(data, list):
        return [_five_pairs(data, input_name, _ONE_FACE_FIX)]
    if not data:
        raise InputValueError(f"the list holds no face; {_ONE_FACE_FIX}; or {_FACES_FIX}. To draw nothing from "
                              "the points, choose a preset instead", input_name)
    return [_face_entry(entry, i, width, height, input_name) for i, entry in enumerate(data)]


def faces_json(faces: Sequence[np.ndarray]) -> str:
    """Several faces' [5, 2] fractions -> the 'points' JSON of several faces (a list of five-pair lists)."""
    return json.dumps([json.loads(points_json(f)) for f in faces])


def points_json(points: Sequence[Sequence[float]]) -> str:
    """[5, 2] fractions -> the editor's JSON, rounded to 1/10000 of the canvas (sub-pixel up to 10000 px)."""
    return json.dumps([[round(float(x), 4), round(float(y), 4)] for x, y in np.asarray(points).reshape(5, 2)])
