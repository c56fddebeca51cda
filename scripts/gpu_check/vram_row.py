"""VRAM (CUDA only): peak during sampling without InstantID, with identity attention, and with identity attention +
IdentityNet; whether the adapter ever sat on the GPU while sampling; the identity K/V copy on the device; and what
stays allocated once ComfyUI has unloaded its models (the identity itself stays cached, as ComfyUI's node cache
keeps it). Two views: torch's allocator (peak allocated) and the whole device (used = total - free, read at every
step), because comfy-aimdo's dynamic VRAM can hold weights outside torch's allocator."""
from __future__ import annotations

import gc

import torch

import chain
import rows

MB = 2 ** 20


def _device_used(device) -> int:
    free, total = torch.cuda.mem_get_info(device)
    return total - free


def _settle():
    import comfy.model_management as mm
    mm.unload_all_models()
    gc.collect()
    mm.soft_empty_cache(True)


def vram_row(models, observer, setup: str, size: int, steps: int) -> dict:
    import comfy.model_management as mm
    device = mm.get_torch_device()
    _settle()
    before = torch.cuda.memory_allocated(device)
    handle = chain.configured(models, rows.SEED_MODE, rows.SEED_UNET)
    identity = chain.build_identity(models, handle, observer)
    unet = models.unets[rows.SEED_UNET]
    cases = [("without InstantID", (unet, models.positive, models.negative)),
             ("identity attention", chain.apply(models, unet, identity, size, identitynet=False)),
             ("identity attention + IdentityNet", chain.apply(models, unet, identity, size))]
    adapter_on_gpu = False
    runs = []
    for name, (model, positive, negative) in cases:
        peak_used = [_device_used(device)]

        def step(*_):
            nonlocal adapter_on_gpu
            peak_used.append(_device_used(device))
            adapter_on_gpu |= any(p.device.type == "cuda" for p in handle.model.parameters())

        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        chain.sample(model, positive, negative, size, steps, callback=step)
        torch.cuda.synchronize(device)
        runs.append({"name": name, "peak_allocated_mb": round(torch.cuda.max_memory_allocated(device) / MB, 1),
                     "device_used_peak_mb": round(max(peak_used) / MB, 1)})
    kv_device_mb = identity.kv.cached_nbytes() / MB
    del cases, model, positive, negative
    _settle()
    after = torch.cuda.memory_allocated(device)
    return {"status": rows.OK, "setup": setup, "size": size, "steps": steps, "runs": runs,
            "kv_cache_mb": round(kv_device_mb, 2), "kv_master_mb": round(identity.kv.nbytes / MB, 2),
            "adapter_in_vram_during_sampling": adapter_on_gpu,
            "allocated_before_mb": round(before / MB, 1), "allocated_after_mb": round(after / MB, 1),
            "left_behind_mb": round((after - before) / MB, 1),
            "kv_cache_after_unload_mb": round(identity.kv.cached_nbytes() / MB, 2),
            "device_used_after_mb": round(_device_used(device) / MB, 1)}
