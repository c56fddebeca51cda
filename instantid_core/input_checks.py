"""Checks of node input values that ComfyUI's own validation lets through (it range-checks numbers, but a JSON
NaN passes every comparison), of tensors whose shape decides whether sampling can work at all, and of weights
that hold NaN/Inf. Each failure names the input, so the node that owns it reports it before anything runs.
The ground floor with errors: every other floor of the core may use these, and they import nothing but errors."""
from __future__ import annotations

import math
from typing import Mapping, Optional

import torch

from .errors import ADAPTER_DOWNLOAD_HINT, AdapterFormatError, IdentityBatchError, InputValueError


def require_finite(value: float, input_name: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise InputValueError(f"{value!r} is not a finite number", input_name)
    return float(value)


def require_range(start_at: float, end_at: float) -> None:
    require_finite(start_at, "start_at")
    require_finite(end_at, "end_at")
    if start_at > end_at:
        raise InputValueError(f"start_at ({start_at}) is after end_at ({end_at})", "start_at")


def checked_mask(mask: Optional[torch.Tensor], input_name: str = "mask") -> Optional[torch.Tensor]:
    """A MASK as [M, H, W] float32 on the CPU, or None. [H, W] gains a batch axis and [M, 1, H, W] loses its
    channel axis; anything else, an empty mask, or NaN/Inf values are refused."""
    if mask is None:
        return None
    mask = mask.detach()
    if mask.dim() == 2:
        mask = mask.unsqueeze(0)
    elif mask.dim() == 4 and mask.shape[1] == 1:
        mask = mask[:, 0]
    if mask.dim() != 3:
        raise InputValueError(f"a mask must be [H, W] or [batch, H, W]; got shape {tuple(mask.shape)}. Connect a "
                              f"MASK output (e.g. 'Load Image (as Mask)' or 'Solid Mask').", input_name)
    if mask.numel() == 0:
        raise InputValueError(f"the mask is empty (shape {tuple(mask.shape)})", input_name)
    mask = mask.float().cpu()
    if not torch.isfinite(mask).all():
        raise InputValueError("the mask contains NaN or infinite values", input_name)
    return mask


def check_batch(latent: Optional[dict], identities: int, masks: int = 1) -> None:
    """With the latent known, refuse a number of identities or masks that sampling would reject later."""
    if latent is None:
        return
    batch = int(latent["samples"].shape[0])
    if identities not in (1, batch):
        raise IdentityBatchError(f"{identities} identities do not fit the latent batch of {batch}: use one face, "
                                 f"one face per latent (batch size {identities}), or combine the faces into one "
                                 f"identity in the image projection node.", "identity")
    if batch % masks and masks != batch:
        raise IdentityBatchError(f"{masks} masks do not fit the latent batch of {batch}: give one mask or one "
                                 f"per latent.", "mask")


FINITE_CHUNK = 1 << 24  # elements checked at a time: bounded extra memory even for the 1.7 GB adapter file


def first_non_finite(tensors: Mapping[str, torch.Tensor]) -> Optional[str]:
    """The key of the first tensor holding NaN or Inf, or None. Reads each tensor in chunks (a memory-mapped
    file is never copied whole); callers run it only once a result came out non-finite, to name the culprit."""
    for key, t in tensors.items():
        flat = t.reshape(-1)  # any shape -> 1-D view (no copy for contiguous tensors)
        for start in range(0, flat.numel(), FINITE_CHUNK):
            if not torch.isfinite(flat[start:start + FINITE_CHUNK]).all():
                return key
    return None


def non_finite_weight_error(file_name: str, key: str, input_name: Optional[str] = None) -> AdapterFormatError:
    return AdapterFormatError(f"{file_name}: {key} contains NaN or infinite values, so every image would come out "
                              f"black or noise. The file is damaged: {ADAPTER_DOWNLOAD_HINT}", input_name)
