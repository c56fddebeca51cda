"""Third-party ComfyUI packs for the coexistence and composition tests, read from $INSTANTID_THIRD_PARTY.

They are never vendored: the variable names a folder holding unmodified clones of cubiq's packs
(``ComfyUI_IPAdapter_plus``, ``ComfyUI_InstantID``). Without it the tests that need them skip and say how to
provide them. Nothing here imports ComfyUI at import time."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import pytest
import torch

ENV_VAR = "INSTANTID_THIRD_PARTY"
IPADAPTER_PLUS = "ComfyUI_IPAdapter_plus"
CUBIQ_INSTANTID = "ComfyUI_InstantID"
SOURCES = {IPADAPTER_PLUS: "https://github.com/cubiq/ComfyUI_IPAdapter_plus",
           CUBIQ_INSTANTID: "https://github.com/cubiq/ComfyUI_InstantID"}


def skip_reason(name: str) -> str:
    return (f"needs the third-party pack sources: set {ENV_VAR} to a folder holding {name} "
            f"(git clone {SOURCES[name]} into it; same for {', '.join(n for n in SOURCES if n != name)})")


def pack_dir(name: str) -> Path:
    """$INSTANTID_THIRD_PARTY/<name>, or skip the test with how to provide it."""
    root = os.environ.get(ENV_VAR)
    path = Path(root) / name if root else None
    if path is None or not (path / "__init__.py").is_file():
        pytest.skip(skip_reason(name))
    return path.resolve()


def load_into_comfy(path: Path) -> str:
    """Import a pack into this process's ComfyUI the way ComfyUI does at start-up; returns its sys.modules name."""
    from instantid_testkit import comfy_support as cs

    name = str(path).replace(".", "_x_")  # ComfyUI's module name for a pack folder (nodes.load_custom_node)
    if name not in sys.modules:
        assert cs.load_custom_node(str(path)), f"ComfyUI failed to import {path} (see the log above)"
    return name


def link_packs(custom_nodes: Path, packs: Sequence[Tuple[str, Path]]) -> List[Path]:
    """Symlink each (folder name, source) into a custom_nodes folder; the folder name is what ComfyUI reports
    as the pack's module (``custom_nodes.<folder name>``)."""
    custom_nodes.mkdir(parents=True, exist_ok=True)
    links = []
    for folder, source in packs:
        link = custom_nodes / folder
        if not link.exists():
            link.symlink_to(Path(source).resolve(), target_is_directory=True)
        links.append(link)
    return links


def sdxl_layer_order(middle_block_id: int) -> List[Tuple[str, int, int]]:
    """The 70 SDXL cross-attention layers in the order SDXL IP-Adapter/InstantID files number them (layer n has
    keys ``{2n+1}.to_k_ip`` / ``{2n+1}.to_v_ip``), keyed as those packs key their attn2 patches. Both of cubiq's
    packs walk exactly this order; the middle block's id differs between their nodes (0 or 1)."""
    keys = []
    for block_id in (4, 5, 7, 8):
        keys += [("input", block_id, i) for i in range(2 if block_id in (4, 5) else 10)]
    for block_id in range(6):
        keys += [("output", block_id, i) for i in range(10 if block_id < 3 else 2)]
    keys += [("middle", middle_block_id, i) for i in range(10)]
    return keys


def layer_kv_weights(model_layers: Dict[Tuple[str, int, int], int], token_dim: int, seed: int = 0,
                     middle_block_id: int = 0) -> Dict[str, torch.Tensor]:
    """``ip_adapter`` weights for a model smaller than SDXL: a to_k_ip/to_v_ip pair for every SDXL position the
    model really has (``model_layers``: layer key -> hidden size), sized for that layer. Positions the model
    lacks get no weights: those packs patch them, but ComfyUI never calls a patch for a layer that is not there."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for n, key in enumerate(sdxl_layer_order(middle_block_id)):
        hidden = model_layers.get(key)
        if hidden is None:
            continue
        for name in ("to_k_ip", "to_v_ip"):
            out[f"{2 * n + 1}.{name}.weight"] = torch.randn(hidden, token_dim, generator=g) * 0.02
    return out
