"""What a model file is, from its safetensors header alone (no tensor data is read): an SDXL-family checkpoint,
an SDXL ControlNet in diffusers format (IdentityNet's layout), or something else."""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Dict, Optional

SDXL_ATTN2_K = "input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight"   # [640, 2048] in SDXL
CN_EMBED = "controlnet_cond_embedding.conv_in.weight"
CN_ATTN2_K = "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight"
SDXL_CONTEXT = 2048

SDXL_CHECKPOINT, OTHER_CHECKPOINT = "sdxl checkpoint", "checkpoint of another family"
SDXL_CONTROLNET, OTHER_CONTROLNET = "sdxl controlnet", "controlnet, not SDXL-shaped"


def safetensors_shapes(path) -> Dict[str, tuple]:
    """Tensor shapes from a safetensors header, without reading the data."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > 100_000_000:
            raise ValueError("header too large: not a safetensors file")
        header = json.loads(f.read(n))
    return {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}


def classify(path) -> Optional[str]:
    """One of the kinds above, or None (not safetensors, unreadable, or neither a checkpoint nor a ControlNet)."""
    try:
        shapes = safetensors_shapes(Path(path))
    except Exception:  # not a safetensors file: the caller reports what it expected
        return None
    if CN_EMBED in shapes:
        k = shapes.get(CN_ATTN2_K)
        sdxl = k is not None and k[1] == SDXL_CONTEXT and "add_embedding.linear_1.weight" in shapes
        return SDXL_CONTROLNET if sdxl else OTHER_CONTROLNET
    if any(key.startswith("model.diffusion_model.") for key in shapes):
        k = shapes.get("model.diffusion_model." + SDXL_ATTN2_K)
        return SDXL_CHECKPOINT if k is not None and k[1] == SDXL_CONTEXT else OTHER_CHECKPOINT
    return None
