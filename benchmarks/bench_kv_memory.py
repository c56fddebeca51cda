"""Benchmark 1: device memory InstantID holds for identity attention during sampling, vs the adapter's size.

Part 1 (no ComfyUI needed): a real-size random adapter (the published layout: 70 attn2 layers, hidden 640/1280,
16 identity tokens, resampler 1280 x 4), one identity, projected and turned into K/V with instantid_core exactly as
the projection node does (float32 on the CPU). What sampling keeps is that K/V cache for cond + uncond: the float32
master, and on a GPU one copy in q's dtype (fp16/bf16 -> half the bytes). Compared with the adapter stored in fp32
(1.69 GB, the published ip-adapter.bin) and fp16 (0.85 GB).

Part 2 (needs ComfyUI): the tiny model inside a real ComfyUI (--cpu); after a full node-chain sampling run, what the
installed patches actually hold: IdentityKV.nbytes (master) + cached_nbytes() (per-device/dtype copies).

Target: <= 64 MB for one identity.

    python benchmarks/bench_kv_memory.py
    COMFYUI_PATH=/path/to/ComfyUI python benchmarks/bench_kv_memory.py   # with part 2
"""
import gc
import os
import tempfile
from pathlib import Path

import torch

import _common  # noqa: F401  (the pack and instantid_testkit importable)
from _common import real_size_state
from instantid_core.compute.instantid_model import AdapterWeights
from instantid_core.compute.identity import compute_identity_kv, project_identity
from instantid_core.compute.instantid_model import InstantIDModel
from instantid_core.compute.resampler import ResamplerConfig

TARGET = 64e6  # bytes
MB, GB = 1e6, 1e9


def build_real(dtype):
    state = real_size_state(dtype)
    ns = sorted({int(k.split(".")[0]) for k in state["ip_adapter"]})
    layers = {n: (state["ip_adapter"][f"{n}.to_k_ip.weight"], state["ip_adapter"][f"{n}.to_v_ip.weight"]) for n in ns}
    w = AdapterWeights(state["image_proj"], layers, ResamplerConfig.from_state_dict(state["image_proj"]), path=None)
    return InstantIDModel.from_weights(w)


def nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def real_size():
    cpu = torch.device("cpu")
    model = build_real(torch.float32)
    params = sum(p.numel() for p in model.parameters())
    adapter = {"fp32": params * 4, "fp16": params * 2}
    hidden = sorted(set(model.layer_hidden_sizes.values()))
    tokens = project_identity(model, torch.randn(1, 512) * 20, cpu, torch.float32)
    kv = compute_identity_kv(model, tokens, cpu, torch.float32)
    del model
    gc.collect()
    master = kv.nbytes
    # what a GPU run adds: one copy per (device, dtype) of q, made once by IdentityKV.get
    for n in kv.layers:
        kv.get(n, cpu, torch.float16)
    half_copy = kv.cached_nbytes()
    kv.release()
    shapes = {tuple(l.k_cond.shape) for l in kv.layers.values()}
    print(f"real size: {len(kv.layers)} layers (hidden {hidden}), tokens {tuple(tokens.cond.shape)}, "
          f"K/V per layer and branch {sorted(shapes)}, cond + uncond")
    print(f"  adapter: {params / 1e6:.1f} M parameters = {adapter['fp32'] / GB:.2f} GB fp32, "
          f"{adapter['fp16'] / GB:.2f} GB fp16")
    print(f"  K/V cache, one identity: fp32 {master / MB:.1f} MB, fp16 {half_copy / MB:.1f} MB")
    print(f"  K/V / adapter: fp32/fp32 {master / adapter['fp32']:.4f}, fp16/fp16 {half_copy / adapter['fp16']:.4f}; "
          f"adapter fp16 / K/V fp16 = {adapter['fp16'] / half_copy:.0f}x")
    print(f"  held during sampling -- CPU run: the fp32 master only ({master / MB:.1f} MB, read in place); "
          f"GPU run: fp16 device copy {half_copy / MB:.1f} MB on the GPU + the fp32 master in host RAM")
    return master, half_copy, adapter


def tiny_comfy():
    """The bytes the installed patches hold after a real sampling run, or None without ComfyUI."""
    from instantid_testkit import comfy_support as cs
    if cs.comfy_path() is None:
        print("part 2 skipped: ComfyUI not found (set COMFYUI_PATH=/path/to/ComfyUI)")
        return None
    cs.bootstrap_comfy(argv=("--cpu",))
    from instantid_testkit import comfy_env
    from instantid_testkit.prompts import full_chain
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        return _tiny_run(cs, comfy_env.comfy_env(Path(tmp)), full_chain)


def _tiny_run(cs, env, full_chain):
    result = cs.PromptRunner().run(full_chain(steps=2, seed=1))
    model = result.output("apply", 0)
    patches = env.pack("nodes.attention_patch").installed_patches(model)
    kvs = {id(p.identity.kv): p.identity.kv for p in patches.values()}
    held = sum(kv.nbytes + kv.cached_nbytes() for kv in kvs.values())
    cached = sum(kv.cached_nbytes() for kv in kvs.values())
    handle = result.output("iid")
    adapter = sum(nbytes(p) for p in handle.model.parameters())
    print(f"tiny model in ComfyUI (--cpu), after KSampler: {len(patches)} patches share {len(kvs)} IdentityKV; "
          f"held {held / 1e3:.1f} kB (master {(held - cached) / 1e3:.1f} kB + device copies {cached / 1e3:.1f} kB); "
          f"tiny adapter {adapter / 1e6:.2f} MB ({held / adapter:.4f} of it); adapter weights on "
          f"{sorted({str(p.device) for p in handle.model.parameters()})}")
    return held, cached, adapter


def main():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    master, half, adapter = real_size()
    tiny = tiny_comfy()
    ok = master <= TARGET and half <= TARGET
    tiny_txt = ("tiny ComfyUI run holds n/a (no ComfyUI)" if tiny is None else
                f"tiny ComfyUI run holds {tiny[0] / 1e3:.1f} kB (cached copies {tiny[1] / 1e3:.1f} kB) "
                f"= {tiny[0] / tiny[2]:.4f} of its adapter")
    print(f"RESULT identity K/V for one identity (70 layers, cond+uncond): fp32 {master / MB:.1f} MB, "
          f"fp16 {half / MB:.1f} MB vs adapter fp32 {adapter['fp32'] / GB:.2f} GB / fp16 {adapter['fp16'] / GB:.2f} GB "
          f"(ratio {master / adapter['fp32']:.4f}); target <= 64 MB: {'PASS' if ok else 'FAIL'}; {tiny_txt}")


if __name__ == "__main__":
    main()
