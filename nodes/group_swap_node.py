"""Group swap: every face of a group photo that gets an identity, regenerated in one queue.

Two nodes around the ordinary InstantID sampling chain:

  Group Face Crop   photo + its faces + identities -> a batch of crops (one per assigned face, one canvas size),
                    their masks and keypoints, and ONE identity holding one person per crop, in crop order
  (Apply InstantID + IdentityNet with that identity and those keypoints, InpaintModelConditioning, KSampler,
   VAE Decode: the whole batch through one sampler)
  Group Face Stitch the original photo + the decoded batch -> one photo, crops put back one by one

Each crop gets its own identity because the identity handed on is per-latent (instantid_core.faces.
group_swap_identity): latent i attends to the K/V of crop i's identity, and IdentityNet sees its tokens.
"""
from __future__ import annotations

from typing import List

import numpy as np
import torch

from ..instantid_core.compute.keypoints import keypoint_image
from ..instantid_core.errors import InputValueError
from ..instantid_core.faces.assignment import ASSIGNMENT_MODES, MAX_IDENTITIES
from ..instantid_core.faces.face_mask import face_mask
from ..instantid_core.faces.face_region import CropSettings, cut_crop
from ..instantid_core.faces.face_stitch import COLOR_MATCH_MODES
from ..instantid_core.faces.group_swap import PhotoFace, plan_group_swap, stitch_group
from ..instantid_core.faces.group_swap_identity import stack_per_crop
from .comfy_glue import layer_progress
from .face_region_nodes import InstantIDFaceCrop, InstantIDFaceStitch, checked_images
from .identity_inputs import connected_identities
from .node_base import InstantIDNode
from .values import CROP, FACES, IDENTITY, FacesResult, Identity

CROP_WIDGETS = ("padding", "align", "long_side", "mask_grow", "feather", "pad_mode")


def identity_input(number: int):
    need = "Identity" if number == 0 else "Optional: identity"
    return (IDENTITY, {"tooltip": f"{need} {number} (from 'InstantID Image Projection' or a loaded identity). "
                                  "Its number is what the 'order' string and the report call it."})


def photo_faces(faces: FacesResult, size) -> List[PhotoFace]:
    if len(faces.images) != 1:
        raise InputValueError(f"Face Detect analysed {len(faces.images)} images: give it the one group photo that "
                              "goes into this node's 'image'", "faces")
    found = faces.images[0]
    if tuple(found.image_size) != tuple(size):
        raise InputValueError(f"these faces were detected in a {found.image_size[0]}x{found.image_size[1]} image, "
                              f"the photo here is {size[0]}x{size[1]}: connect Face Detect to this same photo",
                              "faces")
    return [PhotoFace(tuple(float(v) for v in f.bbox), np.asarray(f.kps), f.embedding) for f in found.faces]


def per_crop_identity(identities: List[Identity], picks) -> Identity:
    """One Identity with one person per crop, in crop order (see group_swap_identity)."""
    tokens, kv = stack_per_crop([i.tokens for i in identities], [i.kv for i in identities], picks)
    first = identities[picks[0]]
    for n in sorted(set(picks)):
        if identities[n].layer_hidden_sizes != first.layer_hidden_sizes:
            raise InputValueError(f"identity_{n} was made with another InstantID adapter than identity_{picks[0]}: "
                                  "project every identity with the same model", f"identity_{n}")
    embeddings = None
    if all(identities[n].embeddings is not None for n in picks):
        # the mean of each identity's photos: what the Identity Score then compares crop i's face with
        embeddings = torch.stack([identities[n].embeddings.float().reshape(-1, identities[n].embeddings.shape[-1])
                                  .mean(0) for n in picks])
    report = "one identity per crop: " + ", ".join(f"crop {c} <- identity {n}" for c, n in enumerate(picks))
    return Identity(tokens=tokens, kv=kv, layer_hidden_sizes=first.layer_hidden_sizes, report=report, faces=None,
                    embeddings=embeddings, combine="one_per_latent")


class InstantIDGroupFaceCrop(InstantIDNode):
    NODE_ID = "GroupFaceCrop"
    DISPLAY_NAME = "InstantID Group Face Crop"
    DESCRIPTION = ("Group swap, step 1: gives each face of a group photo an identity (left to right, by an order "
                   "string, or by likeness) and cuts every face that got one out as a batch of crops of one size, "
                   "with their masks, keypoints and ONE identity carrying each crop's own person. Sample the "
                   "batch with Apply InstantID (that identity, those keypoints) and put it back with 'InstantID "
                   "Group Face Stitch'. Faces without an identity are not cut, so they stay untouched.")

    @classmethod
    def INPUT_TYPES(cls):
        crop = InstantIDFaceCrop.INPUT_TYPES()["required"]
        optional = {f"identity_{n}": identity_input(n) for n in range(1, MAX_IDENTITIES)}
        return {"required": {
            "image": ("IMAGE", {"tooltip": "The group photo (one image)."}),
            "faces": (FACES, {"tooltip": "From 'InstantID Face Detect' (selection 'all') on this same photo. Faces "
                              "are numbered left to right."}),
            "identity_0": identity_input(0),
            "assignment": (list(ASSIGNMENT_MODES), {"default": ASSIGNMENT_MODES[0], "tooltip":
                           "Which identity goes to which face: left to right (identity 0 to the leftmost face), "
                           "by the 'order' string, or by likeness (each face gets the identity that looks most "
                           "like it, one to one: for re-detailing the same people)."}),
            "order": ("STRING", {"default": "", "tooltip": "For assignment 'order': one identity number per face, "
                                 "left to right, e.g. '2,0,1'; '-' leaves a face as it is."}),
            **{name: crop[name] for name in CROP_WIDGETS},
        }, "optional": optional}

    RETURN_TYPES = ("IMAGE", "MASK", "IMAGE", IDENTITY, CROP, "STRING")
    RETURN_NAMES = ("crops", "masks", "keypoints", "identity", "crop_info", "report")
    OUTPUT_TOOLTIPS = ("One crop per face that got an identity, left to right, all the same size (one batch).",
                       "The feathered face mask of each crop (inpainting and the stitch).",
                       "Each crop's keypoints drawn in crop pixels (IdentityNet keeps each face's pose).",
                       "One identity per crop, in crop order: connect it to Apply InstantID, which gives latent i "
                       "crop i's identity.",
                       "The crop descriptions: connect to 'InstantID Group Face Stitch'.",
                       "Which identity went to which face, each crop, the cosine matrix (by likeness), warnings.")
    FUNCTION = "crop"

    def crop(self, image, faces, assignment, order, padding, align, long_side, mask_grow, feather, pad_mode,
             **identity_inputs):
        image = checked_images(image, "image")
        if image.shape[0] != 1:
            raise InputValueError(f"the image holds {image.shape[0]} pictures: a group swap works on one photo at "
                                  "a time", "image")
        identities = connected_identities(identity_inputs, 1)
        settings = CropSettings(padding, align, long_side, pad_mode, mask_grow, feather).checked()
        h, w = image.shape[1:3]
        embeddings = None
        if assignment == "by likeness":
            embeddings = [None if i.embeddings is None else i.embeddings.detach().cpu().numpy() for i in identities]
        plan = plan_group_swap(photo_faces(faces, (w, h)), (w, h), len(identities), settings, assignment, order,
                               embeddings)
        identity = per_crop_identity(identities, plan.crop_identities)
        masks = [face_mask(c) for c in plan.crops]
        photo = image[0].cpu().float().numpy()
        step = layer_progress(len(plan.crops))
        cut, kps = [], []
        for i, c in enumerate(plan.crops):
            cut.append(torch.from_numpy(cut_crop(photo, c)))
            kps.append(keypoint_image([(c.crop_kps(), c.crop_size)], *c.crop_size)[0])
            step(i + 1, len(plan.crops))
        report = plan.text()
        return {"ui": {"text": [report]},
                "result": (torch.stack(cut), torch.from_numpy(np.stack(masks)), torch.stack(kps), identity,
                           plan.crops, report)}


class InstantIDGroupFaceStitch(InstantIDNode):
    NODE_ID = "GroupFaceStitch"
    DISPLAY_NAME = "InstantID Group Face Stitch"
    DESCRIPTION = ("Group swap, step 2: puts every generated crop back into the one group photo, one after the "
                   "other, through its feathered mask. Pixels outside the masks stay exactly the original; faces "
                   "that got no crop are untouched.")

    @classmethod
    def INPUT_TYPES(cls):
        single = InstantIDFaceStitch.INPUT_TYPES()
        return {"required": {
            "image": ("IMAGE", {"tooltip": "The group photo that went into 'InstantID Group Face Crop'."}),
            "generated": ("IMAGE", {"tooltip": "The decoded batch of generated crops, one per crop, in crop order."}),
            "crop_info": (CROP, {"tooltip": "The crop descriptions from 'InstantID Group Face Crop'."}),
            **{name: single["required"][name] for name in ("blend", "color_match", "color_strength")},
        }, "optional": {
            "mask": ("MASK", {"tooltip": "Optional masks in crop pixels to use instead of the crops' own (one, or "
                              "one per crop)."}),
        }}

    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The group photo with every generated face put back.",)
    FUNCTION = "stitch"

    def stitch(self, image, generated, crop_info, blend, color_match, color_strength, mask=None):
        image = checked_images(image, "image")
        generated = checked_images(generated, "generated")
        crops = tuple(crop_info)
        if image.shape[0] != 1:
            raise InputValueError(f"the image holds {image.shape[0]} pictures: connect the one group photo that "
                                  "went into Group Face Crop", "image")
        if generated.shape[0] != len(crops):
            raise InputValueError(f"{generated.shape[0]} generated crops for {len(crops)} crops: sample and decode "
                                  "the whole batch of crops (one latent per crop) and connect it here", "generated")
        if color_match not in COLOR_MATCH_MODES:
            raise InputValueError(f"choose one of {', '.join(COLOR_MATCH_MODES)}", "color_match")
        given = InstantIDFaceStitch._masks(mask, crops, len(crops))
        masks = given if given is not None else [face_mask(c) for c in crops]
        photo = InstantIDFaceStitch._source(image, crops[0])
        pictures = [generated[i].cpu().float().numpy() for i in range(len(crops))]
        out = stitch_group(photo, pictures, crops, masks, color_match, color_strength, blend)
        return (torch.from_numpy(out)[None],)
