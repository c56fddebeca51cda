"""The InstantID adapter as one torch module, so a host (ComfyUI's ModelPatcher) can size and move it.

Its state dict is exactly the flattened file layout: ``image_proj.*`` and ``ip_adapter.<n>.to_{k,v}_ip.weight``.
``AdapterWeights`` is the file's validated tensors as the model adopts them; files.adapter_file reads a file into
one (compute never reads files: the floors run files → faces → compute → ground).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict

import torch
from torch import nn

from .resampler import Resampler, ResamplerConfig


@dataclass
class AdapterWeights:
    """The two halves of the file plus what was inferred from them."""
    image_proj: Dict[str, torch.Tensor]
    ip_layers: Dict[int, tuple]  # weight key n -> (to_k_ip [hidden, C], to_v_ip [hidden, C])
    config: ResamplerConfig
    path: Path

    @property
    def layer_hidden_sizes(self) -> Dict[int, int]:
        return {n: k.shape[0] for n, (k, _) in self.ip_layers.items()}


class IdentityLayerProjection(nn.Module):
    """One attn2 layer's identity projections (no bias, as published)."""

    def __init__(self, token_dim: int, hidden: int):
        super().__init__()
        self.to_k_ip = nn.Linear(token_dim, hidden, bias=False)
        self.to_v_ip = nn.Linear(token_dim, hidden, bias=False)


class InstantIDModel(nn.Module):
    source_name = "the InstantID adapter file"  # the file's name once loaded: errors about its weights name it

    def __init__(self, config: ResamplerConfig, layer_hidden_sizes: Dict[int, int]):
        super().__init__()
        self.image_proj = Resampler(config)
        self.ip_adapter = nn.ModuleDict({str(n): IdentityLayerProjection(config.output_dim, h)
                                         for n, h in sorted(layer_hidden_sizes.items())})

    @property
    def config(self) -> ResamplerConfig:
        return self.image_proj.config

    @property
    def layer_hidden_sizes(self) -> Dict[int, int]:
        return {int(n): m.to_k_ip.weight.shape[0] for n, m in self.ip_adapter.items()}

    @classmethod
    def from_weights(cls, weights: AdapterWeights) -> "InstantIDModel":
        """Adopt the loaded tensors as parameters without copying them (meta init + assign)."""
        with torch.device("meta"):
            model = cls(weights.config, weights.layer_hidden_sizes)
        state = {f"image_proj.{k}": v for k, v in weights.image_proj.items()}
        for n, (k, v) in weights.ip_layers.items():
            state[f"ip_adapter.{n}.to_k_ip.weight"] = k
            state[f"ip_adapter.{n}.to_v_ip.weight"] = v
        model.load_state_dict(state, strict=True, assign=True)
        model.source_name = weights.path.name
        return model.eval().requires_grad_(False)

    def weight_dtype(self) -> torch.dtype:
        return self.image_proj.latents.dtype

