"""Enumerate an SDXL-style UNet's cross-attention layers in the order InstantID/IP-Adapter files use."""
from __future__ import annotations

__all__ = ["list_cross_attention_layers"]


def _diffusion_model(model):
    """Accept a ModelPatcher, a comfy BaseModel or the UNet itself."""
    m = getattr(model, "model", model)          # ModelPatcher -> BaseModel
    return getattr(m, "diffusion_model", m)     # BaseModel -> UNetModel


def list_cross_attention_layers(model):
    """[(block_name, block_id, transformer_index, hidden_size), ...] for every transformer block with an
    ``attn2`` in ``input_blocks``, then ``output_blocks``, then ``middle_block``.

    ``(block_name, block_id, transformer_index)`` is the key ComfyUI looks up for
    ``set_model_attn2_replace(patch, block_name, block_id, transformer_index)``: block_name/block_id as set in
    comfy/ldm/modules/diffusionmodules/openaimodel.py (``("input", id)``, ``("middle", 0)``,
    ``("output", id)``) and transformer_index = the block's index inside its SpatialTransformer
    (``transformer_options["block_index"]``). hidden_size is ``attn2.to_q.out_features`` (heads * dim_head),
    the output size of ``to_k_ip``/``to_v_ip``."""
    unet = _diffusion_model(model)
    out = []
    groups = [("input", list(enumerate(unet.input_blocks))),
              ("output", list(enumerate(unet.output_blocks)))]
    if getattr(unet, "middle_block", None) is not None:
        groups.append(("middle", [(0, unet.middle_block)]))
    for block_name, blocks in groups:
        for block_id, block in blocks:
            for layer in block:
                tblocks = getattr(layer, "transformer_blocks", None)
                if tblocks is None:
                    continue
                for t_index, tb in enumerate(tblocks):
                    attn2 = getattr(tb, "attn2", None)
                    if attn2 is None:
                        continue
                    out.append((block_name, block_id, t_index, attn2.to_q.out_features))
    return out
