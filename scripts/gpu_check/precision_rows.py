"""The seed's setup and every precision mode x UNet dtype, in the ComfyUI set-up of this process: each row runs the
whole chain and says whether it ran (or the error), where the projection / K/V / identity attention computed and in
which dtype, the identity's error against a float32 CPU reference, and how far the sampled latent moved from the
`float32` mode's on the same UNet."""
from __future__ import annotations

import time
import traceback

import torch

import chain
import rows
from reference import identity_errors, reference_identity, rel_err


def _kv_placement(identity):
    seen = {(t.device.type, chain.dtype_name(t.dtype)) for layer in identity.kv.layers.values()
            for t in (layer.k_cond, layer.v_uncond)}
    return chain.one_placement(seen)


def one_row(models, observer, reference, unet_dtype: str, mode: str, size: int, steps: int) -> tuple:
    """(row, sampled latent or None)."""
    observer.reset()
    row = {"unet_dtype": unet_dtype, "mode": mode, "half_type": chain.HALF_TYPE[unet_dtype], "status": rows.OK,
           "error": None, "projection": None, "identity_kv": None, "attention_q": None, "adapter_after": None,
           "rel_err_tokens": None, "rel_err_kv": None, "output_finite": None}
    start = time.perf_counter()
    latent = None
    try:
        handle = chain.configured(models, mode, unet_dtype)
        identity = chain.build_identity(models, handle, observer)
        row["projection"] = chain.one_placement({p[:2] for p in observer.projection})
        row["identity_kv"] = _kv_placement(identity)
        row.update(identity_errors(identity, reference))
        unet = models.unets[unet_dtype]
        cast = unet.model.manual_cast_dtype
        row["unet_compute"] = chain.dtype_name(cast or unet.model.get_dtype())  # ComfyUI's choice on this device
        model, positive, negative = chain.apply(models, unet, identity, size)
        latent = chain.sample(model, positive, negative, size, steps)
        row["attention_q"] = chain.one_placement(observer.attention_q)
        row["output_finite"] = bool(torch.isfinite(latent).all())
        row["adapter_after"] = sorted({p.device.type for p in handle.model.parameters()})
    except Exception as exc:  # the row reports it; the next row still runs
        row.update(status=rows.ERROR, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-2500:])
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row, latent


def chain_rows(models, observer, files, size: int, steps: int):
    """Yields ('seed_setup' | 'precision', row) as each finishes, so a timed-out process still reports its rows."""
    reference = reference_identity(models.pack, str(files["instantid"]), models.faces)
    for unet_dtype in rows.UNET_DTYPES:
        float32_latent = None
        for mode in rows.PRECISION_MODES:
            row, latent = one_row(models, observer, reference, unet_dtype, mode, size, steps)
            if mode == "float32":
                float32_latent = latent
            row["output_rel_diff_vs_float32"] = (rel_err(latent, float32_latent)
                                                 if latent is not None and float32_latent is not None else None)
            if (unet_dtype, mode) == (rows.SEED_UNET, rows.SEED_MODE):
                yield "seed_setup", {k: v for k, v in row.items() if k != "output_rel_diff_vs_float32"}
            yield "precision", row
