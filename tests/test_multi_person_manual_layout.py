"""InstantID Multi-Person with a layout placed by hand (InstantID Keypoints (manual), several faces in 'points')
inside a real ComfyUI (tiny models, tiny ONNX faces): the faces are numbered left to right, each identity acts
only inside its own face's region on every layer, and bad layouts stop at the 'points' input with the fix."""
import json

import numpy as np
import pytest
import torch

from instantid_testkit import comfy_support as cs
from instantid_testkit import fixtures_onnx as fx
from instantid_testkit.comfy_env import comfy_env
from instantid_testkit.prompts import tiny_loaders

from instantid_core.compute.keypoints import keypoint_image
from instantid_core.faces.manual_keypoints import parse_faces
from instantid_core.faces.manual_layout import keypoint_box, place_faces

SIZE = 128  # generation size (latent 16x16), and the manual keypoints' canvas
SEEDS = (31, 32, 33)  # identity n: the contrast face drawn with SEEDS[n]
FACE = [[0.43, 0.4], [0.57, 0.4], [0.5, 0.47], [0.44, 0.54], [0.56, 0.54]]


def shifted(dx, dy=0.0):
    return [[x + dx, y + dy] for x, y in FACE]


TWO = [shifted(0.24), shifted(-0.24)]  # written right first: the layout still counts from the left
THREE = [{"preset": "three-quarter right", "center": [0.8, 0.45], "scale": 0.8},
         {"preset": "frontal", "center": [0.2, 0.5], "scale": 0.8},
         shifted(0.0, 0.02)]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = comfy_env(tmp_path_factory.mktemp("comfy_manual_layout"))
    from PIL import Image
    for n, seed in enumerate(SEEDS):
        img = np.zeros((640, 640, 3), np.uint8)
        fx.draw_contrast_face(img, 96, 160, 128, seed)
        Image.fromarray(img).save(env.tmp / "input" / f"person{n}.png")
    return env


def prompt(points, identities=2, assignment="left to right", order="", preset="custom", **transform):
    manual = {"preset": preset, "points": points if isinstance(points, str) else json.dumps(points), "width": SIZE,
              "height": SIZE, "rotate": 0.0, "scale": 1.0, "offset_x": 0.0, "offset_y": 0.0}
    manual.update(transform)
    p = {
        **tiny_loaders("people"),
        "lat": {"class_type": "EmptyLatentImage", "inputs": {"width": SIZE, "height": SIZE, "batch_size": 1}},
        "layout": {"class_type": "InstantIDPrecision_ManualKeypoints", "inputs": manual},
        "multi": {"class_type": "InstantIDPrecision_MultiPerson", "inputs": {
            "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "control_net": ["cn", 0],
            "faces": ["layout", 1], "latent": ["lat", 0], "assignment": assignment, "order": order,
            "ip_weight": 0.8, "cn_strength": 0.8, "start_at": 0.0, "end_at": 1.0, "grow": 0.3, "feather": 4.0}},
        "ks": {"class_type": "KSampler", "inputs": {"model": ["multi", 0], "positive": ["multi", 1],
               "negative": ["multi", 2], "latent_image": ["lat", 0], "seed": 1, "steps": 1, "cfg": 4.0,
               "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
        "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["ks", 0], "vae": ["ckpt", 2]}},
        "save": {"class_type": "PreviewImage", "inputs": {"images": ["dec", 0]}},
        "show_kps": {"class_type": "PreviewImage", "inputs": {"images": ["layout", 0]}},
    }
    for n in range(identities):
        p[f"img{n}"] = {"class_type": "LoadImage", "inputs": {"image": f"person{n}.png"}}
        p[f"det{n}"] = {"class_type": "InstantIDPrecision_FaceDetect", "inputs": {
            "face_analysis": ["fa", 0], "image": [f"img{n}", 0], "selection": "largest", "face_index": 0,
            "on_no_face": "error"}}
        p[f"proj{n}"] = {"class_type": "InstantIDPrecision_ImageProjection", "inputs": {
            "instantid": ["iid", 0], "faces": [f"det{n}", 0], "combine": "average", "negative_noise": 0.0, "seed": 0}}
        p["multi"]["inputs"][f"identity_{n}"] = [f"proj{n}", 0]
    return p


def placed(points):
    return place_faces(parse_faces(json.dumps(points), SIZE, SIZE), SIZE, SIZE)


def left_to_right(points):
    return sorted(placed(points), key=lambda kps: keypoint_box(kps)[0])


def capture_terms(env, monkeypatch):
    """Every identity patch's own term on every attn2 call: (patch, term, original_shape)."""
    mod = env.pack("nodes.attention_patch")
    terms = []
    original = mod.IdentityAttentionPatch.with_identity

    def with_identity(self, out, q, extra_options):
        result = original(self, out, q, extra_options)  # out already holds the patches chained before this one
        terms.append((self, (result - out).detach(), extra_options["original_shape"]))
        return result

    monkeypatch.setattr(mod.IdentityAttentionPatch, "with_identity", with_identity)
    return terms


def assert_no_leak(env, terms, regions, identity_of_face, projections, layers):
    """Each term is exactly zero wherever its face's region (as that layer sees it) is zero, every other face's
    region included, and not zero inside it; one term per assigned face per layer."""
    core = env.pack("instantid_core.compute.identity_attention")
    assert len(terms) == len(identity_of_face) * layers
    seen = set()
    for patch, term, shape in terms:
        face = next(f for f in identity_of_face if torch.equal(patch.mask, regions[f]))
        assert patch.identity is projections[identity_of_face[face]]
        seen.add(face)
        grid = core.token_grid(term.shape[1], shape[2:])
        own = core.resize_mask(regions[face], grid, term.shape[0])[..., 0]  # [B, tokens]
        outside = own == 0
        for other in range(len(regions)):
            if other != face:
                theirs = core.resize_mask(regions[other], grid, term.shape[0])[..., 0]
                assert (theirs[own > 0] == 0).all()  # regions never share a token
        assert outside[0].any()
        assert torch.count_nonzero(term[outside]) == 0
        assert torch.count_nonzero(term[own > 0]) > 0
    assert seen == set(identity_of_face)


def test_two_hand_placed_faces_left_to_right_each_identity_only_in_its_region(env, monkeypatch):
    terms = capture_terms(env, monkeypatch)
    result = cs.run_prompt(prompt(TWO))
    report = result.output("multi", 3)
    assert "2 face(s) on a 128x128 canvas, 2 identity(ies), assignment: left to right" in report
    faces = left_to_right(TWO)
    for f, kps in enumerate(faces):  # face 0 is the one written second, the leftmost
        x1, y1, x2, y2 = keypoint_box(kps)
        assert f"face {f}: identity {f}, region (" in report
        region = result.output("multi", 4)[f]
        ys, xs = torch.nonzero(region, as_tuple=True)
        assert xs.float().mean().item() == pytest.approx((x1 + x2) / 2, abs=4)  # the region is around the face
        assert ys.float().mean().item() == pytest.approx((y1 + y2) / 2, abs=4)
    assert float(keypoint_box(faces[0])[0]) < float(keypoint_box(faces[1])[0])
    regions = result.output("multi", 4)
    assert regions.shape == (2, SIZE, SIZE) and ((regions > 0).sum(0) <= 1).all()
    # the keypoint IMAGE draws both faces
    assert torch.equal(result.output("layout", 0), keypoint_image([(k, (SIZE, SIZE)) for k in placed(TWO)],
                                                                  SIZE, SIZE))
    projections = [result.output(f"proj{n}") for n in range(2)]
    layers = len(env.pack("nodes.attention_patch").installed_patches(result.output("multi", 0)))
    assert_no_leak(env, terms, regions, {0: 0, 1: 1}, projections, layers)
    # each face's IdentityNet sees only its own face's keypoints, inside its own region
    control = result.output("multi", 1)[0][1]["control"]
    chain = []
    while control is not None:
        chain.append(control)
        control = control.previous_controlnet
    hints = [c.cond_hint_original for c in chain[::-1]]
    assert len(hints) == 2
    for f, hint in enumerate(hints):
        own = keypoint_image([(faces[f], (SIZE, SIZE))], SIZE, SIZE).movedim(-1, 1)
        assert torch.equal(hint, own * regions[f][None, None])
    assert torch.isfinite(result.output("dec")).all()


def test_three_faces_with_presets_by_order_do_not_leak(env, monkeypatch):
    terms = capture_terms(env, monkeypatch)
    result = cs.run_prompt(prompt(THREE, identities=3, assignment="order", order="2,0,1"))
    report = result.output("multi", 3)
    for face, identity in enumerate((2, 0, 1)):
        assert f"face {face}: identity {identity}, region (" in report
    regions = result.output("multi", 4)
    assert regions.shape == (3, SIZE, SIZE) and ((regions > 0).sum(0) <= 1).all()
    ui = result.history["outputs"]["layout"]["instantid_keypoints"]
    assert len(ui) == 3 and all(set(e) == {"points", "source", "width", "height"} for e in ui)
    assert all(e["source"] == "points" for e in ui)  # every face, in the order written
    assert np.allclose([json.loads(e["points"]) for e in ui], parse_faces(json.dumps(THREE), SIZE, SIZE), atol=5e-5)
    projections = [result.output(f"proj{n}") for n in range(3)]
    layers = len(env.pack("nodes.attention_patch").installed_patches(result.output("multi", 0)))
    assert_no_leak(env, terms, regions, {0: 2, 1: 0, 2: 1}, projections, layers)


def test_by_likeness_on_a_hand_placed_layout_names_the_fix(env):
    result = cs.run_prompt(prompt(TWO, assignment="by likeness"), raise_on_error=False)
    assert not result.success and result.error["node_id"] == "multi"
    message = result.error["exception_message"]
    assert message.startswith("InstantID Multi-Person: check the 'assignment' input — 'by likeness' compares")
    assert "placed by hand" in message and "choose 'left to right' or 'order'" in message
    assert "ks" not in result.executed


def test_more_identities_than_hand_placed_faces_says_add_a_face(env):
    result = cs.run_prompt(prompt([FACE], identities=2), raise_on_error=False)
    assert result.error["node_id"] == "multi"
    assert "check the 'identity_1' input — 2 identities are connected but the layout has 1 face(s)" in \
        result.error["exception_message"]
    assert "more faces in the manual keypoints' 'points'" in result.error["exception_message"]


@pytest.mark.parametrize("points,change,name,words", [
    ([FACE, FACE[:4]], {}, "points", "face 1: found 4 entries"),
    ("[" + json.dumps(FACE) + ", [[0.4, NaN], [0.6, 0.4], [0.5, 0.5], [0.45, 0.6], [0.55, 0.6]]]", {}, "points",
     "face 1: left eye: not a finite number"),
    ([FACE, shifted(0.9)], {}, "points", "face 1's centre (179, 60) is off the 128x128 picture"),
    ([FACE, shifted(0.2)], {"offset_y": 0.8}, "offset_y", "face 0's centre"),
    ([], {}, "points", "the list holds no face"),
    ({"faces": []}, {}, "points", "the list holds no face"),
])
def test_bad_layouts_stop_at_the_manual_node_naming_the_input(env, points, change, name, words):
    result = cs.run_prompt(prompt(points, **change), raise_on_error=False)
    assert not result.success and result.error["node_id"] == "layout"
    message = result.error["exception_message"]
    assert message.startswith(f"InstantID Keypoints (manual): check the '{name}' input — "), message
    assert words in message, message
    assert "multi" not in result.executed and "ks" not in result.executed
