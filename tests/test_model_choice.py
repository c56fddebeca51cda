"""Models chosen from what is installed: a workflow naming the author's files (sd_xl_base_1.0, IdentityNet under
another name) runs with the user's own SDXL checkpoint and IdentityNet, and says which it used."""
import shutil
from pathlib import Path

import pytest

from instantid_testkit.comfy_env import ROOT, comfy_env
from runner.workflow_format import ui_to_api

WORKFLOW = ROOT / "example_workflows" / "instantid_basic_portrait.json"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = comfy_env(tmp_path_factory.mktemp("comfy_choice"))
    from PIL import Image
    from instantid_testkit.comfy_env import face_photo
    env.face = env.tmp / "me.png"
    Image.fromarray(face_photo()).save(env.face)
    return env


def _folder(kind):
    import folder_paths
    return Path(folder_paths.get_folder_paths(kind)[0])


def _refresh():
    import folder_paths
    folder_paths.filename_list_cache.clear()


def _api():
    import json
    from runner import workflow_prompt
    definitions = workflow_prompt.node_definitions()
    return ui_to_api(json.loads(WORKFLOW.read_text()), {k: d["input"] for k, d in definitions.items()})


def test_the_installed_checkpoint_and_identitynet_replace_absent_names(env, tmp_path, capsys):
    from runner import run_command
    api = _api()
    named = {n["class_type"]: n["inputs"] for n in api.values()}
    assert named["CheckpointLoaderSimple"]["ckpt_name"] == "sd_xl_base_1.0.safetensors"  # not installed here
    written = run_command.run_workflow(WORKFLOW, out=tmp_path / "out.png", verbose=True, faces=[str(env.face)],
                                    adapter="ip-adapter.safetensors", width=64, height=64, steps=1, seed=2)
    out = capsys.readouterr().out
    assert written[0].is_file()
    assert ("using SDXL checkpoint 'tiny_sdxl.safetensors' (the workflow names 'sd_xl_base_1.0.safetensors', "
            "which is not installed)") in out
    assert "using IdentityNet 'tiny_identitynet.safetensors'" in out


def test_identitynet_in_managers_folder_is_used_as_named(env, tmp_path):
    from runner import run_command
    from runner.model_choice import choose_models
    target = _folder("controlnet") / "instantid" / "diffusion_pytorch_model.safetensors"
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(_folder("controlnet") / "tiny_identitynet.safetensors", target)
    _refresh()
    try:
        api = _api()
        loader = next(n for n in api.values() if n["class_type"] == "ControlNetLoader")
        loader["inputs"]["control_net_name"] = "instantid/diffusion_pytorch_model.safetensors"
        lines = choose_models(api)
        assert not [line for line in lines if "IdentityNet" in line]  # found where ComfyUI-Manager puts it
        written = run_command.run_workflow(WORKFLOW, out=tmp_path / "out.png", verbose=False, faces=[str(env.face)],
                                        adapter="ip-adapter.safetensors",
                                        controlnet="instantid/diffusion_pytorch_model.safetensors",
                                        width=64, height=64, steps=1)
        assert written[0].is_file()
    finally:
        shutil.rmtree(target.parent)
        _refresh()


def test_several_checkpoints_make_the_runner_ask_with_a_list(env):
    from runner import run_command, workflow_prompt
    second = _folder("checkpoints") / "juggernaut_xl_tiny.safetensors"
    shutil.copyfile(_folder("checkpoints") / "tiny_sdxl.safetensors", second)
    _refresh()
    try:
        with pytest.raises(workflow_prompt.RunnerError) as exc:
            run_command.run_workflow(WORKFLOW, verbose=False, faces=[str(env.face)], adapter="ip-adapter.safetensors")
        text = str(exc.value)
        assert "'sd_xl_base_1.0.safetensors' is not in" in text
        assert "juggernaut_xl_tiny.safetensors" in text and "tiny_sdxl.safetensors" in text and "--checkpoint" in text
        assert "InstantID model doctor" in text
    finally:
        second.unlink()
        _refresh()


def test_no_checkpoint_at_all_names_the_command_that_gets_one(env):
    from runner import run_command, workflow_prompt
    checkpoint = _folder("checkpoints") / "tiny_sdxl.safetensors"
    hidden = checkpoint.with_suffix(".hidden")  # not a model suffix: ComfyUI lists no checkpoint
    checkpoint.rename(hidden)
    _refresh()
    try:
        with pytest.raises(workflow_prompt.RunnerError) as exc:
            run_command.run_workflow(WORKFLOW, verbose=False, faces=[str(env.face)], adapter="ip-adapter.safetensors")
        text = str(exc.value)
        assert "'sd_xl_base_1.0.safetensors' is not in" in text and "download --only sdxl" in text, text
    finally:
        hidden.rename(checkpoint)
        _refresh()


def test_doctor_checks_the_files_a_workflow_uses(env):
    from runner.model_choice import doctor_report
    api = _api()
    next(n for n in api.values() if n["class_type"] == "InstantIDPrecision_ModelLoader")["inputs"][
        "instantid_file"] = "short.safetensors"
    adapter_line = next(line for line in doctor_report(api).text().splitlines() if "InstantID adapter" in line)
    assert adapter_line.startswith("[ ok ]") and "short.safetensors" in adapter_line  # that file, not another
    next(n for n in api.values() if n["class_type"] == "InstantIDPrecision_ModelLoader")["inputs"][
        "instantid_file"] = "absent.bin"
    text = doctor_report(api).text()
    assert "[FAIL] InstantID adapter" in text and "download" in text


def test_a_name_listed_with_the_other_separator_is_respelled_and_runs(env, tmp_path, capsys):
    """Windows lists `instantid\\diffusion_pytorch_model.safetensors` where the shipped workflows say
    `instantid/...`; a file named with a literal backslash makes ComfyUI list it that way here too. The runner uses
    the listed spelling (ComfyUI's own check is literal) instead of failing with "Value not in list"."""
    from runner import run_command
    from runner.model_choice import choose_models
    windows_style = _folder("controlnet") / "instantid\\diffusion_pytorch_model.safetensors"
    shutil.copyfile(_folder("controlnet") / "tiny_identitynet.safetensors", windows_style)
    sub = _folder("checkpoints") / "sdxl"
    sub.mkdir()
    shutil.copyfile(_folder("checkpoints") / "tiny_sdxl.safetensors", sub / "tiny_sdxl.safetensors")
    _refresh()
    try:
        api = _api()
        nodes = {n["class_type"]: n["inputs"] for n in api.values()}
        nodes["ControlNetLoader"]["control_net_name"] = "instantid/diffusion_pytorch_model.safetensors"
        nodes["CheckpointLoaderSimple"]["ckpt_name"] = "sdxl\\tiny_sdxl.safetensors"  # saved on Windows
        lines = choose_models(api)
        assert nodes["ControlNetLoader"]["control_net_name"] == "instantid\\diffusion_pytorch_model.safetensors"
        assert nodes["CheckpointLoaderSimple"]["ckpt_name"] == "sdxl/tiny_sdxl.safetensors"
        assert len(lines) == 2 and all("(the same file; this system lists sub-folders with" in line for line in lines)
        written = run_command.run_workflow(WORKFLOW, out=tmp_path / "out.png", verbose=True, faces=[str(env.face)],
                                        adapter="ip-adapter.safetensors", checkpoint="sdxl\\tiny_sdxl.safetensors",
                                        controlnet="instantid/diffusion_pytorch_model.safetensors",
                                        width=64, height=64, steps=1)
        assert written[0].is_file()
        assert "using 'instantid\\diffusion_pytorch_model.safetensors' for 'instantid/" in capsys.readouterr().out
    finally:
        windows_style.unlink()
        shutil.rmtree(sub)
        _refresh()
