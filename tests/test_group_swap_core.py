"""Group swap, the core: which faces of a photo get a crop (and which identity), one canvas size for the batch,
the per-crop identity stacked from existing tokens and K/V, and the stitch of several crops into one photo that
leaves every pixel outside the masks bit-identical. Plain numpy/torch, no ComfyUI."""
import numpy as np
import pytest
import torch

from instantid_core.compute.identity import IdentityKV, IdentityTokens, LayerKV
from instantid_core.errors import InputValueError
from instantid_core.faces.face_mask import face_mask
from instantid_core.faces.face_region import CropSettings, warp
from instantid_core.faces.group_swap import PhotoFace, plan_group_swap, stitch_group
from instantid_core.faces.group_swap_identity import stack_per_crop

KPS = np.array([[-0.35, -0.2], [0.35, -0.2], [0.0, 0.1], [-0.25, 0.4], [0.25, 0.4]])
SETTINGS = CropSettings(padding=0.5, align=True, long_side=128, mask_grow=0, feather=8)
SIZE = (640, 360)


def face(x, y, side, embedding=None):
    centre = np.array([x + side / 2, y + side / 2])
    return PhotoFace((x, y, x + side, y + side), centre + KPS * side / 2, embedding)


def unit(seed):
    v = np.random.default_rng(seed).normal(size=512)
    return v / np.linalg.norm(v) * 20


def test_faces_are_numbered_left_to_right_and_each_assigned_face_gets_one_crop_of_one_size():
    faces = [face(400, 100, 90), face(40, 120, 60), face(220, 80, 120)]  # detector order: not left to right
    plan = plan_group_swap(faces, SIZE, 2, SETTINGS)
    assert [f.box[0] for f in plan.faces] == [40, 220, 400]
    assert plan.assignment.faces == (0, 1, None)
    assert plan.crop_faces == (0, 1) and plan.crop_identities == (0, 1)
    assert {c.crop_size for c in plan.crops} == {plan.crops[0].crop_size}
    assert [c.face_index for c in plan.crops] == [0, 1]
    text = plan.text()
    assert "face 2: no identity, left untouched" in text and "face 0: identity 0 -> crop 0" in text


def test_by_likeness_uses_the_photos_embeddings_and_reports_the_matrix():
    people = [unit(1), unit(2), unit(3)]
    faces = [face(40, 100, 90, people[2] * 1.1), face(250, 100, 90, people[0]), face(460, 100, 90, people[1])]
    plan = plan_group_swap(faces, SIZE, 3, SETTINGS, "by likeness", identity_embeddings=[p[None] for p in people])
    assert plan.assignment.faces == (2, 0, 1)
    assert plan.crop_identities == (2, 0, 1)
    assert plan.assignment.cosine.shape == (3, 3)
    assert "cosine similarity" in plan.text()


def test_more_identities_than_faces_warns_and_order_can_leave_faces_alone():
    plan = plan_group_swap([face(40, 100, 90)], SIZE, 3, SETTINGS)
    assert any("identity 1 has no face" in w for w in plan.warnings)
    plan = plan_group_swap([face(40, 100, 90), face(300, 100, 90)], SIZE, 2, SETTINGS, "order", "-,0")
    assert plan.crop_faces == (1,) and plan.crop_identities == (0,)


@pytest.mark.parametrize("faces, mode, order, name", [
    ([], "left to right", "", "faces"),
    ([face(40, 100, 90)], "order", "-", "order"),
    ([face(40, 100, 90)], "by likeness", "", "assignment"),  # no embeddings to compare
])
def test_bad_plans_name_the_input(faces, mode, order, name):
    with pytest.raises(InputValueError) as err:
        plan_group_swap(faces, SIZE, 1, SETTINGS, mode, order, identity_embeddings=[None])
    assert err.value.input_name == name


def identity(seed, count=1, tokens=16, layers=(0, 1)):
    g = torch.Generator().manual_seed(seed)
    t = IdentityTokens(torch.randn(count, tokens, 8, generator=g), torch.randn(count, tokens, 8, generator=g))
    kv = IdentityKV({n: LayerKV(*(torch.randn(count, tokens, 4, generator=g) for _ in range(4))) for n in layers},
                    identities=count)
    return t, kv


def test_stacked_identity_holds_each_crops_own_tokens_and_kv_in_crop_order():
    parts = [identity(s) for s in (1, 2, 3)]
    picks = (2, 0, 2)  # an identity may serve two crops
    tokens, kv = stack_per_crop([p[0] for p in parts], [p[1] for p in parts], picks)
    assert kv.identities == 3 and tokens.cond.shape == (3, 16, 8)
    for crop, n in enumerate(picks):
        assert torch.equal(tokens.cond[crop], parts[n][0].cond[0])
        assert torch.equal(tokens.uncond[crop], parts[n][0].uncond[0])
        for key in (0, 1):
            for name in ("k_cond", "v_cond", "k_uncond", "v_uncond"):
                assert torch.equal(getattr(kv.layers[key], name)[crop], getattr(parts[n][1].layers[key], name)[0])


def test_stacking_refuses_identities_that_are_not_one_person_or_do_not_match():
    one, two = identity(1), identity(2, count=2)
    with pytest.raises(InputValueError, match="identity_1 holds 2 identities") as err:
        stack_per_crop([one[0], two[0]], [one[1], two[1]], (0, 1))
    assert err.value.input_name == "identity_1"
    tokens, kv = stack_per_crop([one[0], two[0]], [one[1], two[1]], (0,))  # identity_1 unused: not refused
    assert kv.identities == 1
    long = identity(3, tokens=32)
    with pytest.raises(InputValueError, match="identity_1 has tokens of shape") as err:
        stack_per_crop([one[0], long[0]], [one[1], long[1]], (0, 1))
    other = identity(4, layers=(0, 5))
    with pytest.raises(InputValueError, match="another InstantID adapter") as err:
        stack_per_crop([one[0], other[0]], [one[1], other[1]], (0, 1))
    assert err.value.input_name == "identity_1"


def test_stitching_every_crop_keeps_each_pixel_outside_the_masks_bit_identical():
    rng = np.random.default_rng(5)
    photo = rng.uniform(0, 1, size=(SIZE[1], SIZE[0], 3)).astype(np.float32)
    faces = [face(40, 100, 110), face(130, 110, 100), face(460, 100, 90)]  # faces 0 and 1 close: masks meet
    plan = plan_group_swap(faces, SIZE, 3, SETTINGS)
    generated = [np.full(c.crop_size[::-1] + (3,), v, np.float32) for c, v in zip(plan.crops, (0.1, 0.5, 0.9))]
    masks = [face_mask(c) for c in plan.crops]
    out = stitch_group(photo, generated, plan.crops, masks)
    supports = [warp(m, c.to_source, SIZE) > 0 for m, c in zip(masks, plan.crops)]
    union = np.logical_or.reduce(supports)
    assert np.array_equal(out[~union], photo[~union])
    assert (supports[0] & supports[1]).any()  # where two masks meet, the later crop is stitched over the earlier
    core1 = warp(masks[1], plan.crops[1].to_source, SIZE) >= 0.999
    assert np.allclose(out[core1], 0.5, atol=2e-3)
    core2 = warp(masks[2], plan.crops[2].to_source, SIZE) >= 0.999
    assert np.allclose(out[core2], 0.9, atol=2e-3)
    with pytest.raises(InputValueError) as err:
        stitch_group(photo, generated[:2], plan.crops, masks)
    assert err.value.input_name == "generated"
