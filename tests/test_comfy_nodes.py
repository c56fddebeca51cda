"""The pack inside a real ComfyUI (in-process executor, tiny SDXL-architecture models, tiny ONNX faces)."""
import copy
from pathlib import Path

import pytest
import torch

from instantid_testkit import comfy_support as cs
from instantid_testkit.comfy_env import comfy_env
from instantid_testkit.prompts import all_in_one_chain, full_chain


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return comfy_env(tmp_path_factory.mktemp("comfy"))


@pytest.fixture
def spy(env, monkeypatch):
    """Record every identity-attention patch call: (layer key from ComfyUI, weight key, cond_or_uncond)."""
    mod = env.pack("nodes.attention_patch")
    calls = []
    original = mod.IdentityAttentionPatch.__call__

    def call(self, q, k, v, extra_options):
        block = extra_options["block"]
        calls.append(((block[0], block[1], extra_options["block_index"]), self.weight_key))
        return original(self, q, k, v, extra_options)

    monkeypatch.setattr(mod.IdentityAttentionPatch, "__call__", call)
    return calls


def test_pack_loads_through_comfyui_loader(env):
    """ComfyUI's own loader registers every node of the pack. (Its import time is printed, not asserted: timings
    belong to benchmarks; tests/test_locales.py holds every input and output to a tooltip.)"""
    import nodes
    ours = {"InstantIDPrecision_FaceAnalysisLoader", "InstantIDPrecision_FaceDetect", "InstantIDPrecision_FaceKeypoints",
            "InstantIDPrecision_ModelLoader", "InstantIDPrecision_PrecisionOffload", "InstantIDPrecision_ImageProjection",
            "InstantIDPrecision_ApplyAttention", "InstantIDPrecision_ApplyIdentityNet", "InstantIDPrecision_Apply",
            "InstantIDPrecision_ApplyAllInOne", "InstantIDPrecision_ModelDoctor", "InstantIDPrecision_ManualKeypoints",
            "InstantIDPrecision_FaceCrop", "InstantIDPrecision_FaceStitch", "InstantIDPrecision_IdentityScore",
            "InstantIDPrecision_SaveIdentity", "InstantIDPrecision_LoadIdentity", "InstantIDPrecision_MultiPerson"}
    assert ours <= set(nodes.NODE_CLASS_MAPPINGS)
    print(f"pack import time {env.import_seconds:.3f} s")


def test_full_chain_patches_every_layer_and_feeds_identitynet(env, spy, monkeypatch):
    import comfy.controlnet
    contexts = []
    original = comfy.controlnet.ControlNet.get_control

    def get_control(self, x_noisy, t, cond, batched_number, transformer_options):
        contexts.append(cond.get("crossattn_controlnet"))
        return original(self, x_noisy, t, cond, batched_number, transformer_options)

    monkeypatch.setattr(comfy.controlnet.ControlNet, "get_control", get_control)
    result = cs.run_prompt(full_chain(seed=11))
    image = result.output("dec")
    assert torch.isfinite(image).all()
    expected = {(b, i, t): 2 * n + 1 for n, (b, i, t, _) in enumerate(env.layers)}
    seen = dict(spy)
    assert seen == expected  # every attn2 layer, the mid block too, with the adapter's key for that layer
    assert len(spy) == 2 * len(expected)  # 2 steps, each patch once per model evaluation
    identity = result.output("proj")
    ctx = contexts[0]
    assert ctx is not None and ctx.shape[-2:] == (16, 2048)
    rows = {tuple(torch.round(r[0, 0, :4].float(), decimals=3).tolist()) for r in ctx.split(1)}
    want = {tuple(torch.round(t[0, 0, :4].float(), decimals=3).tolist())
            for t in (identity.tokens.cond, identity.tokens.uncond)}
    assert rows == want  # the ControlNet's context is the identity tokens, positive and negative


def test_patched_attention_equals_core_function(env):
    from comfy.ldm.modules.attention import optimized_attention
    core = env.pack("instantid_core.compute.identity_attention")
    result = cs.run_prompt(full_chain(ip_weight=0.7, seed=3))
    model, identity = result.output("apply", 0), result.output("proj")
    patches = env.pack("nodes.attention_patch").installed_patches(model)
    key = ("middle", 0, 1)
    patch = patches[key]
    heads, hidden = 2, 128
    q, k, v = (torch.randn(2, 16, hidden) for _ in range(3))
    opts = {"n_heads": heads, "cond_or_uncond": [1, 0], "original_shape": [1, 4, 4, 4], "block": ("middle", 0),
            "block_index": 1, "sigmas": torch.tensor([1.0])}
    got = patch(q, k, v, opts)
    base = optimized_attention(q, k, v, heads)
    layer_kv = identity.kv.get(patch.weight_key, q.device, torch.float32)
    want = core.add_identity_attention(base, q, layer_kv, heads, 0.7, [1, 0])
    assert torch.allclose(got, want, atol=1e-6)
    assert not torch.allclose(got, base)


def test_start_end_gate_the_identity_term(env):
    import nodes
    run = cs.run_prompt(full_chain(seed=14))
    base, identity = run.output("ckpt", 0), run.output("proj")
    sampling = base.get_model_object("model_sampling")
    model = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_ApplyAttention"]().apply(base, identity, 1.0, 0.2, 0.6)[0]
    patch = env.pack("nodes.attention_patch").installed_patches(model)[("input", 4, 0)]
    inside, early, late = (float(sampling.percent_to_sigma(p)) for p in (0.4, 0.1, 0.9))
    q, k, v = (torch.randn(2, 16, 64) for _ in range(3))
    from comfy.ldm.modules.attention import optimized_attention
    base_out = optimized_attention(q, k, v, 1)
    opts = {"n_heads": 1, "cond_or_uncond": [0, 1], "original_shape": [1, 4, 4, 4]}
    assert not torch.allclose(patch(q, k, v, {**opts, "sigmas": torch.tensor([inside])}), base_out)
    for sigma in (early, late):
        assert torch.equal(patch(q, k, v, {**opts, "sigmas": torch.tensor([sigma])}), base_out)
    # on a GPU the decision is a device tensor (no sync per layer); same answers
    for sigma, want in ((inside, True), (early, False), (late, False)):
        gate = patch.gate({"sigmas": torch.tensor([sigma], device="meta")})
        assert isinstance(gate, torch.Tensor) and gate.shape == ()
        assert patch.gate({"sigmas": torch.tensor([sigma])}) is want


def test_input_model_untouched_and_branches_independent(env):
    import nodes
    apply = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_ApplyAttention"]()
    base_run = cs.run_prompt(full_chain(seed=4))
    base = base_run.output("ckpt", 0)
    identity = base_run.output("proj")
    before = copy.copy(base.model_options.get("transformer_options", {}))
    a = apply.apply(base, identity, 0.5, 0.0, 1.0)[0]
    b = apply.apply(base, identity, 1.0, 0.0, 1.0)[0]
    assert base.model_options.get("transformer_options", {}) == before
    assert "patches_replace" not in base.model_options.get("transformer_options", {})
    pa = env.pack("nodes.attention_patch").installed_patches(a)
    pb = env.pack("nodes.attention_patch").installed_patches(b)
    assert len(pa) == len(pb) == len(env.layers)
    assert all(pa[k].weight == 0.5 and pb[k].weight == 1.0 for k in pa)


def test_chains_an_existing_attn2_patch_instead_of_overwriting(env):
    import nodes
    from comfy.ldm.modules.attention import optimized_attention

    class OtherPackPatch:  # stands in for an IPAdapter pack's attn2 replace patch
        def __init__(self):
            self.calls = 0

        def __call__(self, q, k, v, extra_options):
            self.calls += 1
            return optimized_attention(q, k, v, extra_options["n_heads"]) + 1.0

    run = cs.run_prompt(full_chain(seed=5))
    base, identity = run.output("ckpt", 0), run.output("proj")
    other = OtherPackPatch()
    with_other = base.clone()
    with_other.set_model_attn2_replace(other, "input", 4, 0)
    patched = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_ApplyAttention"]().apply(with_other, identity, 1.0, 0.0, 1.0)[0]
    ours = env.pack("nodes.attention_patch").installed_patches(patched)[("input", 4, 0)]
    assert env.pack("nodes.attention_patch").installed_patches(with_other)[("input", 4, 0)] is other
    q, k, v = (torch.randn(2, 16, 64) for _ in range(3))
    opts = {"n_heads": 1, "cond_or_uncond": [0, 1], "original_shape": [1, 4, 4, 4], "block": ("input", 4),
            "block_index": 0}
    out = ours(q, k, v, opts)
    assert ours.previous is not None and ours.previous.__class__.__name__ == "OtherPackPatch"
    alone = ours.previous.calls
    layer_kv = identity.kv.get(ours.weight_key, q.device, torch.float32)
    want = env.pack("instantid_core.compute.identity_attention").add_identity_attention(
        optimized_attention(q, k, v, 1) + 1.0, q, layer_kv, 1, 1.0, [0, 1])
    assert alone == 1 and torch.allclose(out, want, atol=1e-6)
    # the whole chain samples
    latent = nodes.NODE_CLASS_MAPPINGS["EmptyLatentImage"]().generate(64, 64, 1)[0]
    pos = run.output("apply", 1)
    neg = run.output("apply", 2)
    samples = nodes.common_ksampler(patched, 1, 1, 4.0, "euler", "normal", pos, neg, latent)[0]["samples"]
    assert torch.isfinite(samples).all()


def test_changing_weights_reruns_neither_face_analysis_nor_projection(env):
    runner = cs.PromptRunner()
    first = runner.run(full_chain(ip_weight=0.8, seed=6))
    assert {"fa", "det", "iid", "proj", "apply", "ks"} <= set(first.executed)
    second = runner.run(full_chain(ip_weight=0.3, cn_strength=0.5, seed=6))
    assert "apply" in second.executed and "ks" in second.executed
    assert not {"fa", "det", "iid", "proj", "img"} & set(second.executed)
    assert {"det", "proj"} <= set(second.cached)
    assert not torch.equal(first.output("dec"), second.output("dec"))


def test_kv_device_copies_are_dropped_when_comfyui_offloads_the_unet(env):
    result = cs.run_prompt(full_chain(seed=13))
    model, identity = result.output("apply", 0), result.output("proj")
    identity.kv.get(1, "cpu", torch.bfloat16)  # a copy as a GPU run would make (fp16/bf16 on the device)
    assert identity.kv.cached_nbytes() > 0
    model.model_patches_to(model.model_dtype())  # ComfyUI also passes dtypes: nothing to do
    assert identity.kv.cached_nbytes() > 0
    model.model_patches_to(torch.device("cpu"))  # what ComfyUI calls when it unloads the UNet
    assert identity.kv.cached_nbytes() == 0
    assert len(identity.kv.layers) == len(env.layers)  # the master copy stays


def test_adapter_stays_on_offload_device_and_kv_is_small(env):
    result = cs.run_prompt(full_chain(seed=7))
    handle = result.output("iid")
    assert {p.device.type for p in handle.model.parameters()} == {"cpu"}
    identity = result.output("proj")
    adapter_bytes = sum(p.numel() * p.element_size() for p in handle.model.parameters())
    assert identity.kv.nbytes < adapter_bytes / 10
    assert "projection      : cpu / float32" in identity.report


def test_mismatched_model_fails_before_sampling_and_changes_nothing(env):
    run = cs.run_prompt(full_chain(seed=8))
    base = run.output("ckpt", 0)
    short = full_chain(seed=8, adapter="short.safetensors")
    bad = cs.run_prompt(short, raise_on_error=False)
    assert not bad.success
    msg = bad.error["exception_message"]
    assert "'model' input" in msg and "SDXL-family" in msg and "16" in msg
    assert "ks" not in bad.executed
    assert "patches_replace" not in base.model_options.get("transformer_options", {})


def test_no_face_is_a_clear_error_naming_the_input(env):
    bad = cs.run_prompt(full_chain(image="blank.png"), raise_on_error=False)
    assert not bad.success
    assert "'image' input" in bad.error["exception_message"]
    assert "on_no_face" in bad.error["exception_message"]


def test_progress_reported_and_interrupt_honoured(env, monkeypatch):
    import comfy.model_management as mm
    import comfy.utils
    import nodes
    from comfy_execution.utils import get_executing_context
    seen = []

    def hook(value, total, preview, prompt_id=None, node_id=None):  # what the server's hook receives
        ctx = get_executing_context()
        seen.append((node_id or (ctx.node_id if ctx else None), value, total))

    monkeypatch.setattr(comfy.utils, "PROGRESS_BAR_HOOK", hook)
    result = cs.PromptRunner().run(full_chain(seed=9))
    assert result.success
    proj = [(v, t) for n, v, t in seen if n == "proj"]
    assert proj and proj[-1][0] == proj[-1][1] == len(env.layers) + 1  # one step per layer + the projection
    assert any(n == "det" for n, _, _ in seen)
    handle, faces = result.output("iid"), result.output("det")
    projection = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_ImageProjection"]()
    mm.interrupt_current_processing(True)
    try:
        with pytest.raises(mm.InterruptProcessingException):
            projection.project(handle, faces, "average", 0.0, 0)
    finally:
        mm.interrupt_current_processing(False)


def test_precision_manager_report_and_all_in_one_node(env):
    result = cs.run_prompt(full_chain(seed=10, precision=("keep_on_cpu", "bf16")))
    report = result.output("prec", 1)
    assert "keep_on_cpu" in report and "projection      : cpu / float32" in report
    out = cs.run_prompt(all_in_one_chain(seed=10))
    assert torch.isfinite(out.output("dec")).all()


def test_all_in_one_node_does_not_redo_faces_or_projection_when_a_weight_changes(env, monkeypatch):
    analyzer_cls = env.pack("instantid_core.faces.face_analysis").FaceAnalyzer
    projection = env.pack("nodes.projection_node")
    counts = {"analyze": 0, "project": 0}
    analyze, build = analyzer_cls.analyze, projection.build_identity

    def counted_analyze(self, image):
        counts["analyze"] += 1
        return analyze(self, image)

    def counted_build(*args, **kwargs):
        counts["project"] += 1
        return build(*args, **kwargs)

    monkeypatch.setattr(analyzer_cls, "analyze", counted_analyze)
    monkeypatch.setattr(env.pack("nodes.apply_nodes"), "build_identity", counted_build)
    env.pack("nodes.apply_nodes")._MEMO.items.clear()  # earlier tests ran the same photo and adapter
    runner = cs.PromptRunner()
    outputs = []
    for weight in (0.8, 0.4):
        p = all_in_one_chain(keep_detect=True, seed=12, ip_weight=weight)
        p["apply"]["inputs"]["image_kps"] = ["kps", 0]
        p["kps"] = {"class_type": "InstantIDPrecision_FaceKeypoints", "inputs": {"faces": ["det", 0], "width": 64,
                                                                       "height": 64, "image_index": 0}}
        result = runner.run(p)
        assert "apply" in result.executed
        outputs.append(result.output("dec"))
    assert counts == {"analyze": 2, "project": 1}  # 'det' for the keypoints once, the all-in-one node once
    assert not torch.equal(outputs[0], outputs[1])


def test_missing_antelopev2_says_where_the_files_go(env, monkeypatch, tmp_path):
    import nodes
    face_nodes = env.pack("nodes.face_nodes")
    monkeypatch.setattr(face_nodes, "insightface_roots", lambda: [str(tmp_path)])
    with pytest.raises(ValueError) as exc:
        nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_FaceAnalysisLoader"]().load("CPU", "640")
    text = str(exc.value)
    assert f"put scrfd_10g_bnkps.onnx at {tmp_path}/models/antelopev2/scrfd_10g_bnkps.onnx" in text
    assert "'provider' input" not in text and "InstantID Model Doctor" in text
    assert "download --only antelopev2" in text


def test_all_in_one_memo_keeps_no_adapter_alive(env, tmp_path):
    """ComfyUI re-runs the loader when its file changes and drops the old output; the all-in-one node's memo
    must not keep that old adapter in memory (it keys on the file's content and holds only the identity)."""
    import gc
    import shutil
    import folder_paths
    folder = Path(folder_paths.get_folder_paths("instantid")[0])
    shutil.copyfile(folder / "ip-adapter.safetensors", folder / "copy-b.safetensors")
    folder_paths.filename_list_cache.clear()
    model_class = env.pack("instantid_core.compute.instantid_model").InstantIDModel
    alive = lambda: gc.collect() * 0 + sum(type(o) is model_class for o in gc.get_objects())  # noqa: E731
    before = alive()  # adapters other tests' runners still cache
    runner = cs.PromptRunner()
    for adapter in ("ip-adapter.safetensors", "copy-b.safetensors", "ip-adapter.safetensors", "copy-b.safetensors"):
        runner.run(all_in_one_chain(seed=15, steps=1, adapter=adapter))
    assert alive() - before == 1  # this runner's cached loader output only
