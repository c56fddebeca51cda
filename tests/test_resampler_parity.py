import torch

from instantid_testkit.adapter_fixtures import REAL, TINY, image_proj_state
from instantid_core.compute.precision import run_in_dtype
from instantid_core.compute.resampler import Resampler, ResamplerConfig
from instantid_testkit.reference_math import resampler_f64


def _model(sd):
    m = Resampler(ResamplerConfig.from_state_dict(sd))
    m.load_state_dict(sd, assign=True)
    return m.eval()


def test_config_inferred_from_real_size_shapes():
    with torch.device("meta"):
        sd = Resampler(ResamplerConfig()).state_dict()
    assert ResamplerConfig.from_state_dict(sd) == ResamplerConfig(dim=1280, depth=4, heads=20, num_queries=16,
                                                                  embedding_dim=512, output_dim=2048, ff_mult=4)


def test_real_size_float32_matches_float64_reference():
    sd = image_proj_state(**REAL, seed=3)
    embeds = torch.randn(2, 512, generator=torch.Generator().manual_seed(0)) * 20  # raw ArcFace norm ~ 20
    with torch.inference_mode():
        out = _model(sd)(embeds)
    ref = resampler_f64(sd, embeds)
    assert out.shape == (2, 16, 2048) and out.dtype == torch.float32
    err = (out.double() - ref).abs().max().item()
    print(f"resampler fp32 vs fp64 max abs err {err:.2e}")
    assert err <= 1e-5


def test_accepts_b_1_512_and_b_512_alike():
    sd = image_proj_state(**TINY)
    m = _model(sd)
    e = torch.randn(3, 512)
    assert torch.equal(m(e), m(e.unsqueeze(1)))


def test_half_weights_on_cpu_run_in_float32_and_match_reference():
    for half in (torch.float16, torch.bfloat16):
        sd = image_proj_state(**TINY, seed=5, dtype=half)
        model = _model(sd)
        seen = []
        hooks = [mod.register_forward_hook(lambda mod, i, o: seen.append(o.dtype))
                 for mod in model.modules() if isinstance(mod, (torch.nn.Linear, torch.nn.LayerNorm))]
        embeds = torch.randn(1, 512) * 20
        out = run_in_dtype(model, "cpu", torch.float32, embeds)
        for h in hooks:
            h.remove()
        assert seen and set(seen) == {torch.float32}
        assert model.latents.dtype == half  # the caller's module keeps its stored dtype
        ref = resampler_f64(sd, embeds)  # same (rounded) weights, float64 math
        assert (out.double() - ref).abs().max().item() <= 1e-5


def test_half_compute_is_within_two_percent():
    sd = image_proj_state(**TINY, seed=7)
    model = _model(sd)
    embeds = torch.randn(2, 512) * 20
    ref = resampler_f64(sd, embeds)
    for half in (torch.bfloat16,):  # fp16 matmul kernels on CPU exist only on recent torch; bf16 always
        out = run_in_dtype(model, "cpu", half, embeds)
        assert out.dtype == half
        rel = ((out.double() - ref).norm() / ref.norm()).item()
        assert rel <= 2e-2, rel
