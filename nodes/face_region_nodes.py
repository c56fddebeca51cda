"""Face Crop and Face Stitch: cut a face out at a size the model likes (upright, padded, scaled), and put the
generated crop back. The geometry is instantid_core.faces (face_region, face_mask, face_stitch); these nodes only
move tensors in and out and pick the faces."""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import torch

from ..instantid_core.input_checks import checked_mask
from ..instantid_core.compute.keypoints import keypoint_image
from ..instantid_core.errors import InputValueError, InstantIDError
from ..instantid_core.faces.face_analysis import FACE_SELECTION_MODES, ImageFaces, select_face
from ..instantid_core.faces.face_mask import face_mask
from ..instantid_core.faces.face_region import (MAX_FEATHER, MAX_GROW, MAX_LONG_SIDE, MIN_LONG_SIDE, PAD_MODES,
                                                CropSettings, FaceCrop, cut_crop, plan_crops)
from ..instantid_core.faces.face_stitch import COLOR_MATCH_MODES, stitch
from .comfy_glue import layer_progress
from .node_base import InstantIDNode
from .values import CROP, FACES, FacesResult

NO_FACE_CHOICES = ("error", "pass through")
BIG_ZOOM = 4.0  # above this the crop's detail is mostly the model's: said in the report


def checked_images(image: torch.Tensor, input_name: str) -> torch.Tensor:
    if image.dim() != 4 or image.shape[0] == 0 or image.shape[-1] not in (3, 4):
        raise InputValueError(f"expected an IMAGE [batch, height, width, 3], got shape {tuple(image.shape)}",
                              input_name)
    if not torch.isfinite(image).all():  # a NaN pixel would give a NaN crop (or stitch) without a word
        raise InputValueError("the image holds NaN or infinite values (a failed decode or an upstream node's "
                              "overflow): fix the node that made it", input_name)
    return image


def _faces_per_image(faces: FacesResult, batch: int, size: Tuple[int, int]) -> List[ImageFaces]:
    """One ImageFaces per image: the faces of each photo, or the one photo's faces for every image of a batch
    (the same face over a batch)."""
    found = list(faces.images)
    if len(found) not in (1, batch):
        raise InputValueError(f"Face Detect analysed {len(found)} images but this image batch has {batch}: give "
                              f"it the same images, or one image whose face is used for the whole batch", "faces")
    for f in found:
        if tuple(f.image_size) != tuple(size):
            raise InputValueError(f"these faces were detected in a {f.image_size[0]}x{f.image_size[1]} image, the "
                                  f"image here is {size[0]}x{size[1]}: connect Face Detect to this same image",
                                  "faces")
    return found * batch if len(found) == 1 else found


def _pick(found: ImageFaces, i: int, selection: str, face_index: int, on_no_face: str):
    """(box, kps, index) of the chosen face, or None for a pass-through."""
    if not found.faces:
        if on_no_face == "pass through":
            return None
        raise InputValueError(f"no face was found in image {i}: use a photo with a visible face, or set "
                              f"'on_no_face' to 'pass through' to leave such images unchanged", "image")
    try:
        face = select_face(found, selection, face_index)
    except InstantIDError as exc:
        if exc.input_name == "face_index" and len(found.faces) == 1:
            raise InputValueError(f"{exc} — Face Detect kept only one face; set its 'selection' to 'all' to "
                                  f"choose among all faces here", "face_index") from exc
        raise
    index = 0 if selection == "largest" else int(face_index)
    return face.bbox, face.kps, index


def _report(crops) -> str:
    lines = [c.summary() for c in crops]
    big = max((c.scale for c in crops if c.has_face), default=1.0)
    if big > BIG_ZOOM:
        lines.append(f"note: a tiny face was scaled up {big:.1f}x; its detail comes from the model (raise denoise "
                     f"a little, or lower long_side)")
    return "\n".join(lines)


class InstantIDFaceCrop(InstantIDNode):
    NODE_ID = "FaceCrop"
    DISPLAY_NAME = "InstantID Face Crop"
    DESCRIPTION = ("Cuts one face out of each image at a size the model likes: context around it, turned upright "
                   "(eyes level), scaled so the long side is 'long_side', padded at the photo's border. Gives the "
                   "crop, a feathered face mask, the face's keypoints in the crop (IdentityNet keeps the pose) and "
                   "the crop description that 'InstantID Face Stitch' needs to put the result back.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE", {"tooltip": "The photo(s) to cut the face from (the target of a face swap, or a "
                                "generated image to detail)."}),
            "faces": (FACES, {"tooltip": "From 'InstantID Face Detect' on this same image. Set its selection to "
                              "'all' to choose the face here."}),
            "selection": (list(FACE_SELECTION_MODES), {"default": "largest", "tooltip":
                          "Which face: the largest, or the one at 'face_index' counted by size or left to right."}),
            "face_index": ("INT", {"default": 0, "min": 0, "max": 63, "tooltip":
                           "For the index_* selections: 0 = the largest (or leftmost) face."}),
            "padding": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 10.0, "step": 0.05, "tooltip":
                        "Context around the face box on each side, as a fraction of the box: 0.5 = a region twice "
                        "the face. More context blends better; less gives the face more pixels."}),
            "align": ("BOOLEAN", {"default": True, "tooltip":
                      "Turn the crop so the eyes are level (a tilted head is generated upright, then turned back)."}),
            "long_side": ("INT", {"default": 1024, "min": MIN_LONG_SIDE, "max": MAX_LONG_SIDE, "step": 8,
                          "tooltip": "Long side of the crop in pixels (multiple of 8; 1024 suits SDXL). Small "
                          "faces are scaled up to it, the report says by how much."}),
            "mask_grow": ("INT", {"default": 16, "min": -MAX_GROW, "max": MAX_GROW, "tooltip":
                          "Grow (positive) or shrink (negative) the face ellipse, in crop pixels."}),
            "feather": ("INT", {"default": 32, "min": 0, "max": MAX_FEATHER, "tooltip":
                        "Soft edge of the mask, in crop pixels, inside the grown ellipse (the mask is 0 outside "
                        "it, so nothing outside changes)."}),
            "pad_mode": (list(PAD_MODES), {"default": "edge", "tooltip":
                         "How the crop is filled where it reaches past the photo's border: repeat the edge "
                         "pixels, or mirror the photo."}),
            "on_no_face": (list(NO_FACE_CHOICES), {"default": "error", "tooltip":
                           "An image without a face: stop with an error, or pass it through (its mask is empty, "
                           "so the stitch returns it unchanged)."}),
        }}

    RETURN_TYPES = ("IMAGE", "MASK", "IMAGE", CROP, "STRING")
    RETURN_NAMES = ("crop", "mask", "keypoints", "crop_info", "report")
    OUTPUT_TOOLTIPS = ("The face crops [batch, h, w, 3], all the same size.",
                       "The feathered face mask of each crop (for inpainting and for the stitch).",
                       "The face's 5 keypoints drawn in crop coordinates (IdentityNet's image_kps: the target's "
                       "pose is kept).",
                       "The crop description (size, transform, padding, scale, angle): connect it to "
                       "'InstantID Face Stitch'.",
                       "One line per crop: size, how much the face was scaled, how far it was turned.")
    FUNCTION = "crop"

    def crop(self, image, faces, selection, face_index, padding, align, long_side, mask_grow, feather, pad_mode,
             on_no_face):
        image = checked_images(image, "image")
        settings = CropSettings(padding, align, long_side, pad_mode, mask_grow, feather).checked()
        if on_no_face not in NO_FACE_CHOICES:
            raise InputValueError(f"choose one of {', '.join(NO_FACE_CHOICES)}", "on_no_face")
        batch, h, w = image.shape[:3]
        found = _faces_per_image(faces, batch, (w, h))
        picks = [_pick(f, i, selection, face_index, on_no_face) for i, f in enumerate(found)]
        crops = plan_crops(picks, (w, h), settings)
        masks = [face_mask(c) for c in crops]  # a mask shrunk to nothing stops here, before any warping
        step = layer_progress(batch)
        cut, kps = [], []
        for i, c in enumerate(crops):
            cut.append(torch.from_numpy(cut_crop(image[i].cpu().float().numpy(), c)))
            if c.has_face:
                kps.append(keypoint_image([(c.crop_kps(), c.crop_size)], *c.crop_size)[0])
            else:
                kps.append(torch.zeros(c.crop_size[1], c.crop_size[0], 3))
            step(i + 1, batch)
        return (torch.stack(cut), torch.from_numpy(np.stack(masks)), torch.stack(kps), crops, _report(crops))


class InstantIDFaceStitch(InstantIDNode):
    NODE_ID = "FaceStitch"
    DISPLAY_NAME = "InstantID Face Stitch"
    DESCRIPTION = ("Puts generated face crops back into the photo they were cut from: the inverse of 'InstantID "
                   "Face Crop' (turned back, scaled back), blended through the feathered mask. Pixels outside the "
                   "mask stay exactly the original.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE", {"tooltip": "The original photo(s): the image that went into Face Crop."}),
            "generated": ("IMAGE", {"tooltip": "The generated crop(s), the crop's size (VAE Decode of the crop's "
                                    "latent). Several generated from one crop each give one result."}),
            "crop_info": (CROP, {"tooltip": "The crop description from 'InstantID Face Crop'."}),
            "blend": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01, "tooltip":
                      "How much of the generated face to use inside the mask (1 = all of it)."}),
            "color_match": (list(COLOR_MATCH_MODES), {"default": "off", "tooltip":
                            "lab_mean_std: match the new face's mean and spread of colour (CIE Lab) to the "
                            "pixels it replaces, so it takes the photo's light. Off for a face swap that should "
                            "keep the identity's own skin tone."}),
            "color_strength": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.05, "tooltip":
                               "How far the colour match moves the face (1 = all the way)."}),
        }, "optional": {
            "mask": ("MASK", {"tooltip": "Optional mask in crop pixels to use instead of the crop's own (e.g. an "
                              "edited one); the crop's size."}),
        }}

    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The photo(s) with the generated face(s) put back; one per generated crop.",)
    FUNCTION = "stitch"

    def stitch(self, image, generated, crop_info, blend, color_match, color_strength, mask=None):
        image = checked_images(image, "image")
        generated = checked_images(generated, "generated")
        crops: Tuple[FaceCrop, ...] = tuple(crop_info)
        n = generated.shape[0]
        if len(crops) not in (1, n):
            raise InputValueError(f"{n} generated crops for {len(crops)} crop descriptions: give one crop per "
                                  f"description (or several variants of one crop)", "generated")
        masks = self._masks(mask, crops, n)
        step = layer_progress(n)
        out = []
        for i in range(n):
            c = crops[i if len(crops) == n else 0]
            source = self._source(image, c)
            m = masks[i] if masks is not None else face_mask(c)
            out.append(torch.from_numpy(stitch(source, generated[i].cpu().float().numpy(), c, m, color_match,
                                               color_strength, blend)))
            step(i + 1, n)
        return (torch.stack(out),)

    @staticmethod
    def _source(image: torch.Tensor, crop: FaceCrop) -> np.ndarray:
        # Each crop goes back into the image it was cut from, by index; a batch too short for that is refused
        # (pasting image 1's crop into image 0 would put a face at another photo's face position).
        if crop.image_index >= image.shape[0]:
            raise InputValueError(f"the crop was cut from image {crop.image_index} of a batch, this image input "
                                  f"has {image.shape[0]}: connect the same image batch that went into Face Crop",
                                  "image")
        return image[crop.image_index].cpu().float().numpy()

    @staticmethod
    def _masks(mask, crops, n) -> Optional[List[np.ndarray]]:
        if mask is None:
            return None
        mask = checked_mask(mask, "mask")
        if mask.shape[0] not in (1, n):
            raise InputValueError(f"{mask.shape[0]} masks for {n} generated crops: give one mask or one per crop",
                                  "mask")
        w, h = crops[0].crop_size
        if tuple(mask.shape[1:]) != (h, w):
            raise InputValueError(f"the mask is {mask.shape[2]}x{mask.shape[1]}, the crop is {w}x{h}: give a mask "
                                  f"in crop pixels (e.g. Face Crop's mask output)", "mask")
        arr = mask.numpy()
        return [arr[i if arr.shape[0] == n else 0] for i in range(n)]
