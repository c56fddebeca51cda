"""The InstantID effect is the same on every supported ComfyUI core.

The effect is what InstantID changes in a sampled latent: the latent with our patch / our IdentityNet minus the
latent without, from the same tiny weights, conditioning and seed. It goes through the parts of ComfyUI that
changed between v0.3.64 and v0.33.0 (the ControlNet's hint handling, the UNet's transformer options that the mask
code reads, clone() and model loading), so a core that moves something the pack relies on shows here as a
different effect. The effects were computed once (on v0.33.0) and stored in tests/reference/; this test computes
them on the core it runs on (COMFYUI_PATH) and compares.

Tolerance: each effect may differ from the stored one by at most 1e-4 of the effect's largest value (float32 on
the CPU; measured 2026-12: v0.33.0 and v0.3.64 give exactly the stored numbers). To store new references after a deliberate
change to the tiny models or the pack's math, run this file once with INSTANTID_WRITE_EFFECT_REFERENCE=1 on the
primary core and commit the file."""
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from instantid_testkit.direct_nodes import PREFIX, direct_chain, run_node
from instantid_testkit.comfy_env import comfy_env

REFERENCE = Path(__file__).resolve().parent / "reference" / "instantid_effect.safetensors"
RELATIVE_TOLERANCE = 1e-4
LATENT_HW = (12, 16)  # not square, so the mask must be placed from the UNet's real input shape
SEED, STEPS = 5, 2


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return comfy_env(tmp_path_factory.mktemp("comfy"))


@pytest.fixture(scope="module")
def chain(env):
    return direct_chain()


def left_half_mask():
    h, w = (s * 8 for s in LATENT_HW)
    mask = torch.zeros(1, h, w)
    mask[:, :, : w // 2] = 1.0
    return mask


def latent():
    return {"samples": torch.zeros(1, 4, *LATENT_HW)}


def sample(model, positive, negative):
    import nodes
    with torch.inference_mode():
        return nodes.common_ksampler(model, SEED, STEPS, 4.0, "euler", "normal", positive, negative,
                                     latent())[0]["samples"].float()


def with_attention(chain, mask):
    model = run_node(PREFIX + "ApplyAttention", model=chain.base, identity=chain.identity, weight=0.8,
                     start_at=0.0, end_at=1.0, mask=mask)[0]
    return model, chain.pos, chain.neg


def with_identitynet(chain, mask):
    pos, neg = run_node(PREFIX + "ApplyIdentityNet", positive=chain.pos, negative=chain.neg,
                        control_net=chain.control_net, identity=chain.identity, strength=0.8, start_at=0.0,
                        end_at=1.0, faces=chain.faces, latent=latent(), mask=mask)
    return chain.base, pos, neg


def with_both(chain, mask):
    model, _, _ = with_attention(chain, mask)
    _, pos, neg = with_identitynet(chain, mask)
    return model, pos, neg


CASES = {
    "attention_masked": lambda chain: with_attention(chain, left_half_mask()),
    "identitynet_masked": lambda chain: with_identitynet(chain, left_half_mask()),
    "both_unmasked": lambda chain: with_both(chain, None),
}


@pytest.fixture(scope="module")
def effects(chain):
    base = sample(chain.base, chain.pos, chain.neg)
    return {name: sample(*make(chain)) - base for name, make in CASES.items()}


@pytest.fixture(scope="module")
def reference(effects):
    if os.environ.get("INSTANTID_WRITE_EFFECT_REFERENCE") == "1":
        REFERENCE.parent.mkdir(exist_ok=True)
        save_file({k: v.contiguous() for k, v in effects.items()}, str(REFERENCE))
    assert REFERENCE.is_file(), f"{REFERENCE.name} is missing: run this file with INSTANTID_WRITE_EFFECT_REFERENCE=1"
    return load_file(str(REFERENCE))


@pytest.mark.parametrize("name", CASES)
def test_the_effect_equals_the_stored_one(effects, reference, name):
    effect, stored = effects[name], reference[name]
    scale = stored.abs().max()
    assert scale > 1e-3, "the stored effect is too small to show anything"
    difference = (effect - stored).abs().max()
    print(f"{name}: largest effect {scale:.4g}, largest difference from the stored effect {difference:.3g}")
    assert difference <= RELATIVE_TOLERANCE * scale


def test_the_masked_identity_term_stays_inside_the_mask(env, chain, monkeypatch):
    """Inside the core's own UNet pass: the mask is placed from the UNet's input shape (``original_shape`` in the
    transformer options, which both cores set), and on every layer the identity term is zero on the tokens right
    of the mask (the left half) and not zero left of it."""
    attention_patch = env.pack("nodes.attention_patch")
    original, seen = attention_patch.add_identity_attention, []

    def recording(out, q, kv, heads, weight, cond_or_uncond, mask=None, latent_hw=None, **kwargs):
        result = original(out, q, kv, heads, weight, cond_or_uncond, mask=mask, latent_hw=latent_hw, **kwargs)
        seen.append((tuple(latent_hw), (result - out).float()))
        return result

    monkeypatch.setattr(attention_patch, "add_identity_attention", recording)
    sample(*with_attention(chain, left_half_mask()))
    assert seen and {hw for hw, _ in seen} == {LATENT_HW}
    for _, term in seen:
        tokens = term.shape[1]
        w = int((tokens * LATENT_HW[1] / LATENT_HW[0]) ** 0.5)
        grid = term.abs().amax(dim=(0, 2)).reshape(tokens // w, w)  # [h, w] of the layer's token grid
        assert grid[:, w // 2:].max() == 0 and grid[:, : w // 2].min() > 0, grid
