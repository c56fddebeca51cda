"""InstantID Multi-Person inside a real ComfyUI (tiny models, tiny ONNX faces): identities assigned to the
faces of a layout photo, and no leak: an identity's attention term and its IdentityNet residuals stay inside its
own face's region, on every layer."""
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from instantid_testkit import comfy_support as cs
from instantid_testkit import fixtures_onnx as fx
from instantid_testkit.comfy_env import comfy_env
from instantid_testkit.prompts import tiny_loaders

SIDE, Y = 128, 160
XS = (32, 256, 448)  # left to right; centres on the tiny detector's 32-px grid
SEEDS = (31, 32, 33)  # identity n is the contrast face drawn with SEEDS[n]
LAYOUT = (33, 31, 32)  # the layout photo's faces, left to right: identities 2, 0, 1
SIZE = 128  # generation size (latent 16x16): small enough for the CPU, every layer grid divides it


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = comfy_env(tmp_path_factory.mktemp("comfy"))
    from PIL import Image
    for n, seed in enumerate(SEEDS):
        img = np.zeros((640, 640, 3), np.uint8)
        fx.draw_contrast_face(img, 96, Y, SIDE, seed)
        Image.fromarray(img).save(env.tmp / "input" / f"person{n}.png")
    img = np.zeros((640, 640, 3), np.uint8)
    for x, seed in zip(XS, LAYOUT):
        fx.draw_contrast_face(img, x, Y, SIDE, seed)
    Image.fromarray(img).save(env.tmp / "input" / "group.png")
    return env


def prompt(identities=3, assignment="by likeness", order="", seed=1, person0="person0.png", steps=1):
    p = {
        **tiny_loaders("three people"),
        "lat": {"class_type": "EmptyLatentImage", "inputs": {"width": SIZE, "height": SIZE, "batch_size": 1}},
        "group": {"class_type": "LoadImage", "inputs": {"image": "group.png"}},
        "layout": {"class_type": "InstantIDPrecision_FaceDetect", "inputs": {
            "face_analysis": ["fa", 0], "image": ["group", 0], "selection": "all", "face_index": 0,
            "on_no_face": "error"}},
        "multi": {"class_type": "InstantIDPrecision_MultiPerson", "inputs": {
            "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "control_net": ["cn", 0],
            "faces": ["layout", 0], "latent": ["lat", 0], "assignment": assignment, "order": order,
            "ip_weight": 0.8, "cn_strength": 0.8, "start_at": 0.0, "end_at": 1.0, "grow": 0.3, "feather": 4.0}},
        "ks": {"class_type": "KSampler", "inputs": {"model": ["multi", 0], "positive": ["multi", 1],
               "negative": ["multi", 2], "latent_image": ["lat", 0], "seed": seed, "steps": steps, "cfg": 4.0,
               "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
        "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["ks", 0], "vae": ["ckpt", 2]}},
        "save": {"class_type": "PreviewImage", "inputs": {"images": ["dec", 0]}},
    }
    for n in range(identities):
        image = person0 if n == 0 else f"person{n % len(SEEDS)}.png"
        p[f"img{n}"] = {"class_type": "LoadImage", "inputs": {"image": image}}
        p[f"det{n}"] = {"class_type": "InstantIDPrecision_FaceDetect", "inputs": {
            "face_analysis": ["fa", 0], "image": [f"img{n}", 0], "selection": "largest", "face_index": 0,
            "on_no_face": "error"}}
        p[f"proj{n}"] = {"class_type": "InstantIDPrecision_ImageProjection", "inputs": {
            "instantid": ["iid", 0], "faces": [f"det{n}", 0], "combine": "average", "negative_noise": 0.0, "seed": 0}}
        p["multi"]["inputs"][f"identity_{n}"] = [f"proj{n}", 0]
    return p


def patch_chain(env, model, key):
    """The identity patches on one layer, outermost first."""
    patch = env.pack("nodes.attention_patch").installed_patches(model)[key]
    chain = []
    while isinstance(patch, env.pack("nodes.attention_patch").IdentityAttentionPatch):
        chain.append(patch)
        patch = patch.previous
    return chain


def test_by_likeness_gives_each_face_the_identity_it_shows(env):
    result = cs.run_prompt(prompt())
    report = result.output("multi", 3)
    assert "assignment: by likeness" in report
    for face, identity in enumerate((2, 0, 1)):
        assert f"face {face}: identity {identity}, region (" in report
    assert "cosine similarity" in report
    regions = result.output("multi", 4)
    assert regions.shape == (3, SIZE, SIZE)
    assert ((regions > 0).sum(0) <= 1).all()  # regions never overlap
    model = result.output("multi", 0)
    projections = [result.output(f"proj{n}") for n in range(3)]
    for key in env.pack("nodes.attention_patch").installed_patches(model):
        chain = patch_chain(env, model, key)[::-1]  # applied left to right
        assert [p.identity for p in chain] == [projections[i] for i in (2, 0, 1)]
        for face, patch in enumerate(chain):
            assert torch.equal(patch.mask, regions[face])
    assert torch.isfinite(result.output("dec")).all()


def test_order_string_and_its_errors(env):
    result = cs.run_prompt(prompt(identities=2, assignment="order", order="-,1"))
    report = result.output("multi", 3)
    assert "face 0: no identity" in report and "face 1: identity 1" in report and "face 2: no identity" in report
    assert "identity 0 has no face" in report
    # an order may leave identities out even when there are more than faces: the user chose who appears
    chosen = cs.run_prompt(prompt(identities=4, assignment="order", order="3,-,1")).output("multi", 3)
    assert "face 0: identity 3" in chosen and "face 1: no identity" in chosen and "face 2: identity 1" in chosen
    assert "identity 0 has no face" in chosen and "identity 2 has no face" in chosen
    bad = cs.run_prompt(prompt(identities=2, assignment="order", order="0,3"), raise_on_error=False)
    assert "InstantID Multi-Person: check the 'order' input — entry 1 of the order is identity 3" in str(bad.error)


def test_bad_inputs_name_the_input_to_fix(env):
    """More identities than faces, a gap in the identity inputs, an empty order: each stops the node with a
    message naming the input to change (the pack's own error, not a crash), and nothing is sampled."""
    gap = prompt(identities=4, assignment="left to right")
    del gap["multi"]["inputs"]["identity_2"]
    cases = (
        (prompt(identities=4), "identity_3", "4 identities are connected but the layout has 3 face(s)"),
        (gap, "identity_2", "identity_2 is empty but a later identity is connected"),
        (prompt(identities=2, assignment="order", order=" "), "order",
         "assignment is 'order' but the order is empty"),
    )
    for api_prompt, name, problem in cases:  # by likeness (the default here) and left to right alike
        result = cs.run_prompt(api_prompt, raise_on_error=False)
        assert not result.success and result.error["node_id"] == "multi"
        assert result.error["exception_type"].endswith("NodeInputError")
        assert result.error["exception_message"].startswith(
            f"InstantID Multi-Person: check the '{name}' input — {problem}")
        assert "ks" not in result.executed


def test_attention_term_is_zero_outside_its_region_on_every_layer(env, monkeypatch):
    """Identities 0 and 1 on faces 0 and 1 (face 2 none): on every attn2 layer of a real sampling step, each
    identity's own term is exactly zero wherever its face's region (as that layer sees it) is zero -- the other
    person's face region included -- and not zero inside it."""
    mod = env.pack("nodes.attention_patch")
    core = env.pack("instantid_core.compute.identity_attention")
    terms = []
    original = mod.IdentityAttentionPatch.with_identity

    def with_identity(self, out, q, extra_options):
        result = original(self, out, q, extra_options)  # out already holds the patches chained before this one
        terms.append((self, (result - out).detach(), extra_options["original_shape"]))
        return result

    monkeypatch.setattr(mod.IdentityAttentionPatch, "with_identity", with_identity)
    result = cs.run_prompt(prompt(identities=2, assignment="order", order="0,1"))
    regions = result.output("multi", 4)
    projections = [result.output(f"proj{n}") for n in range(2)]
    layers = len(mod.installed_patches(result.output("multi", 0)))
    assert len(terms) == 2 * layers  # one step, one patch per person per layer
    seen = set()
    for patch, term, shape in terms:
        face = next(f for f in range(2) if torch.equal(patch.mask, regions[f]))
        assert patch.identity is projections[face]
        seen.add(face)
        grid = core.token_grid(term.shape[1], shape[2:])
        own = core.resize_mask(regions[face], grid, term.shape[0])[..., 0]  # [B, tokens]
        other = core.resize_mask(regions[1 - face], grid, term.shape[0])[..., 0]
        outside = own == 0
        assert (other[outside.logical_not()] == 0).all()  # the other face's region lies outside this one's
        assert outside[0].any() and (other > 0).any()
        assert torch.count_nonzero(term[outside]) == 0
        assert torch.count_nonzero(term[own > 0]) > 0
    assert seen == {0, 1}


def test_identitynet_residuals_in_another_faces_region_ignore_this_identity(env, monkeypatch):
    """Faces 0 and 1 get identities 0 and 1. Swapping identity 0's tokens for random ones changes the summed
    IdentityNet residuals inside face 0's region and leaves them bit-identical inside face 1's."""
    mixin = env.pack("nodes.regional_identitynet").RegionalIdentityNetMixin
    original = mixin.get_control
    seen = []

    def get_control(self, x_noisy, t, cond, batched_number, transformer_options):
        if seen or not isinstance(self.previous_controlnet, mixin):
            return original(self, x_noisy, t, cond, batched_number, transformer_options)
        first = self.previous_controlnet  # face 0's IdentityNet (identity 0), chained before face 1's
        args = (x_noisy, t, cond, batched_number, transformer_options)
        normal = original(self, *args)
        tokens = first.identity_tokens
        first.identity_tokens = types.SimpleNamespace(cond=torch.randn_like(tokens.cond),
                                                      uncond=torch.randn_like(tokens.uncond))
        try:
            swapped = original(self, *args)
        finally:
            first.identity_tokens = tokens
        # copies of the lists: the UNet pops the residuals it uses
        seen.append(({k: list(v) for k, v in normal.items()}, swapped, first.region, self.region))
        return normal

    monkeypatch.setattr(mixin, "get_control", get_control)
    cs.run_prompt(prompt(identities=2, assignment="left to right"))
    normal, swapped, region0, region1 = seen[0]
    changed_inside = 0
    for key in normal:
        for a, b in zip(normal[key], swapped[key]):
            if a is None:
                continue
            m0, m1 = (F.interpolate(r[None, None], size=a.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
                      for r in (region0, region1))
            only1 = (m1 > 0) & (m0 == 0)
            assert only1.any()
            assert torch.equal(a[..., only1], b[..., only1])
            changed_inside += int(not torch.equal(a[..., m0 > 0], b[..., m0 > 0]))
    assert changed_inside > 0


def test_input_model_and_conditioning_untouched(env):
    result = cs.run_prompt(prompt(identities=2))
    base, pos = result.output("ckpt", 0), result.output("pos", 0)
    assert "patches_replace" not in base.model_options.get("transformer_options", {})
    assert all("control" not in options for _, options in pos)
    positive = result.output("multi", 1)
    assert all(options["control"] is positive[0][1]["control"] for _, options in positive)
