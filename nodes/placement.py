"""Where the one-off embedding work runs, arranged through ComfyUI's memory manager, and the report of it.
The decisions themselves (device, dtype) are instantid_core.compute.precision's; this module supplies ComfyUI's facts."""
from __future__ import annotations

import contextlib
from typing import Optional

import torch
import comfy.model_management as mm

from ..instantid_core.compute.precision import IDENTITY_KV, PROJECTION, attention_compute_dtype, dtype_name
from .values import InstantIDHandle


def weights_device(model: torch.nn.Module) -> torch.device:
    """The device holding most of the adapter's parameter bytes. Not simply the first parameter's: ComfyUI's
    dynamic VRAM loader moves the parameters a module holds next to submodules (the resampler's ``latents``) to
    the GPU for good, while the bulk goes back to the offload device when the adapter is unloaded."""
    totals = {}
    for p in model.parameters():
        totals[p.device] = totals.get(p.device, 0) + p.numel() * p.element_size()
    return max(totals, key=totals.get)


def adapter_patcher(model: torch.nn.Module, load_device, offload_device):
    """ComfyUI's patcher for the adapter: the class the core uses for its own models where it has one.

    With dynamic VRAM (ComfyUI 2026, comfy-aimdo, on by default on NVIDIA) ``comfy.model_patcher.CoreModelPatcher``
    is rebound to ModelPatcherDynamic at start-up, and load_models_gpu frees memory "for dynamic" only when every
    model it loads is dynamic: a plain ModelPatcher next to the dynamic UNet makes it run a non-dynamic free,
    which can unload the whole UNet (and asks for pinned RAM the size of the adapter) for this one-off load.
    A dynamic patcher casts the adapter's plain nn.Linear / LayerNorm weights to the GPU whole and puts the
    originals back when it is unloaded, which is all the one-off projection needs. ModelPatcherDynamic hands
    CPU load devices to ModelPatcher itself; cores without CoreModelPatcher (v0.3.64) get ModelPatcher.
    Looked up at call time, because the core rebinds the name after this pack is imported."""
    import comfy.model_patcher
    cls = getattr(comfy.model_patcher, "CoreModelPatcher", comfy.model_patcher.ModelPatcher)
    return cls(model, load_device=load_device, offload_device=offload_device)


def compute_placement(handle: InstantIDHandle, kind: str):
    """(device, dtype) for a module kind, as the handle's policy decides for where the weights are now."""
    return handle.policy.placement(kind, weights_device(handle.model), handle.patcher.load_device)


@contextlib.contextmanager
def weights_on(handle: InstantIDHandle, device: torch.device):
    """Make the adapter available on ``device`` for the duration of the block.

    Moving to the load device goes through comfy.model_management.load_models_gpu, so other models are
    offloaded to make room and the adapter is accounted for; afterwards it goes back to its offload device.
    """
    patcher = handle.patcher
    if weights_device(handle.model) == torch.device(device) or torch.device(device).type == "cpu":
        yield  # CPU work reads the weights where they are; run_in_dtype copies per layer if needed
        return
    mm.load_models_gpu([patcher])
    try:
        yield
    finally:
        _unload(patcher)


def _unload(patcher) -> None:
    for i, loaded in enumerate(list(mm.current_loaded_models)):
        if loaded.model is patcher:
            loaded.model_unload()
            mm.current_loaded_models.pop(i)
            break
    mm.soft_empty_cache()


def precision_report(handle: InstantIDHandle, kv_nbytes: Optional[int] = None, identities: int = 1) -> str:
    """A readable account of where each InstantID module lives and which dtype it computes in."""
    model, policy = handle.model, handle.policy
    size_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    unet_device = mm.get_torch_device()
    attn = dtype_name(attention_compute_dtype(unet_device, mm.unet_dtype(device=unet_device)))
    lines = [f"InstantID precision policy: {policy.mode.value} (half type {dtype_name(policy.half_dtype)})",
             f"adapter weights : {weights_device(model).type}, stored {dtype_name(model.weight_dtype())}, "
             f"{size_mb:.0f} MB (offload device {handle.patcher.offload_device})"]
    lines += [policy.describe(kind, weights_device(model), handle.patcher.load_device)
              for kind in (PROJECTION, IDENTITY_KV)]
    count = f"{identities} identit{'y' if identities == 1 else 'ies'}"
    kv = "" if kv_nbytes is None else f"; identity K/V {kv_nbytes / 2**20:.1f} MB for {count}"
    lines.append(f"identity attn   : {unet_device.type} / {attn} (inside the UNet, output in its dtype){kv}")
    return "\n".join(lines)
