"""Face analysis loader, face detection/embedding, and keypoint image nodes."""
from __future__ import annotations

import logging
from typing import List

import numpy as np
import torch

from ..instantid_core.errors import AntelopeFilesError, InputValueError
from ..instantid_core.faces.face_analysis import (FACE_SELECTION_MODES, PROVIDER_CHOICES, FaceAnalyzer, ImageFaces,
                                            order_faces, select_face, to_rgb_uint8)
from ..instantid_core.compute.keypoints import keypoint_image
from ..instantid_core.files.model_catalog import ANTELOPEV2, download_command
from .comfy_glue import layer_progress
from .folders import insightface_roots
from .node_base import InstantIDNode
from .values import FACE_ANALYSIS, FACES, FacesResult

log = logging.getLogger(__name__)
DET_SIZE_CHOICES = ("640 → 512 → 320", "640", "1024 → 640 → 320", "320")
SELECTION_CHOICES = ("largest", "all") + tuple(m for m in FACE_SELECTION_MODES if m != "largest")
_ANALYZERS = {}  # (root, provider, sizes) -> FaceAnalyzer: loading ONNX sessions is the slow part


def _det_sizes(choice: str):
    return tuple(int(s) for s in choice.replace("→", " ").split())


class InstantIDFaceAnalysisLoader(InstantIDNode):
    NODE_ID = "FaceAnalysisLoader"
    DISPLAY_NAME = "InstantID Face Analysis (insightface)"
    DESCRIPTION = "Loads insightface antelopev2 (face detector + ArcFace) from models/insightface/models/antelopev2."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "provider": (list(PROVIDER_CHOICES), {"default": "auto", "tooltip":
                         "onnxruntime execution provider. 'auto' tries the GPU providers onnxruntime offers, "
                         "then falls back to CPU. The providers actually used are printed in the console."}),
            "det_size": (list(DET_SIZE_CHOICES), {"default": DET_SIZE_CHOICES[0], "tooltip":
                         "Detector input sizes, tried in order until a face is found (at most 3)."}),
        }}

    RETURN_TYPES = (FACE_ANALYSIS,)
    RETURN_NAMES = ("face_analysis",)
    OUTPUT_TOOLTIPS = ("The loaded face detector and ArcFace recogniser, for 'InstantID Face Detect' or the "
                       "all-in-one node.",)
    FUNCTION = "load"

    def load(self, provider, det_size):
        roots = insightface_roots()
        key = (tuple(roots), provider, det_size)
        if key not in _ANALYZERS:
            errors = []
            for root in roots:
                try:
                    _ANALYZERS[key] = FaceAnalyzer.load(root, provider, det_sizes=_det_sizes(det_size))
                    break
                except AntelopeFilesError as exc:
                    errors.append(str(exc))
            else:  # the fix is in the files, not in this node's inputs: say where they must go
                raise AntelopeFilesError("the insightface model pack 'antelopev2' could not be loaded from "
                                         "models/insightface/models/antelopev2. " + "\n".join(errors) +
                                         f"\nTo fetch the files: {download_command([ANTELOPEV2])} (then restart or "
                                         "re-queue). Run the 'InstantID Model Doctor' node for a full check.")
        analyzer = _ANALYZERS[key]
        log.info("InstantID face analysis providers: %s", analyzer.providers)
        return (analyzer,)


def detect_faces(face_analysis: FaceAnalyzer, image: torch.Tensor, selection: str = "largest",
                 face_index: int = 0, on_no_face: str = "error", skip_hint: bool = True):
    """Analyse every image of an IMAGE batch [B, H, W, C] and keep the selected faces.
    Returns (FacesResult of the kept faces, every image's full ImageFaces for previews). ``skip_hint``: the
    caller has an 'on_no_face' input the no-face error may point to."""
    if image.dim() != 4 or image.shape[0] == 0:
        raise InputValueError(f"expected a batch of images [B, H, W, C], got shape {tuple(image.shape)}", "image")
    step = layer_progress(len(image))
    results = []
    for i, img in enumerate(image):
        results.append(face_analysis.analyze(img.cpu().numpy()))
        step(i + 1, len(image))
    from ..instantid_core.files.identity_file import pixel_sha256  # on first use: keeps the pack's start-up fast
    kept = []
    hashes = tuple(pixel_sha256(to_rgb_uint8(img)) for img in image)  # what a saved identity records
    for i, faces in enumerate(results):
        if not faces.faces:
            if on_no_face == "error":
                hint = ", or set 'on_no_face' to 'skip image'" if skip_hint else ""
                raise InputValueError(f"no face was found in image {i} of the batch. Use a clear, frontal, "
                                      f"well-lit photo{hint}.", "image")
            kept.append(faces)
            continue
        if selection == "all":
            kept.append(ImageFaces(faces.image_size, order_faces(faces.faces), faces.det_size))
            continue
        face = select_face(faces, selection, face_index)
        kept.append(ImageFaces(faces.image_size, (face,), faces.det_size))
    return FacesResult(kept, hashes), results


def _preview_order(selection: str) -> str:
    return "index_left_to_right" if selection == "index_left_to_right" else "index_by_size"


def _preview(images: torch.Tensor, results: List[ImageFaces], selection: str) -> torch.Tensor:
    import cv2
    out = []
    for img, faces in zip(images, results):
        canvas = np.ascontiguousarray(to_rgb_uint8(img))  # any channel count, NaN-safe
        thick = max(1, round(max(canvas.shape[:2]) / 300))
        for i, face in enumerate(order_faces(faces.faces, _preview_order(selection))):
            x1, y1, x2, y2 = (int(v) for v in face.bbox)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 255, 0), thick)
            cv2.putText(canvas, str(i), (x1, max(0, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * thick, (255, 255, 0),
                        thick)
        out.append(torch.from_numpy(canvas.astype(np.float32) / 255.0))
    return torch.stack(out) if len({o.shape for o in out}) == 1 else out[0].unsqueeze(0)


def _overlay(result: ImageFaces, order: str) -> dict:
    """What the web overlay draws: the boxes in the run's order, and both face orders as indices into them, so
    the frontend numbers faces exactly as face_index counts them (it never sorts by itself)."""
    faces = order_faces(result.faces, order)
    position = {id(f): i for i, f in enumerate(faces)}
    orders = {mode: [position[id(f)] for f in order_faces(faces, mode)]
              for mode in ("index_by_size", "index_left_to_right")}
    return {"width": result.image_size[0], "height": result.image_size[1],
            "boxes": [[float(v) for v in f.bbox] for f in faces], "orders": orders}


class InstantIDFaceDetect(InstantIDNode):
    NODE_ID = "FaceDetect"
    # its UI output (the face boxes web/instantid.js shows) is sent again when a run serves it from the cache
    # (ComfyUI 0.33+; older cores ignore it and the extension reads the prompt's history instead)
    HAS_INTERMEDIATE_OUTPUT = True
    DISPLAY_NAME = "InstantID Face Detect"
    DESCRIPTION = ("Detects faces and computes their identity embeddings. Run once per photo: changing weights "
                   "downstream does not re-run it.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "face_analysis": (FACE_ANALYSIS, {"tooltip": "From 'InstantID Face Analysis'."}),
            "image": ("IMAGE", {"tooltip": "One or more reference photos of the face."}),
            "selection": (list(SELECTION_CHOICES), {
                "default": "largest", "tooltip": "Which face of each photo to keep: the largest (InstantID's "
                "default), all faces, or the face at 'face_index' counted by size or left to right."}),
            "face_index": ("INT", {"default": 0, "min": 0, "max": 63, "tooltip":
                           "For the index_* selections: 0 = the largest (or leftmost) face. The preview shows "
                           "the indices."}),
            "on_no_face": (["error", "skip image"], {"default": "error", "tooltip":
                           "What to do with a photo without a detectable face: stop with an error, or leave "
                           "it out (an all-empty result still stops downstream with a clear error)."}),
        }}

    RETURN_TYPES = (FACES, "IMAGE")
    RETURN_NAMES = ("faces", "preview")
    OUTPUT_TOOLTIPS = ("The kept faces of every photo (box, 5 keypoints, identity embedding), for the projection "
                       "and keypoint nodes.",
                       "The photos with every detected face boxed and numbered with its face_index.")
    FUNCTION = "detect"

    def detect(self, face_analysis, image, selection, face_index, on_no_face):
        faces, results = detect_faces(face_analysis, image, selection, face_index, on_no_face)
        ui = {"instantid_faces": [_overlay(r, _preview_order(selection)) for r in results]}
        return {"ui": ui, "result": (faces, _preview(image, results, selection))}


class InstantIDFaceKeypoints(InstantIDNode):
    NODE_ID = "FaceKeypoints"
    DISPLAY_NAME = "InstantID Face Keypoints"
    DESCRIPTION = "Draws the 5-point face keypoint image IdentityNet expects (e.g. the pose of another photo)."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "faces": (FACES, {"tooltip": "Faces whose keypoints are drawn (all faces of the chosen image)."}),
            "width": ("INT", {"default": 0, "min": 0, "max": 8192, "step": 8, "tooltip":
                      "Width of the generated image; 0 = the photo's width. Use the generation size."}),
            "height": ("INT", {"default": 0, "min": 0, "max": 8192, "step": 8, "tooltip":
                       "Height of the generated image; 0 = the photo's height."}),
            "image_index": ("INT", {"default": 0, "min": 0, "max": 4095, "tooltip":
                            "Which photo of the batch to take the faces from."}),
        }}

    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("keypoints",)
    OUTPUT_TOOLTIPS = ("The keypoint image (coloured points and limbs on black) for the image_kps input of the "
                       "Apply nodes.",)
    FUNCTION = "draw"

    def draw(self, faces, width, height, image_index):
        return (draw_faces(faces, width, height, image_index),)


def draw_faces(faces: FacesResult, width: int, height: int, image_index: int = 0) -> torch.Tensor:
    if image_index >= len(faces.images):
        raise InputValueError(f"there are only {len(faces.images)} images", "image_index")
    chosen = faces.images[image_index]
    if not chosen.faces:
        chosen = next((f for f in faces.images if f.faces), chosen)
    if not chosen.faces:
        raise InputValueError("no face was detected, so there are no keypoints to draw", "faces")
    w, h = width or chosen.image_size[0], height or chosen.image_size[1]
    return keypoint_image([(f.kps, chosen.image_size) for f in chosen.faces], w, h)
