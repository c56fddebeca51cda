"""The float32 CPU reference of the identity (tokens and every layer's K/V), computed with instantid_core directly
(no node, no ComfyUI placement), and the relative errors the JSON reports."""
from __future__ import annotations

import torch


def rel_err(got: torch.Tensor, want: torch.Tensor) -> float:
    """‖got − want‖ / ‖want‖ in float64 (NaN stays NaN, so a broken result cannot pass)."""
    got, want = got.detach().double().cpu(), want.detach().double().cpu()
    return float((got - want).norm() / want.norm().clamp_min(1e-30))


def reference_identity(pack, adapter_path, faces):
    core_file = pack("instantid_core.files.adapter_file")
    core_ident = pack("instantid_core.compute.identity")
    embeds = core_ident.combine_embeddings(pack("nodes.projection_node").faces_embeddings(faces), "average")
    model = core_file.load_instantid_model(adapter_path).float()
    cpu = torch.device("cpu")
    tokens = core_ident.project_identity(model, embeds, cpu, torch.float32)
    return tokens, core_ident.compute_identity_kv(model, tokens, cpu, torch.float32)


def _flat_kv(kv) -> torch.Tensor:
    return torch.cat([t.detach().double().cpu().flatten() for n in sorted(kv.layers)
                      for t in (kv.layers[n].k_cond, kv.layers[n].v_cond, kv.layers[n].k_uncond, kv.layers[n].v_uncond)])


def identity_errors(identity, reference) -> dict:
    """Relative error of the identity's tokens (cond and uncond) and of all its K/V against the reference."""
    ref_tokens, ref_kv = reference
    tokens = torch.cat((identity.tokens.cond, identity.tokens.uncond))
    return {"rel_err_tokens": rel_err(tokens, torch.cat((ref_tokens.cond, ref_tokens.uncond))),
            "rel_err_kv": rel_err(_flat_kv(identity.kv), _flat_kv(ref_kv))}
