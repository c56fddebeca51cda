"""IdentityNet for one face of several: its own identity tokens as context, its residuals gated to its region.

ComfyUI gives a ControlNet one cross-attention context per conditioning entry (``cross_attn_controlnet``), so
chained IdentityNets would all see the same identity. Each face's copy of the loaded ControlNet is therefore
given a subclass of the ControlNet's own class that (a) runs with this face's identity tokens as context, and
(b) multiplies its residuals by the face's region mask, resized to each residual. Outside the region this
face's residuals are exactly zero, so identity A's tokens never reach face B's region through IdentityNet.
ControlNets chained before (the user's own, or other faces) run unchanged and their residuals are added.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn.functional as F

from .values import Identity

_CLASSES: Dict[type, type] = {}


def _merge(own: dict, previous: Optional[dict]) -> dict:
    """Residuals of this ControlNet plus those of the chain before it (same lists as ComfyUI merges)."""
    if previous is None:
        return own
    out = {}
    for key in set(own) | set(previous):
        mine, theirs = list(own.get(key, [])), previous.get(key, [])
        for i, value in enumerate(theirs):
            if i >= len(mine):
                mine.append(value)
            elif value is not None:
                mine[i] = value if mine[i] is None else mine[i] + value
        out[key] = mine
    return out


class RegionalIdentityNetMixin:
    """Mixed in front of the loaded ControlNet's class (see regional_identitynet)."""

    identity_tokens = None  # IdentityTokens: .cond / .uncond, [1 or per-latent, T, C]
    region = None  # float32 [H, W] on the canvas
    _region_cache: Optional[dict] = None

    def copy(self):
        """ComfyUI's copy() builds the base class; keep the region and the tokens (ComfyUI copies a control
        for each device it samples on)."""
        c = super().copy()
        c.__class__ = type(self)
        c.identity_tokens, c.region, c._region_cache = self.identity_tokens, self.region, None
        return c

    def identity_context(self, batch: int, cond_or_uncond, device) -> torch.Tensor:
        """The identity tokens laid out like the batch: one chunk per cond/uncond entry."""
        chunks = list(cond_or_uncond) or [0]
        per_chunk = max(batch // len(chunks), 1)
        parts = []
        for c in chunks:
            tokens = self.identity_tokens.cond if c == 0 else self.identity_tokens.uncond
            if tokens.shape[0] != per_chunk:
                tokens = tokens[:1].expand(per_chunk, -1, -1) if tokens.shape[0] == 1 else \
                    tokens.repeat((per_chunk + tokens.shape[0] - 1) // tokens.shape[0], 1, 1)[:per_chunk]
            parts.append(tokens)
        return torch.cat(parts).to(device)

    def region_at(self, shape, device, dtype) -> torch.Tensor:
        """The region mask resized to a residual's [h, w] (cached per size for the sampling run)."""
        key = (tuple(shape[-2:]), device, dtype)
        if self._region_cache is None:
            self._region_cache = {}
        if key not in self._region_cache:
            m = F.interpolate(self.region[None, None].float(), size=tuple(shape[-2:]), mode="bilinear",
                              align_corners=False)
            self._region_cache[key] = m.to(device=device, dtype=dtype)
        return self._region_cache[key]

    def gated(self, control: dict) -> dict:
        return {key: [None if x is None else x * self.region_at(x.shape, x.device, x.dtype) for x in values]
                for key, values in control.items()}

    def get_control(self, x_noisy, t, cond, batched_number, transformer_options):
        previous = self.previous_controlnet
        before = None if previous is None else previous.get_control(x_noisy, t, cond, batched_number,
                                                                    transformer_options)
        context = self.identity_context(x_noisy.shape[0], transformer_options.get("cond_or_uncond", [0]),
                                        x_noisy.device)
        self.previous_controlnet = None  # this face's residuals alone, gated before they are added
        try:
            own = super().get_control(x_noisy, t, {**cond, "crossattn_controlnet": context}, batched_number,
                                      transformer_options)
        finally:
            self.previous_controlnet = previous
        if own is None:
            return before
        return _merge(self.gated(own), before)

    def cleanup(self):
        self._region_cache = None
        super().cleanup()


def regional_identitynet(control_net, identity: Identity, region: torch.Tensor):
    """A copy of ``control_net`` that acts for this identity inside ``region`` only (hint not set yet)."""
    base = type(control_net)
    if issubclass(base, RegionalIdentityNetMixin):
        base = base.__mro__[2]
    cls = _CLASSES.get(base)
    if cls is None:
        cls = _CLASSES[base] = type(f"RegionalIdentityNet{base.__name__}", (RegionalIdentityNetMixin, base), {})
    c = control_net.copy()
    c.__class__ = cls
    c.identity_tokens, c.region, c._region_cache = identity.tokens, region.detach().float().cpu(), None
    return c
