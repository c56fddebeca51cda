"""Test-only ComfyUI custom node (a single-file pack): a pack that chains on attn2 layers the way IPAdapter_plus
and cubiq's InstantID do. It clones its input model; on every cross-attention layer that already has a replace
patch it calls that patch's ``.add(callback, **kwargs)`` and keeps no return value; on a layer without one it
installs its own patch object, which collects later ``add`` calls by appending to itself (as those packs' patch
does). Its term is small and linear in ``weight``, so images show which weights were applied and how often.

ComfyUI loads it like any custom node (``load_custom_node`` in-process)."""
NO_SIGMA = 999999999.9


def query_term(out, q, k, v, extra_options, weight=1.0, **kwargs):
    return weight * 0.05 * q.to(out.dtype)


class AppendingPatch:
    """Like IPAdapter_plus's Attn2Replace: the layer's attention plus every added callback's term."""

    def __init__(self, callback, **kwargs):
        self.callbacks = [(callback, kwargs)]

    def add(self, callback, **kwargs):
        self.callbacks.append((callback, kwargs))

    def __call__(self, q, k, v, extra_options):
        from comfy.ldm.modules.attention import optimized_attention
        out = optimized_attention(q, k, v, extra_options["n_heads"])
        for callback, kwargs in self.callbacks:
            out = out + callback(out, q, k, v, extra_options, **kwargs)
        return out.to(q.dtype)


def attn2_layer_keys(model):
    """(block name, block id, transformer index) of every transformer block with attn2, as ComfyUI keys them."""
    unet = model.get_model_object("diffusion_model")
    keys = []
    for name, blocks in (("input", unet.input_blocks), ("output", unet.output_blocks), ("middle", [unet.middle_block])):
        for block_id, block in enumerate(blocks):
            for module in block:
                for index, tb in enumerate(getattr(module, "transformer_blocks", [])):
                    if hasattr(tb, "attn2"):
                        keys.append((name, block_id, index))
    return keys


class ChainingStandIn:
    CATEGORY = "test stand-ins"
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "chain"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",),
                             "weight": ("FLOAT", {"default": 1.0, "min": -10.0, "max": 10.0, "step": 0.01})}}

    def chain(self, model, weight):
        model = model.clone()
        kwargs = {"weight": weight, "sigma_start": NO_SIGMA, "sigma_end": 0.0}
        for key in attn2_layer_keys(model):
            # the same dict copies IPAdapter_plus's set_model_patch_replace makes before it looks
            to = model.model_options["transformer_options"].copy()
            to["patches_replace"] = dict(to.get("patches_replace", {}))
            to["patches_replace"]["attn2"] = dict(to["patches_replace"].get("attn2", {}))
            if key in to["patches_replace"]["attn2"]:
                to["patches_replace"]["attn2"][key].add(query_term, **kwargs)  # `to` is dropped, as there
            else:
                to["patches_replace"]["attn2"][key] = AppendingPatch(query_term, **kwargs)
                model.model_options["transformer_options"] = to
        return (model,)


NODE_CLASS_MAPPINGS = {"ChainingStandIn": ChainingStandIn}
NODE_DISPLAY_NAME_MAPPINGS = {"ChainingStandIn": "Chaining pack (test stand-in)"}
