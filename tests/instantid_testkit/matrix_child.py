"""Child process of tests/test_precision_matrix.py: ONE ComfyUI command line per process.

ComfyUI parses its CLI flags once, into module globals, when ``comfy.cli_args`` / ``comfy.model_management`` are
first imported; a second flag set needs a second process. This script bootstraps ComfyUI with the flags it is
given (before ``comfy_env.comfy_env`` does, so ``--cpu`` there does not win: ``bootstrap_comfy`` returns the first
result on later calls), builds the usual tiny test models, adds fp16 and bf16 copies of the tiny adapter, then runs
the full node chain (face analysis -> loader -> [precision manager] -> projection -> Apply InstantID + IdentityNet
-> KSampler -> VAE decode) once per (adapter storage dtype x precision setting), re-using every loaded model.

Every row is printed as one line ``MATRIX_ROW <json>``; the parent asserts them. The child itself asserts
nothing, so one bad row does not hide the others.

    COMFYUI_PATH=/path/to/ComfyUI python tests/instantid_testkit/matrix_child.py --tmp DIR -- --cpu --force-fp16
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
if str(TESTS) not in sys.path:  # run as a script: the kit by name (importing it registers the pack)
    sys.path.insert(0, str(TESTS))

ROW_PREFIX = "MATRIX_ROW "
ADAPTER_DTYPES = ("fp32", "fp16", "bf16")
# (mode, half_type) of the Precision/Offload node; None = no manager node in the graph (the handle's default)
SETTINGS = (None, ("auto", "fp16"), ("auto", "bf16"), ("float32", "fp16"), ("half_on_gpu", "fp16"),
            ("half_on_gpu", "bf16"), ("keep_on_cpu", "fp16"))
IP_WEIGHT = 0.8
STEPS = 1        # one step = one model evaluation with cond and uncond batched together
SIZE = 64        # 64x64 image -> 8x8 latent
TOL_FP32 = 1e-5  # relative (max abs error / max abs reference) when everything computes in float32
TOL_HALF = 2e-2  # when a half type is involved (half compute, or weights stored in half vs the fp32 file)


def _name(dtype) -> str:
    return str(dtype).replace("torch.", "")


def rel_err(got, want) -> float:
    got, want = got.detach().double().cpu(), want.detach().double().cpu()
    scale = float(want.abs().max())
    return float((got - want).abs().max()) / (scale if scale > 0 else 1.0)


def expected_placement(mode, half_name, offload, load):
    """Where the one-off embedding work must run, written down independently of the pack's PrecisionPolicy:
    CPU -> float32 always; keep_on_cpu -> CPU; half_on_gpu -> the load (GPU) device; auto / float32 / no
    manager -> where the adapter weights are (the offload device). On a GPU: float32 mode -> float32, else the
    half type (bf16 falls back to fp16 without bf16 support)."""
    import torch
    if mode == "keep_on_cpu":
        device = torch.device("cpu")
    elif mode == "half_on_gpu":
        device = torch.device(load)
    else:
        device = torch.device(offload)
    if device.type == "cpu" or mode == "float32":
        return device, torch.float32
    half = {"fp16": torch.float16, "bf16": torch.bfloat16}[half_name or "fp16"]
    if device.type == "cuda" and half == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        half = torch.float16
    return device, half


def write_adapter_variants(instantid_dir: Path) -> dict:
    """fp32 is the file comfy_env wrote; fp16/bf16 are conversions of the same weights."""
    import torch
    from safetensors.torch import load_file, save_file
    src = instantid_dir / "ip-adapter.safetensors"
    sd = load_file(str(src))
    files = {"fp32": src.name}
    for name, dtype in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
        out = instantid_dir / f"matrix_{name}.safetensors"
        save_file({k: v.to(dtype).contiguous() for k, v in sd.items()}, str(out))
        files[name] = out.name
    return files


class Observer:
    """Class-level wrappers around the pack's projection node, IdentityKV.get and the attention patch that
    record what dtype/device each piece really computed in. Hooks on the resampler's Linear/LayerNorm modules
    fire even though the projection runs through torch.func.functional_call."""

    def __init__(self, env):
        import torch
        self.torch = torch
        self.projection_calls = []   # (module type, input dtype, input device, weight dtype, output dtype, output device)
        self.kv_gets = []            # (dtype, device) of the K/V served to the attention
        self.q_seen = []             # (dtype, device) of q inside the patch
        proj_mod = env.pack("nodes.projection_node")
        ident_mod = env.pack("instantid_core.compute.identity")
        patch_mod = env.pack("nodes.attention_patch")
        observer = self

        original_project = proj_mod.InstantIDImageProjection.project

        def project(node, instantid, *args, **kwargs):
            handles = []
            for m in instantid.model.image_proj.modules():
                if isinstance(m, (torch.nn.Linear, torch.nn.LayerNorm)):
                    handles.append(m.register_forward_hook(observer._hook))
            try:
                return original_project(node, instantid, *args, **kwargs)
            finally:
                for h in handles:
                    h.remove()

        proj_mod.InstantIDImageProjection.project = project

        original_get = ident_mod.IdentityKV.get

        def get(kv, n, device, dtype):
            layer = original_get(kv, n, device, dtype)
            observer.kv_gets.append((layer.k_cond.dtype, layer.k_cond.device, layer.v_uncond.dtype,
                                     layer.v_uncond.device))
            return layer

        ident_mod.IdentityKV.get = get

        original_call = patch_mod.IdentityAttentionPatch.__call__

        def call(patch, q, k, v, extra_options):
            observer.q_seen.append((q.dtype, q.device))
            return original_call(patch, q, k, v, extra_options)

        patch_mod.IdentityAttentionPatch.__call__ = call

    def _hook(self, module, inputs, output):
        x = inputs[0]
        self.projection_calls.append((type(module).__name__, x.dtype, x.device, module.weight.dtype,
                                      output.dtype, output.device))

    def reset(self):
        self.projection_calls.clear()
        self.kv_gets.clear()
        self.q_seen.clear()


def reference_kvs(env, files, faces):
    """Float32 CPU identity K/V computed with instantid_core directly (no node, no ComfyUI placement), per
    adapter file: 'same' = that file's weights upcast to float32; 'fp32' = the fp32 file."""
    import numpy as np
    import torch
    core_file = env.pack("instantid_core.files.adapter_file")
    core_ident = env.pack("instantid_core.compute.identity")
    import folder_paths
    embeds = np.stack([f.embedding for image in faces.images for f in image.faces]).astype(np.float32)
    embeds = torch.from_numpy(embeds).mean(0, keepdim=True)  # "average", as the prompt asks
    out = {}
    for name, file in files.items():
        model = core_file.load_instantid_model(folder_paths.get_full_path("instantid", file)).float()
        tokens = core_ident.project_identity(model, embeds, torch.device("cpu"), torch.float32)
        out[name] = core_ident.compute_identity_kv(model, tokens, torch.device("cpu"), torch.float32)
    return out


def identity_terms(env, patched_model, q_dtype, q_device, refs, adapter_name):
    """Call every installed patch on fixed q/k and v = 0 (so the layer's own attention is exactly 0 and the
    output IS the identity term), in the dtype/device the UNet used; compare with the float32 references."""
    import torch
    attn_core = env.pack("instantid_core.compute.identity_attention")
    patches = env.pack("nodes.attention_patch").installed_patches(patched_model)
    g = torch.Generator().manual_seed(1234)
    worst_same, worst_fp32, layers = 0.0, 0.0, 0
    for (block, block_id, t_index), patch in sorted(patches.items()):
        hidden = refs["fp32"].layers[patch.weight_key].k_cond.shape[-1]
        heads = hidden // 64
        q = torch.randn(2, 16, hidden, generator=g)
        k = torch.randn(2, 16, hidden, generator=g)
        v = torch.zeros(2, 16, hidden)
        opts = {"n_heads": heads, "dim_head": 64, "cond_or_uncond": [1, 0], "original_shape": [1, 4, 4, 4],
                "block": (block, block_id), "block_index": t_index, "sigmas": torch.tensor([1.0]),
                "attn_precision": None}
        got = patch(q.to(q_device, q_dtype), k.to(q_device, q_dtype), v.to(q_device, q_dtype), opts)
        if got.dtype != q_dtype or got.device != q_device:
            raise AssertionError(f"patch returned {got.dtype} on {got.device} for q {q_dtype} on {q_device}")
        zeros = torch.zeros(2, 16, hidden)
        q_ref = q.to(q_dtype).float()  # the same (rounded) q, computed in float32
        for which in ("same", "fp32"):
            ref_kv = refs[adapter_name if which == "same" else "fp32"].layers[patch.weight_key]
            want = attn_core.add_identity_attention(zeros, q_ref, ref_kv, heads, IP_WEIGHT, [1, 0])
            err = rel_err(got, want)
            if which == "same":
                worst_same = max(worst_same, err)
            else:
                worst_fp32 = max(worst_fp32, err)
        layers += 1
    return worst_same, worst_fp32, layers


def run_rows(flags, tmp: Path):
    import torch

    from instantid_testkit import comfy_support as cs
    boot = cs.bootstrap_comfy(argv=tuple(flags))  # first: comfy_env's own ("--cpu",) call then returns this
    from instantid_testkit import comfy_env
    env = comfy_env.comfy_env(tmp)
    import comfy.model_management as mm
    from instantid_testkit.prompts import full_chain

    args = boot["args"]
    files = write_adapter_variants(Path(tmp) / "models" / "instantid")
    import folder_paths
    folder_paths.filename_list_cache.clear()
    observer = Observer(env)
    runner = cs.PromptRunner()
    offload, load = mm.unet_offload_device(), mm.get_torch_device()
    header = {"flags": list(flags), "torch_device": str(load), "offload_device": str(offload),
              "vram_state": mm.vram_state.name, "force_fp16": bool(args.force_fp16),
              "unet_dtype_global": _name(mm.unet_dtype()),
              "args": {k: bool(getattr(args, k, False)) for k in ("cpu", "force_fp16", "fp16_unet", "bf16_unet",
                                                                  "fp32_unet", "lowvram", "novram", "gpu_only")}}
    print(ROW_PREFIX + json.dumps({"header": header}), flush=True)
    refs = None
    for adapter_name in ADAPTER_DTYPES:
        for setting in SETTINGS:
            observer.reset()
            mode, half = setting if setting is not None else (None, None)
            row = {"flags": list(flags), "adapter": adapter_name, "mode": mode or "none", "half_type": half,
                   "error": None}
            t = time.perf_counter()
            try:
                prompt = full_chain(ip_weight=IP_WEIGHT, seed=21, steps=STEPS, size=SIZE, adapter=files[adapter_name],
                                    precision=setting)
                result = runner.run(prompt)
                if refs is None:
                    refs = reference_kvs(env, files, result.output("det"))
                image = result.output("dec")
                row["image_finite"] = bool(torch.isfinite(image).all())
                row["image_shape"] = list(image.shape)
                unet = result.output("ckpt", 0).model
                row["unet_weights"] = _name(unet.get_dtype())
                row["unet_manual_cast"] = None if unet.manual_cast_dtype is None else _name(unet.manual_cast_dtype)
                handle = result.output("prec" if setting is not None else "iid")
                row["weights_stored"] = sorted({_name(p.dtype) for p in handle.model.parameters()})
                row["weights_devices"] = sorted({str(p.device) for p in handle.model.parameters()})
                row["offload_device"] = str(offload)
                want_dev, want_dtype = expected_placement(mode or "auto", half, offload, load)
                row["expected_compute"] = [want_dev.type, _name(want_dtype)]
                calls = observer.projection_calls
                row["projection_hook_calls"] = len(calls)
                row["projection_seen"] = sorted({f"{c[0]}:{c[2].type}/in={_name(c[1])},w={_name(c[3])},"
                                                 f"out={_name(c[4])}" for c in calls})
                row["projection_ok"] = bool(calls) and all(
                    c[2].type == want_dev.type and c[1] == c[3] == c[4] == want_dtype and c[5].type == want_dev.type
                    for c in calls)
                identity = result.output("proj")
                masters = [t for layer in identity.kv.layers.values()
                           for t in (layer.k_cond, layer.v_cond, layer.k_uncond, layer.v_uncond)]
                row["kv_master"] = sorted({f"{t.device.type}/{_name(t.dtype)}" for t in masters})
                row["kv_ok"] = all(t.device.type == want_dev.type and t.dtype == want_dtype for t in masters)
                tokens = (identity.tokens.cond, identity.tokens.uncond)
                row["tokens"] = sorted({f"{t.device.type}/{_name(t.dtype)}" for t in tokens})
                row["kv_layers"] = len(identity.kv.layers)
                row["kv_nbytes"] = identity.kv.nbytes
                row["kv_cached_nbytes"] = identity.kv.cached_nbytes()
                row["q_seen"] = sorted({f"{d.type}/{_name(dt)}" for dt, d in observer.q_seen})
                row["patch_calls"] = len(observer.q_seen)
                row["kv_served"] = sorted({f"{d.type}/{_name(dt)}" for dt, d, *_ in observer.kv_gets}
                                          | {f"{d.type}/{_name(dt)}" for *_, dt, d in observer.kv_gets})
                q_dtype, q_device = observer.q_seen[0] if observer.q_seen else (torch.float32, load)
                # the identity term in the UNet's own setting, and (on the CPU) with half q as well
                row["term"] = {}
                for qd in [q_dtype] + [d for d in (torch.float16, torch.bfloat16) if d != q_dtype]:
                    same, fp32, layers = identity_terms(env, result.output("apply", 0), qd, q_device, refs,
                                                        adapter_name)
                    half_involved = qd != torch.float32 or want_dtype != torch.float32
                    row["term"][_name(qd)] = {
                        "vs_same_weights_fp32": same, "tol_same": TOL_HALF if half_involved else TOL_FP32,
                        "vs_fp32_file": fp32,
                        "tol_fp32_file": TOL_HALF if half_involved or adapter_name != "fp32" else TOL_FP32,
                        "layers": layers, "from_unet": qd == q_dtype}
            except Exception as exc:  # reported, asserted by the parent
                row["error"] = f"{type(exc).__name__}: {exc}"
                row["traceback"] = traceback.format_exc()[-3000:]
            row["seconds"] = round(time.perf_counter() - t, 3)
            print(ROW_PREFIX + json.dumps(row), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tmp", required=True, help="scratch folder (models, input, output)")
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="ComfyUI command-line flags, after --")
    ns = parser.parse_args(argv)
    flags = [f for f in ns.flags if f != "--"]
    Path(ns.tmp).mkdir(parents=True, exist_ok=True)
    import os
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or 1))  # see test_precision_matrix.run_child
    t = time.perf_counter()
    run_rows(flags, Path(ns.tmp))
    print(ROW_PREFIX + json.dumps({"done": True, "seconds": round(time.perf_counter() - t, 1)}), flush=True)


if __name__ == "__main__":
    main()
