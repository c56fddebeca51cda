"""Run a shipped UI-format workflow through ComfyUI's own executor, in-process, without the web UI.

Inputs are set by the node titles the shipped workflows use ("Face photo", "Pose photo", "Positive prompt",
"Negative prompt", "IdentityNet"), by node class for the loaders, and by --set for anything else.
Missing model files stop the run before anything is loaded, with the doctor's report.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import folder_paths

from ..instantid_core.antelope_files import LOADER_FILES, check_antelopev2
from ..instantid_core.workflow_format import ui_to_api
from .doctor_node import doctor_report
from .folders import INSIGHTFACE, INSTANTID


class RunnerError(RuntimeError):
    """A run that cannot start or did not finish; the message is meant for the terminal as is."""


def node_definitions() -> Dict[str, dict]:
    import nodes as comfy_nodes
    return {name: cls.INPUT_TYPES() for name, cls in comfy_nodes.NODE_CLASS_MAPPINGS.items()}


def load_workflow(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise RunnerError(f"cannot read workflow {path}: {exc}") from exc
    if "nodes" not in data:
        raise RunnerError(f"{path} is not a UI-format workflow (no 'nodes'); save it from ComfyUI with 'Save'")
    return data


def _titled(api: dict, class_type: str, word: str) -> List[str]:
    return [nid for nid, n in api.items() if n["class_type"] == class_type
            and word in n.get("_meta", {}).get("title", "").lower()]


def _of_class(api: dict, *class_types: str) -> List[str]:
    return [nid for nid, n in api.items() if n["class_type"] in class_types]


def stage_image(path: str) -> str:
    """Copy a photo into ComfyUI's input folder (LoadImage reads from there); returns its name there."""
    src = Path(path)
    if not src.is_file():
        raise RunnerError(f"image not found: {path}")
    digest = hashlib.sha1(src.read_bytes()).hexdigest()[:12]
    name = f"instantid_{digest}{src.suffix.lower() or '.png'}"
    shutil.copyfile(src, os.path.join(folder_paths.get_input_directory(), name))
    return name


def apply_overrides(api: dict, faces: Sequence[str] = (), pose: Optional[str] = None, prompt: Optional[str] = None,
                    negative: Optional[str] = None, checkpoint: Optional[str] = None,
                    controlnet: Optional[str] = None, adapter: Optional[str] = None, width: Optional[int] = None,
                    height: Optional[int] = None, steps: Optional[int] = None, seed: Optional[int] = None,
                    sets: Sequence[str] = ()) -> dict:
    """Edit the API prompt in place by the shipped workflows' conventions; returns it."""
    def put(ids, key, value):
        for nid in ids:
            api[nid]["inputs"][key] = value

    face_nodes = _titled(api, "LoadImage", "face")
    if faces:
        if len(faces) not in (1, len(face_nodes)):
            raise RunnerError(f"this workflow has {len(face_nodes)} face photo inputs; give --face once or "
                              f"{len(face_nodes)} times")
        staged = [stage_image(f) for f in faces]
        for i, nid in enumerate(face_nodes):
            api[nid]["inputs"]["image"] = staged[i if len(staged) > 1 else 0]
    if pose:
        put(_titled(api, "LoadImage", "pose"), "image", stage_image(pose))
    if prompt is not None:
        put(_titled(api, "CLIPTextEncode", "positive"), "text", prompt)
    if negative is not None:
        put(_titled(api, "CLIPTextEncode", "negative"), "text", negative)
    if checkpoint:
        put(_of_class(api, "CheckpointLoaderSimple"), "ckpt_name", checkpoint)
    if controlnet:
        put(_titled(api, "ControlNetLoader", "identitynet"), "control_net_name", controlnet)
    if adapter:
        put(_of_class(api, "InstantIDModelLoader"), "instantid_file", adapter)
    for key, value in (("width", width), ("height", height)):
        if value:
            put(_of_class(api, "EmptyLatentImage"), key, value)
            put(_of_class(api, "InstantIDFaceKeypoints"), key, value)
    if steps:
        put(_of_class(api, "KSampler", "KSamplerAdvanced"), "steps", steps)
    if seed is not None:
        put(_of_class(api, "KSampler"), "seed", seed)
    for item in sets:
        _apply_set(api, item)
    return api


def _apply_set(api: dict, item: str) -> None:
    """--set 'Node title.input=value' (value parsed as JSON when it can be)."""
    target, _, raw = item.partition("=")
    title, _, key = target.rpartition(".")
    if not title or not key or not _:
        raise RunnerError(f"--set expects 'Node title.input=value', got {item!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    ids = [nid for nid, n in api.items() if n.get("_meta", {}).get("title") == title or nid == title]
    if not ids:
        raise RunnerError(f"--set: no node titled {title!r}")
    for nid in ids:
        api[nid]["inputs"][key] = value


def preflight(api: dict) -> None:
    """Before anything loads: every model file and input image the prompt names must exist."""
    wanted = {"CheckpointLoaderSimple": ("ckpt_name", "checkpoints"), "ControlNetLoader": ("control_net_name", "controlnet"),
              "InstantIDModelLoader": ("instantid_file", INSTANTID)}
    missing = []
    for node in api.values():
        spec = wanted.get(node["class_type"])
        if spec:
            name = node["inputs"].get(spec[0])
            if not isinstance(name, str) or folder_paths.get_full_path(spec[1], name) is None:
                missing.append(f"{node['class_type']}: '{name}' is not in {folder_paths.get_folder_paths(spec[1])}")
        if node["class_type"] == "LoadImage":
            name = node["inputs"].get("image")
            if not isinstance(name, str) or not os.path.isfile(folder_paths.get_annotated_filepath(name)):
                missing.append(f"LoadImage: input image '{name}' not found (pass it with --face / --pose)")
    if any(n["class_type"] == "InstantIDFaceAnalysisLoader" for n in api.values()):
        roots = folder_paths.get_folder_paths(INSIGHTFACE)
        if not any(check_antelopev2(r, required=LOADER_FILES, verify_size=False).ok for r in roots):
            missing.append(f"InstantIDFaceAnalysisLoader: antelopev2 ({', '.join(LOADER_FILES)}) not found under "
                           f"{[str(Path(r) / 'models' / 'antelopev2') for r in roots]}")
    if missing:
        lines = ["The workflow cannot run: required files are missing."] + [f"  - {m}" for m in missing]
        raise RunnerError("\n".join(lines) + "\n\n" + doctor_report().text())


class _Server:
    """What ComfyUI's executor needs of its server: somewhere to send progress messages."""

    def __init__(self, verbose: bool):
        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.sockets_metadata = {}
        self.verbose = verbose

    def send_sync(self, event, data, sid=None):
        if self.verbose and event == "executing" and data.get("node") is not None:
            print(f"  running node {data['node']}", flush=True)

    def queue_updated(self):
        pass


def execute(api: dict, verbose: bool = True) -> dict:
    """Validate and run an API prompt; returns ComfyUI's history outputs ({node id: ui dict})."""
    import execution

    prompt_id = str(uuid.uuid4())
    valid, err, outputs, node_errors = asyncio.run(execution.validate_prompt(prompt_id, api, None))
    if not valid:
        details = "; ".join(f"{api.get(nid, {}).get('_meta', {}).get('title', nid)}: " +
                            ", ".join(f"{e.get('message')} ({e.get('details')})" for e in ne.get("errors", []))
                            for nid, ne in (node_errors or {}).items())
        raise RunnerError(f"the workflow is not valid for this ComfyUI: {err.get('message')} {details}".strip())
    executor = execution.PromptExecutor(_Server(verbose), cache_type=execution.CacheType.CLASSIC)
    executor.execute(api, prompt_id, {}, outputs)
    if not executor.success:
        error = next((d for e, d in executor.status_messages if e == "execution_error"), {})
        raise RunnerError(f"node {error.get('node_type', '?')} failed: {error.get('exception_message', 'unknown')}")
    return executor.history_result.get("outputs", {})


def saved_images(outputs: dict) -> List[Path]:
    files = []
    for ui in outputs.values():
        for img in ui.get("images", []):
            base = folder_paths.get_directory_by_type(img.get("type", "output"))
            files.append(Path(base, img.get("subfolder", ""), img["filename"]))
    return files


def run_workflow(workflow: Path, out: Optional[Path] = None, verbose: bool = True, **overrides) -> List[Path]:
    """Convert, override, pre-check and run; copies the images to ``out`` (``out``, ``out-1``, …)."""
    api = ui_to_api(load_workflow(workflow), node_definitions())
    apply_overrides(api, **overrides)
    preflight(api)
    images = saved_images(execute(api, verbose))
    if not images:
        raise RunnerError("the workflow ran but saved no image (it has no Save Image / Preview Image node)")
    if out is None:
        return images
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for i, src in enumerate(images):
        dst = out if i == 0 else out.with_name(f"{out.stem}-{i}{out.suffix}")
        shutil.copyfile(src, dst)
        written.append(dst)
    return written
