"""Which model files a workflow will really use, and what is missing.

A shared workflow names the author's files (`sd_xl_base_1.0.safetensors`, `instantid_controlnet.safetensors`);
the user may have Juggernaut XL, or IdentityNet where ComfyUI-Manager puts it
(`controlnet/instantid/diffusion_pytorch_model.safetensors`). Where the named file is absent and exactly one
installed file is of the right kind, that one is used and the runner says so; with several, it asks for a choice.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

from ..instantid_core.files import model_kinds
from ..instantid_core.faces.antelope_files import LOADER_FILES, check_antelopev2
from ..instantid_core.files.doctor import DoctorReport, run_doctor
from ..instantid_core.files.model_catalog import ADAPTER, IDENTITYNET, SDXL, download_command
from ..instantid_core.workflow_formats.listed_names import listed_spelling
from ..instantid_core.workflow_formats.widget_specs import combo_options, node_definition

# the `download` group that fetches a file for each model folder (the checkpoint is an opt-in SDXL 1.0 base)
DOWNLOAD_GROUP = {"checkpoints": SDXL, "controlnet": IDENTITYNET, "instantid": ADAPTER}
MODEL_LOADER = "InstantIDPrecision_ModelLoader"
FACE_ANALYSIS = "InstantIDPrecision_FaceAnalysisLoader"
# class -> (input holding the file name, ComfyUI folder, kind of file that fits, what to call it, CLI option)
MODEL_INPUTS = {
    "CheckpointLoaderSimple": ("ckpt_name", "checkpoints", model_kinds.SDXL_CHECKPOINT, "SDXL checkpoint",
                               "--checkpoint"),
    "ControlNetLoader": ("control_net_name", "controlnet", model_kinds.SDXL_CONTROLNET, "IdentityNet",
                         "--controlnet"),
    MODEL_LOADER: ("instantid_file", "instantid", None, "InstantID adapter", "--adapter"),
}


def _installed(folder: str) -> List[str]:
    import folder_paths
    return folder_paths.get_filename_list(folder)


def _fits(folder: str, name: str, kind: Optional[str]) -> bool:
    import folder_paths
    path = folder_paths.get_full_path(folder, name)
    if path is None:
        return False
    if kind is None:  # the adapter: a name ending in .bin/.safetensors in models/instantid
        return Path(path).suffix.lower() in (".bin", ".safetensors")
    return model_kinds.classify(path) == kind


def _is_identitynet_loader(api: dict, node_id: str) -> bool:
    """ControlNet loaders feed other ControlNets too (depth, canny); only IdentityNet's is swapped."""
    title = api[node_id].get("_meta", {}).get("title", "").lower()
    return "identitynet" in title or "instantid" in title or sum(
        1 for n in api.values() if n["class_type"] == "ControlNetLoader") == 1


def respell_listed_names(api: dict) -> List[str]:
    """Every combo value (model files and others) that this system lists with the other path separator is set to
    the listed spelling, in place, so ComfyUI's "Value not in list" check passes; one line per change."""
    import nodes as comfy_nodes
    said = []
    for node_id, node in api.items():
        node_class = comfy_nodes.NODE_CLASS_MAPPINGS.get(node.get("class_type"))
        if node_class is None:
            continue
        for section in node_definition(node_class)["input"].values():
            for key, spec in section.items():
                value, options = node["inputs"].get(key), combo_options(spec)
                if not isinstance(value, str) or options is None or value in options:
                    continue
                listed = listed_spelling(value, options)
                if listed is not None:
                    node["inputs"][key] = listed
                    sep = "\\" if "\\" in listed else "/"
                    said.append(f"using '{listed}' for '{value}' in node {node_id} (the same file; this system "
                                f"lists sub-folders with '{sep}')")
    return said


def choose_models(api: dict) -> List[str]:
    """Replace absent model names by the single installed file of the right kind, in place; returns one line
    per replacement, for the user to read."""
    said = respell_listed_names(api)
    for node_id, node in api.items():
        spec = MODEL_INPUTS.get(node["class_type"])
        if spec is None:
            continue
        key, folder, kind, what, _ = spec
        name = node["inputs"].get(key)
        if isinstance(name, str) and name in _installed(folder):  # ComfyUI's check is this literal one
            continue
        if node["class_type"] == "ControlNetLoader" and not _is_identitynet_loader(api, node_id):
            continue
        candidates = [n for n in _installed(folder) if _fits(folder, n, kind)]
        if len(candidates) == 1:
            node["inputs"][key] = candidates[0]
            said.append(f"using {what} '{candidates[0]}' (the workflow names '{name}', which is not installed)")
    return said


def missing_inputs(api: dict) -> List[str]:
    """Every model file and input image the prompt needs but that is not there, each with its fix."""
    import folder_paths
    missing = []
    for node_id, node in api.items():
        spec = MODEL_INPUTS.get(node["class_type"])
        if spec is not None:
            key, folder, kind, what, option = spec
            name = node["inputs"].get(key)
            if not isinstance(name, str) or folder_paths.get_full_path(folder, name) is None:
                candidates = [n for n in _installed(folder) if _fits(folder, n, kind)]
                choice = (f"; installed {what} files: {', '.join(candidates)} — choose one with {option} NAME"
                          if len(candidates) > 1 else "" if candidates else
                          f"; get one with: {download_command([DOWNLOAD_GROUP[folder]])}")
                missing.append(f"{node['class_type']}: '{name}' is not in {folder_paths.get_folder_paths(folder)}"
                               f"{choice}")
        if node["class_type"] == "LoadImage":
            name = node["inputs"].get("image")
            if not isinstance(name, str) or not Path(folder_paths.get_annotated_filepath(name)).is_file():
                missing.append(f"LoadImage: input image '{name}' not found (pass it with --face / --pose)")
    if any(n["class_type"] == FACE_ANALYSIS for n in api.values()):
        roots = folder_paths.get_folder_paths("insightface")
        if not any(check_antelopev2(r, required=LOADER_FILES, verify_size=False).ok for r in roots):
            missing.append(f"{FACE_ANALYSIS}: antelopev2 ({', '.join(LOADER_FILES)}) not found under "
                           f"{[str(Path(r) / 'models' / 'antelopev2') for r in roots]}")
    return missing


def workflow_model_names(api: Optional[dict]) -> Dict[str, str]:
    """{'adapter' | 'controlnet' | 'checkpoint': file name} the prompt uses (for the doctor)."""
    names = {}
    for node_id, node in (api or {}).items():
        spec = MODEL_INPUTS.get(node["class_type"])
        if spec is None or (node["class_type"] == "ControlNetLoader" and not _is_identitynet_loader(api, node_id)):
            continue
        role = {"checkpoints": "checkpoint", "controlnet": "controlnet", "instantid": "adapter"}[spec[1]]
        if isinstance(node["inputs"].get(spec[0]), str):
            names[role] = node["inputs"][spec[0]]
    return names


def doctor_report(api: Optional[dict] = None, verify_sha256: bool = False) -> DoctorReport:
    """The doctor over ComfyUI's configured folders; with a prompt, for exactly the files it names."""
    import folder_paths
    folders = lambda name: [Path(p) for p in folder_paths.get_folder_paths(name)]  # noqa: E731
    return run_doctor(folders("instantid"), folders("controlnet"), folders("insightface"), folders("checkpoints"),
                      names=workflow_model_names(api), verify_sha256=verify_sha256)
