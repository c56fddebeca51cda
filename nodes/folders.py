"""Model folders, registered through ComfyUI's folder_paths so extra_model_paths.yaml entries work."""
from __future__ import annotations

import os

import folder_paths

INSTANTID = "instantid"
INSIGHTFACE = "insightface"
ADAPTER_EXTENSIONS = {".bin", ".safetensors"}


def register_model_folders() -> None:
    """Add models/instantid and models/insightface unless a yaml entry or another pack already did."""
    for name, exts in ((INSTANTID, ADAPTER_EXTENSIONS), (INSIGHTFACE, {""})):
        default = os.path.join(folder_paths.models_dir, name)
        if name in folder_paths.folder_names_and_paths:
            paths, known = folder_paths.folder_names_and_paths[name]
            if default not in paths:
                paths.append(default)
            known.update(exts)
        else:
            folder_paths.folder_names_and_paths[name] = ([default], set(exts))


def insightface_roots() -> list:
    """Every configured insightface folder that exists (antelopev2 lives in <root>/models/antelopev2)."""
    return [p for p in folder_paths.get_folder_paths(INSIGHTFACE) if os.path.isdir(p)] or \
        folder_paths.get_folder_paths(INSIGHTFACE)[:1]
