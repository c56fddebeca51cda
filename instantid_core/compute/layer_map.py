"""Map a diffusion model's cross-attention layers to the adapter's weight keys (1, 3, 5, …).

The adapter's order is diffusers' processor order: down blocks, up blocks, then the mid block. In
ComfyUI terms that is input blocks, output blocks, then middle — and the mid block is keyed
("middle", 0, i). The host walks its real model and hands the layers over; nothing is hard-coded, so
SDXL fine-tunes work and anything else gets a clear error before sampling.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence, Tuple

from ..errors import LayerMismatchError

BLOCK_ORDER = {"input": 0, "output": 1, "middle": 2}
LayerKey = Tuple[str, int, int]  # (block name, block id, transformer index)


@dataclass(frozen=True)
class CrossAttentionLayer:
    block_name: str
    block_id: int
    transformer_index: int
    hidden_size: int

    @property
    def key(self) -> LayerKey:
        return (self.block_name, self.block_id, self.transformer_index)


def in_adapter_order(layers: Sequence[CrossAttentionLayer]) -> List[CrossAttentionLayer]:
    unknown = {l.block_name for l in layers} - set(BLOCK_ORDER)
    if unknown:
        raise LayerMismatchError(f"unknown block names {sorted(unknown)}; expected input/output/middle")
    return sorted(layers, key=lambda l: (BLOCK_ORDER[l.block_name], l.block_id, l.transformer_index))


def map_layers(layers: Sequence[CrossAttentionLayer], hidden_by_key: Mapping[int, int]) -> Dict[LayerKey, int]:
    """Return {(block, id, transformer_index): weight key n}; raise LayerMismatchError on any misfit."""
    ordered = in_adapter_order(layers)
    keys = sorted(hidden_by_key)
    if len(ordered) != len(keys):
        raise LayerMismatchError(
            f"the model has {len(ordered)} cross-attention layers but the InstantID adapter has {len(keys)} "
            f"(it was made for SDXL, which has 70). Use an SDXL-family checkpoint (SDXL 1.0, Juggernaut XL, "
            f"RealVisXL, …); SD1.5, SD3, Flux and other families do not work with InstantID.")
    mapping: Dict[LayerKey, int] = {}
    for layer, n in zip(ordered, keys):
        if layer.hidden_size != hidden_by_key[n]:
            raise LayerMismatchError(
                f"layer {layer.key} of the model is {layer.hidden_size} wide but adapter layer {n} expects "
                f"{hidden_by_key[n]}: the checkpoint is not SDXL-shaped. Use an SDXL-family checkpoint.")
        mapping[layer.key] = n
    return mapping
