"""One real ComfyUI per test process, with tiny models in a temp models folder and this pack loaded the way
ComfyUI loads custom_nodes. Skips (with how-to) when ComfyUI is not available."""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from . import comfy_support as cs
from . import fixtures_onnx
from .adapter_fixtures import adapter_state, save_safetensors

ROOT = Path(__file__).resolve().parents[2]  # the repository (the pack)
# What a contributor does to enable them: clone ComfyUI at a tested tag and point COMFYUI_PATH at it
HOW_TO_GET_COMFYUI = ("git clone --branch v0.33.0 https://github.com/comfyanonymous/ComfyUI (the tested tag; "
                      "v0.3.64 is the oldest supported), then `COMFYUI_PATH=/path/to/ComfyUI bash scripts/test.sh` "
                      "(it installs ComfyUI's requirements), or run the tests with the pack inside "
                      "ComfyUI/custom_nodes/")
SKIP_REASON = "ComfyUI not found. To run the ComfyUI tests: " + HOW_TO_GET_COMFYUI
# tiny resampler, but the real token shape: 16 tokens x 2048 (the ControlNet's context width)
TINY_PROJ = dict(dim=64, depth=2, heads=1, num_queries=16, embedding_dim=512, output_dim=2048, ff_mult=4)
FACES = [(96, 160, 128, 2), (400, 192, 64, 3)]  # (x, y, side, seed) in a 640x640 photo


@dataclass
class ComfyEnv:
    tmp: Path
    module: str          # sys.modules name ComfyUI gave the pack
    import_seconds: float
    layers: list         # (block, id, t_index, hidden) from the tiny model, adapter order
    comfy_root: str
    hidden: list

    def pack(self, sub: str):
        return importlib.import_module(f"{self.module}.{sub}")


_ENV = None


def face_photo(faces=FACES, size=640) -> np.ndarray:
    img = np.zeros((size, size, 3), np.uint8)
    for x, y, side, seed in faces:
        fixtures_onnx.draw_face(img, x, y, side, seed)
    return img


def comfy_env(tmp_root: Path) -> ComfyEnv:
    global _ENV
    if _ENV is not None:
        return _ENV
    if cs.comfy_path() is None:
        pytest.skip(SKIP_REASON)
    boot = cs.bootstrap_comfy(argv=("--cpu",))
    cs.register_tiny_sdxl()
    models = tmp_root / "models"
    dirs = cs.use_model_dir(str(models), folders=("checkpoints", "controlnet", "instantid", "insightface",
                                                          "instantid_identities"))
    io = cs.set_io_dirs(str(tmp_root))
    cs.write_tiny_checkpoint(f"{dirs['checkpoints']}/tiny_sdxl.safetensors")  # fp16, like real SDXL files
    cs.write_tiny_controlnet(f"{dirs['controlnet']}/tiny_identitynet.safetensors")
    layers = cs.list_cross_attention_layers(cs.build_tiny_sdxl_model())
    hidden = [h for *_, h in layers]
    save_safetensors(adapter_state(hidden, size=TINY_PROJ, seed=5), Path(dirs["instantid"]) / "ip-adapter.safetensors")
    save_safetensors(adapter_state(hidden[:-1], size=TINY_PROJ, seed=6), Path(dirs["instantid"]) / "short.safetensors")
    fixtures_onnx.make_antelope_pack(Path(dirs["insightface"]))
    from PIL import Image
    Image.fromarray(face_photo()).save(Path(io["input"]) / "face.png")
    Image.fromarray(np.zeros((320, 320, 3), np.uint8)).save(Path(io["input"]) / "blank.png")
    t = time.perf_counter()
    assert cs.load_custom_node(str(ROOT)), "ComfyUI failed to import the pack (see the log above)"
    seconds = time.perf_counter() - t
    module = str(ROOT).replace(".", "_x_")
    _ENV = ComfyEnv(tmp_root, module, seconds, layers, boot["path"], hidden)
    return _ENV


def write_tiny_family_node(custom_nodes: Path) -> None:
    """A test-only custom node (one .py file) that registers the tiny SDXL family in the ComfyUI that loads it (a
    `python <pack> …` subprocess, a Ray worker). Importing the kit there registers the pack too, as ComfyUI
    names it (runner/pack_import.py)."""
    (custom_nodes / "tiny_sdxl_family.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'tests')!r})\nfrom instantid_testkit import comfy_support\n"
        "comfy_support.register_tiny_sdxl()\nNODE_CLASS_MAPPINGS = {}\n")


def cli_base_dir(env: ComfyEnv, tmp: Path) -> Path:
    """A ComfyUI base directory for a `python <pack> …` subprocess (its own ComfyUI start-up): the tiny models, and
    a test-only custom node that registers the tiny SDXL family in that process too."""
    import shutil
    base = tmp / "base"
    if not base.exists():
        shutil.copytree(env.tmp / "models", base / "models")
        (base / "custom_nodes").mkdir(parents=True)
        write_tiny_family_node(base / "custom_nodes")
    return base
