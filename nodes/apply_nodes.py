"""Apply nodes: identity attention only, IdentityNet only, both, and the all-in-one convenience node.
All four are built from the same two functions (patch_identity_attention, apply_identitynet)."""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Optional

import torch

from ..instantid_core.errors import IdentityBatchError, LayerMismatchError
from .attention_patch import patch_identity_attention
from .comfy_glue import NodeInputError
from .face_nodes import draw_faces
from .identitynet import apply_identitynet
from .projection_node import build_identity
from .values import FACE_ANALYSIS, FACES, IDENTITY, INSTANTID, FacesResult, Identity

CATEGORY = "InstantID"


def _weight(default, tip):
    return ("FLOAT", {"default": default, "min": 0.0, "max": 3.0, "step": 0.01, "tooltip": tip})


def _percent(default, tip):
    return ("FLOAT", {"default": default, "min": 0.0, "max": 1.0, "step": 0.001, "tooltip": tip})


IP_WEIGHT = _weight(0.8, "Strength of the identity attention in every cross-attention layer (published: 0.8).")
CN_STRENGTH = _weight(0.8, "IdentityNet (ControlNet) strength (published: 0.8).")
START = _percent(0.0, "Sampling progress at which InstantID starts acting.")
END = _percent(1.0, "Sampling progress at which InstantID stops acting.")
MASK = ("MASK", {"tooltip": "Optional region for this identity (any size; resized to each layer). For several "
                 "people, use one Apply node per identity, each with its own mask."})
LATENT = ("LATENT", {"tooltip": "Optional: the latent being sampled, so keypoints are drawn at the generation "
                     "size and aspect ratio (recommended when drawing from faces)."})
KPS_IMAGE = ("IMAGE", {"tooltip": "Optional keypoint image (from 'InstantID Face Keypoints'); without it the "
                       "keypoints of the identity's own faces are drawn."})
NODE_BOTH = "Apply InstantID + IdentityNet"


def _keypoints(identity: Identity, image_kps, faces: Optional[FacesResult], latent, node: str) -> torch.Tensor:
    if image_kps is not None:
        return image_kps
    source = faces or identity.faces
    if source is None:
        raise NodeInputError(node, "image_kps", "connect a keypoint image or the faces to draw it from")
    w = h = 0
    if latent is not None:
        h, w = (int(s) * 8 for s in latent["samples"].shape[-2:])
    return draw_faces(source, w, h, 0, node)


def _attention(model, identity, weight, start_at, end_at, mask, node):
    try:
        return patch_identity_attention(model, identity, weight, start_at, end_at, mask)
    except LayerMismatchError as exc:
        raise NodeInputError(node, "model", str(exc)) from exc


def _check_range(start_at, end_at, node):
    if start_at > end_at:
        raise NodeInputError(node, "start_at", f"start_at ({start_at}) is after end_at ({end_at})")


class InstantIDApplyAttention:
    DESCRIPTION = "Adds InstantID's identity attention to every cross-attention layer of an SDXL model (no ControlNet)."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "identity": (IDENTITY,), "weight": IP_WEIGHT,
                             "start_at": START, "end_at": END},
                "optional": {"mask": MASK}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "apply"
    CATEGORY = CATEGORY

    def apply(self, model, identity, weight, start_at, end_at, mask=None):
        node = "Apply InstantID Attention"
        _check_range(start_at, end_at, node)
        return (_attention(model, identity, weight, start_at, end_at, mask, node),)


class InstantIDApplyIdentityNet:
    DESCRIPTION = ("Applies IdentityNet (the InstantID ControlNet, loaded with ComfyUI's 'Load ControlNet Model') "
                   "with the identity tokens as its context. Chains with ControlNets already applied.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"positive": ("CONDITIONING",), "negative": ("CONDITIONING",),
                             "control_net": ("CONTROL_NET", {"tooltip": "IdentityNet from 'Load ControlNet Model'."}),
                             "identity": (IDENTITY,), "strength": CN_STRENGTH, "start_at": START, "end_at": END},
                "optional": {"image_kps": KPS_IMAGE, "faces": (FACES,), "latent": LATENT, "mask": MASK,
                             "vae": ("VAE",)}}

    RETURN_TYPES = ("CONDITIONING", "CONDITIONING")
    RETURN_NAMES = ("positive", "negative")
    FUNCTION = "apply"
    CATEGORY = CATEGORY

    def apply(self, positive, negative, control_net, identity, strength, start_at, end_at, image_kps=None,
              faces=None, latent=None, mask=None, vae=None):
        node = "Apply IdentityNet"
        _check_range(start_at, end_at, node)
        kps = _keypoints(identity, image_kps, faces, latent, node)
        return apply_identitynet(positive, negative, control_net, identity, kps, strength, start_at, end_at, mask, vae)


def apply_both(model, positive, negative, control_net, identity, ip_weight, cn_strength, start_at, end_at,
               image_kps=None, faces=None, latent=None, mask=None, node=NODE_BOTH):
    """Every step works on copies (a model clone, copied conditioning), so a failure anywhere leaves the
    inputs untouched; the model is checked against the adapter while it is patched."""
    _check_range(start_at, end_at, node)
    kps = _keypoints(identity, image_kps, faces, latent, node)
    patched = _attention(model, identity, ip_weight, start_at, end_at, mask, node)
    pos, neg = apply_identitynet(positive, negative, control_net, identity, kps, cn_strength, start_at, end_at, mask)
    return patched, pos, neg


class InstantIDApply:
    DESCRIPTION = "Identity attention and IdentityNet together: the standard InstantID setup."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "positive": ("CONDITIONING",), "negative": ("CONDITIONING",),
                             "control_net": ("CONTROL_NET", {"tooltip": "IdentityNet from 'Load ControlNet Model'."}),
                             "identity": (IDENTITY,), "ip_weight": IP_WEIGHT, "cn_strength": CN_STRENGTH,
                             "start_at": START, "end_at": END},
                "optional": {"image_kps": KPS_IMAGE, "faces": (FACES,), "latent": LATENT, "mask": MASK}}

    RETURN_TYPES = ("MODEL", "CONDITIONING", "CONDITIONING")
    RETURN_NAMES = ("model", "positive", "negative")
    FUNCTION = "apply"
    CATEGORY = CATEGORY

    def apply(self, **kwargs):
        return apply_both(**kwargs)


class _IdentityMemo:
    """The all-in-one node re-runs when only a weight changes; this keeps face analysis and the projection
    from re-running with it (keyed by the analyser, the adapter and the image's bytes)."""

    def __init__(self, size: int = 4):
        self.size = size
        self.items: "OrderedDict[tuple, tuple]" = OrderedDict()  # key -> (analyser, adapter, Identity)

    def get(self, face_analysis, instantid, image: torch.Tensor, node: str) -> Identity:
        digest = hashlib.sha1(image.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
        key = (id(face_analysis), id(instantid.patcher), instantid.policy, digest)
        entry = self.items.get(key)
        # the entry keeps the analyser and adapter alive, so their ids cannot be reused while it is cached
        if entry is None or entry[0] is not face_analysis or entry[1] is not instantid.patcher:
            from .face_nodes import InstantIDFaceDetect
            faces = InstantIDFaceDetect().detect(face_analysis, image, "largest", 0, "error")["result"][0]
            entry = (face_analysis, instantid.patcher, build_identity(instantid, faces, "average", node=node))
            self.items[key] = entry
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        self.items.move_to_end(key)
        return entry[2]


_MEMO = _IdentityMemo()


class InstantIDApplySimple:
    DESCRIPTION = ("All-in-one InstantID: face photo in, patched model and conditioning out. Built from the same "
                   "parts as the separate nodes; use those for several faces, masks or other ControlNets.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"face_analysis": (FACE_ANALYSIS,), "instantid": (INSTANTID,),
                             "control_net": ("CONTROL_NET", {"tooltip": "IdentityNet from 'Load ControlNet Model'."}),
                             "image": ("IMAGE", {"tooltip": "Reference photo(s) of one person (embeddings averaged)."}),
                             "model": ("MODEL",), "positive": ("CONDITIONING",), "negative": ("CONDITIONING",),
                             "ip_weight": IP_WEIGHT, "cn_strength": CN_STRENGTH, "start_at": START, "end_at": END},
                "optional": {"image_kps": KPS_IMAGE, "latent": LATENT, "mask": MASK}}

    RETURN_TYPES = ("MODEL", "CONDITIONING", "CONDITIONING")
    RETURN_NAMES = ("model", "positive", "negative")
    FUNCTION = "apply"
    CATEGORY = CATEGORY

    def apply(self, face_analysis, instantid, control_net, image, model, positive, negative, ip_weight, cn_strength,
              start_at, end_at, image_kps=None, latent=None, mask=None):
        node = "Apply InstantID (all-in-one)"
        identity = _MEMO.get(face_analysis, instantid, image, node)
        try:
            return apply_both(model, positive, negative, control_net, identity, ip_weight, cn_strength, start_at,
                              end_at, image_kps, None, latent, mask, node)
        except IdentityBatchError as exc:
            raise NodeInputError(node, "image", str(exc)) from exc
