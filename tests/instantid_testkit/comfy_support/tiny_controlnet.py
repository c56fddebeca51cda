"""A tiny SDXL-family ControlNet (same config family as the tiny UNet: cross-attention dim 2048,
``text_time`` addition embedding / adm 2816) written as a safetensors file that
``comfy.controlnet.load_controlnet`` (and so the ControlNetLoader node) loads."""
from __future__ import annotations

import os

import torch

from .tiny_sdxl import TINY_SDXL_UNET_CONFIG, register_tiny_sdxl
from .weights import init_weights_

__all__ = ["build_tiny_controlnet_module", "tiny_controlnet_state_dict", "write_tiny_controlnet"]


def build_tiny_controlnet_module(seed: int = 3, dtype=torch.float32, hint_channels: int = 3):
    """``comfy.cldm.cldm.ControlNet`` with the tiny SDXL config, all weights N(0, 0.02) (zero convs too,
    so the control signal is not zero)."""
    import comfy.cldm.cldm
    import comfy.model_detection
    import comfy.ops

    cfg = comfy.model_detection.convert_config(dict(TINY_SDXL_UNET_CONFIG))
    cfg.pop("out_channels")
    cfg.update(hint_channels=hint_channels, dtype=dtype, device="cpu", operations=comfy.ops.disable_weight_init)
    net = comfy.cldm.cldm.ControlNet(**cfg)
    return init_weights_(net, seed=seed)


def _ldm_to_diffusers_names(ldm_keys):
    """Invert the key map that comfy/controlnet.py load_controlnet_state_dict applies to diffusers files."""
    import comfy.model_detection
    import comfy.utils

    cfg = comfy.model_detection.convert_config(dict(TINY_SDXL_UNET_CONFIG))
    d2l = dict(comfy.utils.unet_to_diffusers(cfg))
    d2l["controlnet_mid_block.weight"] = "middle_block_out.0.weight"
    d2l["controlnet_mid_block.bias"] = "middle_block_out.0.bias"
    n_zero = len({k.split(".")[1] for k in ldm_keys if k.startswith("zero_convs.")})
    for i in range(n_zero):
        for s in ("weight", "bias"):
            d2l[f"controlnet_down_blocks.{i}.{s}"] = f"zero_convs.{i}.0.{s}"
    hint_idx = sorted({int(k.split(".")[1]) for k in ldm_keys if k.startswith("input_hint_block.")})
    for j, idx in enumerate(hint_idx):
        name = ("controlnet_cond_embedding.conv_in" if j == 0 else
                "controlnet_cond_embedding.conv_out" if j == len(hint_idx) - 1 else
                f"controlnet_cond_embedding.blocks.{j - 1}")
        for s in ("weight", "bias"):
            d2l[f"{name}.{s}"] = f"input_hint_block.{idx}.{s}"
    # several diffusers names can map to one ldm key (add_embedding.* / class_embedding.* …) and ComfyUI's map
    # is built from sets: choose deterministically, preferring the names InstantID's IdentityNet file uses
    l2d = {}
    for k, v in d2l.items():
        if v not in l2d or (not k.startswith("add_embedding"), k) < (not l2d[v].startswith("add_embedding"), l2d[v]):
            l2d[v] = k
    missing = [k for k in ldm_keys if k not in l2d]
    if missing:
        raise RuntimeError(f"no diffusers name for {missing[:5]}")
    return l2d


def tiny_controlnet_state_dict(fmt: str = "diffusers", seed: int = 3, dtype=torch.float16, hint_channels: int = 3):
    """State dict of the tiny ControlNet: ``fmt="diffusers"`` (diffusers ControlNetModel key names:
    ``controlnet_cond_embedding.conv_in.weight``, ``down_blocks.*``, ``controlnet_down_blocks.*``,
    ``controlnet_mid_block.*``, ``add_embedding.*`` …) or ``fmt="comfy"`` (ComfyUI/ldm names:
    ``input_hint_block.*``, ``zero_convs.*``, ``middle_block_out.*``)."""
    net = build_tiny_controlnet_module(seed=seed, dtype=torch.float32, hint_channels=hint_channels)
    sd = {k: v.detach().to(dtype).contiguous() for k, v in net.state_dict().items()}
    if fmt == "comfy":
        return sd
    if fmt != "diffusers":
        raise ValueError(fmt)
    l2d = _ldm_to_diffusers_names(list(sd))
    return {l2d[k]: v for k, v in sd.items()}


def write_tiny_controlnet(path, fmt: str = "diffusers", seed: int = 3, dtype=torch.float16, hint_channels: int = 3,
                          register: bool = True):
    """Write the tiny ControlNet to ``path`` (safetensors). About 16 MB in fp16.

    Stock ComfyUI accepts a diffusers-format ControlNet only if its config is one of a hard-coded list
    (comfy/model_detection.py ``unet_config_from_diffusers_unet``), so with ``fmt="diffusers"`` this calls
    :func:`register_tiny_sdxl` (``register=True``) which adds the tiny config to that detection in this
    process. ``fmt="comfy"`` files load with stock ComfyUI (ldm-format ControlNets fall back to a generic
    config: ``model_config_from_unet(..., use_base_if_no_match=True)``). Returns ``path``."""
    import comfy.utils

    if fmt == "diffusers" and register:
        register_tiny_sdxl()
    sd = tiny_controlnet_state_dict(fmt=fmt, seed=seed, dtype=dtype, hint_channels=hint_channels)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    comfy.utils.save_torch_file(sd, str(path))
    return path
