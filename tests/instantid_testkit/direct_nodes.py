"""Nodes run by calling their functions directly, in inference mode as ComfyUI's executor runs them: for checks
at the level of ComfyUI's objects (ModelPatcher clones, conditioning, sampling) that need no prompt executor."""
from __future__ import annotations

from types import SimpleNamespace

import torch

PREFIX = "InstantIDPrecision_"


def run_node(class_type, **inputs):
    import nodes
    cls = nodes.NODE_CLASS_MAPPINGS[class_type]
    with torch.inference_mode():
        out = getattr(cls(), cls.FUNCTION)(**inputs)
    return out["result"] if isinstance(out, dict) else out


def text_conditioning(seed: int, context_dim: int = 2048, pooled_dim: int = 1280):
    """SDXL-shaped conditioning from a private generator (no text encoder, the same tensors on every core)."""
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, 77, context_dim, generator=g), {"pooled_output": torch.randn(1, pooled_dim, generator=g)}]]


def direct_chain(adapter="ip-adapter.safetensors", image="face.png"):
    """The tiny checkpoint, the tiny IdentityNet and one identity (face analysis + projection), node by node."""
    import nodes
    model, clip, vae = run_node("CheckpointLoaderSimple", ckpt_name="tiny_sdxl.safetensors")[:3]
    control_net = run_node("ControlNetLoader", control_net_name="tiny_identitynet.safetensors")[0]
    photo = nodes.LoadImage().load_image(image)[0]
    analysis = run_node(PREFIX + "FaceAnalysisLoader", provider="CPU", det_size="640")[0]
    faces = run_node(PREFIX + "FaceDetect", face_analysis=analysis, image=photo, selection="largest", face_index=0,
                     on_no_face="error")[0]
    instantid = run_node(PREFIX + "ModelLoader", instantid_file=adapter)[0]
    identity = run_node(PREFIX + "ImageProjection", instantid=instantid, faces=faces, combine="average",
                        negative_noise=0.0, seed=0)[0]
    return SimpleNamespace(base=model, clip=clip, vae=vae, control_net=control_net, identity=identity, faces=faces,
                           instantid=instantid, pos=text_conditioning(1), neg=text_conditioning(2))


def layer_terms(attention_patch, model) -> dict:
    """Per attn2 layer of ``model``: (identity terms, chained terms) its patch adds, following wrapped patches.
    ``attention_patch`` is the pack's nodes.attention_patch module; other patches are the chaining stand-in's
    (``callbacks``) or IPAdapter_plus's / cubiq InstantID's Attn2Replace (``callback``)."""

    def count(patch):
        if patch is None:
            return 0, 0
        if isinstance(patch, attention_patch.IdentityAttentionPatch):
            identity, chained = count(patch.previous)
            return identity + 1, chained + len(patch.added)
        return 0, len(patch.callbacks if hasattr(patch, "callbacks") else patch.callback)

    return {key: count(p) for key, p in attention_patch.installed_patches(model).items()}


def sample(model, positive, negative, seed=5, steps=1, size=8):
    """KSampler's own path (nodes.common_ksampler), euler; returns the latent."""
    import nodes
    with torch.inference_mode():
        latent = {"samples": torch.zeros(1, 4, size, size)}
        return nodes.common_ksampler(model, seed, steps, 4.0, "euler", "normal", positive, negative, latent)[0]["samples"]
