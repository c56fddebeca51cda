"""Apply nodes: identity attention only, IdentityNet only, both, and the all-in-one convenience node.
All four are built from the same two functions (patch_identity_attention, apply_identitynet)."""
from __future__ import annotations

import hashlib
import os
import weakref
from collections import OrderedDict
from typing import Optional

import torch

from ..instantid_core.errors import InputValueError
from ..instantid_core.input_checks import check_batch, checked_mask, require_finite, require_range
from .attention_patch import patch_identity_attention
from .face_nodes import detect_faces, draw_faces
from .identitynet import apply_identitynet
from .node_base import InstantIDNode
from .projection_node import build_identity
from .values import FACE_ANALYSIS, FACES, IDENTITY, INSTANTID, FacesResult, Identity


def _number(default, low, high, step, tip):
    return ("FLOAT", {"default": default, "min": low, "max": high, "step": step, "tooltip": tip})


# ranges at least as wide as the InstantID pack users come from (cubiq's), so their settings survive migration
IP_WEIGHT = _number(0.8, 0.0, 5.0, 0.01, "Strength of the identity attention in every cross-attention layer "
                    "(published: 0.8).")
ATTN_WEIGHT = _number(0.8, -1.0, 5.0, 0.01, "Strength of the identity attention in every cross-attention layer "
                      "(published: 0.8; negative values push away from the face).")
CN_STRENGTH = _number(0.8, 0.0, 10.0, 0.01, "IdentityNet (ControlNet) strength (published: 0.8).")
START = _number(0.0, 0.0, 1.0, 0.001, "Sampling progress at which InstantID starts acting.")
END = _number(1.0, 0.0, 1.0, 0.001, "Sampling progress at which InstantID stops acting.")
MASK = ("MASK", {"tooltip": "Optional region for this identity (any size; resized to each layer). For several "
                 "people, use one Apply node per identity, each with its own mask."})
LATENT = ("LATENT", {"tooltip": "Optional: the latent being sampled, so keypoints are drawn at the generation "
                     "size and aspect ratio and the batch is checked here (recommended)."})
KPS_IMAGE = ("IMAGE", {"tooltip": "Optional keypoint image (from 'InstantID Face Keypoints'); without it the "
                       "keypoints of the identity's own faces are drawn."})
CONTROL_NET = ("CONTROL_NET", {"tooltip": "IdentityNet from 'Load ControlNet Model'."})
MODEL_IN = ("MODEL", {"tooltip": "The SDXL-family model to patch (it is cloned, never modified)."})
POSITIVE_IN = ("CONDITIONING", {"tooltip": "Positive prompt conditioning; IdentityNet is added to a copy of it."})
NEGATIVE_IN = ("CONDITIONING", {"tooltip": "Negative prompt conditioning; IdentityNet is added to a copy of it."})
IDENTITY_IN = (IDENTITY, {"tooltip": "From 'InstantID Image Projection': the identity tokens and their K/V."})
FACES_IN = (FACES, {"tooltip": "Optional: faces (from 'InstantID Face Detect', e.g. of a pose photo) whose "
                    "keypoints are drawn when no keypoint image is connected."})
VAE_IN = ("VAE", {"tooltip": "Optional: only needed by ControlNets that work in latent space; IdentityNet does not."})
MODEL_OUT = "The model with InstantID's identity attention added (a patched clone)."
POSITIVE_OUT = "Positive conditioning with IdentityNet applied."
NEGATIVE_OUT = "Negative conditioning with IdentityNet applied."


def _keypoints(identity: Identity, image_kps, faces: Optional[FacesResult], latent) -> torch.Tensor:
    if image_kps is not None:
        if image_kps.dim() != 4 or image_kps.shape[-1] != 3 or image_kps.shape[0] == 0:
            raise InputValueError(f"expected an RGB IMAGE [B, H, W, 3], got shape {tuple(image_kps.shape)}",
                                  "image_kps")
        return image_kps
    source = faces or identity.faces
    if source is None:
        raise InputValueError("connect a keypoint image or the faces to draw it from", "image_kps")
    w = h = 0
    if latent is not None:
        h, w = (int(s) * 8 for s in latent["samples"].shape[-2:])
    return draw_faces(source, w, h, 0)


def _checked(identity: Identity, weight_name: str, weight: float, start_at: float, end_at: float, mask, latent):
    """Every check that does not need the model: numbers, mask, batch sizes. Returns the checked mask."""
    require_finite(weight, weight_name)
    require_range(start_at, end_at)
    mask = checked_mask(mask)
    check_batch(latent, identity.kv.identities, 1 if mask is None else mask.shape[0])
    return mask


class InstantIDApplyAttention(InstantIDNode):
    NODE_ID = "ApplyAttention"
    DISPLAY_NAME = "Apply InstantID Attention"
    DESCRIPTION = "Adds InstantID's identity attention to every cross-attention layer of an SDXL model (no ControlNet)."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": MODEL_IN, "identity": IDENTITY_IN, "weight": ATTN_WEIGHT,
                             "start_at": START, "end_at": END},
                "optional": {"mask": MASK}}

    RETURN_TYPES = ("MODEL",)
    OUTPUT_TOOLTIPS = (MODEL_OUT,)
    FUNCTION = "apply"

    def apply(self, model, identity, weight, start_at, end_at, mask=None):
        mask = _checked(identity, "weight", weight, start_at, end_at, mask, None)
        return (patch_identity_attention(model, identity, weight, start_at, end_at, mask),)


class InstantIDApplyIdentityNet(InstantIDNode):
    NODE_ID = "ApplyIdentityNet"
    DISPLAY_NAME = "Apply IdentityNet"
    DESCRIPTION = ("Applies IdentityNet (the InstantID ControlNet, loaded with ComfyUI's 'Load ControlNet Model') "
                   "with the identity tokens as its context. Chains with ControlNets already applied.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"positive": POSITIVE_IN, "negative": NEGATIVE_IN,
                             "control_net": CONTROL_NET, "identity": IDENTITY_IN, "strength": CN_STRENGTH,
                             "start_at": START, "end_at": END},
                "optional": {"image_kps": KPS_IMAGE, "faces": FACES_IN, "latent": LATENT, "mask": MASK,
                             "vae": VAE_IN}}

    RETURN_TYPES = ("CONDITIONING", "CONDITIONING")
    RETURN_NAMES = ("positive", "negative")
    OUTPUT_TOOLTIPS = (POSITIVE_OUT, NEGATIVE_OUT)
    FUNCTION = "apply"

    def apply(self, positive, negative, control_net, identity, strength, start_at, end_at, image_kps=None,
              faces=None, latent=None, mask=None, vae=None):
        mask = _checked(identity, "strength", strength, start_at, end_at, mask, latent)
        kps = _keypoints(identity, image_kps, faces, latent)
        return apply_identitynet(positive, negative, control_net, identity, kps, strength, start_at, end_at, mask, vae)


def apply_both(model, positive, negative, control_net, identity, ip_weight, cn_strength, start_at, end_at,
               image_kps=None, faces=None, latent=None, mask=None):
    """Every step works on copies (a model clone, copied conditioning), so a failure anywhere leaves the
    inputs untouched; the model is checked against the adapter while it is patched."""
    mask = _checked(identity, "ip_weight", ip_weight, start_at, end_at, mask, latent)
    require_finite(cn_strength, "cn_strength")
    kps = _keypoints(identity, image_kps, faces, latent)
    patched = patch_identity_attention(model, identity, ip_weight, start_at, end_at, mask)
    pos, neg = apply_identitynet(positive, negative, control_net, identity, kps, cn_strength, start_at, end_at, mask)
    return patched, pos, neg


class InstantIDApply(InstantIDNode):
    NODE_ID = "Apply"
    DISPLAY_NAME = "Apply InstantID + IdentityNet"
    DESCRIPTION = "Identity attention and IdentityNet together: the standard InstantID setup."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": MODEL_IN, "positive": POSITIVE_IN, "negative": NEGATIVE_IN,
                             "control_net": CONTROL_NET, "identity": IDENTITY_IN, "ip_weight": IP_WEIGHT,
                             "cn_strength": CN_STRENGTH, "start_at": START, "end_at": END},
                "optional": {"image_kps": KPS_IMAGE, "faces": FACES_IN, "latent": LATENT, "mask": MASK}}

    RETURN_TYPES = ("MODEL", "CONDITIONING", "CONDITIONING")
    RETURN_NAMES = ("model", "positive", "negative")
    OUTPUT_TOOLTIPS = (MODEL_OUT, POSITIVE_OUT, NEGATIVE_OUT)
    FUNCTION = "apply"

    def apply(self, **kwargs):
        return apply_both(**kwargs)


class _IdentityMemo:
    """The all-in-one node re-runs when only a weight changes; this keeps face analysis and the projection from
    re-running with it. It never keeps a model alive: the adapter is keyed by its file's content (path, size,
    mtime) and the precision policy, the analyser through a weak reference, and only the small identity
    (tokens, K/V, faces) is held."""

    def __init__(self, size: int = 4):
        self.size = size
        self.items: "OrderedDict[tuple, tuple]" = OrderedDict()  # key -> (weakref to analyser, Identity)

    @staticmethod
    def _adapter_key(instantid) -> tuple:
        stat = os.stat(instantid.path)
        return (os.path.realpath(instantid.path), stat.st_size, stat.st_mtime_ns, instantid.policy)

    def get(self, face_analysis, instantid, image: torch.Tensor) -> Identity:
        digest = hashlib.sha1(image.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
        key = (id(face_analysis), self._adapter_key(instantid), tuple(image.shape), digest)
        entry = self.items.get(key)
        if entry is None or entry[0]() is not face_analysis:  # a dead analyser's id may have been reused
            faces, _ = detect_faces(face_analysis, image, skip_hint=False)  # this node has no on_no_face
            entry = (weakref.ref(face_analysis), build_identity(instantid, faces, "average"))
            self.items[key] = entry
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        self.items.move_to_end(key)
        return entry[1]


_MEMO = _IdentityMemo()


class InstantIDApplyAllInOne(InstantIDNode):
    NODE_ID = "ApplyAllInOne"
    DISPLAY_NAME = "Apply InstantID (all-in-one)"
    DESCRIPTION = ("All-in-one InstantID: face photo in, patched model and conditioning out. Built from the same "
                   "parts as the separate nodes; use those for several faces, masks or other ControlNets.")
    ERROR_INPUTS = {"identity": "image", "faces": "image"}  # this node makes the identity from 'image' itself

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"face_analysis": (FACE_ANALYSIS, {"tooltip": "From 'InstantID Face Analysis'."}),
                             "instantid": (INSTANTID, {"tooltip": "From 'InstantID Model Loader' or the "
                                                       "Precision/Offload node."}),
                             "control_net": CONTROL_NET,
                             "image": ("IMAGE", {"tooltip": "Reference photo(s) of one person (embeddings averaged)."}),
                             "model": MODEL_IN, "positive": POSITIVE_IN, "negative": NEGATIVE_IN,
                             "ip_weight": IP_WEIGHT, "cn_strength": CN_STRENGTH, "start_at": START, "end_at": END},
                "optional": {"image_kps": KPS_IMAGE, "latent": LATENT, "mask": MASK}}

    RETURN_TYPES = ("MODEL", "CONDITIONING", "CONDITIONING")
    RETURN_NAMES = ("model", "positive", "negative")
    OUTPUT_TOOLTIPS = (MODEL_OUT, POSITIVE_OUT, NEGATIVE_OUT)
    FUNCTION = "apply"

    def apply(self, face_analysis, instantid, control_net, image, model, positive, negative, ip_weight, cn_strength,
              start_at, end_at, image_kps=None, latent=None, mask=None):
        for name, value in (("ip_weight", ip_weight), ("cn_strength", cn_strength)):
            require_finite(value, name)
        require_range(start_at, end_at)
        identity = _MEMO.get(face_analysis, instantid, image)
        return apply_both(model, positive, negative, control_net, identity, ip_weight, cn_strength, start_at,
                          end_at, image_kps, None, latent, mask)
