"""A tiny SDXL-architecture model (15.7 M-parameter UNet) built from ComfyUI's own classes, plus tiny
text encoders and a tiny VAE so that a complete single-file checkpoint can be written and loaded by
CheckpointLoaderSimple.

Stock ComfyUI only recognises SDXL checkpoints with model_channels 320 (comfy/supported_models.py
``SDXL.unet_config``) and a hard-coded list of diffusers UNet/ControlNet configs
(comfy/model_detection.py ``unet_config_from_diffusers_unet``). :func:`register_tiny_sdxl` therefore adds,
in this process only, a ``TinySDXL`` model config (a subclass of ComfyUI's SDXL config, so the model is a
real ``comfy.model_base.SDXL``) and teaches the diffusers detector the tiny config. Call it before loading
tiny files through ComfyUI's loaders. Nothing in ComfyUI's files changes.
"""
from __future__ import annotations

import math
import os

import torch

from .weights import init_weights_

__all__ = [
    "TINY_SDXL_UNET_CONFIG", "TINY_CONTEXT_DIM", "build_tiny_sdxl_model", "register_tiny_sdxl",
    "build_tiny_clip", "build_tiny_vae", "write_tiny_checkpoint", "write_tiny_unet",
]

TINY_CONTEXT_DIM = 2048

# Same keys as ComfyUI's detected SDXL config, smaller numbers (see shared/COMFYUI-TESTING.md).
# num_head_channels is 64 as in real SDXL: ComfyUI's model configs force it anyway
# (supported_models_base.BASE.unet_extra_config = {"num_heads": -1, "num_head_channels": 64}), so hidden 64 ->
# 1 head, hidden 128 -> 2 heads of 64.
TINY_SDXL_UNET_CONFIG = {
    'use_checkpoint': False, 'image_size': 32, 'out_channels': 4, 'use_spatial_transformer': True,
    'legacy': False, 'num_classes': 'sequential', 'adm_in_channels': 2816, 'in_channels': 4,
    'model_channels': 32, 'num_res_blocks': [2, 2, 2], 'transformer_depth': [0, 0, 1, 1, 2, 2],
    'channel_mult': [1, 2, 4], 'transformer_depth_middle': 2, 'use_linear_in_transformer': True,
    'context_dim': TINY_CONTEXT_DIM, 'num_head_channels': 64,
    'transformer_depth_output': [0, 0, 0, 1, 1, 1, 2, 2, 2], 'use_temporal_attention': False,
    'use_temporal_resblock': False,
}

# Keys that ComfyUI's model-config matcher compares (supported_models_base.BASE.matches).
_TINY_MATCH = {
    "model_channels": 32, "use_linear_in_transformer": True, "transformer_depth": [0, 0, 1, 1, 2, 2],
    "context_dim": TINY_CONTEXT_DIM, "adm_in_channels": 2816, "use_temporal_attention": False,
}

# Overrides for ComfyUI's CLIP text-model json configs ("<model_name>_model_config" model option,
# comfy/sd1_clip.py SDClipModel.__init__). Full vocabulary (the real tokenizer is used), tiny widths;
# >= 3 layers because SDXL takes CLIP-L's layer -2 (sd1_clip asserts abs(layer_idx) < num_layers).
TINY_CLIP_L_CONFIG = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
                      "num_hidden_layers": 3}
TINY_CLIP_G_CONFIG = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
                      "num_hidden_layers": 3}

TINY_POOLED_DIM = 1280  # SDXL's adm: 1280 pooled + 6 * 256 size embeddings = 2816

_CLASSES: dict = {}


def _tile(t, width):
    """Repeat the last dimension of ``t`` until it is ``width`` wide (test-only widening)."""
    if t is None or t.shape[-1] == width:
        return t
    reps = [1] * (t.dim() - 1) + [math.ceil(width / t.shape[-1])]
    return t.repeat(*reps)[..., :width]


def _classes():
    """Create (once) the ComfyUI subclasses; needs ComfyUI importable."""
    if _CLASSES:
        return _CLASSES
    import comfy.sdxl_clip
    import comfy.supported_models
    import comfy.supported_models_base

    class TinySDXLClipModel(comfy.sdxl_clip.SDXLClipModel):
        """ComfyUI's SDXL CLIP-L + CLIP-G pair with tiny widths; the 64-wide token features are tiled
        to the 2048-wide context an SDXL UNet expects (test-only, deterministic, prompt dependent)."""

        def __init__(self, device="cpu", dtype=None, model_options={}):
            model_options = {**model_options, "clip_l_model_config": dict(TINY_CLIP_L_CONFIG),
                             "clip_g_model_config": dict(TINY_CLIP_G_CONFIG)}
            super().__init__(device=device, dtype=dtype, model_options=model_options)

        def encode_token_weights(self, token_weight_pairs):
            out = super().encode_token_weights(token_weight_pairs)
            return (_tile(out[0], TINY_CONTEXT_DIM), _tile(out[1], TINY_POOLED_DIM)) + tuple(out[2:])

    class TinySDXL(comfy.supported_models.SDXL):
        unet_config = dict(_TINY_MATCH)

        def clip_target(self, state_dict={}):
            return comfy.supported_models_base.ClipTarget(comfy.sdxl_clip.SDXLTokenizer, TinySDXLClipModel)

    _CLASSES.update(TinySDXL=TinySDXL, TinySDXLClipModel=TinySDXLClipModel)
    return _CLASSES


def register_tiny_sdxl():
    """Idempotent, process-local: make ComfyUI's loaders recognise the tiny SDXL family.

    * ``TinySDXL`` goes first in ``comfy.supported_models.models`` (used by
      ``comfy.model_detection.model_config_from_unet`` → CheckpointLoaderSimple, UNETLoader);
    * ``comfy.model_detection.unet_config_from_diffusers_unet`` is wrapped so a diffusers-format state dict
      with conv_in of 32 channels and the tiny depths maps to :data:`TINY_SDXL_UNET_CONFIG` (used by
      ``comfy.controlnet.load_controlnet`` for diffusers ControlNets and by UNETLoader for diffusers UNets).
    Returns the ``TinySDXL`` class."""
    import comfy.model_detection
    import comfy.supported_models

    cls = _classes()["TinySDXL"]
    if cls not in comfy.supported_models.models:
        comfy.supported_models.models.insert(0, cls)
    orig = comfy.model_detection.unet_config_from_diffusers_unet
    if not getattr(orig, "_tiny_sdxl", False):
        def unet_config_from_diffusers_unet(state_dict, dtype=None):
            cfg = orig(state_dict, dtype)
            if cfg is None and _looks_tiny_diffusers(state_dict):
                cfg = comfy.model_detection.convert_config({**TINY_SDXL_UNET_CONFIG, "dtype": dtype})
            return cfg
        unet_config_from_diffusers_unet._tiny_sdxl = True
        unet_config_from_diffusers_unet._orig = orig
        comfy.model_detection.unet_config_from_diffusers_unet = unet_config_from_diffusers_unet
    return cls


def _looks_tiny_diffusers(sd) -> bool:
    w = sd.get("conv_in.weight")
    if w is None or tuple(w.shape[:2]) != (TINY_SDXL_UNET_CONFIG["model_channels"], 4):
        return False
    k = sd.get("down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight")
    return k is not None and k.shape[1] == TINY_CONTEXT_DIM


def _model_config(dtype, manual_cast_dtype):
    cls = _classes()["TinySDXL"]
    mc = cls(dict(TINY_SDXL_UNET_CONFIG))
    mc.set_inference_dtype(dtype, manual_cast_dtype)
    return mc


def build_tiny_sdxl_model(dtype=torch.float32, seed: int = 0, manual_cast_dtype="auto", load_device=None):
    """A ``comfy.model_patcher.ModelPatcher`` around a ``comfy.model_base.SDXL`` with the tiny UNet,
    weights N(0, 0.02) from ``seed`` (norms 1/0), stored in ``dtype`` on the offload device.

    ``manual_cast_dtype="auto"`` picks what ComfyUI's loader would (``unet_manual_cast(dtype, load_device)``:
    fp16/bf16 weights on the CPU compute in fp32); pass None to force no manual cast.
    The BaseModel is ``patcher.model``; the UNet is ``patcher.model.diffusion_model``."""
    import comfy.model_management as mm
    import comfy.model_patcher

    load_device = load_device if load_device is not None else mm.get_torch_device()
    if manual_cast_dtype == "auto":
        manual_cast_dtype = mm.unet_manual_cast(dtype, load_device)
    mc = _model_config(dtype, manual_cast_dtype)
    model = mc.get_model({}, device="cpu")
    init_weights_(model.diffusion_model, seed=seed)
    model.to(mm.unet_offload_device())
    return comfy.model_patcher.ModelPatcher(model, load_device=load_device, offload_device=mm.unet_offload_device())


def build_tiny_clip(seed: int = 1, dtype=None):
    """A ``comfy.sd.CLIP`` with ComfyUI's SDXL tokenizer and tiny CLIP-L/CLIP-G encoders (context 2048,
    pooled 1280), weights N(0, 0.02)."""
    import comfy.sd
    import comfy.supported_models_base

    target = comfy.supported_models_base.ClipTarget(__import__("comfy.sdxl_clip").sdxl_clip.SDXLTokenizer,
                                                    _classes()["TinySDXLClipModel"])
    opts = {} if dtype is None else {"dtype": dtype}
    clip = comfy.sd.CLIP(target, model_options=opts)
    init_weights_(clip.cond_stage_model, seed=seed)
    return clip


def build_tiny_vae(seed: int = 2):
    """A ``comfy.sd.VAE`` around ComfyUI's TAESD (``taesd_encoder``/``taesd_decoder`` keys, 4 latent
    channels, 8x scale), weights N(0, 0.02): ~2.4 M parameters, finite outputs."""
    import comfy.sd
    import comfy.taesd.taesd

    t = comfy.taesd.taesd.TAESD(latent_channels=4)
    init_weights_(t, seed=seed)
    with torch.no_grad():
        t.vae_scale.fill_(1.0)
        t.vae_shift.fill_(0.0)
    return comfy.sd.VAE(sd=t.state_dict())


def write_tiny_checkpoint(path, dtype=torch.float16, seed: int = 0, model=None, clip=None, vae=None):
    """Write a single-file SDXL-layout checkpoint (``model.diffusion_model.*``,
    ``conditioner.embedders.0.transformer.*`` CLIP-L, ``conditioner.embedders.1.model.*`` CLIP-G,
    ``first_stage_model.taesd_*`` VAE) with ComfyUI's own ``comfy.sd.save_checkpoint``.
    CheckpointLoaderSimple loads it after :func:`register_tiny_sdxl`. About 48 MB (fp16 UNet, fp16 text encoders,
    fp32 TAESD). Pass ``model``/``clip``/``vae`` (from the build_* functions) to save those exact weights.
    Returns ``path``."""
    import comfy.sd

    register_tiny_sdxl()
    model = model if model is not None else build_tiny_sdxl_model(dtype=dtype, seed=seed)
    clip = clip if clip is not None else build_tiny_clip(seed=seed + 1)
    vae = vae if vae is not None else build_tiny_vae(seed=seed + 2)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    comfy.sd.save_checkpoint(str(path), model, clip, vae)
    return path


def write_tiny_unet(path, dtype=torch.float16, seed: int = 0):
    """Write the tiny UNet alone (``diffusion_models`` format, ComfyUI/ldm key names) for UNETLoader
    (after :func:`register_tiny_sdxl`). Returns ``path``."""
    import comfy.utils

    p = build_tiny_sdxl_model(dtype=dtype, seed=seed)
    sd = {k: v.contiguous() for k, v in p.model.diffusion_model.state_dict().items()}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    comfy.utils.save_torch_file(sd, str(path))
    return path
