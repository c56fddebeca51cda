"""Deciding and arranging where the one-off embedding work runs, through ComfyUI's memory manager."""
from __future__ import annotations

import contextlib

import torch
import comfy.model_management as mm

from ..instantid_core.precision import PrecisionMode
from .values import InstantIDHandle


def weights_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def compute_placement(handle: InstantIDHandle, kind: str):
    """(device, dtype) for a module kind: where the weights are, unless the policy asks for the GPU."""
    policy = handle.policy
    preferred = handle.patcher.load_device if policy.mode is PrecisionMode.HALF_ON_GPU \
        else weights_device(handle.model)
    device = policy.compute_device(kind, preferred)
    return device, policy.compute_dtype(kind, device)


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
