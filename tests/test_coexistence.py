"""This pack next to cubiq's ComfyUI_InstantID in one real ComfyUI server, loaded in either order.

ComfyUI 0.3.64 loads each custom_nodes folder in os.listdir order (not sorted), so folder names cannot force an
order. The order is forced through the custom_nodes search path instead: this pack sits in the server's own
custom_nodes folder, cubiq's in a second folder added by an extra_model_paths.yaml, placed before it
(``is_default: true``) or after it. /object_info lists nodes in load order, which confirms the order each time.

cubiq's pack runs on the tiny SDXL too: its Resampler is built at the real InstantID size (its loader hard-codes
dim 1280, depth 4, 20 heads, 16 queries), so its adapter file here has a real-size image projection with random
weights, plus to_k_ip/to_v_ip for the SDXL layer positions the tiny UNet has, sized for them."""
import json
import time
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import save_file

from instantid_testkit import comfy_support as cs
from instantid_testkit import third_party
from instantid_testkit.adapter_fixtures import REAL, image_proj_state
from browser_support import ADAPTER, CHECKPOINT, CONTROLNET, FACE_FILE, ComfyServer
from instantid_testkit.comfy_env import ROOT, SKIP_REASON
from runner.workflow_format import ui_to_api

OURS = ("InstantIDPrecision_FaceAnalysisLoader", "InstantIDPrecision_FaceDetect", "InstantIDPrecision_FaceKeypoints",
        "InstantIDPrecision_ModelLoader", "InstantIDPrecision_PrecisionOffload", "InstantIDPrecision_ImageProjection",
        "InstantIDPrecision_ApplyAttention", "InstantIDPrecision_ApplyIdentityNet", "InstantIDPrecision_Apply",
        "InstantIDPrecision_ApplyAllInOne", "InstantIDPrecision_ModelDoctor")
CUBIQS = ("InstantIDModelLoader", "InstantIDFaceAnalysis", "ApplyInstantID", "ApplyInstantIDAdvanced",
          "FaceKeypointsPreprocessor", "InstantIDAttentionPatch", "ApplyInstantIDControlNet")
CUBIQ_FOLDER = "ComfyUI_InstantID"
CUBIQ_ADAPTER = "cubiq_layout_tiny_layers.safetensors"
ORDERS = {"ours_first": False, "cubiq_first": True}
WORKFLOW = ROOT / "example_workflows" / "instantid_basic_portrait.json"
RUN_TIMEOUT = 240


@pytest.fixture(scope="module")
def cubiq_adapter(tmp_path_factory):
    """Written once (about 160 MB in fp16) and linked into each server's models/instantid."""
    if cs.comfy_path() is None:
        pytest.skip(SKIP_REASON)
    third_party.pack_dir(third_party.CUBIQ_INSTANTID)
    cs.bootstrap_comfy()  # the tiny UNet's layers, from ComfyUI's own classes
    cs.register_tiny_sdxl()
    hidden = {(b, i, t): h for b, i, t, h in cs.list_cross_attention_layers(cs.build_tiny_sdxl_model())}
    state = {f"image_proj.{k}": v for k, v in image_proj_state(**REAL, seed=3, dtype=torch.float16).items()}
    kv = third_party.layer_kv_weights(hidden, REAL["output_dim"], seed=4, middle_block_id=0)
    state.update({f"ip_adapter.{k}": v.half() for k, v in kv.items()})
    path = tmp_path_factory.mktemp("cubiq_adapter") / CUBIQ_ADAPTER
    save_file(state, str(path))
    return path


@pytest.fixture(scope="module", params=list(ORDERS), ids=list(ORDERS))
def server(request, tmp_path_factory, cubiq_adapter):
    cubiq_first = ORDERS[request.param]
    tmp = tmp_path_factory.mktemp(request.param)
    srv = ComfyServer(cs.comfy_path(), tmp)
    more_nodes = tmp / "more_custom_nodes"
    third_party.link_packs(more_nodes, [(CUBIQ_FOLDER, third_party.pack_dir(third_party.CUBIQ_INSTANTID))])
    paths = tmp / "extra_model_paths.yaml"
    paths.write_text(f"coexistence:\n  is_default: {str(cubiq_first).lower()}\n  custom_nodes: {more_nodes}\n")
    srv.extra_args = ["--extra-model-paths-config", str(paths)]
    (srv.base / "models" / "instantid").mkdir(parents=True, exist_ok=True)
    (srv.base / "models" / "instantid" / CUBIQ_ADAPTER).symlink_to(cubiq_adapter)
    srv.start(timeout=180)
    try:
        yield SimpleNamespace(srv=srv, cubiq_first=cubiq_first, info=srv.get_json("/object_info", timeout=60),
                              cubiq_dir=str(more_nodes / CUBIQ_FOLDER),
                              our_dir=str(srv.base / "custom_nodes" / srv.pack_name))
    finally:
        srv.stop()


def module_of(server, pack):
    return f"custom_nodes.{CUBIQ_FOLDER if pack == 'cubiq' else server.srv.pack_name}"


def test_both_packs_import_without_errors(server):
    log = server.srv.log_path.read_text(errors="replace")
    imported = [line for line in log.splitlines() if " seconds" in line and "custom_nodes" in line]
    for folder in (server.our_dir, server.cubiq_dir):
        lines = [line for line in imported if line.rstrip().endswith(folder)]
        assert len(lines) == 1 and "IMPORT FAILED" not in lines[0], (folder, imported)
        assert f"Cannot import {folder}" not in log


def test_load_order_is_the_forced_one(server):
    modules = [spec["python_module"] for spec in server.info.values()]
    first_cubiq, first_ours = modules.index(module_of(server, "cubiq")), modules.index(module_of(server, "ours"))
    print(f"first node in /object_info: cubiq's at {first_cubiq}, ours at {first_ours}")
    assert (first_cubiq < first_ours) == server.cubiq_first


def test_object_info_lists_both_packs_nodes_from_their_own_pack(server):
    for pack, ids in (("ours", OURS), ("cubiq", CUBIQS)):
        missing = [i for i in ids if i not in server.info]
        assert not missing, f"{pack}: {missing}"
        wrong = {i: server.info[i]["python_module"] for i in ids
                 if server.info[i]["python_module"] != module_of(server, pack)}
        assert not wrong, f"{pack} nodes served by another module: {wrong}"


def io_types(spec):
    types = set(spec.get("output", []))
    for section in ("required", "optional"):
        for value in (spec.get("input", {}).get(section) or {}).values():
            if isinstance(value, list) and value and isinstance(value[0], str):
                types.add(value[0])
    return types


def test_our_io_types_differ_from_cubiqs(server):
    core = set().union(*(io_types(s) for s in server.info.values() if not s["python_module"].startswith("custom_")))
    ours = set().union(*(io_types(server.info[i]) for i in OURS)) - core
    cubiqs = set().union(*(io_types(server.info[i]) for i in CUBIQS)) - core
    print(f"custom IO types: ours {sorted(ours)}, cubiq's {sorted(cubiqs)}")
    assert ours and cubiqs and not ours & cubiqs, (sorted(ours), sorted(cubiqs))


def run_prompt(srv, prompt: dict) -> dict:
    status, answer = srv.post_json("/prompt", {"prompt": prompt, "client_id": "coexistence"}, timeout=60)
    assert status == 200, json.dumps(answer)[:3000]
    prompt_id = answer["prompt_id"]
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        entry = srv.get_json(f"/history/{prompt_id}", timeout=30).get(prompt_id)
        if entry and entry.get("status", {}).get("completed") is not None and \
                entry["status"].get("status_str") in ("success", "error"):
            assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:4000]
            return entry
        time.sleep(0.5)
    raise AssertionError(f"prompt {prompt_id} did not finish in {RUN_TIMEOUT} s:\n{srv.log_tail()}")


def tiny_inputs(prompt: dict) -> dict:
    for node in prompt.values():
        inputs = node["inputs"]
        for name, value in (("ckpt_name", CHECKPOINT), ("control_net_name", CONTROLNET), ("steps", 1)):
            if name in inputs:
                inputs[name] = value
        if node["class_type"] == "LoadImage":
            inputs["image"] = FACE_FILE
        if node["class_type"] == "EmptyLatentImage":
            inputs.update(width=64, height=64)
    return prompt


def test_our_workflow_still_runs(server):
    definitions = {name: spec["input"] for name, spec in server.info.items()}
    prompt = tiny_inputs(ui_to_api(json.loads(WORKFLOW.read_text()), definitions))
    for node in prompt.values():
        if "instantid_file" in node["inputs"]:
            node["inputs"]["instantid_file"] = ADAPTER
    entry = run_prompt(server.srv, prompt)
    assert any(out.get("images") for out in entry["outputs"].values())


def cubiq_prompt() -> dict:
    """cubiq's basic graph: loader -> face analysis -> ApplyInstantID -> KSampler."""
    return tiny_inputs({
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CHECKPOINT}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"text": "a photo of a person", "clip": ["ckpt", 1]}},
        "neg": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["ckpt", 1]}},
        "iid": {"class_type": "InstantIDModelLoader", "inputs": {"instantid_file": CUBIQ_ADAPTER}},
        "fa": {"class_type": "InstantIDFaceAnalysis", "inputs": {"provider": "CPU"}},
        "img": {"class_type": "LoadImage", "inputs": {"image": FACE_FILE}},
        "cn": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": CONTROLNET}},
        "apply": {"class_type": "ApplyInstantID", "inputs": {
            "instantid": ["iid", 0], "insightface": ["fa", 0], "control_net": ["cn", 0], "image": ["img", 0],
            "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "weight": 0.8, "start_at": 0.0,
            "end_at": 1.0}},
        "lat": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "ks": {"class_type": "KSampler", "inputs": {
            "model": ["apply", 0], "positive": ["apply", 1], "negative": ["apply", 2], "latent_image": ["lat", 0],
            "seed": 1, "steps": 1, "cfg": 4.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}},
        "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["ks", 0], "vae": ["ckpt", 2]}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["dec", 0], "filename_prefix": "cubiq"}},
    })


def test_cubiqs_workflow_still_runs(server):
    entry = run_prompt(server.srv, cubiq_prompt())
    assert any(out.get("images") for out in entry["outputs"].values())
