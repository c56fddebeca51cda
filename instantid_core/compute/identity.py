"""Identity tokens and their per-layer K/V: computed once per face, served to every attn2 layer.

The K/V weights (~340 M parameters at SDXL size) are only read here (and checked here: a NaN/Inf result names the
damaged weight, so loading never has to read the file); what sampling keeps is the
small result (about 21 MB fp32 for one identity at SDXL size), cast at most once per device/dtype.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from .instantid_model import InstantIDModel
from ..errors import InputValueError
from ..input_checks import first_non_finite, non_finite_weight_error
from .precision import dtype_name, run_in_dtype

LayerCallback = Optional[Callable[[int, int], None]]  # (done, total): progress and interrupt checks


@dataclass
class IdentityTokens:
    """cond: projection of the face embeddings; uncond: projection of the negative (zero) embeddings."""
    cond: torch.Tensor    # [I, T, C]
    uncond: torch.Tensor  # [I, T, C]


COMBINE_MODES = ("average", "norm_average", "concat", "one_per_latent", "instantx_multi_photo")


def combine_embeddings(embeds: torch.Tensor, how: str) -> torch.Tensor:
    """[N, 512] raw face embeddings -> the projection's input.

    average / norm_average -> [1, 512]; concat / one_per_latent -> [N, 512] (N identities; concat joins their
    tokens afterwards); instantx_multi_photo -> [1, N, 512]: every photo enters the resampler as one sequence,
    which is what InstantX's pipeline does with several reference photos (for one photo all modes agree).
    """
    if how == "average":
        return embeds.mean(0, keepdim=True)
    if how == "norm_average":  # average directions, keep the raw magnitude InstantID was trained on
        unit = embeds / embeds.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        mean = unit.mean(0, keepdim=True)
        return mean / mean.norm(dim=-1, keepdim=True).clamp_min(1e-6) * embeds.norm(dim=-1).mean()
    if how in ("concat", "one_per_latent"):
        return embeds
    if how == "instantx_multi_photo":
        return embeds.unsqueeze(0)  # [N, 512] -> [1, N, 512]
    raise InputValueError(f"unknown combine mode {how!r}; expected one of {COMBINE_MODES}", "combine")


def negative_embeddings(embeds: torch.Tensor, noise: float = 0.0, seed: int = 0) -> torch.Tensor:
    """Zero embedding, optionally with noise from a private generator (the global RNG is never touched)."""
    neg = torch.zeros_like(embeds, dtype=torch.float32)
    if noise > 0:
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        neg = neg + noise * torch.randn(neg.shape, generator=gen, dtype=torch.float32)
    return neg


def project_identity(model: InstantIDModel, embeds: torch.Tensor, device: torch.device, dtype: torch.dtype,
                     negative: Optional[torch.Tensor] = None) -> IdentityTokens:
    """Run the resampler on ``device`` in ``dtype`` (model untouched); tokens come back float32 on the CPU.

    ``embeds``: [I, 512] (one embedding per identity) or [I, N, 512] (a sequence of N per identity)."""
    embeds = embeds.detach().float()
    if embeds.dim() not in (2, 3):
        raise InputValueError(f"face embeddings must be [identities, 512] or [identities, photos, 512], got "
                              f"{tuple(embeds.shape)}", "faces")
    if not torch.isfinite(embeds).all():
        raise InputValueError("the face embedding contains NaN or infinite values; re-run face analysis on a "
                              "clear photo", "faces")
    negative = negative_embeddings(embeds) if negative is None else negative.float().reshape(embeds.shape)
    with torch.inference_mode():
        tokens = run_in_dtype(model.image_proj, device, dtype, torch.cat((embeds, negative)))  # [2I, T, C]
    tokens = tokens.float().cpu()
    if not torch.isfinite(tokens).all():
        _refuse_damaged_weights(model, {f"image_proj.{k}": t for k, t in model.image_proj.state_dict().items()})
        raise InputValueError(f"the image projection produced NaN or infinite identity tokens from finite face "
                              f"embeddings: the adapter's image_proj weights are damaged, or {dtype_name(dtype)} "
                              f"overflowed on {torch.device(device).type}. Re-download the adapter, or set the "
                              f"Precision / Offload node's mode to float32.", "instantid")
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


def _refuse_damaged_weights(model: InstantIDModel, weights: Dict[str, torch.Tensor]) -> None:
    """A result came out NaN/Inf: if one of ``weights`` holds NaN/Inf (read only now, on this failure path), the
    file is damaged — say which tensor. Loading never reads the weights, so this is where a bad file surfaces."""
    key = first_non_finite(weights)
    if key is not None:
        raise non_finite_weight_error(model.source_name, key, input_name="instantid")


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
            if not (torch.isfinite(k).all() and torch.isfinite(v).all()):
                _refuse_damaged_weights(model, {f"ip_adapter.{n}.to_k_ip.weight": proj.to_k_ip.weight,
                                                f"ip_adapter.{n}.to_v_ip.weight": proj.to_v_ip.weight})
                raise InputValueError(f"identity layer {n}'s K/V overflowed in {dtype_name(dtype)} on "
                                      f"{torch.device(device).type}; set the Precision / Offload node's mode to "
                                      f"float32.", "instantid")
            layers[int(n)] = LayerKV(k[:count], v[:count], k[count:], v[count:])
            if on_layer is not None:
                on_layer(i + 1, len(items))
    return IdentityKV(layers=layers, identities=count)
