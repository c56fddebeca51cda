"""Installing identity attention on every attn2 layer of a ComfyUI model, as chained replace patches.

Copy-on-write: since ComfyUI PR #12382 (2026), ``ModelPatcher.clone()`` copies the dicts of ``model_options`` but
shares the patch objects in them, so one patch object can sit on the input model, our output model and every later
clone. This module never mutates a patch it finds on a model (another pack's patch is wrapped, not edited), and
every clone of a model carrying our patches gets its own copies of them (an ON_CLONE callback), so a pack that
chains by calling ``.add(...)`` on the patch of its clone (IPAdapter_plus, cubiq's InstantID) changes only that
clone. On cores that still deep-copy ``model_options`` the callback just copies once more."""
from __future__ import annotations

import copy
from typing import Dict, List, Optional

import torch

from ..instantid_core.compute.identity_attention import add_identity_attention, attention_dtype
from ..instantid_core.compute.layer_map import CrossAttentionLayer, LayerKey, map_layers
from .values import Identity


def cross_attention_layers(model_patcher) -> List[CrossAttentionLayer]:
    """Walk the real diffusion model: every transformer block with attn2, keyed as ComfyUI keys patches."""
    unet = model_patcher.get_model_object("diffusion_model")
    layers = []
    for block_name, blocks in (("input", getattr(unet, "input_blocks", [])),
                               ("output", getattr(unet, "output_blocks", [])),
                               ("middle", [getattr(unet, "middle_block", [])])):
        for block_id, block in enumerate(blocks):
            for module in (block if isinstance(block, torch.nn.Sequential) else [block]):
                for t_index, tb in enumerate(getattr(module, "transformer_blocks", [])):
                    if hasattr(tb, "attn2"):
                        layers.append(CrossAttentionLayer(block_name, block_id, t_index, tb.attn2.to_k.out_features))
    return layers


def _base_attention(q, k, v, extra_options):
    from comfy.ldm.modules.attention import optimized_attention
    return optimized_attention(q, k, v, extra_options["n_heads"], attn_precision=extra_options.get("attn_precision"))


def _identity_attention(q, k, v, heads):
    """16 identity keys: ComfyUI's choice for small inputs (PyTorch SDPA, or basic attention where PyTorch
    attention is off) beats the memory-saving kernels it picks for long sequences, e.g. sub-quadratic on CPU."""
    from comfy.ldm.modules.attention import optimized_attention_for_device
    return optimized_attention_for_device(q.device, small_input=True)(q, k, v, heads)


NO_SIGMA = 999999999.9  # what those packs assume without sigmas; also ComfyUI's percent_to_sigma(0.0)


class IdentityAttentionPatch:
    """An attn2 replace patch: the layer's own attention (or the patch that was there before, e.g. an
    IPAdapter pack's) plus this identity's term, plus the terms packs wired after this one ``add`` to it."""

    def __init__(self, identity: Identity, weight_key: int, weight: float, sigma_range: Optional[tuple],
                 mask: Optional[torch.Tensor], previous=None):
        self.identity = identity
        self.weight_key = weight_key
        self.weight = float(weight)
        self.sigma_range = sigma_range  # (sigma_start, sigma_end): active while start >= sigma >= end
        self.mask = mask
        self.previous = previous
        self.added = ()  # (callback, kwargs) from later packs, in wiring order; a tuple, so copies share none of it

    def copy(self) -> "IdentityAttentionPatch":
        """A copy for another model: it shares the identity (one K/V cache), the mask and the wrapped patch,
        none of which is ever changed through it; ``added`` is a tuple, so adding to the copy leaves this one."""
        return copy.copy(self)

    def __deepcopy__(self, memo):
        """Cores before PR #12382 deep-copy model_options in clone(): the same shallow copy as ``copy``."""
        return self.copy()

    def add(self, callback, **kwargs):
        """The call IPAdapter_plus (and packs built like it) make on a layer's existing patch to put their term
        after it: ``out + callback(out, q, k, v, extra_options, **kwargs)`` while ``sigma_end <= sigma <=
        sigma_start``. They make it on the patch of their own clone of the model, which is that clone's own copy
        (see copy_own_patches_on_clone), and keep no return value; self is returned for packs that would."""
        self.added = self.added + ((callback, kwargs),)
        return self

    def to(self, device_or_dtype):
        """ComfyUI moves patches along with the UNet. When the UNet goes to the CPU (offload), drop the K/V
        copies made for the GPU so they do not stay in VRAM; they are cast again, once, at the next use.
        ComfyUI only sees the outermost patch of a layer, so the wrapped one is moved from here; if moving it
        gives a new object, so does this (this patch may be shared with other models: it is not edited)."""
        moved = self.previous.to(device_or_dtype) if hasattr(self.previous, "to") else self.previous
        if isinstance(device_or_dtype, (torch.device, str)) and torch.device(device_or_dtype).type == "cpu":
            self.identity.kv.release()
        if moved is self.previous:
            return self
        result = self.copy()
        result.previous = moved
        return result

    def gate(self, extra_options):
        """True/False, or for sigmas on a GPU a 0-d bool tensor: reading the value there would force a device
        sync in every layer at every step, so the decision stays on the device."""
        sigmas = extra_options.get("sigmas")
        if self.sigma_range is None or sigmas is None:
            return True
        start, end = self.sigma_range
        sigma = sigmas.detach().flatten()[0]
        if sigma.device.type == "cpu":
            return end <= float(sigma) <= start
        return (sigma >= end) & (sigma <= start)

    def __call__(self, q, k, v, extra_options):
        out = (self.previous(q, k, v, extra_options) if self.previous is not None
               else _base_attention(q, k, v, extra_options))
        out = self.with_identity(out, q, extra_options)
        return self.with_added(out, q, k, v, extra_options) if self.added else out

    def with_identity(self, out, q, extra_options):
        gate = self.gate(extra_options)
        if self.weight == 0 or gate is False:
            return out
        kv = self.identity.kv.get(self.weight_key, q.device, attention_dtype(q))
        shape = extra_options.get("original_shape")  # the UNet's input [B, C, H, W]; set by both cores' UNet
        result = add_identity_attention(out, q, kv, extra_options["n_heads"], self.weight,
                                        extra_options["cond_or_uncond"], mask=self.mask,
                                        latent_hw=None if shape is None else shape[2:], attention=_identity_attention)
        return result if gate is True else torch.where(gate, result, out)

    def with_added(self, out, q, k, v, extra_options):
        """The added terms exactly as the adding pack's own patch would run them (its sigma window, its
        cast back to q's dtype), so a pack behaves the same whichever of us was first on the layer."""
        sigmas = extra_options.get("sigmas")
        sigma = float(sigmas.detach().flatten()[0]) if sigmas is not None else NO_SIGMA
        for callback, kwargs in self.added:
            if kwargs.get("sigma_end", 0.0) <= sigma <= kwargs.get("sigma_start", NO_SIGMA):
                out = out + callback(out, q, k, v, extra_options, **kwargs)
        return out.to(dtype=q.dtype)


def layer_mapping(model_patcher, identity: Identity) -> Dict[LayerKey, int]:
    """Check the model against the adapter before anything is patched (raises LayerMismatchError)."""
    return map_layers(cross_attention_layers(model_patcher), identity.layer_hidden_sizes)


def patch_identity_attention(model_patcher, identity: Identity, weight: float, start_at: float = 0.0,
                             end_at: float = 1.0, mask: Optional[torch.Tensor] = None):
    """Return a patched clone; the input model is never modified (also not when this raises)."""
    mapping = layer_mapping(model_patcher, identity)
    sampling = model_patcher.get_model_object("model_sampling")
    sigma_range = None
    if start_at > 0.0 or end_at < 1.0:
        sigma_range = (float(sampling.percent_to_sigma(start_at)), float(sampling.percent_to_sigma(end_at)))
    mask = None if mask is None else mask.detach().float().cpu()
    patched = model_patcher.clone()
    existing = installed_patches(patched)
    for (block_name, block_id, t_index), n in mapping.items():
        previous = existing.get((block_name, block_id, t_index))  # wrapped as it is, never edited
        patch = IdentityAttentionPatch(identity, n, weight, sigma_range, mask, previous)
        patched.set_model_attn2_replace(patch, block_name, block_id, t_index)
    _copy_on_every_clone(patched)
    return patched


COPY_ON_CLONE_KEY = "instantid_precision.copy_own_patches"


def _copy_on_every_clone(model_patcher) -> None:
    """Register copy_own_patches_on_clone once; clone() hands callbacks on, so every descendant has it."""
    from comfy.patcher_extension import CallbacksMP
    if not model_patcher.get_callbacks(CallbacksMP.ON_CLONE, COPY_ON_CLONE_KEY):
        model_patcher.add_callback_with_key(CallbacksMP.ON_CLONE, COPY_ON_CLONE_KEY, copy_own_patches_on_clone)


def copy_own_patches_on_clone(source, clone, *args, **kwargs) -> None:
    """ComfyUI's ON_CLONE callback (called as ``callback(source, clone)``; extra arguments a later core may pass
    are accepted and ignored): give ``clone`` its own copy of each of our attn2 patches. The dicts leading to
    them are copied too before anything is set, in case a core ever hands them over shared."""
    options = clone.model_options
    to = options.get("transformer_options", {})
    attn2 = to.get("patches_replace", {}).get("attn2", {})
    if not any(isinstance(p, IdentityAttentionPatch) for p in attn2.values()):
        return
    attn2 = {key: p.copy() if isinstance(p, IdentityAttentionPatch) else p for key, p in attn2.items()}
    to = dict(to)
    to["patches_replace"] = dict(to["patches_replace"], attn2=attn2)
    clone.model_options = dict(options, transformer_options=to)


def installed_patches(model_patcher) -> Dict[LayerKey, object]:
    opts = model_patcher.model_options.get("transformer_options", {})
    return dict(opts.get("patches_replace", {}).get("attn2", {}))
