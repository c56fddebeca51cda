"""Deterministic weight initialisation (ComfyUI's ops skip init, so fresh models hold garbage)."""
from __future__ import annotations

import torch

__all__ = ["init_weights_"]

_NORMS = (torch.nn.LayerNorm, torch.nn.GroupNorm, torch.nn.BatchNorm2d, torch.nn.InstanceNorm2d)


@torch.no_grad()
def init_weights_(module: torch.nn.Module, seed: int = 0, std: float = 0.02) -> torch.nn.Module:
    """Fill every parameter of ``module`` in place: norms get weight 1 / bias 0, everything else
    N(0, std) drawn from a CPU generator seeded with ``seed`` (same values for any dtype/device).
    Zero-dimensional parameters (scales such as TAESD's vae_scale) are left alone only if they
    already hold a finite value; otherwise they are set to 1."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    for _, sub in module.named_modules():
        is_norm = isinstance(sub, _NORMS)
        for pname, p in sub.named_parameters(recurse=False):
            if p.dim() == 0:
                if not torch.isfinite(p).all():
                    p.fill_(1.0)
                continue
            if is_norm:
                p.fill_(1.0 if pname == "weight" else 0.0)
            else:
                vals = torch.empty(p.shape, dtype=torch.float32).normal_(0.0, std, generator=gen)
                p.copy_(vals.to(dtype=p.dtype, device=p.device))
    return module
