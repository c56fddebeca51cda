"""InstantID Keypoints (manual): the IdentityNet keypoint image of manual keypoints (a preset, or five
points dragged in the keypoint editor, web/keypoint_editor.js), with no pose photo; several faces when the
'points' JSON lists several (instantid_core.faces.manual_keypoints.parse_faces).

Its IMAGE is drawn exactly like 'InstantID Face Keypoints' draws detected points, so it plugs into the Apply
nodes' ``image_kps``. Its second output is the same faces as a layout (FACES without embeddings, boxes derived
from the points: instantid_core.faces.manual_layout) for InstantID Multi-Person."""
from __future__ import annotations

import numpy as np

from ..instantid_core.input_checks import require_finite
from ..instantid_core.compute.keypoints import keypoint_image
from ..instantid_core.errors import InputValueError
from ..instantid_core.faces.manual_keypoints import CUSTOM, PRESETS, face_points, parse_faces, points_json, \
    preset_points
from ..instantid_core.faces.manual_layout import manual_image_faces, place_faces
from .node_base import InstantIDNode
from .values import FACES, FacesResult

# what the editor reads after a run: one entry per face drawn, {points, source, width, height} (for one face
# exactly the one entry it always was)
UI_KEY = "instantid_keypoints"


def _float(default, low, high, step, tip):
    return ("FLOAT", {"default": default, "min": low, "max": high, "step": step, "tooltip": tip})


def _first_face(faces: FacesResult) -> np.ndarray:
    for image in faces.images:
        if image.faces:
            return face_points(image.faces[0].kps, image.image_size)
    raise InputValueError("no face was detected, so there are no points to start from; place the points in the "
                          "editor or choose a preset", "faces")


def base_faces(preset: str, points: str, width: int, height: int, faces=None):
    """Each face's five points (fractions of the canvas) before rotate/scale/offset, and where they came from:
    a preset is one face; 'points' may hold several; the faces input gives its first face."""
    if preset != CUSTOM:
        return [preset_points(preset, width, height)], "preset"
    parsed = parse_faces(points, width, height, "points")
    if parsed is not None:
        return parsed, "points"
    if faces is not None:
        return [_first_face(faces)], "faces"
    raise InputValueError("preset is 'custom' but no points are set: drag the points in the node's editor, paste "
                          "five [x, y] pairs (or a list of faces), connect 'faces' to start from a detected face, "
                          "or choose a preset", "points")


class InstantIDManualKeypoints(InstantIDNode):
    NODE_ID = "ManualKeypoints"
    DISPLAY_NAME = "InstantID Keypoints (manual)"
    DESCRIPTION = ("Manual keypoints: a preset head pose or five points dragged in the keypoint editor, "
                   "turned, scaled and moved as a whole; several faces when 'points' lists several. Outputs the "
                   "keypoint image IdentityNet expects (for the Apply nodes' image_kps), drawn like detected "
                   "keypoints, and the faces as a layout for InstantID Multi-Person.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "preset": (list(PRESETS), {"default": "frontal", "tooltip":
                       "A head pose (left/right = of the picture). Choosing one in the editor replaces the "
                       "points; dragging a point switches to 'custom', which draws the 'points' below."}),
            "points": ("STRING", {"default": "", "multiline": False, "tooltip":
                       "Used when preset is 'custom': five [x, y] pairs (left eye, right eye, nose, left and "
                       "right mouth corner) as fractions of width and height, written by the editor. Several "
                       "faces: a list with one entry per face, each five pairs or a preset placed on the picture "
                       "(keys preset, center, scale, rotate). Empty: the first face of 'faces'."}),
            "width": ("INT", {"default": 1024, "min": 64, "max": 8192, "step": 8, "tooltip":
                      "Width of the keypoint image: use the generation width (the latent's)."}),
            "height": ("INT", {"default": 1024, "min": 64, "max": 8192, "step": 8, "tooltip":
                       "Height of the keypoint image: use the generation height."}),
            "rotate": _float(0.0, -180.0, 180.0, 1.0, "Turns the whole face about its centre, in degrees "
                             "(positive: clockwise; several faces: each about its own centre). Shift-drag in the "
                             "editor."),
            "scale": _float(1.0, 0.1, 5.0, 0.01, "Size of the whole face about its centre (1 = as placed; "
                            "several faces: each about its own centre). Mouse wheel or Alt-drag in the editor."),
            "offset_x": _float(0.0, -1.0, 1.0, 0.001, "Moves the whole face right (negative: left), as a "
                               "fraction of the width (several faces: all of them). Drag an empty spot in the "
                               "editor."),
            "offset_y": _float(0.0, -1.0, 1.0, 0.001, "Moves the whole face down (negative: up), as a fraction "
                               "of the height."),
        }, "optional": {
            "faces": (FACES, {"tooltip": "Optional: with preset 'custom' and no points, the first detected face "
                              "gives the starting points (the editor then keeps them for editing)."}),
        }}

    RETURN_TYPES = ("IMAGE", FACES)
    RETURN_NAMES = ("keypoints", "layout")
    OUTPUT_TOOLTIPS = ("The 5-point keypoint image for IdentityNet (connect to an Apply node's image_kps); every "
                       "face drawn.",
                       "The faces as a layout for 'InstantID Multi-Person' (its 'faces' input): each face's box is "
                       "derived from its points. It has no face embeddings, so Multi-Person assigns identities "
                       "left to right or by 'order', not by likeness.")
    FUNCTION = "draw"

    def draw(self, preset, points, width, height, rotate, scale, offset_x, offset_y, faces=None):
        for name, value in (("rotate", rotate), ("scale", scale), ("offset_x", offset_x), ("offset_y", offset_y)):
            require_finite(value, name)
        if scale <= 0:
            raise InputValueError(f"scale must be positive, got {scale}", "scale")
        base, source = base_faces(preset, points, width, height, faces)
        drawn = place_faces(base, width, height, rotate, scale, offset_x, offset_y,
                            "preset" if source == "preset" else "points")
        image = keypoint_image([(kps, (width, height)) for kps in drawn], width, height)
        layout = FacesResult([manual_image_faces(drawn, width, height)])
        ui = {UI_KEY: [{"points": points_json(face), "source": source, "width": width, "height": height}
                       for face in base]}
        return {"ui": ui, "result": (image, layout)}
