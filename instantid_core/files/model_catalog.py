"""Where every model file InstantID needs comes from, and where it goes in ComfyUI's model folders.

One record per file: the Hugging Face repo, path and pinned commit it is downloaded from, the ComfyUI folder kind
(``instantid``, ``controlnet``, ``insightface``) and the path inside that folder, the published size and sha256,
and the licence. Pure data and string helpers: no ComfyUI, no network, no huggingface_hub, so the doctor, the
workflow builder and the downloader can all use it.

Sources (how each value was checked is in the comments beside the records):
- ``ip-adapter.bin`` and IdentityNet: InstantX/InstantID, the authors' own release (model card: Apache-2.0).
- ``antelopev2``: insightface's model pack, which insightface distributes only as a zip on GitHub/Google Drive;
  DIAMONIK7777/antelopev2 mirrors its five files unchanged (sizes and sha256 equal DESIGN.md section 2).
  insightface's pretrained models are for non-commercial research use only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple
from urllib.parse import quote

from ..faces.antelope_files import ANTELOPE_DIRNAME, ANTELOPE_FILES

HUB = "https://huggingface.co"

ADAPTER, IDENTITYNET, ANTELOPEV2, SDXL = "adapter", "identitynet", "antelopev2", "sdxl"
GROUPS: Tuple[str, ...] = (ADAPTER, IDENTITYNET, ANTELOPEV2)  # what InstantID itself needs: the default set
# Opt-in: a checkpoint is the user's choice (any SDXL-family one works), offered for a first image without a search.
OPTIONAL_GROUPS: Tuple[str, ...] = (SDXL,)
ALL_GROUPS: Tuple[str, ...] = GROUPS + OPTIONAL_GROUPS

# ComfyUI folder kinds: `controlnet` and `checkpoints` are ComfyUI's own; the pack registers `instantid` and
# `insightface`.
FOLDER_KINDS: Tuple[str, ...] = ("instantid", "controlnet", "insightface", "checkpoints")

INSTANTX_REPO = "InstantX/InstantID"
# The commit that uploaded ControlNetModel/diffusion_pytorch_model.safetensors; ip-adapter.bin (uploaded in
# e017855) is unchanged there and in every later commit of main.
INSTANTX_REVISION = "0e9547646001e233e9ab3fde8625bf564edc2431"
INSTANTX_LICENCE = "Apache-2.0 (InstantX/InstantID model card)"

ANTELOPE_REPO = "DIAMONIK7777/antelopev2"
ANTELOPE_REVISION = "ba0c3e10f4548361eb9a63265d87ce1140ab5a05"  # "Upload 5 files": the five .onnx files
ANTELOPE_LICENCE = "insightface model pack: non-commercial research use only (deepinsight/insightface)"

SDXL_REPO = "stabilityai/stable-diffusion-xl-base-1.0"
SDXL_REVISION = "462165984030d82259a11f4367a4eed129e94a7b"  # the repo's head since the 1.0 release files
SDXL_LICENCE = "CreativeML Open RAIL++-M (use restrictions apply: read it on the model page before use)"


@dataclass(frozen=True)
class ModelFile:
    group: str
    repo_id: str
    path_in_repo: str
    revision: str
    folder_kind: str
    target: str  # path inside the ComfyUI folder of `folder_kind`, '/'-separated
    size: int
    sha256: Optional[str]  # None: the downloader checks the sha256 the hub reports for the file instead
    licence: str

    @property
    def name(self) -> str:
        return self.target.rsplit("/", 1)[-1]

    @property
    def url(self) -> str:
        return url_for(self.repo_id, self.revision, self.path_in_repo)

    @property
    def page(self) -> str:
        """The repo page a person can open in a browser (model card, licence)."""
        return f"{HUB}/{self.repo_id}"

    def describe(self) -> str:
        """'<url> -> <folder kind>/<target>' for manual-download instructions."""
        return f"{self.url}  ->  {self.folder_kind}/{self.target}"


def url_for(repo_id: str, revision: str, path_in_repo: str, endpoint: str = HUB) -> str:
    return f"{endpoint.rstrip('/')}/{repo_id}/resolve/{quote(revision, safe='')}/{quote(path_in_repo)}"


def _antelope(name: str) -> ModelFile:
    spec = ANTELOPE_FILES[name]
    return ModelFile(ANTELOPEV2, ANTELOPE_REPO, name, ANTELOPE_REVISION, "insightface",
                     f"models/{ANTELOPE_DIRNAME}/{name}", spec.size, spec.sha256, ANTELOPE_LICENCE)


CATALOG: Tuple[ModelFile, ...] = (
    # sha256 = the LFS oid shown on huggingface.co/InstantX/InstantID/blob/main/ip-adapter.bin; the byte size is
    # the `size` of the LFS pointer with that same oid (JCTN/InstantID commit 09a2ca6, a copy of this file).
    ModelFile(ADAPTER, INSTANTX_REPO, "ip-adapter.bin", INSTANTX_REVISION, "instantid", "ip-adapter.bin",
              1691134141, "02b3618e36d803784166660520098089a81388e61a93ef8002aa79a5b1c546e1", INSTANTX_LICENCE),
    # ComfyUI-Manager's model-list.json puts this file at controlnet/instantid/diffusion_pytorch_model.safetensors;
    # using the same place means a file Manager already downloaded is found and not downloaded twice.
    # sha256 = LFS oid on the InstantX blob page; size = the LFS pointer with that oid (luca115/stable-diffusion).
    ModelFile(IDENTITYNET, INSTANTX_REPO, "ControlNetModel/diffusion_pytorch_model.safetensors", INSTANTX_REVISION,
              "controlnet", "instantid/diffusion_pytorch_model.safetensors",
              2502139136, "c8127be9f174101ebdafee9964d856b49b634435cf6daa396d3f593cf0bbbb05", INSTANTX_LICENCE),
    *(_antelope(name) for name in ANTELOPE_FILES),
    # sha256 = the LFS oid of sd_xl_base_1.0.safetensors on the model page; 6,938,078,334 bytes.
    ModelFile(SDXL, SDXL_REPO, "sd_xl_base_1.0.safetensors", SDXL_REVISION, "checkpoints",
              "sd_xl_base_1.0.safetensors", 6938078334,
              "31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b", SDXL_LICENCE),
)


def files_for(groups: Optional[Iterable[str]] = None,
              catalog: Tuple[ModelFile, ...] = CATALOG) -> List[ModelFile]:
    """The records of the given groups (when None, the ones InstantID needs: GROUPS, not the opt-in checkpoint),
    in catalog order; an unknown group is a ValueError."""
    wanted = list(GROUPS if groups is None else groups)
    unknown = [g for g in wanted if g not in ALL_GROUPS]
    if unknown:
        raise ValueError(f"unknown model group {', '.join(map(repr, unknown))}; choose from {', '.join(ALL_GROUPS)}")
    return [f for f in catalog if f.group in wanted]


def pack_folder_for_command(cwd: Optional[str] = None) -> str:
    """This pack's folder as the user would type it: relative to the working directory when inside it
    (e.g. ``custom_nodes/comfyui-instantid`` from the ComfyUI folder), else absolute; quoted if it has spaces."""
    pack = Path(__file__).resolve().parents[2]  # instantid_core/files/ -> the pack
    here = Path(cwd or os.getcwd()).resolve()
    try:
        shown = str(pack.relative_to(here)) or "."
    except ValueError:
        shown = str(pack)
    return f'"{shown}"' if " " in shown else shown


def download_command(groups: Optional[Iterable[str]] = None, pack_folder: Optional[str] = None) -> str:
    """The command that fetches ``groups`` (all when None), e.g. ``python <pack> download --only adapter``."""
    only = "".join(f" --only {g}" for g in (groups or ()))
    return f"python {pack_folder or pack_folder_for_command()} download{only}"


def manual_instructions(files: Iterable[ModelFile], folders: Optional[Dict[str, object]] = None) -> str:
    """One line per file: its URL and where to put it (the real folder when ``folders`` maps kind -> path)."""
    lines = []
    for f in files:
        base = folders.get(f.folder_kind) if folders else None
        where = f"{base}/{f.target}" if base is not None else f"ComfyUI/models/{f.folder_kind}/{f.target}"
        lines.append(f"  {f.url}\n      -> {where}  ({f.size} bytes)")
    return "\n".join(lines)


def frontend_model_entries(groups: Iterable[str] = (ADAPTER, IDENTITYNET)) -> List[Dict[str, str]]:
    """Entries for a UI workflow's ``models`` list (ComfyUI frontend): name (the file as the loader widget shows
    it, '/'-separated), url, directory (the folder kind). The frontend offers a download button only for
    .safetensors/.sft files from huggingface.co or civitai.com; it shows other entries with their URL.
    antelopev2 has no loader widget, so it is left out by default. ``hash``/``hash_type`` (the frontend's optional
    fields; its templates write "SHA256") are added where the sha256 is published."""
    return [{"name": f.target, "url": f.url, "directory": f.folder_kind,
             **({"hash": f.sha256, "hash_type": "SHA256"} if f.sha256 else {})} for f in files_for(groups)]
