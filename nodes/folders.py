"""Model folders, registered through ComfyUI's folder_paths so extra_model_paths.yaml entries work."""
from __future__ import annotations

import os

import folder_paths

INSTANTID = "instantid"
INSIGHTFACE = "insightface"
IDENTITIES = "instantid_identities"  # saved identities (InstantID Save / Load Identity)
ADAPTER_EXTENSIONS = {".bin", ".safetensors"}


def register_model_folders() -> None:
    """Add models/instantid, models/insightface and models/instantid_identities unless a yaml entry or another
    pack already did."""
    for name, exts in ((INSTANTID, ADAPTER_EXTENSIONS), (INSIGHTFACE, {""}), (IDENTITIES, {".safetensors"})):
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


def identities_save_folder() -> str:
    """Where Save Identity writes: the first configured instantid_identities folder (an extra_model_paths.yaml
    entry comes before the default models/instantid_identities)."""
    return folder_paths.get_folder_paths(IDENTITIES)[0]
