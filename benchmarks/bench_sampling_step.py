"""Benchmark 2: cost of identity attention in a sampling step, measured side by side in one run.

A = the model patched by the pack (identity attention in every attn2 layer, weight 0.8), B = the same model object
without the patch; same text conditioning, same latent, same seed, same process. Runs alternate A, B, A, B, ...
Each run is a real ComfyUI KSampler call (comfy's sampler, CFG with cond + uncond batched); a
``model_function_wrapper`` times each UNet evaluation inside it. Reported: median over pairs of A/B of the median
UNet-evaluation time per run (and the same ratio for whole KSampler calls). Because other processes sharing the
cores make run-to-run ratios noisy, the time spent in the identity term itself (the pack's add_identity_attention,
timed inside A's own evaluations) is reported too, as the in-run ratio 1 / (1 - share).

Models:
  * tiny  -- the tests' tiny SDXL-architecture model (17 attn2 layers) loaded by ComfyUI, at two latent sizes;
  * real  -- the real SDXL UNet layout (ComfyUI's classes, the SDXL unet config: 70 attn2 layers, 2.6 G parameters,
             ~10.3 GB in fp32) with random weights, fp32 on the CPU, with a real-size identity (random adapter,
             1.69 GB, freed once its K/V is computed). Needs ~13 GB free RAM; skipped with --tiny-only or when
             less memory is available.

Target: <= 1.10x.

    COMFYUI_PATH=/path/to/ComfyUI python benchmarks/bench_sampling_step.py [--tiny-only] [--real-latent 32]
"""
import argparse
import gc
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

import _common  # the pack and instantid_testkit importable; comfy_or_skip

TARGET = 1.10
REAL_SDXL_UNET = {
    "use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True, "legacy": False,
    "num_classes": "sequential", "adm_in_channels": 2816, "in_channels": 4, "model_channels": 320,
    "num_res_blocks": [2, 2, 2], "transformer_depth": [0, 0, 2, 2, 10, 10], "channel_mult": [1, 2, 4],
    "transformer_depth_middle": 10, "use_linear_in_transformer": True, "context_dim": 2048, "num_head_channels": 64,
    "transformer_depth_output": [0, 0, 0, 2, 2, 2, 10, 10, 10], "use_temporal_attention": False,
    "use_temporal_resblock": False,
}


def available_ram() -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable"))


class IdentityProbe:
    """Wraps the pack's add_identity_attention (as the patch module sees it) and sums the time spent in it: the
    identity term's own cost, measured inside the very evaluations timed for A (no run-to-run noise)."""

    def __init__(self, patch_module):
        self.seconds = 0.0
        original = patch_module.add_identity_attention

        def timed(*args, **kwargs):
            t = time.perf_counter()
            out = original(*args, **kwargs)
            self.seconds += time.perf_counter() - t
            return out

        patch_module.add_identity_attention = timed


class EvalTimer:
    """model_function_wrapper: times every UNet evaluation ComfyUI's sampler makes (and the identity term's share
    of it, when a probe is given)."""

    def __init__(self, probe=None):
        self.times = []
        self.identity = []
        self.probe = probe

    def __call__(self, apply_model, args):
        before = self.probe.seconds if self.probe else 0.0
        t = time.perf_counter()
        out = apply_model(args["input"], args["timestep"], **args["c"])
        self.times.append(time.perf_counter() - t)
        self.identity.append((self.probe.seconds if self.probe else 0.0) - before)
        return out


def timed_model(model_patcher, probe=None):
    m = model_patcher.clone()
    timer = EvalTimer(probe)
    m.set_model_unet_function_wrapper(timer)
    return m, timer


def sample_once(model, timer, positive, negative, latent_hw, steps):
    import nodes
    latent = {"samples": torch.zeros(1, 4, *latent_hw)}
    timer.times.clear()
    timer.identity.clear()
    t = time.perf_counter()
    with torch.inference_mode():
        out = nodes.common_ksampler(model, 7, steps, 4.0, "euler", "normal", positive, negative, latent)[0]["samples"]
    wall = time.perf_counter() - t
    assert torch.isfinite(out).all(), "sampling produced non-finite values"
    share = sum(timer.identity) / sum(timer.times)
    return statistics.median(timer.times), wall, len(timer.times), share


def compare(label, base, patched, positive, negative, latent_hw, steps, pairs, probe):
    """Interleaved A (patched), B (base) runs; returns (median eval ratio, median KSampler-call ratio, median
    in-run ratio 1 / (1 - identity share of A's evaluations))."""
    a_model, a_timer = timed_model(patched, probe)
    b_model, b_timer = timed_model(base)
    sample_once(a_model, a_timer, positive, negative, latent_hw, steps)  # warm-up both (loads, allocator)
    sample_once(b_model, b_timer, positive, negative, latent_hw, steps)
    evals, walls, a_times, b_times, shares = [], [], [], [], []
    for i in range(pairs):
        order = ((a_model, a_timer, "A"), (b_model, b_timer, "B"))
        res = {}
        for model, timer, name in (order if i % 2 == 0 else order[::-1]):  # A,B then B,A: cancels drift
            res[name] = sample_once(model, timer, positive, negative, latent_hw, steps)
        evals.append(res["A"][0] / res["B"][0])
        walls.append(res["A"][1] / res["B"][1])
        a_times.append(res["A"][0])
        b_times.append(res["B"][0])
        shares.append(res["A"][3])
        print(f"  [{label}] pair {i + 1}: UNet eval with identity {res['A'][0] * 1000:.1f} ms, without "
              f"{res['B'][0] * 1000:.1f} ms -> {evals[-1]:.3f}x; KSampler call {walls[-1]:.3f}x "
              f"({res['A'][2]} evals/run); identity term {res['A'][3] * 100:.1f}% of A's eval time", flush=True)
    ratio, wall, share = statistics.median(evals), statistics.median(walls), statistics.median(shares)
    print(f"  [{label}] median: eval {ratio:.3f}x (A {statistics.median(a_times) * 1000:.1f} ms, "
          f"B {statistics.median(b_times) * 1000:.1f} ms), KSampler call {wall:.3f}x; identity term "
          f"{share * 100:.1f}% of A -> in-run ratio {1 / (1 - share):.3f}x", flush=True)
    return ratio, wall, 1 / (1 - share)


def tiny_case(cs, env, pairs, probe):
    from instantid_testkit.prompts import full_chain
    result = cs.PromptRunner().run(full_chain(steps=1, seed=1))
    base, identity = result.output("ckpt", 0), result.output("proj")
    positive, negative = result.output("pos", 0), result.output("neg", 0)
    patched = env.pack("nodes.attention_patch").patch_identity_attention(base, identity, 0.8)
    out = {}
    for hw in ((8, 8), (64, 64)):  # 64x64 and 512x512 pixels
        out[hw] = compare(f"tiny {hw[0]}x{hw[1]} latent", base, patched, positive, negative, hw, steps=6, pairs=pairs,
                          probe=probe)
    return out


def real_identity(env):
    """A real-size identity (70 layers) from a random real-size adapter, computed as the projection node does;
    the 1.69 GB adapter is freed before returning (only the 21 MB K/V stays)."""
    from _common import real_size_state
    core_file = env.pack("instantid_core.files.adapter_file")
    core_model = env.pack("instantid_core.compute.instantid_model")
    core_ident = env.pack("instantid_core.compute.identity")
    resampler = env.pack("instantid_core.compute.resampler")
    values = env.pack("nodes.values")
    state = real_size_state(torch.float32)
    ns = sorted({int(k.split(".")[0]) for k in state["ip_adapter"]})
    layers = {n: (state["ip_adapter"][f"{n}.to_k_ip.weight"], state["ip_adapter"][f"{n}.to_v_ip.weight"]) for n in ns}
    cfg = resampler.ResamplerConfig.from_state_dict(state["image_proj"])
    model = core_model.InstantIDModel.from_weights(core_model.AdapterWeights(state["image_proj"], layers, cfg, path=None))
    del state, layers
    cpu = torch.device("cpu")
    tokens = core_ident.project_identity(model, torch.randn(1, 512) * 20, cpu, torch.float32)
    kv = core_ident.compute_identity_kv(model, tokens, cpu, torch.float32)
    hidden = model.layer_hidden_sizes
    del model
    gc.collect()
    return values.Identity(tokens=tokens, kv=kv, layer_hidden_sizes=hidden, report="")


def real_sdxl_unet():
    """ComfyUI's SDXL BaseModel with the real SDXL UNet config, random N(0, 0.02) weights, fp32 on the CPU."""
    import comfy.model_management as mm
    import comfy.model_patcher
    import comfy.supported_models
    from instantid_testkit import comfy_support as cs
    config = comfy.supported_models.SDXL(dict(REAL_SDXL_UNET))
    config.set_inference_dtype(torch.float32, None)
    model = config.get_model({}, device="cpu")
    cs.init_weights_(model.diffusion_model, seed=0)
    params = sum(p.numel() for p in model.diffusion_model.parameters())
    return comfy.model_patcher.ModelPatcher(model, load_device=mm.get_torch_device(),
                                            offload_device=mm.unet_offload_device()), params


def real_case(env, latent, pairs, probe):
    need = 13.5e9
    if available_ram() < need:
        print(f"  [real SDXL] skipped: {available_ram() / 1e9:.1f} GB RAM available, needs ~{need / 1e9:.1f} GB")
        return None
    t = time.perf_counter()
    identity = real_identity(env)
    base, params = real_sdxl_unet()
    patched = env.pack("nodes.attention_patch").patch_identity_attention(base, identity, 0.8)
    n_patches = len(env.pack("nodes.attention_patch").installed_patches(patched))
    print(f"  [real SDXL] UNet {params / 1e9:.2f} G parameters (fp32 {params * 4 / 1e9:.1f} GB), {n_patches} attn2 "
          f"layers patched, identity K/V {identity.kv.nbytes / 1e6:.1f} MB; built in {time.perf_counter() - t:.0f} s",
          flush=True)
    g = torch.Generator().manual_seed(0)
    positive = [[torch.randn(1, 77, 2048, generator=g), {"pooled_output": torch.randn(1, 1280, generator=g)}]]
    negative = [[torch.randn(1, 77, 2048, generator=g), {"pooled_output": torch.randn(1, 1280, generator=g)}]]
    return compare(f"real SDXL {latent}x{latent} latent", base, patched, positive, negative, (latent, latent),
                   steps=1, pairs=pairs, probe=probe)


def main():
    parser = argparse.ArgumentParser(description="identity attention cost per sampling step")
    parser.add_argument("--tiny-only", action="store_true", help="skip the real-size SDXL UNet")
    parser.add_argument("--real-latent", type=int, default=32, help="latent side for the real-size UNet (32 = 256 px)")
    parser.add_argument("--pairs", type=int, default=9, help="A/B pairs for the tiny model")
    parser.add_argument("--real-pairs", type=int, default=5, help="A/B pairs for the real-size UNet")
    ns = parser.parse_args()
    cs = _common.comfy_or_skip("sampling step with/without identity attention")
    if cs is None:
        return
    import comfy.utils
    from instantid_testkit import comfy_env
    comfy.utils.PROGRESS_BAR_ENABLED = False
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        env = comfy_env.comfy_env(Path(tmp))
        probe = IdentityProbe(env.pack("nodes.attention_patch"))
        tiny = tiny_case(cs, env, ns.pairs, probe)
        real = None if ns.tiny_only else real_case(env, ns.real_latent, ns.real_pairs, probe)
    parts = [f"tiny {hw[0]}x{hw[1]} latent {r[0]:.3f}x (in-run {r[2]:.3f}x)" for hw, r in tiny.items()]
    if real is not None:
        parts.append(f"real-size SDXL UNet fp32 {ns.real_latent}x{ns.real_latent} latent {real[0]:.3f}x "
                     f"(in-run {real[2]:.3f}x)")
    else:
        parts.append("real-size SDXL UNet: not run")
    worst = max([r[0] for r in tiny.values()] + ([real[0]] if real else []))
    print(f"RESULT UNet evaluation with / without identity attention (median of interleaved A/B pairs; in-run = "
          f"1/(1 - identity term's share of the same evaluations); CPU fp32, {torch.get_num_threads()} threads): "
          f"{'; '.join(parts)}; target <= {TARGET:.2f}x: {'PASS' if worst <= TARGET else 'FAIL'}")


if __name__ == "__main__":
    main()
