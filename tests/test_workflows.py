"""Every shipped workflow: well-formed everywhere; with ComfyUI, valid for the real nodes and executed."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from comfy_env import ROOT, comfy_env, face_photo
from runner.workflow_format import is_widget, ui_to_api, widget_value_map

WORKFLOWS = sorted((ROOT / "workflows").glob("*.json"))
TINY = {"checkpoint": "tiny_sdxl.safetensors", "controlnet": "tiny_identitynet.safetensors",
        "adapter": "ip-adapter.safetensors"}


def load(path):
    return json.loads(path.read_text())


def test_there_are_workflows_for_each_use_case():
    names = {p.stem for p in WORKFLOWS}
    assert {"instantid_basic_portrait", "instantid_pose_from_photo", "instantid_two_people_masks",
            "instantid_split_second_controlnet", "instantid_multi_reference", "instantid_cpu_low_vram"} <= names


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_links_are_consistent_and_a_note_names_the_models(path):
    wf = load(path)
    nodes = {n["id"]: n for n in wf["nodes"]}
    assert len(nodes) == len(wf["nodes"])
    for link_id, src, src_slot, dst, dst_slot, kind in wf["links"]:
        out = nodes[src]["outputs"][src_slot]
        inp = nodes[dst]["inputs"][dst_slot]
        assert link_id in out["links"] and inp["link"] == link_id
        assert out["type"] == inp["type"] == kind
    link_ids = {l[0] for l in wf["links"]}
    for n in nodes.values():
        for inp in n.get("inputs", []):
            assert inp["link"] is None or inp["link"] in link_ids
    notes = [n for n in nodes.values() if n["type"] == "Note"]
    assert notes and "models/instantid/ip-adapter.bin" in notes[0]["widgets_values"][0]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = comfy_env(tmp_path_factory.mktemp("comfy_wf"))
    from PIL import Image
    photos = tmp_path_factory.mktemp("photos")
    for name, faces in (("me.png", [(96, 160, 128, 2)]), ("other.png", [(300, 200, 128, 4)]),
                        ("two.png", [(96, 160, 128, 2), (400, 192, 128, 3)])):
        Image.fromarray(face_photo(faces)).save(photos / name)
    env.photos = photos
    return env


def _definitions():
    import nodes
    return {k: v.INPUT_TYPES() for k, v in nodes.NODE_CLASS_MAPPINGS.items()}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_every_node_exists_and_widget_values_fit(env, path):
    defs = _definitions()
    wf = load(path)
    for n in wf["nodes"]:
        if n["type"] in ("Note", "Reroute", "PrimitiveNode"):
            continue
        assert n["type"] in defs, f"{path.name}: unknown node {n['type']}"
        spec = defs[n["type"]]
        all_inputs = {**spec.get("required", {}), **spec.get("optional", {})}
        values = widget_value_map(spec, n["widgets_values"])
        assert set(values) == {k for k, s in all_inputs.items() if is_widget(s)}, n["type"]
        for name, value in values.items():
            kind, opts = all_inputs[name][0], (all_inputs[name][1] if len(all_inputs[name]) > 1 else {})
            if isinstance(kind, (list, tuple)):
                if name in ("ckpt_name", "control_net_name", "instantid_file", "image"):
                    continue  # the user's own files; swapped for the tiny ones when executing
                assert value in kind, (n["type"], name, value)
            elif kind in ("INT", "FLOAT"):
                assert isinstance(value, (int, float)) and not isinstance(value, bool)
                assert opts.get("min", -np.inf) <= value <= opts.get("max", np.inf), (n["type"], name, value)
            elif kind == "STRING":
                assert isinstance(value, str)
        for inp in n.get("inputs", []):
            assert inp["name"] in all_inputs, (n["type"], inp["name"])
        assert [o["type"] for o in n["outputs"]] == list(__import__("nodes").NODE_CLASS_MAPPINGS[n["type"]].RETURN_TYPES)


def _overrides(env, path):
    photos = env.photos
    faces = {"instantid_two_people_masks": [photos / "me.png", photos / "other.png"],
             "instantid_multi_reference": [photos / "me.png", photos / "other.png"]}.get(path.stem, [photos / "me.png"])
    pose = photos / ("two.png" if "two_people" in path.stem else "other.png")
    sets = []
    if "second_controlnet" in path.stem:
        sets = [f"Second ControlNet (depth, canny, …).control_net_name={TINY['controlnet']}"]
        shutil.copyfile(photos / "two.png", Path(__import__("folder_paths").get_input_directory()) / "depth.png")
    return dict(faces=[str(f) for f in faces], pose=str(pose), prompt="a portrait", width=64, height=64, steps=1,
                seed=3, sets=sets, **TINY)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_executes_headless(env, path, tmp_path):
    from runner import headless
    written = headless.run_workflow(path, out=tmp_path / "out.png", verbose=False, **_overrides(env, path))
    from PIL import Image
    img = np.asarray(Image.open(written[0]))
    assert img.shape == (64, 64, 3)


def test_missing_model_stops_before_loading_with_doctor_report(env, tmp_path):
    from runner import headless
    path = ROOT / "workflows" / "instantid_basic_portrait.json"
    api = ui_to_api(load(path), _definitions())
    headless.apply_overrides(api, headless.Staging(), **{**_overrides(env, path), "adapter": "missing.bin"})
    with pytest.raises(headless.RunnerError) as exc:
        headless.preflight(api)
    text = str(exc.value)
    assert "'missing.bin' is not in" in text and "InstantID model doctor" in text and "fix:" in text


def test_cli_runs_a_workflow_end_to_end(env, tmp_path):
    """`python <pack> run …` in a fresh process: its own ComfyUI start-up, models from --base-directory."""
    base = tmp_path / "base"
    shutil.copytree(env.tmp / "models", base / "models")
    (base / "custom_nodes").mkdir(parents=True)
    # a test-only custom node: ComfyUI must recognise the tiny SDXL family in that process too
    (base / "custom_nodes" / "tiny_sdxl_family.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'tests')!r})\nimport comfy_support\n"
        "comfy_support.register_tiny_sdxl()\nNODE_CLASS_MAPPINGS = {}\n")
    out = tmp_path / "portrait.png"
    cmd = [sys.executable, str(ROOT), "--comfy-args", f"--cpu --base-directory {base}", "run",
           "workflows/instantid_basic_portrait.json", "--face", str(env.photos / "me.png"), "--prompt", "a portrait",
           "--out", str(out), "--width", "64", "--height", "64", "--steps", "1",
           "--checkpoint", TINY["checkpoint"], "--controlnet", TINY["controlnet"], "--adapter", TINY["adapter"]]
    envvars = {**os.environ, "COMFYUI_PATH": env.comfy_root}
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=envvars)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert out.is_file() and f"saved {out}" in done.stdout
    missing = subprocess.run(cmd[:-2] + ["--adapter", "missing.bin"], cwd=ROOT, capture_output=True, text=True,
                             timeout=300, env=envvars)
    assert missing.returncode == 2
    assert "'missing.bin' is not in" in missing.stderr and "InstantID model doctor" in missing.stderr
    assert "running node" not in missing.stdout  # stopped before executing anything


def test_doctor_node_and_cli_doctor_report_configured_folders(env):
    import nodes
    out = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_ModelDoctor"]().check(False)
    text = out["ui"]["text"][0]
    assert out["result"][0] == text and "InstantID model doctor" in text
    assert "[ ok ] InstantID adapter" in text and "ip-adapter.safetensors" in text
    assert "[ ok ] IdentityNet ControlNet" in text
    # the tiny ONNX files are not the published ones: reported with the size to expect, and what to do
    assert "[FAIL] antelopev2" in text and "the published file is" in text
