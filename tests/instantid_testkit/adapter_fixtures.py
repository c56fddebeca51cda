"""Adapter state dicts in the exact on-disk layout (same key names), at real or scaled-down sizes."""
from __future__ import annotations

from typing import Dict, Sequence

import torch
from safetensors.torch import save_file

# SDXL: 70 attn2 layers in adapter order (input 4,5 -> 640; input 7,8 / output 0-2 -> 1280;
# output 3-5 -> 640; middle -> 1280)
SDXL_HIDDEN = [640] * 4 + [1280] * 20 + [1280] * 30 + [640] * 6 + [1280] * 10

TINY = dict(dim=64, depth=2, heads=2, num_queries=4, embedding_dim=512, output_dim=96, ff_mult=4)
REAL = dict(dim=1280, depth=4, heads=20, num_queries=16, embedding_dim=512, output_dim=2048, ff_mult=4)


def image_proj_state(dim, depth, heads, num_queries, embedding_dim, output_dim, ff_mult, seed=0,
                     dtype=torch.float32) -> Dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    inner, ff = heads * 64, dim * ff_mult

    def w(*shape, std=0.02):
        return (torch.randn(*shape, generator=g) * std).to(dtype)

    def norm(n):
        return (1 + w(n, std=0.1)).to(dtype), w(n, std=0.1)

    sd = {"latents": w(1, num_queries, dim, std=dim ** -0.5), "proj_in.weight": w(dim, embedding_dim),
          "proj_in.bias": w(dim), "proj_out.weight": w(output_dim, dim), "proj_out.bias": w(output_dim)}
    sd["norm_out.weight"], sd["norm_out.bias"] = norm(output_dim)
    for i in range(depth):
        p = f"layers.{i}."
        for n in ("norm1", "norm2"):
            sd[p + f"0.{n}.weight"], sd[p + f"0.{n}.bias"] = norm(dim)
        sd[p + "0.to_q.weight"] = w(inner, dim)
        sd[p + "0.to_kv.weight"] = w(2 * inner, dim)
        sd[p + "0.to_out.weight"] = w(dim, inner)
        sd[p + "1.0.weight"], sd[p + "1.0.bias"] = norm(dim)
        sd[p + "1.1.weight"] = w(ff, dim)
        sd[p + "1.3.weight"] = w(dim, ff)
    return sd


def ip_adapter_state(hidden_sizes: Sequence[int], token_dim: int, seed=1, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for i, h in enumerate(hidden_sizes):
        n = 2 * i + 1
        sd[f"{n}.to_k_ip.weight"] = (torch.randn(h, token_dim, generator=g) * 0.02).to(dtype)
        sd[f"{n}.to_v_ip.weight"] = (torch.randn(h, token_dim, generator=g) * 0.02).to(dtype)
    return sd


def adapter_state(hidden_sizes=(32, 32, 64), size=TINY, dtype=torch.float32, seed=0):
    proj = image_proj_state(**size, seed=seed, dtype=dtype)
    ip = ip_adapter_state(hidden_sizes, size["output_dim"], seed=seed + 1, dtype=dtype)
    return {"image_proj": proj, "ip_adapter": ip}


def save_bin(state, path):
    torch.save(state, str(path))
    return path


def save_safetensors(state, path):
    flat = {f"image_proj.{k}": v.contiguous() for k, v in state["image_proj"].items()}
    flat.update({f"ip_adapter.{k}": v.contiguous() for k, v in state["ip_adapter"].items()})
    save_file(flat, str(path))
    return path
