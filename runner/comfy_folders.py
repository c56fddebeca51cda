"""ComfyUI's model folders for the kinds this pack downloads, worked out from its files without importing ComfyUI.

``download`` and ``doctor`` only need to know where four kinds of file go; importing ComfyUI to ask
``folder_paths`` costs seconds, prints screens of unrelated start-up messages, and fails outright in a ComfyUI
whose environment is broken (which is often why someone runs ``doctor``). So this module reproduces the few
rules that decide those folders, as ComfyUI 0.3.64 … 0.33 apply them:

- the models folder is ``<ComfyUI>/models``, or ``<--base-directory>/models``, or ``--models-directory``;
- ``checkpoints`` and ``controlnet`` (plus ``t2i_adapter``, searched too) are ComfyUI's own kinds;
- ``<ComfyUI>/extra_model_paths.yaml`` and every ``--extra-model-paths-config`` file add folders: relative
  entries are taken from ``base_path`` or the yaml's own folder, ``is_default: true`` puts them first;
- ``instantid`` and ``insightface`` get ``<models>/<kind>`` after any yaml entry (``nodes/folders.py``).

tests/test_comfy_folders.py checks the result against a real ComfyUI's ``folder_paths`` for the same files."""
from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from ..instantid_core.files.model_catalog import FOLDER_KINDS

_COMFY_KINDS = {"checkpoints": ("checkpoints",), "controlnet": ("controlnet", "t2i_adapter")}
_PACK_KINDS = ("instantid", "insightface")  # registered by this pack after the yaml files are read
_LEGACY_NAMES = {"unet": "diffusion_models", "clip": "text_encoders"}  # ComfyUI's folder_paths.map_legacy


class FolderConfigError(ValueError):
    """An extra_model_paths.yaml that cannot be read; the message names the file."""


def _path_flags(comfy_args: Sequence[str]) -> argparse.Namespace:
    """The three ComfyUI flags that move model folders; every other flag is ComfyUI's business."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--base-directory")
    parser.add_argument("--models-directory")
    parser.add_argument("--extra-model-paths-config", nargs="+", action="append", default=[])
    return parser.parse_known_args(list(comfy_args))[0]


def _read_yaml(path: Path) -> dict:
    try:
        import yaml  # PyYAML: a ComfyUI requirement, and only needed when a yaml file exists
    except ImportError as exc:
        raise FolderConfigError(f"{path} cannot be read: PyYAML is not installed (pip install pyyaml)") from exc
    try:
        with open(path, encoding="utf-8") as stream:
            data = yaml.safe_load(stream)
    except (OSError, yaml.YAMLError) as exc:
        raise FolderConfigError(f"{path} cannot be read: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _add(paths: Dict[str, List[str]], kind: str, folder: str, is_default: bool) -> None:
    """ComfyUI's add_model_folder_path: a new folder goes last, or first when is_default (moved there if known)."""
    listed = paths.setdefault(_LEGACY_NAMES.get(kind, kind), [])
    if folder in listed:
        if is_default and listed[0] != folder:
            listed.remove(folder)
            listed.insert(0, folder)
    elif is_default:
        listed.insert(0, folder)
    else:
        listed.append(folder)


def _apply_yaml(paths: Dict[str, List[str]], yaml_path: Path) -> None:
    yaml_dir = os.path.dirname(os.path.abspath(yaml_path))
    for section in _read_yaml(yaml_path).values():
        if not isinstance(section, dict):
            continue
        section = dict(section)
        base = section.pop("base_path", None)
        if base:
            base = os.path.expandvars(os.path.expanduser(str(base)))
            if not os.path.isabs(base):
                base = os.path.abspath(os.path.join(yaml_dir, base))
        is_default = bool(section.pop("is_default", False))
        for kind, value in section.items():
            for entry in str(value).split("\n"):
                if not entry:
                    continue
                if base:
                    full = os.path.join(base, entry)
                elif os.path.isabs(entry):
                    full = entry
                else:
                    full = os.path.abspath(os.path.join(yaml_dir, entry))
                _add(paths, kind, os.path.normpath(full), is_default)


def configured_folders(comfy_root: "os.PathLike[str] | str", comfy_args: Sequence[str] = ()
                       ) -> Tuple[Dict[str, Path], Dict[str, List[Path]]]:
    """(first folder of each kind: where a download goes; every folder of each kind: where a copy may already be),
    as the ComfyUI at ``comfy_root`` started with ``comfy_args`` would configure them."""
    flags = _path_flags(comfy_args)
    root = os.path.realpath(comfy_root)
    base = os.path.abspath(flags.base_directory) if flags.base_directory else root
    models = os.path.abspath(flags.models_directory) if flags.models_directory else os.path.join(base, "models")
    paths: Dict[str, List[str]] = {kind: [os.path.join(models, sub) for sub in subs]
                                   for kind, subs in _COMFY_KINDS.items()}
    configs: List[Path] = [Path(root, "extra_model_paths.yaml")] if Path(root, "extra_model_paths.yaml").is_file() else []
    configs += [Path(c) for c in itertools.chain(*flags.extra_model_paths_config)]
    for config in configs:
        _apply_yaml(paths, config)
    for kind in _PACK_KINDS:
        default = os.path.join(models, kind)
        if default not in paths.setdefault(kind, []):
            paths[kind].append(default)
    search = {kind: [Path(p) for p in paths.get(kind, [])] for kind in FOLDER_KINDS}
    first = {kind: dirs[0] if dirs else Path(models, kind) for kind, dirs in search.items()}
    return first, search

