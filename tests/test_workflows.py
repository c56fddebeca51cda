"""Every shipped workflow: well-formed everywhere; with ComfyUI, valid for the real nodes and executed."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from instantid_core.files.example_inputs import example_names
from instantid_testkit.comfy_env import ROOT, cli_base_dir, comfy_env, face_photo
from instantid_core.files.model_catalog import ADAPTER, IDENTITYNET, files_for, frontend_model_entries
from runner.workflow_format import is_widget, ui_to_api, widget_value_map

WORKFLOWS = sorted((ROOT / "example_workflows").glob("*.json"))
TINY = {"checkpoint": "tiny_sdxl.safetensors", "controlnet": "tiny_identitynet.safetensors",
        "adapter": "ip-adapter.safetensors"}


def load(path):
    return json.loads(path.read_text())


def test_there_are_workflows_for_each_use_case():
    names = {p.stem for p in WORKFLOWS}
    assert {"instantid_basic_portrait", "instantid_pose_from_photo", "instantid_manual_keypoints",
            "instantid_two_people_masks", "instantid_split_second_controlnet", "instantid_multi_reference",
            "instantid_cpu_low_vram", "instantid_face_swap", "instantid_group_photo_one_face",
            "instantid_face_detailer", "instantid_best_of_four", "instantid_three_people",
            "instantid_family_photo"} <= names


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


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_note_names_the_models_and_the_commands(path):
    notes = [n["widgets_values"][0] for n in load(path)["nodes"] if n["type"] == "Note"]
    assert len(notes) == 1
    text = notes[0]
    for f in files_for():  # adapter, IdentityNet and the five antelopev2 files, where they go
        assert f.name in text, f.name
    assert "instantid/ip-adapter.bin" in text and "controlnet/instantid/diffusion_pytorch_model.safetensors" in text
    assert "insightface/models/antelopev2/" in text
    # the commands work whatever the pack's folder is called (Registry installs use the registry id)
    assert "python custom_nodes/<this pack's folder> download" in text
    assert "python custom_nodes/<this pack's folder> doctor" in text
    assert "comfyui-instantid" not in text


def pyproject():
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


# What the ComfyUI frontend (1.27.10) accepts in node properties (its zod schema): a registry id, a GitHub
# 'owner/repo', a semantic version or git hash.
REGISTRY_ID = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9._-]*[a-zA-Z0-9])?$")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                    r"(?:-[\da-z-]+(?:\.[\da-z-]+)*)?(?:\+[\da-z-]+(?:\.[\da-z-]+)*)?$")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_every_node_names_the_pack_that_provides_it(path):
    """cnr_id/ver (aux_id: the GitHub repo) so that 'install missing nodes' finds this pack, not cubiq's."""
    project = pyproject()
    repo = project["urls"]["Repository"].split("github.com/", 1)[1].strip("/")
    for n in load(path)["nodes"]:
        props = n["properties"]
        if n["type"] == "Note":  # a frontend-only node: no pack
            assert not {"cnr_id", "aux_id", "ver"} & set(props)
            continue
        assert props["Node name for S&R"] == n["type"]
        if n["type"].startswith("InstantIDPrecision_"):
            assert (props["cnr_id"], props["ver"], props["aux_id"]) == (project["name"], project["version"], repo)
        else:
            assert props["cnr_id"] == "comfy-core" and "aux_id" not in props, n["type"]
        assert REGISTRY_ID.match(props["cnr_id"]) and SEMVER.match(props["ver"]), props
        assert "aux_id" not in props or re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", props["aux_id"])


SDXL_BASE = {"name": "sd_xl_base_1.0.safetensors", "directory": "checkpoints",
             "url": "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/"
                    "sd_xl_base_1.0.safetensors"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_loaders_carry_the_model_records_the_frontend_reads(path):
    """properties.models as the frontend reads it: it keeps an entry only when its `name` is one of the node's
    widget values, checks `directory`/`name` against the server's model lists, offers the `url`."""
    adapter, identitynet = frontend_model_entries([ADAPTER])[0], frontend_model_entries([IDENTITYNET])[0]
    expected = {"CheckpointLoaderSimple": SDXL_BASE, "InstantIDPrecision_ModelLoader": adapter,
                "IdentityNet": identitynet}
    seen = set()
    for n in load(path)["nodes"]:
        models = n["properties"].get("models")
        key = n.get("title") if n["type"] == "ControlNetLoader" else n["type"]
        if key not in expected:
            assert models is None, (n["type"], n.get("title"))
            continue
        seen.add(key)
        [entry] = models
        assert set(entry) <= {"name", "url", "directory", "hash", "hash_type"}
        assert {k: entry[k] for k in expected[key]} == expected[key]
        assert entry["name"] in n["widgets_values"]
        assert entry["url"].startswith("https://huggingface.co/")
        assert entry["url"].endswith(entry["name"].split("/")[-1])
        assert re.fullmatch(r"[0-9a-f]{64}", entry["hash"]) and entry["hash_type"] == "SHA256"
    assert seen == set(expected)
    assert identitynet["hash"] == files_for([IDENTITYNET])[0].sha256



@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_top_level_models_are_the_union_of_the_nodes_models(path):
    """The workflow schema's top-level `models` (the frontends read it next to properties.models): exactly the
    nodes' entries, each file once, so neither list names a file the other lacks or disagrees on a field."""
    wf = load(path)
    by_file = {}
    for n in wf["nodes"]:
        for m in n["properties"].get("models", []):
            assert by_file.setdefault((m["directory"], m["name"]), m) == m, (n["type"], m)
    top = wf["models"]
    assert len(top) == len({(m["directory"], m["name"]) for m in top}), "a file listed twice"
    assert {(m["directory"], m["name"]): m for m in top} == by_file
    assert by_file  # every shipped workflow names its model files


def test_each_workflow_has_its_template_thumbnail():
    """The template browser asks for /api/workflow_templates/<pack>/<name>.jpg (both frontends, see
    scripts/make_thumbnails.py): a small JPEG of the same name next to each workflow, and no stray pictures."""
    pictures = sorted(p.stem for p in (ROOT / "example_workflows").glob("*.jpg"))
    assert pictures == sorted(p.stem for p in WORKFLOWS)
    for path in WORKFLOWS:
        data = path.with_suffix(".jpg").read_bytes()
        assert data[:3] == b"\xff\xd8\xff" and len(data) < 100_000, (path.stem, len(data))

def _boxes(wf):
    """[x0, y0, x1, y1] of every node, the title bar (30 px above pos) included."""
    return {n["id"]: (n["pos"][0], n["pos"][1] - 30, n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
            for n in wf["nodes"]}


def overlaps(boxes):
    """Pairs of ids whose boxes intersect."""
    items = sorted(boxes.items())
    return [(a, b) for i, (a, ra) in enumerate(items) for b, rb in items[i + 1:]
            if ra[0] < rb[2] and rb[0] < ra[2] and ra[1] < rb[3] and rb[1] < ra[3]]


def backward_links(boxes, ends):
    """Links whose target does not start right of its source's right edge."""
    return [(s, t) for s, t in ends if not boxes[s][2] < boxes[t][0]]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_layout_by_the_file_sizes_has_no_overlap_and_links_read_left_to_right(path):
    """A cheap pre-check on the sizes written in the file; tests/test_browser_workflows.py checks the live sizes
    in the frontend, before and after a run."""
    wf = load(path)
    boxes = _boxes(wf)
    assert not overlaps(boxes)
    assert not backward_links(boxes, [(l[1], l[3]) for l in wf["links"]])


def test_multi_reference_feeds_all_photos_as_one_sequence():
    wf = load(ROOT / "example_workflows" / "instantid_multi_reference.json")
    [proj] = [n for n in wf["nodes"] if n["type"] == "InstantIDPrecision_ImageProjection"]
    assert proj["widgets_values"][0] == "instantx_multi_photo"
    note = next(n for n in wf["nodes"] if n["type"] == "Note")["widgets_values"][0]
    assert "instantx_multi_photo" in note and "one sequence" in note


def test_manual_keypoints_workflow_feeds_the_manual_keypoints_at_the_latent_size():
    wf = load(ROOT / "example_workflows" / "instantid_manual_keypoints.json")
    nodes = {n["id"]: n for n in wf["nodes"]}
    [manual] = [n for n in nodes.values() if n["type"] == "InstantIDPrecision_ManualKeypoints"]
    [latent] = [n for n in nodes.values() if n["type"] == "EmptyLatentImage"]
    preset, points, width, height = manual["widgets_values"][:4]
    assert preset != "custom" and points == "" and [width, height] == latent["widgets_values"][:2]
    [(target, slot)] = [(l[3], l[4]) for l in wf["links"] if l[1] == manual["id"]]
    assert nodes[target]["type"] == "InstantIDPrecision_Apply" and nodes[target]["inputs"][slot]["name"] == "image_kps"
    assert not any(n["type"] == "LoadImage" and "pose" in n.get("title", "").lower() for n in nodes.values())


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_every_workflow_has_an_identity_score_bypassed_unless_it_chooses(path):
    wf = load(path)
    [score] = [n for n in wf["nodes"] if n["type"] == "InstantIDPrecision_IdentityScore"]
    links = {l[0]: l for l in wf["links"]}
    sources = {i["name"]: next(n["type"] for n in wf["nodes"] if n["id"] == links[i["link"]][1])
               for i in score["inputs"] if i["link"] is not None}
    if path.stem == "instantid_family_photo":  # each regenerated face against every crop's own identity
        assert sources["images"] == "VAEDecode" and sources["identity"] == "InstantIDPrecision_GroupFaceCrop"
        assert score["mode"] == 0
        return
    assert sources["images"] == "VAEDecode" and sources["identity"] == "InstantIDPrecision_ImageProjection"
    if path.stem == "instantid_best_of_four":
        assert score["mode"] == 0 and any(n["type"] == "EmptyLatentImage" and n["widgets_values"][2] == 4
                                          for n in wf["nodes"])
        used = {links[l][2] for o in score["outputs"] for l in o["links"]}
        assert used == {3, 4}  # best_image saved, preview (best first) shown
    else:
        assert score["mode"] == 4  # bypassed: a first run does not pay for it
    if "two_people" in path.stem:
        assert "identity_2" in sources


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = comfy_env(tmp_path_factory.mktemp("comfy_wf"))
    from PIL import Image
    photos = tmp_path_factory.mktemp("photos")
    for name, faces in (("me.png", [(96, 160, 128, 2)]), ("other.png", [(300, 200, 128, 4)]),
                        ("two.png", [(96, 160, 128, 2), (400, 192, 128, 3)]),
                        ("three.png", [(32, 160, 128, 2), (256, 160, 128, 4), (448, 160, 128, 3)])):
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
        saved = [o["type"] for o in n["outputs"]]
        declared = list(__import__("nodes").NODE_CLASS_MAPPINGS[n["type"]].RETURN_TYPES)
        if n["type"].startswith("InstantIDPrecision_"):
            assert saved == declared, n["type"]
        else:  # newer cores add outputs after the old ones (v0.33's SaveImage passes its IMAGE on); links keep slots
            assert saved == declared[:len(saved)], n["type"]


def _overrides(env, path):
    photos = env.photos
    faces = {"instantid_two_people_masks": [photos / "me.png", photos / "other.png"],
             "instantid_multi_reference": [photos / "me.png", photos / "other.png"],
             "instantid_three_people": [photos / "me.png", photos / "other.png", photos / "me.png"],
             "instantid_family_photo": [photos / "me.png", photos / "other.png", photos / "me.png"],
             }.get(path.stem, [photos / "me.png"])
    pose = photos / {"instantid_two_people_masks": "two.png", "instantid_three_people": "three.png"}.get(path.stem,
                                                                                                      "other.png")
    sets = []
    if "second_controlnet" in path.stem:
        sets = [f"Second ControlNet (depth, canny, …).control_net_name={TINY['controlnet']}"]
        shutil.copyfile(photos / "two.png", Path(__import__("folder_paths").get_input_directory()) / "instantid_example_depth.jpg")
    target = None
    if "face_swap" in path.stem or "group_photo" in path.stem:  # the photo whose face is replaced
        target = str(photos / ("two.png" if "group" in path.stem else "other.png"))
    if "family_photo" in path.stem:  # every face of this photo gets its own identity
        target = str(photos / "three.png")
    if any(word in path.stem for word in ("face_swap", "group_photo", "face_detailer")):
        sets = sets + ["Face crop.long_side=64"]  # the crop is the generation size there
    if "family_photo" in path.stem:
        sets = sets + ["Group face crop.long_side=64"]
    return dict(faces=[str(f) for f in faces], pose=str(pose), target=target, prompt="a portrait", width=64,
                height=64, steps=1, seed=3, sets=sets, **TINY)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_executes_headless(env, path, tmp_path):
    from runner import run_command
    written = run_command.run_workflow(path, out=tmp_path / "out.png", verbose=False, **_overrides(env, path))
    from PIL import Image
    img = np.asarray(Image.open(written[0]))
    target = _overrides(env, path)["target"]
    assert img.shape == ((640, 640, 3) if target else (64, 64, 3))  # a face swap keeps the target's size


def test_missing_model_stops_before_loading_with_doctor_report(env, tmp_path):
    from runner import workflow_prompt
    path = ROOT / "example_workflows" / "instantid_basic_portrait.json"
    api = ui_to_api(load(path), _definitions())
    workflow_prompt.apply_overrides(api, workflow_prompt.Staging(), **{**_overrides(env, path), "adapter": "missing.bin"})
    with pytest.raises(workflow_prompt.RunnerError) as exc:
        workflow_prompt.preflight(api)
    text = str(exc.value)
    assert "'missing.bin' is not in" in text and "InstantID model doctor" in text and "fix:" in text


def test_cli_runs_a_workflow_end_to_end(env, tmp_path):
    """`python <pack> run …` in a fresh process: its own ComfyUI start-up, models from --base-directory."""
    base = cli_base_dir(env, tmp_path)
    out = tmp_path / "portrait.png"
    cmd = [sys.executable, str(ROOT), "--comfy-args", f"--cpu --base-directory {base}", "run",
           "example_workflows/instantid_basic_portrait.json", "--face", str(env.photos / "me.png"), "--prompt", "a portrait",
           "--out", str(out), "--width", "64", "--height", "64", "--steps", "1",
           "--checkpoint", TINY["checkpoint"], "--controlnet", TINY["controlnet"], "--adapter", TINY["adapter"]]
    envvars = {**os.environ, "COMFYUI_PATH": env.comfy_root}
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=envvars)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert out.is_file() and f"saved {out}" in done.stdout
    leftovers = [p for d in ("output", "input") for p in (base / d).rglob("*") if p.is_file()]
    # the image was moved to --out, the staged photo removed; what stays is the pack's example photos, which it
    # puts into every ComfyUI's input folder it starts in (instantid_core/files/example_inputs.py)
    assert sorted(p.name for p in leftovers) == example_names()
    assert "FutureWarning" not in done.stderr
    # a face swap: the identity from --face, the photo whose face is replaced from --target
    swapped = tmp_path / "swapped.png"
    at = cmd.index("--out")
    swap = [a.replace("instantid_basic_portrait", "instantid_face_swap") for a in cmd[:at]] + [
        "--target", str(env.photos / "other.png"), "--set", "Face crop.long_side=64", "--out", str(swapped)]
    swap += cmd[at + 2:]
    done = subprocess.run(swap, cwd=ROOT, capture_output=True, text=True, timeout=300, env=envvars)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    from PIL import Image
    assert np.asarray(Image.open(swapped)).shape == (640, 640, 3)  # the target's size
    missing = subprocess.run(cmd[:-2] + ["--adapter", "missing.bin"], cwd=ROOT, capture_output=True, text=True,
                             timeout=300, env=envvars)
    assert missing.returncode == 2
    assert "'missing.bin' is not in" in missing.stderr and "InstantID model doctor" in missing.stderr
    assert "running node" not in missing.stdout  # stopped before executing anything
    # `doctor <workflow>`: exactly the files that workflow names (ip-adapter.bin is not among the test models)
    doctor = subprocess.run([sys.executable, str(ROOT), "--comfy-args", f"--cpu --base-directory {base}", "doctor",
                             "example_workflows/instantid_basic_portrait.json"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env=envvars)
    assert doctor.returncode == 1, doctor.stdout[-3000:] + doctor.stderr[-3000:]
    adapter_line = next(line for line in doctor.stdout.splitlines() if "InstantID adapter" in line)
    assert adapter_line.startswith("[FAIL]") and "ip-adapter.bin" in doctor.stdout and " download" in doctor.stdout


def test_doctor_node_and_cli_doctor_report_configured_folders(env):
    import nodes
    out = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_ModelDoctor"]().check(False)
    text = out["ui"]["text"][0]
    assert out["result"][0] == text and "InstantID model doctor" in text
    # other tests add adapters to the shared models folder: any valid one is the doctor's answer
    assert re.search(r"\[ ok \] InstantID adapter: \S+/instantid/\S+\.safetensors \(\d+ identity layers", text), text
    assert "[ ok ] IdentityNet ControlNet" in text
    # the tiny ONNX files are not the published ones: reported with the size to expect, and what to do
    assert "[FAIL] antelopev2" in text and "the published file is" in text


def test_an_interrupted_run_removes_its_staged_photo(env, tmp_path, monkeypatch):
    """Ctrl-C, or SIGTERM (the command line turns it into the same interrupt), in the middle of a run."""
    import folder_paths
    from runner import run_command
    from runner.in_process_comfy import PromptRunner

    def interrupted(self, api):
        assert any(Path(folder_paths.get_input_directory()).glob("instantid_*.png"))  # staged while running
        raise KeyboardInterrupt

    monkeypatch.setattr(PromptRunner, "run", interrupted)
    before = set(Path(folder_paths.get_input_directory()).iterdir())
    path = ROOT / "example_workflows" / "instantid_basic_portrait.json"
    overrides = {**_overrides(env, path), "faces": [str(_odd_photo(tmp_path))]}
    with pytest.raises(KeyboardInterrupt):
        run_command.run_workflow(path, out=tmp_path / "out.png", verbose=False, **overrides)
    assert set(Path(folder_paths.get_input_directory()).iterdir()) == before


def _odd_photo(tmp_path):
    """A photo no other test stages (its own name in input/)."""
    from PIL import Image
    path = tmp_path / "odd.png"
    Image.fromarray(face_photo([(120, 140, 128, 9)])[::-1].copy()).save(path)
    return path
