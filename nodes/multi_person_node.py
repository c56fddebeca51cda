"""InstantID Multi-Person: several identities in one picture, each bound to its own face of a layout.

A thin adapter: the plan (assignment, regions, warnings) comes from instantid_core.faces.multi_person; each
assigned face then gets the existing identity attention patch with its region as mask (one chained, copy-on-
write patch per face) and its own IdentityNet (regional_identitynet) with its own keypoints and tokens.
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np
import torch

from ..instantid_core.input_checks import check_batch, require_finite, require_range
from ..instantid_core.compute.keypoints import keypoint_image
from ..instantid_core.errors import InputValueError
from ..instantid_core.faces.assignment import ASSIGNMENT_MODES, MAX_IDENTITIES
from ..instantid_core.faces.multi_person import LayoutFace, MultiPersonPlan, plan_people
from .apply_nodes import CN_STRENGTH, CONTROL_NET, END, IP_WEIGHT, MODEL_IN, NEGATIVE_IN, POSITIVE_IN, START
from .attention_patch import patch_identity_attention
from .identitynet import masked_hint
from .identity_inputs import connected_identities
from .node_base import InstantIDNode
from .regional_identitynet import regional_identitynet
from .values import FACES, IDENTITY, FacesResult, Identity

REQUIRED_IDENTITIES = 2


def identity_input(number: int):
    need = "Identity" if number < REQUIRED_IDENTITIES else "Optional: identity"
    return (IDENTITY, {"tooltip": f"{need} {number} (from 'InstantID Image Projection' or a loaded identity). "
                                  f"Its number is what the 'order' string and the report call it."})


def layout_of(faces: FacesResult):
    """The faces of the first image that has any -> (LayoutFace list, (width, height) of that image)."""
    image = next((i for i in faces.images if i.faces), None)
    if image is None:
        raise InputValueError("the layout has no face: detect the pose photo with Face Detect (selection 'all'), or "
                              "place the faces by hand with 'InstantID Keypoints (manual)'", "faces")
    return [LayoutFace(tuple(float(v) for v in f.bbox), np.asarray(f.kps), f.embedding) for f in image.faces], \
        image.image_size


def apply_regional_identitynet(positive, negative, control_net, faces, strength: float, start_at: float,
                               end_at: float):
    """faces: (identity, hint [1, C, H, W], region [H, W]) per assigned face. New conditioning lists; a ControlNet
    already on an entry stays first in the chain, and entries that shared one share the new chain."""
    if strength == 0 or not faces:
        return positive, negative
    made = {}
    out = []
    for conditioning in (positive, negative):
        entries = []
        for embedding, options in conditioning:
            options = options.copy()
            previous = options.get("control")
            if previous not in made:
                chain = previous
                for identity, hint, region in faces:
                    control = regional_identitynet(control_net, identity, region)
                    control.set_cond_hint(hint, strength, (start_at, end_at))
                    control.set_previous_controlnet(chain)
                    chain = control
                made[previous] = chain
            options["control"] = made[previous]
            options["control_apply_to_uncond"] = False
            entries.append([embedding, options])
        out.append(entries)
    return out[0], out[1]


def apply_multi_person(model, positive, negative, control_net, faces: FacesResult, latent, identities: List[Identity],
                       assignment: str, order: str, ip_weight: float, cn_strength: float, start_at: float,
                       end_at: float, grow: float, feather: float):
    """-> (plan, model, positive, negative). Every input is copied, never edited; all checks run first."""
    for name, value in (("ip_weight", ip_weight), ("cn_strength", cn_strength), ("grow", grow), ("feather", feather)):
        require_finite(value, name)
    require_range(start_at, end_at)
    for n, identity in enumerate(identities):
        try:
            check_batch(latent, identity.kv.identities, 1)
        except InputValueError as exc:
            raise type(exc)(str(exc), f"identity_{n}") from exc
    height, width = (int(s) * 8 for s in latent["samples"].shape[-2:])
    layout, layout_size = layout_of(faces)
    if len(identities) > len(layout) and assignment != "order":
        # the node would have to choose whom to leave out; with an order string the user has chosen (the report
        # then warns about each identity the order leaves out)
        raise InputValueError(f"{len(identities)} identities are connected but the layout has {len(layout)} face(s): "
                              f"disconnect identity_{len(layout)} and later ones, give the layout a face for every "
                              "identity (a photo with that many faces, or more faces in the manual keypoints' "
                              "'points'), or choose who appears with assignment 'order'",
                              f"identity_{len(layout)}")
    embeddings = [None if i.embeddings is None else i.embeddings.detach().cpu().numpy() for i in identities]
    if assignment != "by likeness":
        embeddings = None
    plan = plan_people(layout, layout_size, (width, height), len(identities), assignment, order, embeddings, grow,
                       feather)
    patched, per_face = model, []
    for face, number in plan.assigned():
        region = plan.regions[face]
        if region.box is None:
            continue
        mask = torch.from_numpy(region.mask)
        identity = identities[number]
        patched = patch_identity_attention(patched, identity, ip_weight, start_at, end_at, mask)
        kps = keypoint_image([(plan.faces[face].kps, layout_size)], width, height)
        per_face.append((identity, masked_hint(kps, mask), mask))
    positive, negative = apply_regional_identitynet(positive, negative, control_net, per_face, cn_strength,
                                                    start_at, end_at)
    return plan, patched, positive, negative


def people_shown(plan: MultiPersonPlan, faces: FacesResult) -> dict:
    """What the web extension draws on the node: the layout's face boxes (left to right, layout pixels) and the
    identity number each face got (None: no identity)."""
    width, height = layout_of(faces)[1]
    return {"width": int(width), "height": int(height), "boxes": [[float(v) for v in f.box] for f in plan.faces],
            "identities": [None if i is None else int(i) for i in plan.assignment.faces],
            "identity_count": int(plan.identities)}


def region_masks(plan: MultiPersonPlan) -> torch.Tensor:
    return torch.from_numpy(np.stack([r.mask for r in plan.regions])).float()


class InstantIDMultiPerson(InstantIDNode):
    NODE_ID = "MultiPerson"
    DISPLAY_NAME = "InstantID Multi-Person"
    DESCRIPTION = ("Several people in one picture without drawing masks: each identity is bound to one face of a "
                   "layout (faces detected on a pose or group photo, or placed by hand), with its identity attention and its own "
                   "IdentityNet acting only inside that face's region.")

    @classmethod
    def INPUT_TYPES(cls):
        optional = {f"identity_{n}": identity_input(n) for n in range(REQUIRED_IDENTITIES, MAX_IDENTITIES)}
        return {"required": {
            "model": MODEL_IN, "positive": POSITIVE_IN, "negative": NEGATIVE_IN, "control_net": CONTROL_NET,
            "faces": (FACES, {"tooltip": "The layout: faces from 'InstantID Face Detect' (selection 'all') on a pose "
                              "or group photo, or faces placed by hand ('InstantID Keypoints (manual)', its "
                              "'layout' output). Each face's box places a person, its keypoints pose them. Faces "
                              "are numbered left to right."}),
            "latent": ("LATENT", {"tooltip": "The latent being sampled: the layout is scaled to its size."}),
            "identity_0": identity_input(0), "identity_1": identity_input(1),
            "assignment": (list(ASSIGNMENT_MODES), {"default": ASSIGNMENT_MODES[0], "tooltip":
                           "Which identity goes to which face: left to right (identity 0 to the leftmost face), "
                           "by the 'order' string, or by likeness: faces matched by Identity Score (each face gets "
                           "the identity that scores highest on it, one to one; needs a layout photo of the same "
                           "people)."}),
            "order": ("STRING", {"default": "", "tooltip": "For assignment 'order': one identity number per face, "
                                 "left to right, e.g. '2,0,1'; '-' leaves a face without identity."}),
            "ip_weight": IP_WEIGHT, "cn_strength": CN_STRENGTH, "start_at": START, "end_at": END,
            "grow": ("FLOAT", {"default": 0.5, "min": -0.5, "max": 3.0, "step": 0.05, "tooltip":
                     "How far each face's region reaches beyond its face box, as a fraction of the face's size "
                     "(0.5 covers a head)."}),
            "feather": ("FLOAT", {"default": 16.0, "min": 0.0, "max": 256.0, "step": 1.0, "tooltip":
                        "Soft edge of each region, in image pixels, inward (a region never reaches into another)."}),
        }, "optional": optional}

    RETURN_TYPES = ("MODEL", "CONDITIONING", "CONDITIONING", "STRING", "MASK")
    RETURN_NAMES = ("model", "positive", "negative", "report", "regions")
    OUTPUT_TOOLTIPS = ("The model with one region-gated identity attention per assigned face (a patched clone).",
                       "Positive conditioning with one IdentityNet per assigned face, each inside its region.",
                       "Negative conditioning with the same IdentityNets.",
                       "Text: which identity went to which face, each region's box, the cosine matrix (each "
                       "identity's Identity Score on each face, for 'by likeness') and warnings (also shown on the "
                       "node).",
                       "One region mask per face, left to right, at the latent's image size.")
    FUNCTION = "apply"

    def apply(self, model, positive, negative, control_net, faces, latent, assignment, order, ip_weight,
              cn_strength, start_at, end_at, grow, feather, **identity_inputs):
        identities = connected_identities(identity_inputs, REQUIRED_IDENTITIES)
        plan, model, positive, negative = apply_multi_person(
            model, positive, negative, control_net, faces, latent, identities, assignment, order, ip_weight,
            cn_strength, start_at, end_at, grow, feather)
        report = plan.text()
        ui = {"text": [report], "instantid_people": [people_shown(plan, faces)]}
        return {"ui": ui, "result": (model, positive, negative, report, region_masks(plan))}
