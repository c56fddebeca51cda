"""InstantID Keypoints (manual) inside a real ComfyUI (in-process executor, tiny models): its IMAGE is the keypoint
image of the posed points, and it drives IdentityNet through the Apply node exactly like detected keypoints."""
import json

import numpy as np
import pytest
import torch

from instantid_testkit import comfy_support as cs
from instantid_testkit.comfy_env import ROOT, comfy_env
from instantid_testkit.prompts import full_chain

from instantid_core.compute.keypoints import keypoint_image
from instantid_core.faces.manual_keypoints import parse_faces, preset_points, transform_points
from instantid_core.faces.manual_layout import keypoint_box

NODE = "InstantIDPrecision_ManualKeypoints"
CUSTOM = [[0.3, 0.35], [0.55, 0.3], [0.45, 0.45], [0.35, 0.6], [0.55, 0.58]]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return comfy_env(tmp_path_factory.mktemp("comfy_manual_kps"))


def manual(preset="frontal", points="", width=96, height=64, rotate=0.0, scale=1.0, offset_x=0.0, offset_y=0.0,
           faces=None):
    inputs = {"preset": preset, "points": points, "width": width, "height": height, "rotate": rotate,
              "scale": scale, "offset_x": offset_x, "offset_y": offset_y}
    if faces:
        inputs["faces"] = faces
    return {"class_type": NODE, "inputs": inputs}


def drawn(prompt, node="kps"):
    prompt = {**prompt, "show": {"class_type": "PreviewImage", "inputs": {"images": [node, 0]}}}
    result = cs.run_prompt(prompt)
    return result.output(node), result


def expected(points, width, height, **transform):
    return keypoint_image([(transform_points(points, width, height, **transform), (width, height))], width, height)


def test_registered_with_tooltips_and_help(env):
    import nodes
    cls = nodes.NODE_CLASS_MAPPINGS[NODE]
    assert nodes.NODE_DISPLAY_NAME_MAPPINGS[NODE] == "InstantID Keypoints (manual)"
    spec = cls.INPUT_TYPES()
    assert list(spec["required"]) == ["preset", "points", "width", "height", "rotate", "scale", "offset_x",
                                      "offset_y"]
    for section in spec.values():
        for name, (_, opts) in section.items():
            assert opts.get("tooltip"), name
    assert len(cls.OUTPUT_TOOLTIPS) == len(cls.RETURN_TYPES) == 2
    # a saved workflow's links keep their slots: the keypoint IMAGE first, the layout appended after it
    assert cls.RETURN_TYPES == ("IMAGE", "INSTANTID_PRECISION_FACES") and cls.RETURN_NAMES == ("keypoints", "layout")
    assert (ROOT / "web" / "docs" / f"{NODE}.md").is_file()


@pytest.mark.parametrize("preset", ["frontal", "three-quarter left", "profile-ish right", "tilted left"])
def test_preset_image_is_the_keypoint_image_of_the_preset(env, preset):
    transform = dict(rotate=20.0, scale=0.8, offset_x=0.1, offset_y=-0.05)
    image, result = drawn({"kps": manual(preset, points="ignored unless custom", width=160, height=96, **transform)})
    assert torch.equal(image, expected(preset_points(preset, 160, 96), 160, 96, **transform))
    [ui] = result.history["outputs"]["kps"]["instantid_keypoints"]  # one face: the one entry it always was
    assert set(ui) == {"points", "source", "width", "height"}
    assert ui["source"] == "preset" and (ui["width"], ui["height"]) == (160, 96)
    assert np.allclose(json.loads(ui["points"]), preset_points(preset, 160, 96), atol=5e-5)


def test_custom_points_are_drawn_where_they_say(env):
    image, _ = drawn({"kps": manual("custom", json.dumps(CUSTOM), width=128, height=96, rotate=-30, scale=1.2)})
    assert torch.equal(image, expected(np.array(CUSTOM), 128, 96, rotate=-30, scale=1.2))
    # and the picture really moved: the red left-eye disc centre is at the transformed point
    x, y = transform_points(np.array(CUSTOM), 128, 96, rotate=-30, scale=1.2)[0].astype(int)
    assert image[0, y, x].tolist() == [1.0, 0.0, 0.0]


def test_several_faces_are_all_drawn_turned_each_about_its_own_centre_and_given_as_a_layout(env):
    faces = [[[x - 0.22, y] for x, y in CUSTOM], {"preset": "tilted right", "center": [0.72, 0.5], "scale": 0.6}]
    transform = dict(rotate=15.0, scale=0.9, offset_x=0.02, offset_y=0.03)
    kps_node = manual("custom", json.dumps(faces), width=160, height=128, **transform)
    p = {"kps": kps_node, "show": {"class_type": "PreviewImage", "inputs": {"images": ["kps", 0]}}}
    result = cs.run_prompt(p)
    base = parse_faces(json.dumps(faces), 160, 128)
    drawn_faces = [transform_points(f, 160, 128, **transform) for f in base]
    assert torch.equal(result.output("kps"), keypoint_image([(d, (160, 128)) for d in drawn_faces], 160, 128))
    layout = result.output("kps", 1)
    [image] = layout.images
    assert image.image_size == (160, 128) and len(image.faces) == 2
    for face, kps in zip(image.faces, drawn_faces):  # in the order written; no likeness to take an identity from
        assert np.allclose(face.kps, kps, atol=1e-4) and np.allclose(face.bbox, keypoint_box(kps), atol=1e-3)
        assert face.embedding is None
    ui = result.history["outputs"]["kps"]["instantid_keypoints"]
    assert [e["source"] for e in ui] == ["points", "points"] and all((e["width"], e["height"]) == (160, 128)
                                                                   for e in ui)
    assert np.allclose([json.loads(e["points"]) for e in ui], base, atol=5e-5)


def test_a_hand_placed_layout_is_refused_where_a_likeness_is_needed(env):
    p = {"kps": manual("frontal", width=64, height=64),
         "save": {"class_type": "InstantIDPrecision_SaveIdentity", "inputs": {
             "faces": ["kps", 1], "name": "placed", "combine": "average", "if_exists": "overwrite"}}}
    bad = cs.run_prompt(p, raise_on_error=False)
    assert not bad.success and bad.error["node_id"] == "save"
    assert bad.error["exception_message"].startswith("InstantID Save Identity: check the 'faces' input — these "
                                                     "faces were placed by hand"), bad.error["exception_message"]
    layout = cs.run_prompt({"kps": p["kps"], "show": {"class_type": "PreviewImage", "inputs": {
        "images": ["kps", 0]}}}).output("kps", 1)
    with pytest.raises(Exception, match="placed by hand") as exc:  # Image Projection takes its embeddings here
        env.pack("nodes.projection_node").faces_embeddings(layout)
    assert exc.value.input_name == "faces"


def test_faces_input_starts_custom_points_from_the_detected_face(env):
    detect = {"img": {"class_type": "LoadImage", "inputs": {"image": "face.png"}},
              "fa": {"class_type": "InstantIDPrecision_FaceAnalysisLoader", "inputs": {"provider": "CPU",
                                                                                      "det_size": "640"}},
              "det": {"class_type": "InstantIDPrecision_FaceDetect", "inputs": {
                  "face_analysis": ["fa", 0], "image": ["img", 0], "selection": "largest", "face_index": 0,
                  "on_no_face": "error"}},
              "auto": {"class_type": "InstantIDPrecision_FaceKeypoints", "inputs": {"faces": ["det", 0], "width": 160,
                                                                                    "height": 160, "image_index": 0}},
              "show_auto": {"class_type": "PreviewImage", "inputs": {"images": ["auto", 0]}}}
    image, result = drawn({**detect, "kps": manual("custom", "", 160, 160, faces=["det", 0])})
    from_photo = result.output("auto")
    assert torch.equal(image, from_photo)  # the same points the detected-keypoints node draws
    ui = result.history["outputs"]["kps"]["instantid_keypoints"][0]
    assert ui["source"] == "faces"
    # typed points win over the faces input
    image, _ = drawn({**detect, "kps": manual("custom", json.dumps(CUSTOM), 160, 160, faces=["det", 0])})
    assert torch.equal(image, expected(np.array(CUSTOM), 160, 160))


def test_drives_identitynet_through_the_apply_node_like_detected_keypoints(env, monkeypatch):
    import comfy.controlnet
    hints = []
    original = comfy.controlnet.ControlNet.get_control

    def get_control(self, *args, **kwargs):  # whatever arguments the core passes (they grew over time)
        hints.append(self.cond_hint_original)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(comfy.controlnet.ControlNet, "get_control", get_control)
    outputs = {}
    for kind in ("detected", "manual"):
        p = full_chain(seed=21)
        if kind == "detected":
            p["kps"] = {"class_type": "InstantIDPrecision_FaceKeypoints", "inputs": {"faces": ["det", 0], "width": 64,
                                                                                    "height": 64, "image_index": 0}}
        else:
            p["kps"] = manual("three-quarter right", width=64, height=64, scale=1.5)
        p["apply"]["inputs"]["image_kps"] = ["kps", 0]
        hints.clear()
        result = cs.run_prompt(p)
        image = result.output("kps")
        assert hints and all(torch.equal(h, image.movedim(-1, 1)) for h in hints)  # the node's IMAGE is the hint
        outputs[kind] = result.output("dec")
        assert torch.isfinite(outputs[kind]).all()
    assert not torch.equal(outputs["detected"], outputs["manual"])  # the pose reached the picture


@pytest.mark.parametrize("change,words", [
    ({"preset": "custom", "points": "[[0.4, 0.4], [0.6, 0.4]"}, "'points' input — the points are not valid JSON"),
    ({"preset": "custom", "points": "[[0.4, 0.4], [0.6, 0.4], [0.5, 0.5], [0.45, 0.6]]"}, "found 4 entries"),
    ({"preset": "custom", "points": "[[0.4, NaN], [0.6, 0.4], [0.5, 0.5], [0.45, 0.6], [0.55, 0.6]]"},
     "'points' input — left eye: not a finite number"),
    ({"preset": "custom", "points": ""}, "'points' input — preset is 'custom' but no points are set"),
    ({"scale": float("nan")}, "'scale' input — nan is not a finite number"),
    ({"offset_y": float("nan")}, "'offset_y' input — nan is not a finite number"),
])
def test_bad_values_stop_with_the_input_named(env, change, words):
    node = manual()
    node["inputs"].update(change)
    p = {"kps": node, "show": {"class_type": "PreviewImage", "inputs": {"images": ["kps", 0]}}}
    bad = cs.run_prompt(p, raise_on_error=False)
    assert not bad.success
    message = bad.error["exception_message"]
    assert message.startswith("InstantID Keypoints (manual): check the") and words in message, message

