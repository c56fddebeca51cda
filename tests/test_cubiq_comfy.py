"""cubiq's five InstantID example workflows against a real ComfyUI, in-process.

The examples are generated in cubiq's format by tests/instantid_testkit/cubiq_examples.py (cubiq's files are never committed). Each
is converted with ComfyUI's live node definitions and checked field by field against its source (weights,
start/end, every link into and out of cubiq's nodes, untouched neighbours), validated by ComfyUI's own
validate_prompt, and run headless by the runner on the tiny test models (the runner converts the cubiq file on
the fly). The command line's `migrate` and the server route's handler are checked too.

Besides InstantID the examples use other packs' nodes. IPAdapter_plus is the real pack from
$INSTANTID_THIRD_PARTY, with a tiny IPAdapter file and a tiny CLIP vision model made here (ComfyUI only recognises
CLIP vision files of the published sizes, so this module teaches its loader one tiny configuration, for the
IPAdapter example only). ComfyUI_essentials and comfyui_controlnet_aux have no snapshot here: their three nodes are
test stand-ins (tests/instantid_testkit/cubiq_stand_ins.py), so those examples are validated and run with them."""
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from instantid_testkit import comfy_support as cs
from instantid_testkit import cubiq_examples as ex
from instantid_testkit import third_party
from instantid_testkit.comfy_env import ROOT, comfy_env, face_photo
from instantid_core.workflow_formats.cubiq_workflows import (APPLY, CUBIQ_NODE_TYPES, FACE_DETECT, PROJECTION, SET_MASK,
                                            migrate_workflow)
from runner import run_command, workflow_prompt
from runner.in_process_comfy import PromptRunner
from runner.workflow_format import ui_to_api, widget_value_map

TINY = {"checkpoint": "tiny_sdxl.safetensors", "controlnet": "tiny_identitynet.safetensors",
        "adapter": "ip-adapter.safetensors"}
IPADAPTER_NODES = {"IPAdapterModelLoader", "IPAdapterAdvanced"}
EMBED_DIM = 32  # the tiny CLIP vision's image embedding = what the tiny IPAdapter projects
IPA_FILE, CLIP_VISION_FILE = "tiny_ipadapter.safetensors", "tiny_clip_vision.safetensors"
TINY_CLIP_VISION = {"attention_dropout": 0.0, "dropout": 0.0, "hidden_act": "quick_gelu", "hidden_size": 32,
                    "image_size": 224, "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 64,
                    "layer_norm_eps": 1e-05, "model_type": "clip_vision_model", "num_attention_heads": 2,
                    "num_channels": 3, "num_hidden_layers": 2, "patch_size": 14, "projection_dim": EMBED_DIM}
# every photo cubiq's examples name, each with one face (x, y, side, seed) the tiny detector finds
PHOTOS = {ex.FACE: (96, 160, 128, 2), "face4.jpg": (300, 200, 128, 4), "miranda.jpg": (200, 240, 128, 5),
          "666561.jpg": (260, 180, 128, 6), "pose (1).jpg": (160, 200, 128, 7),
          "anime_colorful.png": (240, 240, 128, 8)}
# per example: what the runner's options do not reach (cubiq's node ids)
SETS = {"InstantID_depth": ["73.control_net_name=" + TINY["controlnet"]],
        "InstantID_IPAdapter": ["68.ipadapter_file=" + IPA_FILE, "70.clip_name=" + CLIP_VISION_FILE]}


def nodes_by_id(wf):
    return {n["id"]: n for n in wf["nodes"]}


def feeder(wf, node_id, input_name):
    """(source node id, source slot) of a node's input, or None when it is not linked."""
    node = nodes_by_id(wf)[node_id]
    inp = next((i for i in node.get("inputs") or [] if i["name"] == input_name), None)
    if inp is None or inp.get("link") is None:
        return None
    link = next(l for l in wf["links"] if l[0] == inp["link"])
    return link[1], link[2]


def input_name(wf, node_id, slot):
    return nodes_by_id(wf)[node_id]["inputs"][slot]["name"]


def example_path(tmp_path, name):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(ex.EXAMPLES[name]()))
    return path


def write_tiny_ipadapter(path: Path, layers) -> None:
    """A basic (non-Plus) SDXL IPAdapter for the tiny UNet: EMBED_DIM image embeds -> 4 tokens of 2048."""
    from safetensors.torch import save_file
    g = torch.Generator().manual_seed(21)
    context = cs.TINY_CONTEXT_DIM
    sd = {"image_proj.proj.weight": torch.randn(4 * context, EMBED_DIM, generator=g) * 0.05,
          "image_proj.proj.bias": torch.zeros(4 * context),
          "image_proj.norm.weight": torch.ones(context), "image_proj.norm.bias": torch.zeros(context)}
    hidden = {(b, i, t): h for b, i, t, h in layers}
    kv = third_party.layer_kv_weights(hidden, context, seed=22, middle_block_id=1)  # IPAdapter_plus's middle id
    sd.update({f"ip_adapter.{k}": v for k, v in kv.items()})
    save_file(sd, str(path))


def tiny_clip_vision_loader(config_path: Path):
    """comfy.clip_vision.load_clipvision_from_sd that also recognises the tiny configuration (by its width)."""
    import comfy.clip_vision as clip_vision
    original = clip_vision.load_clipvision_from_sd

    def load(sd, prefix="", convert_keys=False):
        found = original(sd, prefix, convert_keys)
        embedding = sd.get("vision_model.embeddings.class_embedding")
        if found is None and embedding is not None and embedding.shape[0] == TINY_CLIP_VISION["hidden_size"]:
            found = clip_vision.ClipVisionModel(str(config_path))
            missing, _ = found.load_sd(sd)
            assert not missing, missing
        return found

    return load


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = comfy_env(tmp_path_factory.mktemp("comfy_cubiq"))
    assert cs.load_custom_node(str(ROOT / "tests" / "instantid_testkit" / "cubiq_stand_ins.py")), "the stand-in nodes did not load"
    import folder_paths
    from PIL import Image
    for name, face in PHOTOS.items():  # PNG data under cubiq's names: PIL reads the content, not the suffix
        Image.fromarray(face_photo([face])).save(Path(folder_paths.get_input_directory()) / name, format="PNG")
    env.photos = tmp_path_factory.mktemp("cubiq_photos")
    Image.fromarray(face_photo([(120, 140, 128, 9)])).save(env.photos / "me.png")
    env.ipadapter = None
    root = os.environ.get(third_party.ENV_VAR)
    if root and (Path(root) / third_party.IPADAPTER_PLUS / "__init__.py").is_file():
        add_ipadapter(env)
    return env


def add_ipadapter(env) -> None:
    """IPAdapter_plus loaded by ComfyUI's loader, a tiny IPAdapter file and a tiny CLIP vision file."""
    import comfy.clip_vision
    from safetensors.torch import save_file
    env.ipadapter = third_party.load_into_comfy(third_party.pack_dir(third_party.IPADAPTER_PLUS))
    dirs = cs.use_model_dir(str(env.tmp / "models"), folders=("ipadapter", "clip_vision"))
    write_tiny_ipadapter(Path(dirs["ipadapter"]) / IPA_FILE, env.layers)
    config = env.tmp / "tiny_clip_vision.json"
    config.write_text(json.dumps(TINY_CLIP_VISION))
    model = comfy.clip_vision.ClipVisionModel(str(config))
    cs.init_weights_(model.model, seed=23)
    weights = {k: v.contiguous() for k, v in model.get_sd().items()}
    save_file(weights, str(Path(dirs["clip_vision"]) / CLIP_VISION_FILE))
    env.clip_vision_loader = tiny_clip_vision_loader(config)


@pytest.fixture(scope="module")
def definitions(env):
    return workflow_prompt.node_definitions()


def needs_ipadapter(env, name):
    if name == "InstantID_IPAdapter" and env.ipadapter is None:
        pytest.skip(third_party.skip_reason(third_party.IPADAPTER_PLUS) + " (the IPAdapter example uses its nodes)")


# --- conversion, field by field ---------------------------------------------------------------------------------

def check_apply_node(source, converted, definitions, apply_id):
    """One of cubiq's Apply InstantID nodes against what replaced it: widgets, and every link in and out."""
    weight, start_at, end_at = nodes_by_id(source)[apply_id]["widgets_values"]
    ours = nodes_by_id(converted)[apply_id]
    assert ours["type"] == APPLY
    assert widget_value_map(definitions[APPLY]["input"], ours["widgets_values"]) == {
        "ip_weight": weight, "cn_strength": weight, "start_at": start_at, "end_at": end_at}
    project = feeder(converted, apply_id, "identity")[0]
    detect = feeder(converted, project, "faces")[0]
    types = nodes_by_id(converted)
    assert (types[project]["type"], types[detect]["type"]) == (PROJECTION, FACE_DETECT)
    incoming = {input_name(source, apply_id, l[4]): (l[1], l[2]) for l in source["links"] if l[3] == apply_id}
    for name, origin in incoming.items():
        if name in ("model", "positive", "negative", "control_net", "mask"):
            assert feeder(converted, apply_id, name) == origin, name
        elif name == "image":
            assert feeder(converted, detect, "image") == origin
        elif name == "instantid":
            assert feeder(converted, project, "instantid") == origin
        elif name == "insightface":
            assert feeder(converted, detect, "face_analysis") == origin
        elif name == "image_kps":  # the pose photo's face, found by a Face Detect of its own
            pose = feeder(converted, apply_id, "faces")[0]
            assert pose != detect and nodes_by_id(converted)[pose]["type"] == FACE_DETECT
            assert feeder(converted, pose, "image") == origin
            assert feeder(converted, pose, "face_analysis") == incoming["insightface"]
        else:
            raise AssertionError(f"unexpected cubiq input {name}")
    if "image_kps" not in incoming:  # keypoints of the reference face itself, as cubiq did
        assert feeder(converted, apply_id, "faces") == (detect, 0)
    for link in (l for l in source["links"] if l[1] == apply_id):
        now = feeder(converted, link[3], input_name(source, link[3], link[4]))
        if link[2] == 1 and "mask" in incoming:  # cubiq masked the positive prompt: now a Set Mask node does
            mask_node = nodes_by_id(converted)[now[0]]
            assert mask_node["type"] == SET_MASK
            assert feeder(converted, now[0], "conditioning") == (apply_id, 1)
            assert feeder(converted, now[0], "mask") == incoming["mask"]
        else:
            assert now == (apply_id, link[2]), link


@pytest.mark.parametrize("name", list(ex.EXAMPLES))
def test_example_converts_field_by_field_with_live_definitions(env, definitions, name):
    source = ex.EXAMPLES[name]()
    result = migrate_workflow(source, definitions)
    converted = result.workflow
    assert not [n for n in converted["nodes"] if n["type"] in CUBIQ_NODE_TYPES]
    unknown = {n["type"] for n in converted["nodes"]} - set(definitions) - {"Reroute"}
    assert unknown == (set() if env.ipadapter or name != "InstantID_IPAdapter" else IPADAPTER_NODES), unknown
    assert not result.warnings, [n.message for n in result.warnings]
    applies = [n["id"] for n in source["nodes"] if n["type"] == "ApplyInstantID"]
    assert applies and result.converted == len(applies) + 2  # + the model loader and the face analysis
    for apply_id in applies:
        check_apply_node(source, converted, definitions, apply_id)
    for node in source["nodes"]:  # everything that is not cubiq's is exactly as it was
        if node["type"] not in CUBIQ_NODE_TYPES:
            ours = nodes_by_id(converted)[node["id"]]
            assert (ours["type"], ours.get("widgets_values"), ours["pos"]) == \
                   (node["type"], node.get("widgets_values"), node["pos"])
    loader = nodes_by_id(converted)[11]
    assert loader["type"] == "InstantIDPrecision_ModelLoader" and loader["widgets_values"] == ["ip-adapter.bin"]
    analysis = nodes_by_id(converted)[38]
    assert widget_value_map(definitions[analysis["type"]]["input"], analysis["widgets_values"])["provider"] == "CPU"


# --- ComfyUI's validation and a headless run ------------------------------------------------------------------------

def overrides(env, name):
    return dict(faces=[str(env.photos / "me.png")], width=64, height=64, steps=1, seed=3, sets=SETS.get(name, []),
                **TINY)


@pytest.mark.parametrize("name", list(ex.EXAMPLES))
def test_example_validates_and_runs_headless(env, definitions, name, tmp_path, monkeypatch):
    needs_ipadapter(env, name)
    if name == "InstantID_IPAdapter":
        monkeypatch.setattr("comfy.clip_vision.load_clipvision_from_sd", env.clip_vision_loader)
    converted = migrate_workflow(ex.EXAMPLES[name](), definitions).workflow
    api = ui_to_api(converted, {k: d["input"] for k, d in definitions.items()})
    staging = workflow_prompt.Staging()
    try:
        workflow_prompt.apply_overrides(api, staging, **overrides(env, name))
        workflow_prompt.preflight(api, say=lambda _line: None)
        valid, error, outputs, node_errors = PromptRunner().validate(api)
    finally:
        staging.remove()
    assert valid and not node_errors, (error, node_errors)
    assert outputs == ["15"]  # the Preview Image
    written = run_command.run_workflow(example_path(tmp_path, name), out=tmp_path / "out.png", verbose=False,
                                    **overrides(env, name))
    assert [p.name for p in written] == ["out.png"]
    assert np.asarray(Image.open(written[0])).shape == (64, 64, 3)


def test_runner_says_what_it_converted(env, tmp_path):
    said = []
    workflow = workflow_prompt.load_workflow(example_path(tmp_path, "InstantID_posed"), say=said.append)
    assert not [n for n in workflow["nodes"] if n["type"] in CUBIQ_NODE_TYPES]
    assert said and said[0].startswith("Converted 3 cubiq InstantID node(s)") and "image_kps" in said[0]


def test_runner_names_an_uninstalled_node_type_in_one_sentence(env, tmp_path):
    """A cubiq workflow with a node no installed pack provides: RunnerError (exit 2), not a WorkflowFormatError
    traceback (issue 26, finding 8)."""
    wf = ex.basic()
    wf["nodes"].append({"id": 90, "type": "SomeonesUninstalledNode", "pos": [0, 0], "size": [100, 40], "flags": {},
                        "order": 90, "mode": 0, "inputs": [], "outputs": [], "properties": {},
                        "widgets_values": []})
    path = tmp_path / "with_unknown.json"
    path.write_text(json.dumps(wf))
    with pytest.raises(workflow_prompt.RunnerError, match=r"unknown node types \['SomeonesUninstalledNode'\]"):
        run_command.run_workflow(path, out=tmp_path / "out.png", verbose=False)


# --- the command line -------------------------------------------------------------------------------------------

def test_cli_migrate_writes_the_conversion(env, definitions, tmp_path):
    """`python <pack> migrate in.json out.json` in a fresh process with its own ComfyUI start-up: the same
    conversion as the in-process one, and the converter's report on stdout."""
    source = example_path(tmp_path, "InstantID_multi_id")
    target = tmp_path / "converted.json"
    base = tmp_path / "base"
    (base / "custom_nodes").mkdir(parents=True)
    cmd = [sys.executable, str(ROOT), "--comfy-args", f"--cpu --base-directory {base}", "migrate", str(source),
           str(target)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COMFYUI_PATH": env.comfy_root})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert json.loads(target.read_text()) == migrate_workflow(json.loads(source.read_text()), definitions).workflow
    assert "Converted 4 cubiq InstantID node(s)" in done.stdout and f"wrote {target}" in done.stdout
    unreadable = subprocess.run(cmd[:-2] + [str(tmp_path / "missing.json"), str(target)], cwd=ROOT, text=True,
                                capture_output=True, timeout=300, env={**os.environ, "COMFYUI_PATH": env.comfy_root})
    assert unreadable.returncode == 2 and "workflow not found" in unreadable.stderr  # checked before ComfyUI starts


# --- the server route's handler (the browser test reaches it over HTTP) -----------------------------------------------

class BodyRequest:
    """What the handler reads of an aiohttp request: the announced length and the body stream."""

    def __init__(self, body, announce=True):
        raw = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        self.headers, self.content_type, self.remote = {}, "application/json", "127.0.0.1"  # what the guard reads
        self.content_length = len(raw) if announce else None
        self.content = self
        self._rest = raw

    async def read(self, n):
        chunk, self._rest = self._rest[:n], self._rest[n:]
        return chunk


def _strict(text):
    def refuse(constant):
        raise AssertionError(f"the answer holds {constant}, which is not JSON")
    return json.loads(text, parse_constant=refuse)


def call_route(env, body, announce=True):
    response = asyncio.run(env.pack("nodes.migration_route").migrate(BodyRequest(body, announce)))
    return response.status, _strict(response.body)


def test_route_handler_converts_with_live_definitions(env, definitions):
    route = env.pack("nodes.migration_route")
    # ComfyUI's `server` module is imported here (by its image nodes), but no server runs: nothing registered
    assert route.register_route() is False
    source = ex.EXAMPLES["InstantID_basic"]()
    status, answer = call_route(env, {"workflow": source})
    expected = migrate_workflow(source, definitions)
    assert status == 200 and answer["workflow"] == expected.workflow and answer["converted"] == 3
    assert [n["message"] for n in answer["notes"]] == [n.message for n in expected.notes]
    assert answer["report"].startswith("Converted 3 cubiq InstantID node(s)")
    assert call_route(env, source)[1]["workflow"] == expected.workflow  # the workflow itself as the body


@pytest.mark.parametrize("body, words", [
    ("{not json", "not JSON"),
    ({"prompt": {}}, "no UI-format workflow"),
    ({"nodes": [{"id": 1, "type": "ApplyInstantID"}], "links": [{"id": 1}]}, "Export"),
])
def test_route_handler_refuses_what_it_cannot_convert(env, body, words):
    status, answer = call_route(env, body)
    assert status == 400 and words in answer["error"], answer
    with pytest.raises(env.pack("instantid_core.workflow_formats.cubiq_workflows").CubiqMigrationError):  # the pack's own class
        env.pack("nodes.migration_route").migrate_payload({"workflow": []})


@pytest.mark.parametrize("body, status, words", [
    ("[" * 10_000 + "]" * 10_000, 413, "nested too deeply"),
    ('{"nodes": [{"id": 1, "type": "Note", "properties": {"a": ' + "[" * 70 + "]" * 70 + '}}], "links": []}',
     413, "nested more than 64 levels"),
    ({"nodes": [{"id": i, "type": "Note"} for i in range(10_001)], "links": []}, 413, "10001 nodes"),
    ({"nodes": [1, 2], "links": []}, 400, "nodes[0] is a int"),
    ({"nodes": [{"type": "ApplyInstantID"}], "links": []}, 400, "nodes[0] has no usable 'id'"),
    ({"nodes": [{"id": 1}, {"id": 1}], "links": []}, 400, "two nodes have the id 1"),
    ({"nodes": [{"id": 1, "type": "ApplyInstantID", "inputs": "x"}], "links": []}, 400, "'inputs' is not a list"),
    ({"nodes": [{"id": 1, "type": "ApplyInstantID"}], "links": [[1, "a", 0, 1, 0, "X"]]}, 400, "links[0] is not"),
])
def test_route_answers_malformed_or_oversized_workflows_with_a_clear_error(env, body, status, words):
    got, answer = call_route(env, body)
    assert got == status and words in answer["error"], answer


def test_route_bounds_the_body_it_reads(env):
    route = env.pack("nodes.migration_route")
    huge = b" " * (route.MAX_BODY_BYTES + 1)
    for announce in (True, False):  # a declared length, and a chunked upload without one
        status, answer = call_route(env, huge, announce)
        assert status == 413 and "larger than" in answer["error"]


def test_route_turns_non_finite_and_string_weights_into_notes(env):
    source = ex.EXAMPLES["InstantID_basic"]()
    apply = next(n for n in source["nodes"] if n["type"] == "ApplyInstantID")
    apply["widgets_values"][:3] = [float("nan"), "0.2", float("inf")]
    sampler = next(n for n in source["nodes"] if n["type"] == "KSampler")
    sampler["widgets_values"][3] = float("-inf")
    status, answer = call_route(env, json.dumps(source))  # Python's json writes NaN / Infinity, as a file may hold
    assert status == 200
    notes = " ".join(n["message"] for n in answer["notes"])
    for words in ("weight nan is not a finite number; cubiq's default 0.8", "start_at '0.2' is not a finite number",
                  "end_at inf", "it is now null"):
        assert words in notes, notes
    converted = next(n for n in answer["workflow"]["nodes"] if n["id"] == sampler["id"])
    assert converted["widgets_values"][3] is None


def test_route_converts_off_the_event_loop(env, monkeypatch):
    """While a conversion runs, the server still answers other requests: the conversion waits for a second request
    that only an unblocked event loop can serve (in the loop, it would wait out the timeout)."""
    import threading
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    route = env.pack("nodes.migration_route")
    pinged = threading.Event()
    monkeypatch.setattr(route, "migrate_payload", lambda body: {"served_meanwhile": pinged.wait(20)})

    async def ping(request):
        pinged.set()
        return web.json_response({})

    async def scenario():
        app = web.Application()
        app.router.add_post(route.ROUTE, route.migrate)
        app.router.add_get("/ping", ping)
        async with TestClient(TestServer(app)) as client:
            convert = asyncio.ensure_future(client.post(route.ROUTE, data=b'{"nodes": [], "links": []}',
                                                             headers={"Content-Type": "application/json"}))
            await asyncio.sleep(0.2)
            await (await client.get("/ping")).json()
            return await (await convert).json()

    assert asyncio.run(scenario()) == {"served_meanwhile": True}
