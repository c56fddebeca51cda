"""The InstantID image projection: a Perceiver-style resampler (face embedding -> identity tokens).

Module and parameter names follow the published state dict (``image_proj.*`` in ip-adapter.bin) so the
real file loads with ``load_state_dict`` unchanged. Sizes are never hard-coded: they come from a
``ResamplerConfig`` that ``ResamplerConfig.from_state_dict`` infers from tensor shapes.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping

import torch
from torch import nn

DIM_HEAD = 64  # the published checkpoints use 64-wide heads; head count = inner width / 64


@dataclass(frozen=True)
class ResamplerConfig:
    dim: int = 1280
    depth: int = 4
    heads: int = 20
    dim_head: int = DIM_HEAD
    num_queries: int = 16
    embedding_dim: int = 512
    output_dim: int = 2048
    ff_mult: int = 4

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, torch.Tensor]) -> "ResamplerConfig":
        """Infer every size from shapes. Raises KeyError on a missing key (the caller words the error)."""
        _, num_queries, dim = sd["latents"].shape
        embedding_dim = sd["proj_in.weight"].shape[1]
        output_dim = sd["proj_out.weight"].shape[0]
        depth = len({m.group(1) for k in sd if (m := re.match(r"layers\.(\d+)\.", k))})
        inner = sd["layers.0.0.to_q.weight"].shape[0]
        if inner % DIM_HEAD:
            raise ValueError(f"attention width {inner} is not a multiple of {DIM_HEAD}")
        ff_inner = sd["layers.0.1.1.weight"].shape[0]
        return cls(dim=dim, depth=depth, heads=inner // DIM_HEAD, num_queries=num_queries,
                   embedding_dim=embedding_dim, output_dim=output_dim, ff_mult=ff_inner // dim)


class PerceiverAttention(nn.Module):
    """Latents attend to [inputs, latents]; q and k are each scaled by dim_head^-1/4 (published form)."""

    def __init__(self, dim: int, dim_head: int, heads: int):
        super().__init__()
        inner = dim_head * heads
        self.heads = heads
        self.dim_head = dim_head
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def _split_heads(self, t: torch.Tensor) -> torch.Tensor:
        b, n, _ = t.shape
        return t.view(b, n, self.heads, self.dim_head).transpose(1, 2)  # [B, N, H·d] -> [B, H, N, d]

    def forward(self, x: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x)
        latents = self.norm2(latents)
        q = self._split_heads(self.to_q(latents))
        k, v = self.to_kv(torch.cat((x, latents), dim=-2)).chunk(2, dim=-1)
        k, v = self._split_heads(k), self._split_heads(v)
        scale = 1.0 / math.sqrt(math.sqrt(self.dim_head))
        scores = (q * scale) @ (k * scale).transpose(-2, -1)
        # softmax in float32 even for half inputs: the published code does the same for stability
        probs = torch.softmax(scores.float(), dim=-1).to(scores.dtype)
        out = (probs @ v).transpose(1, 2).reshape(latents.shape[0], latents.shape[1], -1)  # [B, Q, H·d]
        return self.to_out(out)


def _feed_forward(dim: int, mult: int) -> nn.Sequential:
    inner = dim * mult
    # indices 0..3 are part of the file format: layers.i.1.{0,1,3}
    return nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, inner, bias=False), nn.GELU(),
                         nn.Linear(inner, dim, bias=False))


class Resampler(nn.Module):
    """[B, 512] or [B, N, 512] face embeddings -> [B, num_queries, output_dim] identity tokens."""

    def __init__(self, config: ResamplerConfig = ResamplerConfig()):
        super().__init__()
        c = config
        self.config = config
        self.latents = nn.Parameter(torch.zeros(1, c.num_queries, c.dim))
        self.proj_in = nn.Linear(c.embedding_dim, c.dim)
        self.proj_out = nn.Linear(c.dim, c.output_dim)
        self.norm_out = nn.LayerNorm(c.output_dim)
        self.layers = nn.ModuleList(
            nn.ModuleList([PerceiverAttention(c.dim, c.dim_head, c.heads), _feed_forward(c.dim, c.ff_mult)])
            for _ in range(c.depth))

    def forward(self, embeds: torch.Tensor) -> torch.Tensor:
        if embeds.dim() == 2:
            embeds = embeds.unsqueeze(1)  # [B, 512] -> [B, 1, 512]: a sequence of one
        latents = self.latents.expand(embeds.shape[0], -1, -1)
        x = self.proj_in(embeds)
        for attn, ff in self.layers:
            latents = attn(x, latents) + latents
            latents = ff(latents) + latents
        return self.norm_out(self.proj_out(latents))
