"""A readable account of where each InstantID module lives and which dtype it computes in."""
from __future__ import annotations

from typing import Optional

import torch
import comfy.model_management as mm

from ..instantid_core.identity_attention import attention_compute_dtype
from ..instantid_core.precision import IDENTITY_KV, PROJECTION
from .placement import compute_placement, weights_device
from .values import InstantIDHandle


def _name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def precision_report(handle: InstantIDHandle, kv_nbytes: Optional[int] = None, identities: int = 1) -> str:
    model = handle.model
    size_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    policy = handle.policy
    unet_device = mm.get_torch_device()
    unet_dtype = mm.unet_dtype(device=unet_device)
    attn = _name(attention_compute_dtype(unet_device, unet_dtype))
    lines = [f"InstantID precision policy: {policy.mode.value} (half type {_name(policy.half_dtype)})",
             f"adapter weights : {weights_device(model).type}, stored {_name(model.weight_dtype())}, "
             f"{size_mb:.0f} MB (offload device {handle.patcher.offload_device})"]
    for kind in (PROJECTION, IDENTITY_KV):
        device, dtype = compute_placement(handle, kind)
        lines.append(f"{kind:<16}: {device.type} / {_name(dtype)}")
    count = f"{identities} identit{'y' if identities == 1 else 'ies'}"
    kv = "" if kv_nbytes is None else f"; identity K/V {kv_nbytes / 2**20:.1f} MB for {count}"
    lines.append(f"identity attn   : {unet_device.type} / {attn} (inside the UNet, output in its dtype){kv}")
    return "\n".join(lines)
