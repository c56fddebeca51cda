"""Independent float64 implementations of the published InstantID math, written from the paper/release
description (not from the pack's modules) so parity tests compare two separate codings."""
from __future__ import annotations

import math

import torch


def _ln(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def _gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def resampler_f64(sd, embeds, heads=None):
    """embeds [B, 512] or [B, N, 512] (a sequence of N per item) -> tokens [B, T, C], every op in float64."""
    s = {k: v.double() for k, v in sd.items()}
    seq = embeds.double() if embeds.dim() == 3 else embeds.double().reshape(embeds.shape[0], 1, -1)
    x = seq @ s["proj_in.weight"].T + s["proj_in.bias"]
    lat = s["latents"].repeat(x.shape[0], 1, 1)
    i = 0
    while f"layers.{i}.0.to_q.weight" in s:
        p = f"layers.{i}."
        h = heads or s[p + "0.to_q.weight"].shape[0] // 64
        xn = _ln(x, s[p + "0.norm1.weight"], s[p + "0.norm1.bias"])
        ln = _ln(lat, s[p + "0.norm2.weight"], s[p + "0.norm2.bias"])
        q = ln @ s[p + "0.to_q.weight"].T
        kv = torch.cat([xn, ln], dim=1) @ s[p + "0.to_kv.weight"].T
        k, v = kv[..., : kv.shape[-1] // 2], kv[..., kv.shape[-1] // 2:]
        b, n, inner = q.shape
        d = inner // h
        split = lambda t: t.reshape(b, t.shape[1], h, d).permute(0, 2, 1, 3)
        att = torch.softmax(split(q) @ split(k).transpose(-1, -2) / math.sqrt(d), dim=-1) @ split(v)
        lat = att.permute(0, 2, 1, 3).reshape(b, n, inner) @ s[p + "0.to_out.weight"].T + lat
        ff = _ln(lat, s[p + "1.0.weight"], s[p + "1.0.bias"]) @ s[p + "1.1.weight"].T
        lat = _gelu(ff) @ s[p + "1.3.weight"].T + lat
        i += 1
    out = lat @ s["proj_out.weight"].T + s["proj_out.bias"]
    return _ln(out, s["norm_out.weight"], s["norm_out.bias"])


def attention_f64(q, k, v, heads):
    """Multi-head softmax(q kᵀ/√d) v for [B, N, H·d] inputs, float64."""
    q, k, v = q.double(), k.double(), v.double()
    b, n, inner = q.shape
    d = inner // heads
    outs = []
    for hh in range(heads):
        sl = slice(hh * d, (hh + 1) * d)
        w = torch.softmax(q[..., sl] @ k[..., sl].transpose(-1, -2) / math.sqrt(d), dim=-1)
        outs.append(w @ v[..., sl])
    return torch.cat(outs, dim=-1)
