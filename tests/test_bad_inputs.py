"""Bad input through the real ComfyUI: every value that cannot work is stopped at the node that owns it, with
an error naming that node and input (or a defined result), before sampling starts."""
import math
from pathlib import Path

import pytest
import torch

from instantid_testkit import comfy_support as cs
from instantid_testkit.adapter_fixtures import adapter_state, save_safetensors
from instantid_testkit.comfy_env import TINY_PROJ, comfy_env
from instantid_testkit.prompts import full_chain

APPLY = "Apply InstantID + IdentityNet"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return comfy_env(tmp_path_factory.mktemp("comfy_bad"))


def _fails(prompt, node_title, input_name):
    """Run; the run must fail in the node titled ``node_title`` with a message naming ``input_name``, and the
    sampler must not have run."""
    result = cs.run_prompt(prompt, raise_on_error=False)
    assert not result.success
    message = result.error["exception_message"]
    assert message.startswith(f"{node_title}: check the '{input_name}' input"), message
    assert "ks" not in result.executed
    return message


@pytest.mark.parametrize("name", ["ip_weight", "cn_strength", "start_at", "end_at"])
def test_non_finite_widget_values_stop_at_the_apply_node(env, name):
    prompt = full_chain(seed=21)
    prompt["apply"]["inputs"][name] = math.nan
    assert cs.PromptRunner().validate(prompt)[0]  # ComfyUI's own range check lets NaN through...
    _fails(prompt, APPLY, name)  # ...the node does not


def test_a_nan_mask_stops_at_the_apply_node(env):
    prompt = full_chain(seed=22)
    prompt["mask"] = {"class_type": "SolidMask", "inputs": {"value": math.nan, "width": 64, "height": 64}}
    prompt["apply"]["inputs"]["mask"] = ["mask", 0]
    assert "NaN" in _fails(prompt, APPLY, "mask")


def test_more_identities_than_latents_stop_at_the_apply_node(env):
    prompt = full_chain(seed=23)
    prompt["det"]["inputs"]["selection"] = "all"                # two faces in the photo
    prompt["proj"]["inputs"]["combine"] = "one_per_latent"      # -> two identities
    prompt["lat"]["inputs"]["batch_size"] = 3                   # ... for three latents
    assert "2 identities do not fit the latent batch of 3" in _fails(prompt, APPLY, "identity")


@pytest.mark.parametrize("where", ["image_proj.latents", "ip_adapter.5.to_k_ip.weight"])
def test_non_finite_adapter_weights_stop_at_the_projection(env, where):
    """The loader reads no weight (it stays instant); the first node that uses them names the damaged tensor."""
    state = adapter_state(env.hidden, size=TINY_PROJ, seed=5)
    half, key = where.split(".", 1)
    state[half][key] = state[half][key].clone()
    state[half][key].view(-1)[3] = math.inf
    import folder_paths
    name = f"broken_{key.replace('.', '_')}.safetensors"
    save_safetensors(state, Path(folder_paths.get_folder_paths("instantid")[0]) / name)
    folder_paths.filename_list_cache.clear()
    message = _fails(full_chain(seed=24, adapter=name), "InstantID Image Projection", "instantid")
    assert where in message and name in message and "NaN or infinite" in message


def _node(name):
    import nodes
    return nodes.NODE_CLASS_MAPPINGS[name]()


@pytest.fixture(scope="module")
def parts(env):
    run = cs.run_prompt(full_chain(seed=25))
    return {"model": run.output("ckpt", 0), "pos": run.output("pos"), "neg": run.output("neg"),
            "cn": run.output("cn"), "identity": run.output("proj"), "fa": run.output("fa")}


@pytest.mark.parametrize("shape", [(64,), (1, 2, 64, 64), (0, 64, 64)], ids=["1-D", "4-D", "empty batch"])
def test_masks_of_the_wrong_shape_are_refused_by_each_apply_node(parts, shape):
    mask = torch.ones(shape)
    calls = {
        "InstantIDPrecision_ApplyAttention": lambda n: n.apply(parts["model"], parts["identity"], 0.8, 0.0, 1.0, mask),
        "InstantIDPrecision_ApplyIdentityNet": lambda n: n.apply(parts["pos"], parts["neg"], parts["cn"],
                                                                 parts["identity"], 0.8, 0.0, 1.0, mask=mask),
        "InstantIDPrecision_Apply": lambda n: n.apply(model=parts["model"], positive=parts["pos"],
                                                      negative=parts["neg"], control_net=parts["cn"],
                                                      identity=parts["identity"], ip_weight=0.8, cn_strength=0.8,
                                                      start_at=0.0, end_at=1.0, mask=mask),
    }
    for name, call in calls.items():
        node = _node(name)
        with pytest.raises(ValueError) as exc:
            call(node)
        assert f"{node.DISPLAY_NAME}: check the 'mask' input" in str(exc.value), str(exc.value)
    # a [B, 1, H, W] mask (channel axis) is accepted as [B, H, W]
    model = _node("InstantIDPrecision_ApplyAttention").apply(parts["model"], parts["identity"], 0.8, 0.0, 1.0,
                                                             torch.ones(1, 1, 64, 64))[0]
    assert model is not parts["model"]


def test_a_two_channel_image_gets_a_preview_not_an_opencv_crash(parts):
    """Gray + alpha photos: face analysis reads the gray channel; the preview is drawn in RGB."""
    image = torch.rand(1, 96, 96, 2)
    out = _node("InstantIDPrecision_FaceDetect").detect(parts["fa"], image, "largest", 0, "skip image")
    preview = out["result"][1]
    assert preview.shape == (1, 96, 96, 3) and torch.isfinite(preview).all()


def test_an_empty_image_batch_is_refused_at_face_detect(parts):
    with pytest.raises(ValueError) as exc:
        _node("InstantIDPrecision_FaceDetect").detect(parts["fa"], torch.zeros(0, 64, 64, 3), "largest", 0, "error")
    assert "InstantID Face Detect: check the 'image' input" in str(exc.value)


def test_the_all_in_one_node_names_its_own_image_input(env, parts):
    import folder_paths
    from PIL import Image
    blank = torch.zeros(1, 64, 64, 3)
    handle = cs.run_prompt(full_chain(seed=26)).output("iid")
    with pytest.raises(ValueError) as exc:
        _node("InstantIDPrecision_ApplyAllInOne").apply(parts["fa"], handle, parts["cn"], blank, parts["model"],
                                                        parts["pos"], parts["neg"], 0.8, 0.8, 0.0, 1.0)
    assert "Apply InstantID (all-in-one): check the 'image' input — no face was found" in str(exc.value)
    assert "on_no_face" not in str(exc.value)  # an input this node does not have
    with pytest.raises(ValueError) as exc:
        _node("InstantIDPrecision_ApplyAllInOne").apply(parts["fa"], handle, parts["cn"], blank, parts["model"],
                                                        parts["pos"], parts["neg"], math.inf, 0.8, 0.0, 1.0)
    assert "check the 'ip_weight' input" in str(exc.value)
    assert Image and folder_paths  # (imports kept local to the ComfyUI process)


# --- the command-line runner ------------------------------------------------------------------------------

def test_runner_refuses_non_images_and_leaves_nothing_staged(env, tmp_path):
    import folder_paths
    from runner import run_command, workflow_prompt
    files = lambda: {p.name for p in Path(folder_paths.get_input_directory()).iterdir() if p.is_file()}  # noqa: E731
    before = files()
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    good = tmp_path / "face.png"
    from PIL import Image
    from instantid_testkit.comfy_env import face_photo
    Image.fromarray(face_photo()).save(good)
    workflow = Path(__file__).resolve().parents[1] / "example_workflows" / "instantid_pose_from_photo.json"
    with pytest.raises(workflow_prompt.RunnerError) as exc:  # the face is staged first, then the pose fails
        run_command.run_workflow(workflow, verbose=False, faces=[str(good)], pose=str(secret))
    assert "is not an image" in str(exc.value)
    assert files() == before  # the staged face was removed too


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-inf"])
def test_runner_refuses_non_finite_set_values(env, raw):
    from runner import workflow_prompt
    with pytest.raises(workflow_prompt.RunnerError) as exc:
        workflow_prompt._apply_set({"1": {"class_type": "X", "inputs": {}, "_meta": {"title": "Apply"}}},
                            f"Apply.ip_weight={raw}")
    assert "not a finite number" in str(exc.value)


def test_runner_prints_each_node_with_its_title_and_progress(env, tmp_path, capsys):
    from runner import run_command
    from PIL import Image
    from instantid_testkit.comfy_env import face_photo
    face = tmp_path / "me.png"
    Image.fromarray(face_photo()).save(face)
    workflow = Path(__file__).resolve().parents[1] / "example_workflows" / "instantid_basic_portrait.json"
    written = run_command.run_workflow(workflow, out=tmp_path / "out.png", verbose=True, faces=[str(face)],
                                    checkpoint="tiny_sdxl.safetensors", controlnet="tiny_identitynet.safetensors",
                                    adapter="ip-adapter.safetensors", width=64, height=64, steps=2, seed=1)
    out = capsys.readouterr().out
    assert written and written[0].is_file()
    for title in ("InstantID Face Detect", "InstantID Image Projection", "KSampler", "Save Image"):
        assert f": {title}" in out, out
    assert "KSampler: 2/2" in out  # the sampler's progress, per node
