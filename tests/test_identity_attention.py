import pytest
import torch

from instantid_core.errors import IdentityBatchError
from instantid_core.compute.identity import LayerKV
from instantid_core.compute.identity_attention import add_identity_attention, resize_mask, token_grid
from instantid_testkit.reference_math import attention_f64

HEADS, D, T = 4, 8, 6
INNER = HEADS * D


def kv(identities=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return LayerKV(*(torch.randn(identities, T, INNER, generator=g) for _ in range(4)))


def test_matches_float64_reference_with_cond_uncond_order():
    layer = kv()
    q = torch.randn(4, 10, INNER)
    out = torch.randn(4, 10, INNER)
    res = add_identity_attention(out, q, layer, HEADS, 0.8, cond_or_uncond=[1, 0])
    # chunk 0 is uncond (2 latents), chunk 1 is cond
    k = torch.cat([layer.k_uncond.expand(2, -1, -1), layer.k_cond.expand(2, -1, -1)])
    v = torch.cat([layer.v_uncond.expand(2, -1, -1), layer.v_cond.expand(2, -1, -1)])
    ref = out.double() + 0.8 * attention_f64(q, k, v, HEADS)
    assert (res.double() - ref).abs().max() < 1e-5


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_q_returns_half_within_two_percent(dtype):
    layer = kv()
    q = torch.randn(2, 10, INNER)
    out = torch.zeros(2, 10, INNER)
    res = add_identity_attention(out.to(dtype), q.to(dtype), layer.to("cpu", dtype), HEADS, 1.0, [0, 1])
    assert res.dtype == dtype
    ref = add_identity_attention(out, q, layer, HEADS, 1.0, [0, 1])
    rel = ((res.float() - ref).norm() / ref.norm()).item()
    assert rel < 2e-2


def test_weight_zero_is_identity_and_weight_scales():
    layer = kv()
    q, out = torch.randn(2, 5, INNER), torch.randn(2, 5, INNER)
    assert add_identity_attention(out, q, layer, HEADS, 0.0, [0, 1]) is out
    a = add_identity_attention(out, q, layer, HEADS, 0.5, [0, 1]) - out
    b = add_identity_attention(out, q, layer, HEADS, 1.0, [0, 1]) - out
    assert torch.allclose(2 * a, b, atol=1e-6)


def test_one_identity_per_latent_and_mismatch_error():
    layer = kv(identities=3)
    q = torch.randn(6, 5, INNER)
    res = add_identity_attention(torch.zeros_like(q), q, layer, HEADS, 1.0, [0, 1])
    single = add_identity_attention(torch.zeros(2, 5, INNER), q[[1, 4]],
                                    LayerKV(*(t[1:2] for t in (layer.k_cond, layer.v_cond, layer.k_uncond,
                                                              layer.v_uncond))), HEADS, 1.0, [0, 1])
    assert torch.allclose(res[[1, 4]], single, atol=1e-6)
    with pytest.raises(IdentityBatchError, match="3 identities .* 2 latents"):
        add_identity_attention(torch.zeros(4, 5, INNER), torch.randn(4, 5, INNER), layer, HEADS, 1.0, [0, 1])


def test_token_grid_for_odd_sizes():
    assert token_grid(16 * 24, (16, 24)) == (16, 24)
    assert token_grid(8 * 12, (16, 24)) == (8, 12)
    assert token_grid(3 * 2, (9, 5)) == (3, 2)  # ceil division, as the UNet's strided convs do
    with pytest.raises(ValueError):
        token_grid(7, (16, 16))


def test_mask_limits_identity_to_region_any_aspect_ratio():
    layer = kv()
    latent_hw = (8, 16)  # wide image
    q = torch.randn(2, 8 * 16, INNER)
    mask = torch.zeros(64, 256)  # image-space mask, not the latent's size
    mask[:, :128] = 1  # left half
    out = torch.zeros_like(q)
    res = add_identity_attention(out, q, layer, HEADS, 1.0, [0, 1], mask=mask, latent_hw=latent_hw)
    grid = res.reshape(2, 8, 16, INNER).abs().sum(-1)
    assert grid[:, :, :7].min() > 0 and grid[:, :, 9:].max() == 0
    # at the layer's lower resolution the same mask is resized to that grid
    q2 = torch.randn(2, 4 * 8, INNER)
    res2 = add_identity_attention(torch.zeros_like(q2), q2, layer, HEADS, 1.0, [0, 1], mask=mask, latent_hw=latent_hw)
    assert res2.reshape(2, 4, 8, INNER)[:, :, 5:].abs().max() == 0


def test_mask_batch_rules():
    assert resize_mask(torch.ones(1, 4, 4), (2, 2), 3).shape == (3, 4, 1)
    assert resize_mask(torch.ones(3, 4, 4), (2, 2), 3).shape == (3, 4, 1)
    with pytest.raises(IdentityBatchError):
        resize_mask(torch.ones(2, 4, 4), (2, 2), 3)
    with pytest.raises(ValueError, match="latent size"):
        add_identity_attention(torch.zeros(2, 4, INNER), torch.randn(2, 4, INNER), kv(), HEADS, 1.0, [0, 1],
                               mask=torch.ones(4, 4))
