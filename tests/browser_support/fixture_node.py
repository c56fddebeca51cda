"""Runs inside the ComfyUI *server* process (imported by a test-only custom node that the browser test writes
into its temporary custom_nodes folder). ``register_tiny_sdxl()`` only patches the process it runs in, so the
server needs it too; this also writes the tiny models and the face photo into the server's base directory, so
the pytest process never has to import ComfyUI.

Writes ``<base>/fixture_status.json`` = {"ok": true, "seconds": ...} or {"ok": false, "error": traceback}."""
from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path

FACE_FILE = "face.png"
# the photos the shipped workflows name (example_inputs/); browser tests and the thumbnail script stage the tiny
# models' face photo under these names, over the copies the pack puts into the server's input folder
WORKFLOW_IMAGES = tuple(sorted(p.name for p in (Path(__file__).resolve().parents[2] / "example_inputs").glob("*.jpg")))
CHECKPOINT = "tiny_sdxl.safetensors"
CONTROLNET = "tiny_identitynet.safetensors"
ADAPTER = "ip-adapter.safetensors"
STATUS_FILE = "fixture_status.json"


def _write_models(base: Path) -> None:
    import numpy as np
    from PIL import Image

    from instantid_testkit import comfy_support as cs
    from instantid_testkit import fixtures_onnx
    from instantid_testkit.adapter_fixtures import adapter_state, save_safetensors
    from instantid_testkit.comfy_env import TINY_PROJ, face_photo

    models = base / "models"
    dirs = {name: models / name for name in ("checkpoints", "controlnet", "instantid", "insightface")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    cs.write_tiny_checkpoint(str(dirs["checkpoints"] / CHECKPOINT))
    cs.write_tiny_controlnet(str(dirs["controlnet"] / CONTROLNET))
    hidden = [h for *_, h in cs.list_cross_attention_layers(cs.build_tiny_sdxl_model())]
    save_safetensors(adapter_state(hidden, size=TINY_PROJ, seed=5), dirs["instantid"] / ADAPTER)
    fixtures_onnx.make_antelope_pack(dirs["insightface"])
    (base / "input").mkdir(parents=True, exist_ok=True)
    Image.fromarray(face_photo()).save(base / "input" / FACE_FILE)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(base / "input" / "blank.png")


def _use_test_hub(spec: str) -> None:
    """$INSTANTID_TEST_HUB = {"endpoint": url, "catalog": [ModelFile fields...]}: the pack's download route offers
    these small files from the test's local hub instead of the multi-GB catalog from huggingface.co."""
    import sys
    import threading
    from instantid_core.files.model_catalog import ModelFile
    hub = json.loads(spec)

    def patch():  # ComfyUI imports custom nodes in directory order: the pack may come after this file
        for _ in range(1200):
            route = next((m for name, m in list(sys.modules.items()) if name.endswith(".nodes.download_route")), None)
            if route is not None and hasattr(route, "post_cancel"):  # fully imported
                route.catalog = tuple(ModelFile(**record) for record in hub["catalog"])
                route.endpoint = hub["endpoint"]
                return
            time.sleep(0.05)

    threading.Thread(target=patch, daemon=True).start()


def setup(base: str, models: bool = True) -> None:
    base = Path(base)
    t = time.perf_counter()
    status = {"ok": True}
    try:
        from instantid_testkit import comfy_support as cs
        cs.register_tiny_sdxl()
        if os.environ.get("INSTANTID_TEST_HUB"):
            _use_test_hub(os.environ["INSTANTID_TEST_HUB"])
        if models:
            _write_models(base)
    except Exception:  # reported to the test through the status file; the server keeps starting
        status = {"ok": False, "error": traceback.format_exc()}
    status["seconds"] = round(time.perf_counter() - t, 2)
    (base / STATUS_FILE).write_text(json.dumps(status))


def custom_node_source(tests_dir: str, base: str, models: bool = True) -> str:
    """Source of the test-only custom node (a single .py file in the temp custom_nodes folder); with
    ``models=False`` it writes no models and no input images (an empty models folder)."""
    return (
        '"""Test-only (written by tests/test_browser.py): tiny models for the InstantID browser test."""\n'
        "import sys\n"
        f"sys.path[:0] = [{str(tests_dir)!r}]  # tests/ helpers\n"
        "import instantid_testkit  # the pack as ComfyUI names it; instantid_core names its core\n"
        "from browser_support.fixture_node import setup\n"
        f"setup({str(base)!r}, models={bool(models)!r})\n"
        "NODE_CLASS_MAPPINGS = {}\n"
    )
