"""Image projection: faces -> identity tokens and every layer's identity K/V, computed once."""
from __future__ import annotations

import torch

from ..instantid_core.errors import InputValueError
from ..instantid_core.compute.identity import COMBINE_MODES, combine_embeddings, compute_identity_kv, negative_embeddings, \
    project_identity
from ..instantid_core.compute.precision import IDENTITY_KV, PROJECTION
from ..instantid_core.faces.manual_layout import require_embeddings
from .comfy_glue import layer_progress
from .node_base import InstantIDNode
from .placement import compute_placement, precision_report, weights_on
from .values import FACES, IDENTITY, INSTANTID, FacesResult, Identity, InstantIDHandle


def faces_embeddings(faces: FacesResult) -> torch.Tensor:
    """Every kept face of every image, in order -> [N, 512] float32."""
    require_embeddings(faces.images, "faces")
    embeds = [torch.from_numpy(f.embedding.copy()) for image in faces.images for f in image.faces]
    if not embeds:
        raise InputValueError("no face was detected in any reference image; use a clearer photo", "faces")
    return torch.stack(embeds).float()


def build_identity(handle: InstantIDHandle, faces: FacesResult, combine: str = "average", noise: float = 0.0,
                   seed: int = 0) -> Identity:
    raw = faces_embeddings(faces)
    embeds = combine_embeddings(raw, combine)
    device, dtype = compute_placement(handle, PROJECTION)
    kv_device, kv_dtype = compute_placement(handle, IDENTITY_KV)
    negative = negative_embeddings(embeds, noise, seed)
    step = layer_progress(len(handle.model.ip_adapter) + 1)
    with weights_on(handle, device):
        tokens = project_identity(handle.model, embeds, device, dtype, negative=negative)  # [I, 16, C] each
        step(1, 0)
        if combine == "concat":  # one identity whose token sequence holds every reference: [1, I·16, C]
            tokens.cond, tokens.uncond = (t.reshape(1, -1, t.shape[-1]) for t in (tokens.cond, tokens.uncond))
        kv = compute_identity_kv(handle.model, tokens, kv_device, kv_dtype, on_layer=lambda d, t: step(d + 1, t))
    report = precision_report(handle, kv.nbytes, kv.identities) + _saved_note(faces, combine)
    return Identity(tokens=tokens, kv=kv, layer_hidden_sizes=handle.model.layer_hidden_sizes, report=report,
                    faces=faces, embeddings=raw, combine=combine)


def _saved_note(faces: FacesResult, combine: str) -> str:
    if faces.saved is None:
        return ""
    name, saved_combine = faces.saved
    note = f"\nfaces from the saved identity '{name}' (no face analysis)"
    if saved_combine and saved_combine != combine:
        note += f"; it was saved with combine = {saved_combine}, this node uses {combine}"
    return note


class InstantIDImageProjection(InstantIDNode):
    NODE_ID = "ImageProjection"
    # its UI output (the report web/instantid.js shows) is sent again when a run serves it from the cache
    # (ComfyUI 0.33+; older cores ignore it and the extension reads the prompt's history instead)
    HAS_INTERMEDIATE_OUTPUT = True
    DISPLAY_NAME = "InstantID Image Projection"
    DESCRIPTION = ("Turns face embeddings into InstantID identity tokens and precomputes every layer's identity "
                   "K/V once, so sampling only reads a small cache.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "instantid": (INSTANTID, {"tooltip": "From 'InstantID Model Loader' or the Precision/Offload node."}),
            "faces": (FACES, {"tooltip": "From 'InstantID Face Detect'."}),
            "combine": (list(COMBINE_MODES), {"default": "average", "tooltip":
                        "Several reference faces: average the embeddings, average their directions "
                        "(norm_average), concatenate the identity tokens, keep one identity per latent of the "
                        "batch (one_per_latent), or instantx_multi_photo: all photos as one sequence into the "
                        "resampler, as InstantX's own pipeline does. With one photo all modes are the same."}),
            "negative_noise": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.01, "tooltip":
                               "Noise on the negative (zero) embedding; 0 = the published behaviour."}),
            "seed": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "tooltip":
                     "Seed for the negative noise (a private generator; the global seed is untouched)."}),
        }}

    RETURN_TYPES = (IDENTITY, "STRING")
    RETURN_NAMES = ("identity", "report")
    OUTPUT_TOOLTIPS = ("The identity: 16 tokens per face and every layer's identity K/V, for the Apply nodes.",
                       "Text: where the projection ran, dtypes and the size of the K/V cache (also shown on the "
                       "node).")
    FUNCTION = "project"

    def project(self, instantid, faces, combine, negative_noise, seed):
        identity = build_identity(instantid, faces, combine, negative_noise, seed)
        return {"ui": {"text": [identity.report]}, "result": (identity, identity.report)}
