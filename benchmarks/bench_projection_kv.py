"""Benchmark 3 (and the size half of 1): projection + identity K/V for one identity on the CPU, real sizes,
2 threads, weights stored as fp32 / fp16 / bf16 and computed as the precision policy says (float32 on CPU).

    python benchmarks/bench_projection_kv.py
"""
import time

import torch

import _common  # noqa: F401
from _common import real_size_state
from instantid_core.compute.instantid_model import AdapterWeights
from instantid_core.compute.identity import compute_identity_kv, project_identity
from instantid_core.compute.instantid_model import InstantIDModel
from instantid_core.compute.precision import IDENTITY_KV, PROJECTION, PrecisionPolicy
from instantid_core.compute.resampler import ResamplerConfig


def build(dtype):
    state = real_size_state(dtype)
    ip = {int(k.split(".")[0]): None for k in state["ip_adapter"]}
    layers = {n: (state["ip_adapter"][f"{n}.to_k_ip.weight"], state["ip_adapter"][f"{n}.to_v_ip.weight"]) for n in ip}
    w = AdapterWeights(state["image_proj"], layers, ResamplerConfig.from_state_dict(state["image_proj"]), path=None)
    return InstantIDModel.from_weights(w)


def main():
    torch.set_num_threads(2)
    policy = PrecisionPolicy()
    cpu = torch.device("cpu")
    embeds = torch.randn(1, 512) * 20
    results = {}
    for name, dtype in (("fp32", torch.float32), ("fp16", torch.float16), ("bf16", torch.bfloat16)):
        model = build(dtype)
        adapter_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
        pd, kd = policy.compute_dtype(PROJECTION, cpu), policy.compute_dtype(IDENTITY_KV, cpu)
        project_identity(model, embeds, cpu, pd)  # warm-up (allocator, kernels)
        times = []
        for _ in range(3):
            t = time.perf_counter()
            tokens = project_identity(model, embeds, cpu, pd)
            kv = compute_identity_kv(model, tokens, cpu, kd)
            times.append(time.perf_counter() - t)
        results[name] = min(times)
        print(f"projection+K/V cpu 2 threads weights={name} compute={str(pd)[6:]}: {min(times):.3f} s "
              f"(best of 3); adapter {adapter_bytes / 2**20:.0f} MB, K/V cache {kv.nbytes / 2**20:.1f} MB "
              f"= {kv.nbytes / adapter_bytes:.4f} of the adapter")
        del model, kv, tokens
    print(f"RESULT projection+K/V fp32 {results['fp32']:.3f} s (target <= 0.5 s); "
          f"fp16/fp32 {results['fp16'] / results['fp32']:.2f}x, bf16/fp32 {results['bf16'] / results['fp32']:.2f}x")


if __name__ == "__main__":
    main()
