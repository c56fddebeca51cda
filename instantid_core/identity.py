"""Identity tokens and their per-layer K/V: computed once per face, served to every attn2 layer.

The K/V weights (~340 M parameters at SDXL size) are only read here; what sampling keeps is the
small result (about 21 MB fp32 for one identity at SDXL size), cast at most once per device/dtype.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from .instantid_model import InstantIDModel
from .precision import run_in_dtype

LayerCallback = Optional[Callable[[int, int], None]]  # (done, total): progress and interrupt checks


@dataclass
class IdentityTokens:
    """cond: projection of the face embeddings; uncond: projection of the negative (zero) embeddings."""
    cond: torch.Tensor    # [I, T, C]
    uncond: torch.Tensor  # [I, T, C]


def negative_embeddings(embeds: torch.Tensor, noise: float = 0.0, seed: int = 0) -> torch.Tensor:
    """Zero embedding, optionally with noise from a private generator (the global RNG is never touched)."""
    neg = torch.zeros_like(embeds, dtype=torch.float32)
    if noise > 0:
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        neg = neg + noise * torch.randn(neg.shape, generator=gen, dtype=torch.float32)
    return neg


def project_identity(model: InstantIDModel, embeds: torch.Tensor, device: torch.device, dtype: torch.dtype,
                     negative: Optional[torch.Tensor] = None) -> IdentityTokens:
    """Run the resampler on ``device`` in ``dtype`` (model untouched); tokens come back float32 on the CPU."""
    embeds = embeds.detach().float().reshape(embeds.shape[0], -1)
    if not torch.isfinite(embeds).all():
        raise ValueError("the face embedding contains NaN or infinite values; re-run face analysis on a clear photo")
    negative = negative_embeddings(embeds) if negative is None else negative.float().reshape(embeds.shape)
    with torch.inference_mode():
        tokens = run_in_dtype(model.image_proj, device, dtype, torch.cat((embeds, negative)))
    tokens = tokens.float().cpu()
    return IdentityTokens(cond=tokens[: len(embeds)], uncond=tokens[len(embeds):])


@dataclass
class LayerKV:
    k_cond: torch.Tensor
    v_cond: torch.Tensor
    k_uncond: torch.Tensor
    v_uncond: torch.Tensor

    def to(self, device: torch.device, dtype: torch.dtype) -> "LayerKV":
        return LayerKV(*(t.to(device=device, dtype=dtype) for t in (self.k_cond, self.v_cond,
                                                                     self.k_uncond, self.v_uncond)))

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.k_cond, self.v_cond, self.k_uncond, self.v_uncond))


@dataclass
class IdentityKV:
    """Per weight key n: K/V of cond and uncond tokens. ``get`` casts once per (device, dtype)."""
    layers: Dict[int, LayerKV]
    identities: int
    _cache: Dict[Tuple[str, torch.dtype], Dict[int, LayerKV]] = field(default_factory=dict, repr=False)

    def get(self, n: int, device: torch.device, dtype: torch.dtype) -> LayerKV:
        key = (str(torch.device(device)), dtype)
        master = self.layers[n]
        if master.k_cond.device == torch.device(device) and master.k_cond.dtype == dtype:
            return master
        per_layer = self._cache.setdefault(key, {})
        if n not in per_layer:
            per_layer[n] = master.to(device, dtype)
        return per_layer[n]

    def release(self) -> None:
        """Drop device copies (the master copy stays)."""
        self._cache.clear()

    @property
    def nbytes(self) -> int:
        return sum(kv.nbytes for kv in self.layers.values())

    def cached_nbytes(self) -> int:
        return sum(kv.nbytes for d in self._cache.values() for kv in d.values())


def compute_identity_kv(model: InstantIDModel, tokens: IdentityTokens, device: torch.device, dtype: torch.dtype,
                        on_layer: LayerCallback = None) -> IdentityKV:
    """K = tokens·W_kᵀ, V = tokens·W_vᵀ for every layer, computed on ``device`` in ``dtype``.

    Weights are converted one layer at a time, so a half-precision file on the CPU never needs a full
    float32 copy. The result stays where it was computed; ``IdentityKV.get`` serves other placements.
    """
    both = torch.cat((tokens.cond, tokens.uncond)).to(device=device, dtype=dtype)
    count = tokens.cond.shape[0]
    layers: Dict[int, LayerKV] = {}
    items = sorted(model.ip_adapter.items(), key=lambda kv: int(kv[0]))
    with torch.inference_mode():
        for i, (n, proj) in enumerate(items):
            k = F.linear(both, proj.to_k_ip.weight.to(device=device, dtype=dtype))
            v = F.linear(both, proj.to_v_ip.weight.to(device=device, dtype=dtype))
            layers[int(n)] = LayerKV(k[:count], v[:count], k[count:], v[count:])
            if on_layer is not None:
                on_layer(i + 1, len(items))
    return IdentityKV(layers=layers, identities=count)
