"""One identity per crop of a group swap, as the per-latent identity the apply nodes already understand.

The identity attention (compute/identity_attention.batch_kv) and IdentityNet's context take either one identity
for every latent or exactly one per latent, in batch order. A group swap samples its crops as one batch, so the
identities are stacked in crop order: latent i then attends to the K/V of its own face's identity and
IdentityNet sees that identity's tokens. Nothing is projected again: the tokens and K/V each identity already
holds are concatenated (an identity used for two crops appears twice). The attention cost per latent is the same
as with one identity (16 extra keys); the K/V kept for sampling grows by one identity's worth per crop.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import torch

from ..compute.identity import IdentityKV, IdentityTokens, LayerKV
from ..errors import InputValueError


def check_single(tokens: IdentityTokens, kv: IdentityKV, number: int) -> None:
    if tokens.cond.shape[0] != 1 or kv.identities != 1:
        raise InputValueError(f"identity_{number} holds {kv.identities} identities (Image Projection with combine "
                              "'one_per_latent'); a group swap gives each face one person: project it with "
                              "'average' (or another mode that makes one identity)", f"identity_{number}")


def stack_per_crop(tokens: Sequence[IdentityTokens], kvs: Sequence[IdentityKV],
                   picks: Sequence[int]) -> Tuple[IdentityTokens, IdentityKV]:
    """``picks[i]``: the identity (index into tokens/kvs) of crop i -> tokens [N, T, C] and K/V per layer [N, T, C]."""
    if not picks:
        raise InputValueError("no crop to give an identity to")
    used = sorted(set(picks))  # an identity no face got is never sampled: nothing to check on it
    for n in used:
        check_single(tokens[n], kvs[n], n)
    first = picks[0]
    for n in used:
        if tokens[n].cond.shape != tokens[first].cond.shape:
            raise InputValueError(f"identity_{n} has tokens of shape {tuple(tokens[n].cond.shape)}, identity_{first} "
                                  f"{tuple(tokens[first].cond.shape)}: project every identity with the same "
                                  "InstantID model and a combine mode that gives the usual 16 tokens (not 'concat')",
                                  f"identity_{n}")
        if set(kvs[n].layers) != set(kvs[first].layers):
            raise InputValueError(f"identity_{n} was made with another InstantID adapter than identity_{first}: "
                                  "project every identity with the same model", f"identity_{n}")
    stacked_tokens = IdentityTokens(cond=torch.cat([tokens[n].cond for n in picks]),
                                    uncond=torch.cat([tokens[n].uncond for n in picks]))
    layers = {}
    for key in kvs[first].layers:
        parts = [kvs[n].layers[key] for n in picks]
        layers[key] = LayerKV(*(torch.cat([getattr(p, name) for p in parts])
                                for name in ("k_cond", "v_cond", "k_uncond", "v_uncond")))
    return stacked_tokens, IdentityKV(layers=layers, identities=len(picks))
