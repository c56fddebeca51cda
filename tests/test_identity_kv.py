import pytest
import torch

from instantid_testkit.adapter_fixtures import adapter_state, save_safetensors
from instantid_core.compute.identity import compute_identity_kv, negative_embeddings, project_identity
from instantid_core.files.adapter_file import load_instantid_model
from instantid_testkit.reference_math import resampler_f64

HIDDEN = (32, 32, 64)


@pytest.fixture
def model_and_state(tmp_path):
    state = adapter_state(HIDDEN, seed=11)
    return load_instantid_model(save_safetensors(state, tmp_path / "a.safetensors")), state


def test_tokens_cond_and_zero_uncond(model_and_state):
    model, state = model_and_state
    embeds = torch.randn(2, 512) * 20
    tokens = project_identity(model, embeds, "cpu", torch.float32)
    assert tokens.cond.shape == tokens.uncond.shape == (2, 4, 96)
    assert tokens.cond.dtype == torch.float32 and tokens.cond.device.type == "cpu"
    assert (tokens.cond.double() - resampler_f64(state["image_proj"], embeds)).abs().max() < 1e-5
    zero = resampler_f64(state["image_proj"], torch.zeros(2, 512))
    assert (tokens.uncond.double() - zero).abs().max() < 1e-5


def test_negative_noise_uses_private_generator():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = negative_embeddings(torch.zeros(1, 512), noise=0.5, seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)  # global RNG untouched
    assert torch.equal(a, negative_embeddings(torch.zeros(1, 512), noise=0.5, seed=7))
    assert not torch.equal(a, negative_embeddings(torch.zeros(1, 512), noise=0.5, seed=8))
    assert torch.count_nonzero(negative_embeddings(torch.zeros(1, 512))) == 0


def test_nan_embedding_is_a_clear_error(model_and_state):
    model, _ = model_and_state
    with pytest.raises(ValueError, match="NaN"):
        project_identity(model, torch.full((1, 512), float("nan")), "cpu", torch.float32)


def test_kv_matches_tokens_times_weights(model_and_state):
    model, state = model_and_state
    tokens = project_identity(model, torch.randn(1, 512) * 20, "cpu", torch.float32)
    kv = compute_identity_kv(model, tokens, "cpu", torch.float32)
    assert sorted(kv.layers) == [1, 3, 5]
    for n in (1, 3, 5):
        wk = state["ip_adapter"][f"{n}.to_k_ip.weight"].double()
        wv = state["ip_adapter"][f"{n}.to_v_ip.weight"].double()
        layer = kv.layers[n]
        assert (layer.k_cond.double() - tokens.cond.double() @ wk.T).abs().max() < 1e-6
        assert (layer.v_uncond.double() - tokens.uncond.double() @ wv.T).abs().max() < 1e-6
    assert kv.nbytes == sum(4 * 4 * h * 4 for h in HIDDEN)  # 4 tensors × 4 tokens × hidden × 4 bytes


def test_half_file_kv_computed_in_float32_on_cpu(tmp_path):
    state = adapter_state(HIDDEN, dtype=torch.float16, seed=2)
    model = load_instantid_model(save_safetensors(state, tmp_path / "h.safetensors"))
    tokens = project_identity(model, torch.randn(1, 512) * 20, "cpu", torch.float32)
    kv = compute_identity_kv(model, tokens, "cpu", torch.float32)
    assert kv.layers[1].k_cond.dtype == torch.float32
    assert model.ip_adapter["1"].to_k_ip.weight.dtype == torch.float16  # model not converted in place


def test_served_copies_are_cast_once_and_remembered(model_and_state):
    model, _ = model_and_state
    tokens = project_identity(model, torch.randn(1, 512), "cpu", torch.float32)
    calls = []
    kv = compute_identity_kv(model, tokens, "cpu", torch.float32, on_layer=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert kv.get(3, "cpu", torch.float32) is kv.layers[3]  # already in place: no copy
    first = kv.get(3, "cpu", torch.bfloat16)
    assert first.k_cond.dtype == torch.bfloat16
    assert kv.get(3, "cpu", torch.bfloat16) is first
    assert kv.cached_nbytes() == first.nbytes
    kv.release()
    assert kv.cached_nbytes() == 0
