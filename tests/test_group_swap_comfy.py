"""Group swap inside a real ComfyUI (tiny models, tiny ONNX faces): Group Face Crop gives each face of a group
photo its identity and cuts the assigned faces as one batch, one sampler regenerates them all, Group Face Stitch
puts them back. Outside the stitched masks the photo is bit-identical, a face without identity is untouched, and
latent i's identity attention and IdentityNet use crop i's own identity."""
import numpy as np
import pytest
import torch

from instantid_testkit import comfy_support as cs
from instantid_testkit import fixtures_onnx as fx
from instantid_testkit.comfy_env import comfy_env
from instantid_testkit.prompts import tiny_loaders

SIDE, Y = 128, 160
XS = (32, 256, 448)  # left to right; centres on the tiny detector's 32-px grid
SEEDS = (41, 42, 43)  # identity n is the contrast face drawn with SEEDS[n]
PHOTO = (43, 41, 42)  # the group photo's faces, left to right: the people of identities 2, 0, 1
LONG_SIDE = 128  # crop size: latent 16x16, small enough for the CPU


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = comfy_env(tmp_path_factory.mktemp("comfy_group_swap"))
    from PIL import Image
    for n, seed in enumerate(SEEDS):
        img = np.zeros((640, 640, 3), np.uint8)
        fx.draw_contrast_face(img, 96, Y, SIDE, seed)
        Image.fromarray(img).save(env.tmp / "input" / f"gs_person{n}.png")
    img = np.zeros((640, 640, 3), np.uint8)
    img[:, :, 1] = 20  # not all black: the untouched pixels must be the photo's, not zeros
    for x, seed in zip(XS, PHOTO):
        fx.draw_contrast_face(img, x, Y, SIDE, seed)
    Image.fromarray(img).save(env.tmp / "input" / "gs_group.png")
    return env


def prompt(identities=3, assignment="by likeness", order="", combine="average", steps=1):
    p = {
        **tiny_loaders("a face"),
        "group": {"class_type": "LoadImage", "inputs": {"image": "gs_group.png"}},
        "det": {"class_type": "InstantIDPrecision_FaceDetect", "inputs": {
            "face_analysis": ["fa", 0], "image": ["group", 0], "selection": "all", "face_index": 0,
            "on_no_face": "error"}},
        "crop": {"class_type": "InstantIDPrecision_GroupFaceCrop", "inputs": {
            "image": ["group", 0], "faces": ["det", 0], "assignment": assignment, "order": order,
            "padding": 0.5, "align": True, "long_side": LONG_SIDE, "mask_grow": 0, "feather": 8, "pad_mode": "edge"}},
        "apply": {"class_type": "InstantIDPrecision_Apply", "inputs": {
            "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "control_net": ["cn", 0],
            "identity": ["crop", 3], "image_kps": ["crop", 2], "ip_weight": 0.8, "cn_strength": 0.8,
            "start_at": 0.0, "end_at": 1.0}},
        "inpaint": {"class_type": "InpaintModelConditioning", "inputs": {
            "positive": ["apply", 1], "negative": ["apply", 2], "vae": ["ckpt", 2], "pixels": ["crop", 0],
            "mask": ["crop", 1], "noise_mask": True}},
        "ks": {"class_type": "KSampler", "inputs": {"model": ["apply", 0], "positive": ["inpaint", 0],
               "negative": ["inpaint", 1], "latent_image": ["inpaint", 2], "seed": 3, "steps": steps, "cfg": 4.0,
               "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
        "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["ks", 0], "vae": ["ckpt", 2]}},
        "stitch": {"class_type": "InstantIDPrecision_GroupFaceStitch", "inputs": {
            "image": ["group", 0], "generated": ["dec", 0], "crop_info": ["crop", 4], "blend": 1.0,
            "color_match": "off", "color_strength": 0.5}},
        "save": {"class_type": "PreviewImage", "inputs": {"images": ["stitch", 0]}},
    }
    for n in range(identities):
        p[f"img{n}"] = {"class_type": "LoadImage", "inputs": {"image": f"gs_person{n % len(SEEDS)}.png"}}
        p[f"pdet{n}"] = {"class_type": "InstantIDPrecision_FaceDetect", "inputs": {
            "face_analysis": ["fa", 0], "image": [f"img{n}", 0], "selection": "largest", "face_index": 0,
            "on_no_face": "error"}}
        p[f"proj{n}"] = {"class_type": "InstantIDPrecision_ImageProjection", "inputs": {
            "instantid": ["iid", 0], "faces": [f"pdet{n}", 0], "combine": combine, "negative_noise": 0.0, "seed": 0}}
        p["crop"]["inputs"][f"identity_{n}"] = [f"proj{n}", 0]
    return p


def stitched_support(env, crops, size):
    """Where each crop's mask, warped back into the photo, is above 0 (what the stitch may change)."""
    region = env.pack("instantid_core.faces.face_region")
    masks = env.pack("instantid_core.faces.face_mask")
    return [region.warp(masks.face_mask(c), c.to_source, size) > 0 for c in crops]


def test_by_likeness_swaps_every_face_in_one_batch_and_nothing_outside_the_masks(env):
    result = cs.run_prompt(prompt())
    report = result.output("crop", 5)
    for face, identity in enumerate((2, 0, 1)):
        assert f"face {face}: identity {identity} -> crop {face}," in report
    assert "cosine similarity" in report
    crops = result.output("crop", 4)
    assert [c.face_index for c in crops] == [0, 1, 2]
    assert result.output("crop").shape == (3, LONG_SIDE, LONG_SIDE, 3)  # one batch, one size
    assert result.output("dec").shape[0] == 3  # one sampler run for all three
    photo, out = result.output("group").numpy(), result.output("stitch").numpy()
    assert out.shape == photo.shape
    changed = np.zeros(photo.shape[1:3], bool)
    for support in stitched_support(env, crops, (photo.shape[2], photo.shape[1])):
        changed |= support
        assert (np.abs(out[0] - photo[0]).max(-1)[support] > 0).any()  # each face was regenerated
    assert np.array_equal(out[0][~changed], photo[0][~changed])  # bit for bit outside every mask
    # the per-crop identity: crop i carries exactly the K/V and tokens of its face's identity
    identity = result.output("crop", 3)
    projections = [result.output(f"proj{n}") for n in range(3)]
    assert identity.kv.identities == 3 and identity.combine == "one_per_latent"
    for crop_index, n in enumerate((2, 0, 1)):
        assert torch.equal(identity.tokens.cond[crop_index], projections[n].tokens.cond[0])
        for key, layer in identity.kv.layers.items():
            assert torch.equal(layer.k_cond[crop_index], projections[n].kv.layers[key].k_cond[0])
            assert torch.equal(layer.v_uncond[crop_index], projections[n].kv.layers[key].v_uncond[0])


def test_faces_without_identity_stay_untouched(env):
    """Order '-,1': face 0 and face 2 get none, so only face 1 is cut; the other two are bit-identical."""
    result = cs.run_prompt(prompt(identities=2, assignment="order", order="-,1"))
    report = result.output("crop", 5)
    assert "face 0: no identity, left untouched" in report and "face 2: no identity, left untouched" in report
    assert "face 1: identity 1 -> crop 0," in report and "identity 0 has no face" in report
    crops = result.output("crop", 4)
    assert len(crops) == 1 and crops[0].face_index == 1
    photo, out = result.output("group").numpy()[0], result.output("stitch").numpy()[0]
    [support] = stitched_support(env, crops, (photo.shape[1], photo.shape[0]))
    for x in (XS[0], XS[2]):
        assert np.array_equal(out[Y:Y + SIDE, x:x + SIDE], photo[Y:Y + SIDE, x:x + SIDE])
    assert np.array_equal(out[~support], photo[~support])
    assert not np.array_equal(out[support], photo[support])


def test_each_latent_attends_to_its_own_identity_and_identitynet_sees_its_tokens(env, monkeypatch):
    """Spying inside a real sampling step: the K/V the identity attention stacks for the batch holds, at latent
    i of each cond/uncond chunk, the K/V of crop i's identity; IdentityNet's context row i is its tokens."""
    import comfy.controlnet
    core = env.pack("instantid_core.compute.identity_attention")
    stacked = []
    original_batch_kv = core.batch_kv

    def batch_kv(kv, cond_or_uncond, batch):
        k, v = original_batch_kv(kv, cond_or_uncond, batch)
        stacked.append((kv, list(cond_or_uncond), k, v))
        return k, v

    contexts = []
    original_control = comfy.controlnet.ControlNet.get_control

    def get_control(self, x_noisy, t, cond, batched_number, transformer_options):
        contexts.append((cond.get("crossattn_controlnet"), list(transformer_options.get("cond_or_uncond", []))))
        return original_control(self, x_noisy, t, cond, batched_number, transformer_options)

    monkeypatch.setattr(core, "batch_kv", batch_kv)
    monkeypatch.setattr(comfy.controlnet.ControlNet, "get_control", get_control)
    result = cs.run_prompt(prompt())
    identity = result.output("crop", 3)
    projections = [result.output(f"proj{n}") for n in range(3)]
    assigned = (2, 0, 1)  # crop i -> identity
    by_layer = {id(layer): key for key, layer in identity.kv.layers.items()}
    assert stacked
    for kv, chunks, k, v in stacked:
        key = by_layer[id(kv)]
        per_chunk = k.shape[0] // len(chunks)
        assert per_chunk == 3
        for c, which in enumerate(chunks):
            for i, n in enumerate(assigned):
                own = projections[n].kv.layers[key]
                want_k, want_v = (own.k_cond, own.v_cond) if which == 0 else (own.k_uncond, own.v_uncond)
                assert torch.equal(k[c * per_chunk + i], want_k[0])
                assert torch.equal(v[c * per_chunk + i], want_v[0])
    assert contexts
    for context, chunks in contexts:
        per_chunk = context.shape[0] // len(chunks)
        for c, which in enumerate(chunks):
            for i, n in enumerate(assigned):
                tokens = projections[n].tokens.cond if which == 0 else projections[n].tokens.uncond
                assert torch.equal(context[c * per_chunk + i].float().cpu(), tokens[0])


def test_bad_inputs_name_the_input_to_fix(env):
    gap = prompt(identities=3, assignment="left to right")
    del gap["crop"]["inputs"]["identity_1"]
    batch = prompt(identities=1, assignment="left to right")
    batch["two"] = {"class_type": "ImageBatch", "inputs": {"image1": ["group", 0], "image2": ["group", 0]}}
    batch["crop"]["inputs"]["image"] = ["two", 0]
    short = prompt(identities=2, assignment="left to right")
    short["one"] = {"class_type": "ImageFromBatch", "inputs": {"image": ["dec", 0], "batch_index": 0, "length": 1}}
    short["stitch"]["inputs"]["generated"] = ["one", 0]
    two_people = prompt(identities=2, combine="one_per_latent")
    two_people["pair"] = {"class_type": "ImageBatch", "inputs": {"image1": ["img0", 0], "image2": ["img1", 0]}}
    two_people["pdet0"]["inputs"]["image"] = ["pair", 0]
    cases = (
        (gap, "crop", "Group Face Crop", "identity_1", "identity_1 is empty but a later identity is connected"),
        (prompt(identities=2, assignment="order", order="-,-"), "crop", "Group Face Crop", "order",
         "no face got an identity"),
        (prompt(identities=2, assignment="order", order="0,5"), "crop", "Group Face Crop", "order",
         "entry 1 of the order is identity 5"),
        (batch, "crop", "Group Face Crop", "image", "the image holds 2 pictures"),
        (two_people, "crop", "Group Face Crop", "identity_0", "identity_0 holds 2 identities"),
        (short, "stitch", "Group Face Stitch", "generated", "1 generated crops for 2 crops"),
    )
    for api_prompt, node, title, name, problem in cases:
        result = cs.run_prompt(api_prompt, raise_on_error=False)
        assert not result.success and result.error["node_id"] == node, result.error
        assert result.error["exception_type"].endswith("NodeInputError")
        assert result.error["exception_message"].startswith(
            f"InstantID {title}: check the '{name}' input — {problem}"), result.error["exception_message"]
        assert "save" not in result.executed


def score_matrix(text):
    """Identity Score's plain table -> [images, references] (the mean column dropped)."""
    rows = [line.split() for line in text.splitlines()[1:]]
    return np.array([[float(v) for v in row[1:-1]] for row in rows])


@pytest.mark.parametrize("assignment, order, right", [("by likeness", "", True), ("order", "0,1,2", False)])
def test_identity_score_per_person_puts_each_face_highest_on_its_assigned_identity(env, assignment, order, right):
    """Identity Score on the face batch against the per-crop identity: one row per face, one column per crop's
    identity, so row i holds face i against its own assigned identity (column i) and against the others. The
    tiny SDXL cannot draw faces, so the faces scored are the crops themselves (a perfect generator: each output
    face is its person). By likeness the diagonal wins every row; with a wrong order ('0,1,2' on a photo of the
    people 2, 0, 1) it loses, which is what the score is there to show."""
    p = prompt(assignment=assignment, order=order)
    p["crop"]["inputs"]["padding"] = 2.0  # the face a fifth of the crop: a size the tiny detector finds in it
    p["score"] = {"class_type": "InstantIDPrecision_IdentityScore", "inputs": {
        "face_analysis": ["fa", 0], "images": ["crop", 0], "identity": ["crop", 3], "face": "largest",
        "face_index": 0, "on_no_face": "error", "preview_order": "batch order"}}
    result = cs.run_prompt(p)
    scores = score_matrix(result.output("score", 1))
    assert scores.shape == (3, 3)
    own = np.diag(scores)
    others = scores + np.diag(np.full(3, -np.inf))
    if right:
        assert (own > others.max(1)).all() and (own > 0.95).all()  # each face is its own person (resampled)
        assert (others.max(1) < 0.6).all()  # and the tiny recognizer tells the others apart
    else:
        assert (own < others.max(1)).all()
