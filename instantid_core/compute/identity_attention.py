"""The decoupled identity cross-attention term added to each attn2 output.

    out' = out + weight · mask · softmax(q·K_ipᵀ/√d)·V_ip        (heads as the layer's own)

Batch layout follows the host: the batch is made of equal chunks, one per entry of ``cond_or_uncond``
(0 = positive, 1 = negative), each chunk holding the same latents. Identities are either one (broadcast)
or one per latent in a chunk.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from ..errors import IdentityBatchError, InputValueError
from .identity import LayerKV
from .precision import attention_compute_dtype

COND, UNCOND = 0, 1
AttentionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """[B, N, H·d] inputs -> [B, N, H·d]; the host may pass its own optimised function of this signature."""
    b, n, inner = q.shape
    d = inner // heads
    q, k, v = (t.reshape(t.shape[0], t.shape[1], heads, d).transpose(1, 2) for t in (q, k, v))  # [B, H, N, d]
    out = F.scaled_dot_product_attention(q, k, v)
    return out.transpose(1, 2).reshape(b, n, inner)  # [B, H, N, d] -> [B, N, H·d]


def attention_dtype(q: torch.Tensor) -> torch.dtype:
    return attention_compute_dtype(q.device, q.dtype)


def batch_kv(kv: LayerKV, cond_or_uncond: Sequence[int], batch: int) -> tuple:
    """Stack K and V to match q's batch: one chunk per cond/uncond entry, identities spread over each chunk."""
    chunks = len(cond_or_uncond)
    if chunks == 0 or batch % chunks:
        raise IdentityBatchError(f"batch of {batch} cannot be split into {chunks} cond/uncond chunks")
    per_chunk = batch // chunks
    identities = kv.k_cond.shape[0]
    if identities not in (1, per_chunk):
        raise IdentityBatchError(
            f"{identities} identities were given but {per_chunk} latents are sampled at once. Use one face "
            f"(it is applied to every latent), exactly one face per latent (set the batch size to "
            f"{identities}), or combine the faces into one identity in the image projection node.", "identity")
    ks, vs = [], []
    for c in cond_or_uncond:
        k, v = (kv.k_cond, kv.v_cond) if c == COND else (kv.k_uncond, kv.v_uncond)
        ks.append(k.expand(per_chunk, -1, -1))
        vs.append(v.expand(per_chunk, -1, -1))
    return torch.cat(ks), torch.cat(vs)


def token_grid(tokens: int, latent_hw: Sequence[int]) -> tuple:
    """The (h, w) grid of a layer with ``tokens`` positions inside a latent of size latent_hw."""
    h, w = int(latent_hw[0]), int(latent_hw[1])
    for factor in (1, 2, 4, 8, 16, 32, 64):
        gh, gw = math.ceil(h / factor), math.ceil(w / factor)
        if gh * gw == tokens:
            return gh, gw
    raise ValueError(f"cannot place {tokens} tokens on a latent of {h}×{w}")


def resize_mask(mask: torch.Tensor, grid: tuple, batch: int) -> torch.Tensor:
    """A [H, W] or [M, H, W] mask (any aspect ratio) -> [batch, h·w, 1] weights on the layer's grid."""
    if mask.dim() == 2:
        mask = mask.unsqueeze(0)
    if mask.dim() != 3:
        raise InputValueError(f"a mask must be [H, W] or [B, H, W], got shape {tuple(mask.shape)}", "mask")
    small = F.interpolate(mask.unsqueeze(1).float(), size=grid, mode="bilinear", align_corners=False)  # [M, 1, h, w]
    small = small.reshape(small.shape[0], -1, 1)  # [M, h·w, 1]: one weight per query token
    if small.shape[0] == batch:
        return small
    if batch % small.shape[0]:
        raise IdentityBatchError(f"{small.shape[0]} masks do not fit a batch of {batch}; give one mask or one per "
                                 f"latent", "mask")
    return small.repeat(batch // small.shape[0], 1, 1)


def add_identity_attention(out: torch.Tensor, q: torch.Tensor, kv: LayerKV, heads: int, weight: float,
                           cond_or_uncond: Sequence[int], mask: Optional[torch.Tensor] = None,
                           latent_hw: Optional[Sequence[int]] = None,
                           attention: AttentionFn = sdpa_attention) -> torch.Tensor:
    """Return ``out`` plus the weighted identity term, in ``out``'s dtype. ``kv`` must already be on q's device."""
    if weight == 0:
        return out
    dtype = attention_dtype(q)
    k, v = batch_kv(kv, cond_or_uncond, q.shape[0])
    term = attention(q.to(dtype), k.to(dtype), v.to(dtype), heads)
    term = term * weight
    if mask is not None:
        if latent_hw is None:
            raise ValueError("a mask needs the latent size to find the layer's token grid")
        grid = token_grid(q.shape[1], latent_hw)
        per_chunk = q.shape[0] // len(cond_or_uncond)
        m = resize_mask(mask.to(q.device), grid, per_chunk).to(dtype)
        term = term * m.repeat(len(cond_or_uncond), 1, 1)
    return out + term.to(out.dtype)
