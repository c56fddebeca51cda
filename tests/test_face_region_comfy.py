"""Face Crop and Face Stitch inside a real ComfyUI: round trips on faces the test antelopev2 detects (borders, a
tiny face, batches), eye levelling on tilted faces, the bad inputs, and the three face-region workflows run
headless (their output differs from the input only inside the face mask)."""
import json
import math

import numpy as np
import pytest
import torch

from instantid_testkit import comfy_support as cs
from instantid_testkit import fixtures_onnx
from instantid_testkit.comfy_env import ROOT, comfy_env, face_photo

CROP, STITCH = "InstantID Face Crop", "InstantID Face Stitch"
TINY = {"checkpoint": "tiny_sdxl.safetensors", "controlnet": "tiny_identitynet.safetensors",
        "adapter": "ip-adapter.safetensors"}
# (x, y, side, seed) in a 640 x 640 photo; centres on multiples of the side (what the test detector finds)
PHOTOS = {
    "middle": [(256, 256, 128, 2)],
    "left": [(0, 256, 128, 3)], "right": [(512, 256, 128, 4)],
    "top": [(256, 0, 128, 5)], "bottom": [(256, 512, 128, 6)],
    "tiny": [(304, 304, 32, 7)],
    "group": [(64, 256, 128, 8), (256, 256, 128, 9), (448, 256, 128, 10)],
}


def smooth(img):
    """Blur the block texture a little: round trips then measure geometry, not interpolation of hard edges."""
    import cv2
    return cv2.GaussianBlur(img, (0, 0), 1.5)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = comfy_env(tmp_path_factory.mktemp("comfy_face_region"))
    import folder_paths
    from PIL import Image
    for name, faces in PHOTOS.items():
        Image.fromarray(smooth(face_photo(faces))).save(f"{folder_paths.get_input_directory()}/fr_{name}.png")
    Image.fromarray(smooth(face_photo([(96, 96, 128, 2)], size=320))).save(
        f"{folder_paths.get_input_directory()}/fr_small.png")
    return env


def crop_prompt(image="fr_middle.png", second=None, detect_image=None, selection="largest", face_index=0,
                detect_selection="all", on_no_face="error", long_side=256, **crop_widgets):
    """Load → detect → crop → stitch the unchanged crop back. ``second``: a second photo batched with the first;
    ``detect_image``: detect on this photo only (the same face over the batch)."""
    p = {
        "img": {"class_type": "LoadImage", "inputs": {"image": image}},
        "fa": {"class_type": "InstantIDPrecision_FaceAnalysisLoader", "inputs": {"provider": "CPU", "det_size": "640"}},
        "det": {"class_type": "InstantIDPrecision_FaceDetect", "inputs": {"face_analysis": ["fa", 0],
                "image": ["img", 0], "selection": detect_selection, "face_index": 0, "on_no_face": "skip image"}},
        "crop": {"class_type": "InstantIDPrecision_FaceCrop", "inputs": {
            "image": ["img", 0], "faces": ["det", 0], "selection": selection, "face_index": face_index,
            "padding": 0.5, "align": True, "long_side": long_side, "mask_grow": 0, "feather": 8, "pad_mode": "edge",
            "on_no_face": on_no_face, **crop_widgets}},
        "stitch": {"class_type": "InstantIDPrecision_FaceStitch", "inputs": {
            "image": ["img", 0], "generated": ["crop", 0], "crop_info": ["crop", 3], "blend": 1.0,
            "color_match": "off", "color_strength": 0.5}},
        "out": {"class_type": "PreviewImage", "inputs": {"images": ["stitch", 0]}},
    }
    if second:
        p["img2"] = {"class_type": "LoadImage", "inputs": {"image": second}}
        p["batch"] = {"class_type": "ImageBatch", "inputs": {"image1": ["img", 0], "image2": ["img2", 0]}}
        for node in ("crop", "stitch"):
            p[node]["inputs"]["image"] = ["batch", 0]
        p["det"]["inputs"]["image"] = ["batch", 0]
    if detect_image:
        p["dimg"] = {"class_type": "LoadImage", "inputs": {"image": detect_image}}
        p["det"]["inputs"]["image"] = ["dimg", 0]
    return p


def support_of(env, crops, size):
    """Where each crop's mask, warped back into the photo, is above 0."""
    region = env.pack("instantid_core.faces.face_region")
    masks = env.pack("instantid_core.faces.face_mask")
    return [region.warp(masks.face_mask(c), c.to_source, size) > 0 for c in crops]


def check_round_trip(env, result, images):
    out = result.output("stitch").numpy()
    crops = result.output("crop", 3)
    supports = support_of(env, crops, (images.shape[2], images.shape[1]))
    assert out.shape == images.shape
    for o, img, sup in zip(out, images, supports):
        assert sup.sum() > 100
        assert np.array_equal(o[~sup], img[~sup])  # exactly the original outside the mask
        assert np.abs(o - img)[sup].max() < 0.1  # only interpolation error inside it
        assert np.abs(o - img)[sup].mean() < 0.01
    return crops


@pytest.mark.parametrize("where", ["middle", "left", "right", "top", "bottom", "tiny"])
def test_crop_then_stitch_returns_the_original(env, where):
    result = cs.run_prompt(crop_prompt(f"fr_{where}.png"))
    images = result.output("img").numpy()
    [crop] = check_round_trip(env, result, images)
    assert result.output("crop").shape == (1, 256, 256, 3)
    assert result.output("crop", 1).shape == (1, 256, 256)  # MASK [B, H, W]
    x, y, side, _ = PHOTOS[where][0]
    assert np.allclose(crop.face_box, (x, y, x + side, y + side), atol=2)
    assert crop.scale == pytest.approx(256 / (2 * side), rel=0.05)
    report = result.output("crop", 4)
    if where == "tiny":
        assert "scaled up 4.00x" in report


def test_a_batch_gets_one_crop_per_image_and_each_goes_back(env):
    result = cs.run_prompt(crop_prompt("fr_left.png", second="fr_bottom.png"))
    images = result.output("batch").numpy()
    crops = check_round_trip(env, result, images)
    assert [c.image_index for c in crops] == [0, 1]
    assert result.output("crop").shape[0] == 2 and result.output("crop", 2).shape[0] == 2


def test_the_same_face_over_a_batch(env):
    """Faces of one photo, an image batch of two of the same size: the one region is cut from both."""
    result = cs.run_prompt(crop_prompt("fr_middle.png", second="fr_top.png", detect_image="fr_middle.png"))
    crops = result.output("crop", 3)
    assert len(crops) == 2 and crops[0].to_crop == crops[1].to_crop
    check_round_trip(env, result, result.output("batch").numpy())


def test_group_photo_choose_the_face_left_to_right(env):
    for index in range(3):
        result = cs.run_prompt(crop_prompt("fr_group.png", selection="index_left_to_right", face_index=index))
        [crop] = result.output("crop", 3)
        assert crop.face_box[0] == pytest.approx(PHOTOS["group"][index][0], abs=2)
        check_round_trip(env, result, result.output("img").numpy())


@pytest.mark.parametrize("angle", [-35.0, -8.0, 17.0, 60.0])
def test_tilted_faces_are_cut_upright_and_the_keypoints_map_back(env, angle):
    """Through the registered node (the test detector only finds upright faces): faces built with tilted
    keypoints, the crop's eyes level within 0.5 deg, the keypoint image's dots where the keypoints are."""
    import nodes
    analysis = env.pack("instantid_core.faces.face_analysis")
    values = env.pack("nodes.values")
    img = smooth(face_photo(PHOTOS["middle"]))
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    kps = (fixtures_onnx.KPS_TEMPLATE * 64.0) @ rot.T + [320.0, 320.0]
    face = analysis.Face(np.array([256, 256, 384, 384], np.float32), kps.astype(np.float32), 0.9,
                         np.ones(512, np.float32))
    faces = values.FacesResult([analysis.ImageFaces((640, 640), (face,))])
    image = torch.from_numpy(img.astype(np.float32) / 255.0)[None]
    before = image.clone()
    node = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_FaceCrop"]()
    crop_img, mask, kps_img, (crop,), report = node.crop(image, faces, "largest", 0, 0.5, True, 512, 0, 8, "edge",
                                                          "error")
    ck = crop.crop_kps()
    assert abs(math.degrees(math.atan2(ck[1, 1] - ck[0, 1], ck[1, 0] - ck[0, 0]))) < 0.5
    assert np.allclose(crop.to_source_points(ck), kps, atol=1e-4)
    assert f"turned {angle:+.1f} deg" in report
    dots = kps_img[0].numpy()
    for i, colour in enumerate(((1, 0, 0), (0, 1, 0))):  # eye dots: red, green at the crop keypoints
        hit = np.argwhere(np.all(np.abs(dots - colour) < 0.01, axis=2))
        assert abs(hit[:, 0].mean() - ck[i, 1]) < 1.0 and abs(hit[:, 1].mean() - ck[i, 0]) < 1.0
    stitch = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_FaceStitch"]()
    (out,) = stitch.stitch(image, crop_img, (crop,), 1.0, "off", 0.5)
    [sup] = support_of(env, [crop], (640, 640))
    o, i0 = out[0].numpy(), image[0].numpy()
    assert np.array_equal(o[~sup], i0[~sup]) and np.abs(o - i0)[sup].max() < 0.1
    assert torch.equal(image, before)  # the input tensor is never modified


# ------------------------------------------------------------------------------------------- bad inputs

def _fails(prompt, node_title, input_name):
    result = cs.run_prompt(prompt, raise_on_error=False)
    assert not result.success
    message = result.error["exception_message"]
    assert message.startswith(f"{node_title}: check the '{input_name}' input"), message
    assert "out" not in result.executed
    return message


def test_no_face_is_an_error_naming_the_image_or_passes_through(env):
    message = _fails(crop_prompt("blank.png"), CROP, "image")
    assert "no face was found in image 0" in message and "'pass through'" in message
    result = cs.run_prompt(crop_prompt("blank.png", on_no_face="pass through"))
    assert torch.equal(result.output("stitch"), result.output("img"))  # unchanged, bit for bit
    assert "no face, passed through" in result.output("crop", 4)


def test_a_crop_description_from_another_image_size_is_refused(env):
    p = crop_prompt()
    p["other"] = {"class_type": "LoadImage", "inputs": {"image": "fr_small.png"}}
    p["stitch"]["inputs"]["image"] = ["other", 0]
    assert "made from a 640x640 image, this image is 320x320" in _fails(p, STITCH, "image")


def test_faces_from_another_image_are_refused(env):
    p = crop_prompt()
    p["other"] = {"class_type": "LoadImage", "inputs": {"image": "fr_small.png"}}
    p["crop"]["inputs"]["image"] = ["other", 0]
    assert "detected in a 640x640 image" in _fails(p, CROP, "faces")


def test_a_mask_of_another_size_is_refused(env):
    p = crop_prompt()
    p["mask"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 64, "height": 64}}
    p["stitch"]["inputs"]["mask"] = ["mask", 0]
    assert "the mask is 64x64, the crop is 256x256" in _fails(p, STITCH, "mask")


def test_a_generated_crop_of_another_size_is_refused(env):
    p = crop_prompt()
    p["small"] = {"class_type": "ImageScale", "inputs": {"image": ["crop", 0], "upscale_method": "bilinear",
                                                         "width": 128, "height": 128, "crop": "disabled"}}
    p["stitch"]["inputs"]["generated"] = ["small", 0]
    assert "this image is 128x128, the crop description's crop is 256x256" in _fails(p, STITCH, "generated")


def test_a_face_index_past_the_faces_names_face_index(env):
    message = _fails(crop_prompt("fr_group.png", selection="index_left_to_right", face_index=5), CROP, "face_index")
    assert "3 face(s) detected" in message
    p = crop_prompt("fr_group.png", selection="index_by_size", face_index=1, detect_selection="largest")
    assert "set its 'selection' to 'all'" in _fails(p, CROP, "face_index")


@pytest.mark.parametrize("node, name", [("crop", "padding"), ("stitch", "blend"), ("stitch", "color_strength")])
def test_nan_widget_values_stop_at_their_node(env, node, name):
    p = crop_prompt()
    p[node]["inputs"][name] = math.nan
    assert cs.PromptRunner().validate(p)[0]  # ComfyUI's range check lets NaN through
    _fails(p, CROP if node == "crop" else STITCH, name)


def test_a_mask_shrunk_to_nothing_names_mask_grow(env):
    _fails(crop_prompt(mask_grow=-400), CROP, "mask_grow")


# ------------------------------------------------------------------------------------------- the workflows

def _run(env, tmp_path, stem, edit=None, **overrides):
    """Run a shipped workflow headless on the tiny models (64 px crops, one step); returns the output image."""
    from PIL import Image
    from runner import in_process_comfy, workflow_prompt
    from runner.in_process_comfy import PromptRunner
    from runner.workflow_format import ui_to_api
    defs = workflow_prompt.node_definitions()
    api = ui_to_api(workflow_prompt.load_workflow(ROOT / "example_workflows" / f"{stem}.json", defs, lambda _l: None),
                    {k: d["input"] for k, d in defs.items()})
    staging = workflow_prompt.Staging()
    workflow_prompt.apply_overrides(api, staging, prompt="a face", steps=1, seed=5, width=64, height=64,
                             sets=["Face crop.long_side=64"], **TINY, **overrides)
    if edit:
        edit(api)
    result = PromptRunner().run(api)
    [saved] = in_process_comfy.saved_images(result.history["outputs"])
    return np.asarray(Image.open(saved)), api, result


def _photo(env, tmp_path, faces):
    from PIL import Image
    path = tmp_path / "photo.png"
    Image.fromarray(face_photo(faces)).save(path)
    return path, face_photo(faces)


def _mask_support(env, photo, selection="largest", face_index=0):
    """The stitched mask's support for the workflow's crop settings (its defaults, 64 px long side)."""
    import nodes
    fa = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_FaceAnalysisLoader"]().load("CPU", "640")[0]
    image = torch.from_numpy(photo.astype(np.float32) / 255.0)[None]
    faces = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_FaceDetect"]().detect(fa, image, "all", 0, "error")
    crop = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_FaceCrop"]().crop(
        image, faces["result"][0], selection, face_index, 0.5, True, 64, 16, 32, "edge", "error")[3]
    return support_of(env, crop, (photo.shape[1], photo.shape[0]))[0]


def _changed_only_inside(out, photo, support):
    changed = np.any(out != photo, axis=2)
    assert changed.any()  # the face was regenerated
    assert not changed[~support].any()  # nothing outside the mask moved, not by one level


def test_face_swap_workflow_changes_only_the_target_face(env, tmp_path):
    path, photo = _photo(env, tmp_path, [(256, 192, 128, 11)])
    face = tmp_path / "me.png"
    from PIL import Image
    Image.fromarray(face_photo([(96, 160, 128, 2)])).save(face)
    out, api, _ = _run(env, tmp_path, "instantid_face_swap", faces=[str(face)], target=str(path))
    assert out.shape == photo.shape
    _changed_only_inside(out, photo, _mask_support(env, photo))
    [ks] = [n for n in api.values() if n["class_type"] == "KSampler"]
    assert ks["inputs"]["denoise"] == pytest.approx(0.9)


def test_group_photo_workflow_replaces_only_the_chosen_person(env, tmp_path):
    path, photo = _photo(env, tmp_path, PHOTOS["group"])
    face = tmp_path / "me.png"
    from PIL import Image
    Image.fromarray(face_photo([(96, 160, 128, 2)])).save(face)
    out, _, _ = _run(env, tmp_path, "instantid_group_photo_one_face", faces=[str(face)], target=str(path))
    support = _mask_support(env, photo, "index_left_to_right", 1)
    assert support[:, 256:384].any() and not support[:, :190].any() and not support[:, 450:].any()  # the middle one
    _changed_only_inside(out, photo, support)


def test_face_detailer_workflow_details_the_face_of_the_first_image(env, tmp_path):
    """The tiny model's first image has no face: it passes through unchanged. With a face photo in place of the
    first image, only that face's region changes."""
    face = tmp_path / "me.png"
    from PIL import Image
    Image.fromarray(face_photo([(96, 160, 128, 2)])).save(face)
    out, api, result = _run(env, tmp_path, "instantid_face_detailer", faces=[str(face)])
    [first] = [nid for nid, n in api.items() if n.get("_meta", {}).get("title") == "Full-body image"]
    generated = np.clip(255.0 * result.outputs[first][0][0].numpy(), 0, 255).astype(np.uint8)
    assert np.array_equal(out, generated)

    path, photo = _photo(env, tmp_path, [(256, 320, 64, 12)])
    staged = headless_stage(path)

    def put_photo_first(api):
        api[first] = {"class_type": "LoadImage", "inputs": {"image": staged}, "_meta": {"title": "Full-body image"}}
    out, _, _ = _run(env, tmp_path, "instantid_face_detailer", edit=put_photo_first, faces=[str(face)])
    _changed_only_inside(out, photo, _mask_support(env, photo))


def headless_stage(path):
    from runner import workflow_prompt
    return workflow_prompt.Staging().add(str(path))


def test_the_workflows_name_the_target_photo_for_the_runner():
    for stem, title in (("instantid_face_swap", "Target photo"),
                        ("instantid_group_photo_one_face", "Target photo (group)")):
        wf = json.loads((ROOT / "example_workflows" / f"{stem}.json").read_text())
        assert title in [n.get("title") for n in wf["nodes"] if n["type"] == "LoadImage"]
        assert "Face crop" in [n.get("title") for n in wf["nodes"]]


def test_several_variants_of_one_crop_give_one_result_each(env):
    """A KSampler batch of 3 from one crop: three stitched photos, each from its own variant."""
    import nodes
    result = cs.run_prompt(crop_prompt())
    image, crop_img, crops = result.output("img"), result.output("crop"), result.output("crop", 3)
    variants = torch.stack([crop_img[0], 1.0 - crop_img[0], torch.full_like(crop_img[0], 0.5)])
    (out,) = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_FaceStitch"]().stitch(image, variants, crops, 1.0, "off",
                                                                                   0.5)
    assert out.shape == (3, 640, 640, 3)
    [sup] = support_of(env, crops, (640, 640))
    for o in out:
        assert torch.equal(o[torch.from_numpy(~sup)], image[0][torch.from_numpy(~sup)])
    assert not torch.equal(out[0], out[1]) and not torch.equal(out[1], out[2])


def test_the_runner_refuses_target_for_a_workflow_without_one(env, tmp_path):
    from runner import workflow_prompt
    from runner.workflow_format import ui_to_api
    defs = workflow_prompt.node_definitions()
    wf = workflow_prompt.load_workflow(ROOT / "example_workflows" / "instantid_basic_portrait.json", defs, lambda _l: None)
    api = ui_to_api(wf, {k: d["input"] for k, d in defs.items()})
    path, _ = _photo(env, tmp_path, PHOTOS["middle"])
    with pytest.raises(workflow_prompt.RunnerError, match="no 'Target photo' input"):
        workflow_prompt.apply_overrides(api, workflow_prompt.Staging(), target=str(path))


def test_every_input_has_a_tooltip_and_every_output_one(env):
    import nodes
    for node_id in ("InstantIDPrecision_FaceCrop", "InstantIDPrecision_FaceStitch"):
        cls = nodes.NODE_CLASS_MAPPINGS[node_id]
        for section in cls.INPUT_TYPES().values():
            for name, (kind, *opts) in section.items():
                assert opts and opts[0].get("tooltip"), (node_id, name)
        assert len(cls.OUTPUT_TOOLTIPS) == len(cls.RETURN_TYPES)
        page = (ROOT / "web" / "docs" / f"{node_id}.md").read_text()
        spec = {**cls.INPUT_TYPES()["required"], **cls.INPUT_TYPES().get("optional", {})}
        assert all(f"`{name}`" in page for name in list(spec) + list(cls.RETURN_NAMES)), node_id


# --- issue 26: a batch mismatch and a non-finite image are refused, never pasted or cut silently ------------------

def test_crops_of_a_two_image_batch_are_refused_on_a_one_image_original(env):
    import nodes
    result = cs.run_prompt(crop_prompt("fr_left.png", second="fr_bottom.png"))
    batch, crop_img, crops = result.output("batch"), result.output("crop"), result.output("crop", 3)
    stitch = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_FaceStitch"]()
    with pytest.raises(Exception, match=r"^InstantID Face Stitch: check the 'image' input — the crop was cut "
                                        r"from image 1 of a batch, this image input has 1"):
        stitch.stitch(batch[:1], crop_img, crops, 1.0, "off", 0.5)
    (out,) = stitch.stitch(batch, crop_img, crops, 1.0, "off", 0.5)  # the batch it was cut from: both go back
    assert out.shape[0] == 2


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_image_is_refused_by_crop_and_stitch(env, bad):
    import nodes
    result = cs.run_prompt(crop_prompt())
    image, faces_crop, crops = result.output("img").clone(), result.output("crop"), result.output("crop", 3)
    image[0, 300, 300, 0] = bad
    crop_node = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_FaceCrop"]()
    faces = result.output("det")
    with pytest.raises(Exception, match=r"^InstantID Face Crop: check the 'image' input — the image holds NaN"):
        crop_node.crop(image, faces, "largest", 0, 0.5, True, 256, 0, 8, "edge", "error")
    stitch = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_FaceStitch"]()
    with pytest.raises(Exception, match=r"^InstantID Face Stitch: check the 'image' input — the image holds NaN"):
        stitch.stitch(image, faces_crop, crops, 1.0, "off", 0.5)
