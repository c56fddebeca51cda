"""The one place that decides where and in which dtype each InstantID computation runs.

Rule: the dtype follows the device the work runs on at that moment, never a global flag.
  * CPU  -> float32, always (CPU half kernels are missing or slow and inaccurate: the
            '"addmm_impl_cpu_" not implemented for Half' failure this pack was founded on).
  * CUDA -> the requested half type where the GPU supports it (bf16 needs Ampere or newer), else fp16.
  * MPS  -> float32 for the projection (fp16 there gives black images); half elsewhere.
  * anything else -> float32 (unknown kernels: correctness first).
The identity attention itself always returns q's dtype and runs on q's device: it lives inside the UNet
(``attention_compute_dtype``). Every dtype and device decision of the pack is made in this module.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import torch

PROJECTION = "projection"      # face embedding -> identity tokens (the resampler)
IDENTITY_KV = "identity_kv"    # identity tokens -> per-layer K/V (to_k_ip / to_v_ip)
MODULE_KINDS = (PROJECTION, IDENTITY_KV)


class PrecisionMode(str, Enum):
    AUTO = "auto"                  # float32 on CPU, half on capable GPUs, fp32 projection on MPS
    FLOAT32 = "float32"            # float32 everywhere (reference / debugging)
    HALF_ON_GPU = "half_on_gpu"    # half wherever a GPU runs it, the projection on MPS included
    KEEP_ON_CPU = "keep_on_cpu"    # compute embeddings on the CPU in float32; only K/V go to the GPU


HALF_TYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def half_supported(device: torch.device, dtype: torch.dtype) -> bool:
    device = torch.device(device)
    if device.type == "cuda":
        if dtype == torch.bfloat16:
            return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
        return True
    if device.type == "mps":
        return dtype == torch.float16 or (dtype == torch.bfloat16 and _mps_bf16())
    return False


def _mps_bf16() -> bool:
    try:  # bf16 on MPS needs macOS 14+; probing is the only reliable test
        torch.zeros(1, dtype=torch.bfloat16, device="mps")
        return True
    except Exception:
        return False


@dataclass(frozen=True)
class PrecisionPolicy:
    mode: PrecisionMode = PrecisionMode.AUTO
    half_dtype: torch.dtype = torch.float16

    @classmethod
    def parse(cls, mode: str = "auto", half: str = "fp16") -> "PrecisionPolicy":
        if half not in HALF_TYPES:
            raise ValueError(f"half type must be one of {sorted(HALF_TYPES)}, got {half!r}")
        return cls(PrecisionMode(mode), HALF_TYPES[half])

    def compute_device(self, kind: str, weights_device: torch.device, load_device: torch.device) -> torch.device:
        """Where the one-off embedding work (projection, K/V) runs: where the weights are, except that
        half_on_gpu asks for the GPU (the host loads the adapter there) and keep_on_cpu never leaves the CPU."""
        _check_kind(kind)
        if self.mode is PrecisionMode.KEEP_ON_CPU:
            return torch.device("cpu")
        return torch.device(load_device if self.mode is PrecisionMode.HALF_ON_GPU else weights_device)

    def compute_dtype(self, kind: str, device: torch.device) -> torch.dtype:
        _check_kind(kind)
        device = torch.device(device)
        if device.type == "cpu" or self.mode in (PrecisionMode.FLOAT32, PrecisionMode.KEEP_ON_CPU):
            return torch.float32
        if device.type == "mps" and kind == PROJECTION and self.mode is PrecisionMode.AUTO:
            return torch.float32
        if device.type not in ("cuda", "mps"):
            return torch.float32
        if half_supported(device, self.half_dtype):
            return self.half_dtype
        return torch.float16 if half_supported(device, torch.float16) else torch.float32

    def placement(self, kind: str, weights_device: torch.device, load_device: torch.device):
        """(device, dtype) for one module kind."""
        device = self.compute_device(kind, weights_device, load_device)
        return device, self.compute_dtype(kind, device)

    def describe(self, kind: str, weights_device: torch.device, load_device: torch.device) -> str:
        device, dtype = self.placement(kind, weights_device, load_device)
        return f"{kind:<16}: {device.type} / {dtype_name(dtype)}"


def attention_compute_dtype(device: torch.device, q_dtype: torch.dtype) -> torch.dtype:
    """The identity attention runs inside the UNet, on q's device: half attention on the CPU is slow or missing,
    so it computes there in float32 (and returns q's dtype); elsewhere it computes in q's dtype."""
    return torch.float32 if torch.device(device).type == "cpu" else q_dtype


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _check_kind(kind: str) -> None:
    if kind not in MODULE_KINDS:
        raise ValueError(f"unknown module kind {kind!r}; expected one of {MODULE_KINDS}")


def run_in_dtype(module: torch.nn.Module, device: torch.device, dtype: torch.dtype, *args: Any,
                 **kwargs: Any) -> Any:
    """Call ``module`` with its parameters temporarily on ``device`` in ``dtype``.

    The caller's module is not modified: converted copies are passed through ``functional_call``
    (when the parameters already match, no copy is made). Floating-point tensor arguments are moved too.
    """
    device = torch.device(device)
    params = {n: _convert(t, device, dtype) for n, t in module.named_parameters()}
    params.update({n: _convert(t, device, dtype) for n, t in module.named_buffers()})
    args = tuple(_convert(a, device, dtype) for a in args)
    kwargs = {k: _convert(v, device, dtype) for k, v in kwargs.items()}
    return torch.func.functional_call(module, params, args, kwargs)


def _convert(value: Any, device: torch.device, dtype: torch.dtype) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.to(device=device, dtype=dtype)
    return value

