"""InstantID Keypoints (manual): the IdentityNet keypoint image of manual keypoints (a preset, or five
points dragged in the keypoint editor, web/keypoint_editor.js), with no pose photo.

Its output is an IMAGE drawn exactly like 'InstantID Face Keypoints' draws detected points, so it plugs into
the Apply nodes' ``image_kps``; a FACES value would need an embedding, which a hand-made pose does not have."""
from __future__ import annotations

import numpy as np

from ..instantid_core.input_checks import require_finite
from ..instantid_core.compute.keypoints import keypoint_image
from ..instantid_core.errors import InputValueError
from ..instantid_core.faces.manual_keypoints import (CUSTOM, PRESETS, face_points, parse_points, points_json,
                                               preset_points, transform_points)
from .node_base import InstantIDNode
from .values import FACES, FacesResult

UI_KEY = "instantid_keypoints"  # what the editor reads after a run: the points that were drawn


def _float(default, low, high, step, tip):
    return ("FLOAT", {"default": default, "min": low, "max": high, "step": step, "tooltip": tip})


def _first_face(faces: FacesResult) -> np.ndarray:
    for image in faces.images:
        if image.faces:
            return face_points(image.faces[0].kps, image.image_size)
    raise InputValueError("no face was detected, so there are no points to start from; place the points in the "
                          "editor or choose a preset", "faces")


def base_points(preset: str, points: str, width: int, height: int, faces=None):
    """The five points (fractions of the canvas) before rotate/scale/offset, and where they came from."""
    if preset != CUSTOM:
        return preset_points(preset, width, height), "preset"
    parsed = parse_points(points, "points")
    if parsed is not None:
        return parsed, "points"
    if faces is not None:
        return _first_face(faces), "faces"
    raise InputValueError("preset is 'custom' but no points are set: drag the points in the node's editor, paste "
                          "five [x, y] pairs, connect 'faces' to start from a detected face, or choose a preset",
                          "points")


class InstantIDManualKeypoints(InstantIDNode):
    NODE_ID = "ManualKeypoints"
    DISPLAY_NAME = "InstantID Keypoints (manual)"
    DESCRIPTION = ("Manual keypoints: a preset head pose or five points dragged in the keypoint editor, "
                   "turned, scaled and moved as a whole. Outputs the keypoint image IdentityNet expects (for the "
                   "Apply nodes' image_kps), drawn like detected keypoints.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "preset": (list(PRESETS), {"default": "frontal", "tooltip":
                       "A head pose (left/right = of the picture). Choosing one in the editor replaces the "
                       "points; dragging a point switches to 'custom', which draws the 'points' below."}),
            "points": ("STRING", {"default": "", "multiline": False, "tooltip":
                       "Used when preset is 'custom': five [x, y] pairs (left eye, right eye, nose, left and "
                       "right mouth corner) as fractions of width and height, written by the editor. Empty: the "
                       "first face of 'faces'."}),
            "width": ("INT", {"default": 1024, "min": 64, "max": 8192, "step": 8, "tooltip":
                      "Width of the keypoint image: use the generation width (the latent's)."}),
            "height": ("INT", {"default": 1024, "min": 64, "max": 8192, "step": 8, "tooltip":
                       "Height of the keypoint image: use the generation height."}),
            "rotate": _float(0.0, -180.0, 180.0, 1.0, "Turns the whole face about its centre, in degrees "
                             "(positive: clockwise). Shift-drag in the editor."),
            "scale": _float(1.0, 0.1, 5.0, 0.01, "Size of the whole face about its centre (1 = as placed). Mouse "
                            "wheel or Alt-drag in the editor."),
            "offset_x": _float(0.0, -1.0, 1.0, 0.001, "Moves the whole face right (negative: left), as a "
                               "fraction of the width. Drag an empty spot in the editor."),
            "offset_y": _float(0.0, -1.0, 1.0, 0.001, "Moves the whole face down (negative: up), as a fraction "
                               "of the height."),
        }, "optional": {
            "faces": (FACES, {"tooltip": "Optional: with preset 'custom' and no points, the first detected face "
                              "gives the starting points (the editor then keeps them for editing)."}),
        }}

    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("keypoints",)
    OUTPUT_TOOLTIPS = ("The 5-point keypoint image for IdentityNet (connect to an Apply node's image_kps).",)
    FUNCTION = "draw"

    def draw(self, preset, points, width, height, rotate, scale, offset_x, offset_y, faces=None):
        for name, value in (("rotate", rotate), ("scale", scale), ("offset_x", offset_x), ("offset_y", offset_y)):
            require_finite(value, name)
        if scale <= 0:
            raise InputValueError(f"scale must be positive, got {scale}", "scale")
        base, source = base_points(preset, points, width, height, faces)
        drawn = transform_points(base, width, height, rotate, scale, offset_x, offset_y)
        image = keypoint_image([(drawn, (width, height))], width, height)
        ui = {UI_KEY: [{"points": points_json(base), "source": source, "width": width, "height": height}]}
        return {"ui": ui, "result": (image,)}
