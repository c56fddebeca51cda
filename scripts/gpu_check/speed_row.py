"""Speed: a UNet evaluation with / without identity attention (interleaved A/B runs, median of per-pair ratios), the
projection + K/V time for one identity, and seconds per image (projection, apply, sampling; no face analysis or
VAE decode: those are not InstantID's GPU path). fp16 UNet, precision mode auto: the common setup."""
from __future__ import annotations

import statistics
import time

import torch

import chain
import rows


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


class EvalTimer:
    """A model_function_wrapper that times each UNet evaluation the sampler makes (device synchronised)."""

    def __init__(self, device):
        self.device = device
        self.times = []

    def __call__(self, apply_model, args):
        _sync(self.device)
        t = time.perf_counter()
        out = apply_model(args["input"], args["timestep"], **args["c"])
        _sync(self.device)
        self.times.append(time.perf_counter() - t)
        return out


def _timed_clone(model, device):
    clone, timer = model.clone(), EvalTimer(device)
    clone.set_model_unet_function_wrapper(timer)
    return clone, timer


def speed_row(models, observer, setup: str, size: int, pairs: int, steps: int, image_steps: int) -> dict:
    import comfy.model_management as mm
    device = mm.get_torch_device()
    unet = models.unets[rows.SEED_UNET]
    handle = chain.configured(models, rows.SEED_MODE, rows.SEED_UNET)
    projection = []
    for _ in range(5):
        identity, seconds = chain.timed(chain.build_identity, models, handle, observer)
        projection.append(seconds)
    patched, positive, negative = chain.apply(models, unet, identity, size, identitynet=False)
    a_model, a_timer = _timed_clone(patched, device)
    b_model, b_timer = _timed_clone(unet, device)
    for model in (a_model, b_model):  # warm-up: loads, kernels, the K/V copy on the device
        chain.sample(model, positive, negative, size, steps)
    with_ms, without_ms, ratios = [], [], []
    for i in range(pairs):
        order = [(a_model, a_timer, with_ms), (b_model, b_timer, without_ms)]
        for model, timer, out in (order if i % 2 == 0 else order[::-1]):  # A,B then B,A: drift cancels
            timer.times.clear()
            chain.sample(model, positive, negative, size, steps)
            out.append(statistics.median(timer.times) * 1000)
        ratios.append(with_ms[-1] / without_ms[-1])
    _sync(device)
    start = time.perf_counter()
    identity = chain.build_identity(models, handle, observer)
    model, positive, negative = chain.apply(models, unet, identity, size)
    chain.sample(model, positive, negative, size, image_steps)
    _sync(device)
    return {"status": rows.OK, "setup": setup, "device": device.type, "size": size, "pairs": pairs,
            "steps_per_run": steps, "step_ms_without": round(statistics.median(without_ms), 3),
            "step_ms_with": round(statistics.median(with_ms), 3), "step_ratio": round(statistics.median(ratios), 4),
            "step_ms_with_all": [round(t, 3) for t in with_ms], "step_ms_without_all": [round(t, 3) for t in without_ms],
            "projection_kv_ms_per_identity": round(statistics.median(projection) * 1000, 2),
            "projection_placement": chain.one_placement({p[:2] for p in observer.projection}),
            "image_steps": image_steps, "seconds_per_image": round(time.perf_counter() - start, 3)}
