"""Run a UI-format workflow (shipped, saved from ComfyUI, or one of cubiq's InstantID workflows) through ComfyUI's
own executor, in-process, without the web UI.

Inputs are set by the node titles the shipped workflows use ("Face photo", "Pose photo", "Positive prompt",
"Negative prompt", "IdentityNet"), by node class for the loaders, and by --set for anything else. Models the
workflow names but the user does not have are replaced by the one installed file of that kind, when there is
exactly one (runner/model_choice.py); otherwise the run stops before anything loads, with the doctor's report.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from instantid_core.workflow_formats.cubiq_workflows import migrate_workflow, migration_report_text, needs_migration
from instantid_core.workflow_formats.widget_specs import node_definition
from runner.executor import PromptError, PromptRunner
from runner.model_choice import choose_models, doctor_report, missing_inputs
from runner.workflow_format import ui_to_api

FACE_KEYPOINTS = "InstantIDPrecision_FaceKeypoints"
MODEL_LOADER = "InstantIDPrecision_ModelLoader"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


class RunnerError(RuntimeError):
    """A run that cannot start or did not finish; the message is meant for the terminal as is."""


def node_definitions() -> Dict[str, dict]:
    """Every registered node as ComfyUI's /object_info describes it (input spec, outputs)."""
    import nodes as comfy_nodes
    return {name: node_definition(cls) for name, cls in comfy_nodes.NODE_CLASS_MAPPINGS.items()}


def load_workflow(path: Path, definitions: Optional[dict] = None, say: Callable[[str], None] = print) -> dict:
    """Read a UI-format workflow; one of cubiq's InstantID workflows is converted to this pack's nodes."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise RunnerError(f"cannot read workflow {path}: {exc}") from exc
    if not isinstance(data, dict) or "nodes" not in data:
        raise RunnerError(f"{path} is not a UI-format workflow (no 'nodes'); save it from ComfyUI with 'Save'")
    if needs_migration(data):
        result = migrate_workflow(data, definitions if definitions is not None else node_definitions())
        say(migration_report_text(result))
        data = result.workflow
    return data


def is_api_prompt(data) -> bool:
    """An API-format prompt ({node id: {"class_type", "inputs"}}), as 'Export (API)' saves it."""
    return isinstance(data, dict) and bool(data) and all(
        isinstance(n, dict) and "class_type" in n and "inputs" in n for n in data.values())


def workflow_to_api(data: dict, definitions: dict, say: Callable[[str], None] = print, name: str = "workflow") -> dict:
    """API prompt of a workflow already read from JSON: API format as is, UI format converted (cubiq's nodes
    migrated first)."""
    if is_api_prompt(data):
        return {str(k): v for k, v in data.items()}
    if not isinstance(data, dict) or "nodes" not in data:
        raise RunnerError(f"{name} is neither a UI-format workflow (no 'nodes') nor an API-format prompt")
    if needs_migration(data):
        result = migrate_workflow(data, definitions)
        say(migration_report_text(result))
        data = result.workflow
    try:
        return ui_to_api(data, {k: d["input"] for k, d in definitions.items()})
    except ValueError as exc:
        raise RunnerError(f"{name}: {exc}") from exc


def _titled(api: dict, class_type: str, word: str) -> List[str]:
    return [nid for nid, n in api.items() if n["class_type"] == class_type
            and word in n.get("_meta", {}).get("title", "").lower()]


def _of_class(api: dict, *class_types: str) -> List[str]:
    return [nid for nid, n in api.items() if n["class_type"] in class_types]


def check_image(data: bytes, path) -> None:
    """Refuses bytes that are not an image PIL can read (header and structure only)."""
    import io

    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise RunnerError(f"{path} is not an image PIL can read ({exc}); pass a .png or .jpg photo") from exc


def staged_name(path, data: bytes) -> str:
    """The name a photo gets in ComfyUI's input folder: its content hash, so that the same photo is the same
    LoadImage input (and ComfyUI's cache stays warm) whatever it was called, here or on a server."""
    suffix = Path(path).suffix.lower()
    return f"instantid_{hashlib.sha1(data).hexdigest()[:12]}{suffix if suffix in IMAGE_SUFFIXES else '.png'}"


class Staging:
    """Photos copied into ComfyUI's input folder for LoadImage; removed again if the run fails."""

    def __init__(self):
        self.created: List[str] = []

    def add(self, path: str) -> str:
        import folder_paths

        src = Path(path)
        if not src.is_file():
            raise RunnerError(f"image not found: {path}")
        data = src.read_bytes()
        check_image(data, path)
        name = staged_name(path, data)
        target = os.path.join(folder_paths.get_input_directory(), name)
        if not os.path.exists(target):
            shutil.copyfile(src, target)
            self.created.append(target)
        return name

    def remove(self) -> None:
        for path in self.created:
            try:
                os.remove(path)
            except OSError:
                pass
        self.created.clear()


def apply_overrides(api: dict, staging: Staging, faces: Sequence[str] = (), pose: Optional[str] = None,
                    prompt: Optional[str] = None, negative: Optional[str] = None, checkpoint: Optional[str] = None,
                    controlnet: Optional[str] = None, adapter: Optional[str] = None, width: Optional[int] = None,
                    height: Optional[int] = None, steps: Optional[int] = None, seed: Optional[int] = None,
                    sets: Sequence[str] = ()) -> dict:
    """Edit the API prompt in place by the shipped workflows' conventions; returns it."""
    def put(ids, key, value):
        for nid in ids:
            api[nid]["inputs"][key] = value

    face_nodes = _titled(api, "LoadImage", "face") or (_of_class(api, "LoadImage")[:1] if faces else [])
    if faces:
        if len(faces) not in (1, len(face_nodes)):
            raise RunnerError(f"this workflow has {len(face_nodes)} face photo inputs; give --face once or "
                              f"{len(face_nodes)} times")
        staged = [staging.add(f) for f in faces]
        for i, nid in enumerate(face_nodes):
            api[nid]["inputs"]["image"] = staged[i if len(staged) > 1 else 0]
    if pose:
        put(_titled(api, "LoadImage", "pose"), "image", staging.add(pose))
    if prompt is not None:
        put(_titled(api, "CLIPTextEncode", "positive"), "text", prompt)
    if negative is not None:
        put(_titled(api, "CLIPTextEncode", "negative"), "text", negative)
    if checkpoint:
        put(_of_class(api, "CheckpointLoaderSimple"), "ckpt_name", checkpoint)
    if controlnet:
        put(_titled(api, "ControlNetLoader", "identitynet") or _of_class(api, "ControlNetLoader")[:1],
            "control_net_name", controlnet)
    if adapter:
        put(_of_class(api, MODEL_LOADER), "instantid_file", adapter)
    for key, value in (("width", width), ("height", height)):
        if value:
            put(_of_class(api, "EmptyLatentImage"), key, value)
            put(_of_class(api, FACE_KEYPOINTS), key, value)
    if steps:
        put(_of_class(api, "KSampler", "KSamplerAdvanced"), "steps", steps)
    if seed is not None:
        put(_of_class(api, "KSampler"), "seed", seed)
        put(_of_class(api, "KSamplerAdvanced"), "noise_seed", seed)
    for item in sets:
        _apply_set(api, item)
    return api


def _apply_set(api: dict, item: str) -> None:
    """--set 'Node title.input=value' (value parsed as JSON when it can be; NaN/Infinity are refused)."""
    target, eq, raw = item.partition("=")
    title, _, key = target.rpartition(".")
    if not title or not key or not eq:
        raise RunnerError(f"--set expects 'Node title.input=value', got {item!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if isinstance(value, float) and not math.isfinite(value) or raw.strip().lower() in ("nan", "inf", "-inf"):
        raise RunnerError(f"--set {item!r}: {raw} is not a finite number")
    ids = [nid for nid, n in api.items() if n.get("_meta", {}).get("title") == title or nid == title]
    if not ids:
        raise RunnerError(f"--set: no node titled {title!r}")
    for nid in ids:
        api[nid]["inputs"][key] = value


def preflight(api: dict, say: Callable[[str], None] = print) -> None:
    """Before anything loads: pick installed models where the workflow names absent ones (saying so), and stop
    with the doctor's report if a model or an input image is still missing."""
    for line in choose_models(api):
        say(line)
    missing = missing_inputs(api)
    if missing:
        lines = ["The workflow cannot run: required files are missing."] + [f"  - {m}" for m in missing]
        raise RunnerError("\n".join(lines) + "\n\n" + doctor_report(api).text())


def console_listener(api: dict, stream=None):
    """Prints a line per node as it starts (its title, else its display name), its progress, and what came
    from the cache."""
    import nodes as comfy_nodes

    def title(node_id) -> str:
        node = api.get(str(node_id), {})
        kind = node.get("class_type", "?")
        given = node.get("_meta", {}).get("title")
        return given if given and given != kind else comfy_nodes.NODE_DISPLAY_NAME_MAPPINGS.get(kind, kind)

    def listen(event: str, data: dict) -> None:
        out = stream or sys.stdout
        if event == "execution_cached" and data.get("nodes"):
            print(f"  cached: {', '.join(title(n) for n in data['nodes'])}", file=out, flush=True)
        elif event == "executing" and data.get("node") is not None:
            print(f"  running node {data['node']}: {title(data['node'])}", file=out, flush=True)
        elif event == "progress" and data.get("max"):
            end = "\n" if data["value"] >= data["max"] else ""
            print(f"\r    {title(data.get('node'))}: {data['value']}/{data['max']}", end=end, file=out, flush=True)

    return listen


def saved_images(outputs: dict) -> List[Path]:
    import folder_paths
    files = []
    for ui in outputs.values():
        for img in ui.get("images", []):
            base = folder_paths.get_directory_by_type(img.get("type", "output"))
            files.append(Path(base, img.get("subfolder", ""), img["filename"]))
    return files


def run_workflow(workflow: Path, out: Optional[Path] = None, verbose: bool = True, **overrides) -> List[Path]:
    """Convert, override, pre-check and run; copies the images to ``out`` (``out``, ``out-1``, …)."""
    say = print if verbose else (lambda _line: None)
    definitions = node_definitions()
    api = ui_to_api(load_workflow(workflow, definitions, say), {k: d["input"] for k, d in definitions.items()})
    staging = Staging()
    try:
        apply_overrides(api, staging, **overrides)
        preflight(api, say)
        runner = PromptRunner(listener=console_listener(api) if verbose else None)
        try:
            result = runner.run(api)
        except PromptError as exc:
            raise RunnerError(str(exc)) from exc
    except BaseException:
        staging.remove()
        raise
    images = saved_images(result.history.get("outputs", {}))
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
