"""A UI-format workflow (shipped, saved from ComfyUI, or one of cubiq's InstantID workflows) as an API prompt ready
to queue: read and converted (cubiq's nodes migrated), photos staged into ComfyUI's input folder, the command line's
or a batch row's values applied, and a preflight that picks installed models and stops before anything loads when a
file is missing. The `run` command (runner/run_command.py) and every batch executor (runner/batch/) build their
prompts here.

Inputs are set by the node titles the shipped workflows use ("Face photo", "Pose photo", "Target photo" (the photo
whose face is replaced or detailed), "Positive prompt",
"Negative prompt", "IdentityNet"), by node class for the loaders, and by --set for anything else. Models the
workflow names but the user does not have are replaced by the one installed file of that kind, when there is
exactly one (runner/model_choice.py); otherwise the run stops before anything loads, with the doctor's report.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from ..instantid_core.errors import CubiqMigrationError
from ..instantid_core.workflow_formats.cubiq_workflows import migrate_workflow, migration_report_text, needs_migration
from ..instantid_core.workflow_formats.widget_specs import node_definition
from .model_choice import choose_models, doctor_report, missing_inputs
from . import scoring
from .workflow_format import ui_to_api

FACE_KEYPOINTS = "InstantIDPrecision_FaceKeypoints"
MANUAL_KEYPOINTS = "InstantIDPrecision_ManualKeypoints"
MODEL_LOADER = "InstantIDPrecision_ModelLoader"
MAX_PHOTO_BYTES = 100 * 2**20   # a photo file larger than this is not a plain photo (or carries other data)
MAX_PHOTO_PIXELS = 64 * 10**6   # 64 megapixels: far above what face analysis uses (it works at 640)


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
    except (OSError, ValueError, RecursionError) as exc:
        raise RunnerError(f"cannot read workflow {path}: {exc}") from exc
    if not isinstance(data, dict) or "nodes" not in data:
        raise RunnerError(f"{path} is not a UI-format workflow (no 'nodes'); save it from ComfyUI with 'Save'")
    if needs_migration(data):
        try:
            result = migrate_workflow(data, definitions if definitions is not None else node_definitions())
        except CubiqMigrationError as exc:
            raise RunnerError(f"cannot convert {path}: {exc}") from exc
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


def staged_name(png: bytes) -> str:
    """The name a photo gets in ComfyUI's input folder: the hash of its decoded PNG, so that the same photo is the
    same LoadImage input (and ComfyUI's cache stays warm) whatever it was called, here, on a server or on Ray."""
    return f"instantid_{hashlib.sha1(png).hexdigest()[:12]}.png"


class Staging:
    """Photos decoded and saved as PNG into ComfyUI's input folder for LoadImage (the decoded image, never the
    file's bytes: whatever follows the image data in the file stays out); removed again when the run ends."""

    def __init__(self):
        self.created: List[str] = []

    def add(self, path: str) -> str:
        import folder_paths

        png = decoded_png(Path(path))
        name = staged_name(png)
        target = os.path.join(folder_paths.get_input_directory(), name)
        if not os.path.exists(target):
            self.created.append(target)
            with open(target, "wb") as f:
                f.write(png)
        return name

    def add_identity(self, path: str) -> str:
        """A saved identity (.safetensors), checked, then copied into the identities folder for Load Identity."""
        import folder_paths
        from ..instantid_core.errors import IdentityFileError
        from ..instantid_core.files.identity_file import load_identity

        src = Path(path)
        try:
            load_identity(src)
        except IdentityFileError as exc:
            raise RunnerError(f"--face {path}: {exc}") from exc
        digest = hashlib.sha1(src.read_bytes()).hexdigest()[:12]
        name = f"instantid_{digest}.safetensors"
        folders = folder_paths.get_folder_paths("instantid_identities")
        if folder_paths.get_full_path("instantid_identities", name) is None:
            os.makedirs(folders[0], exist_ok=True)
            target = os.path.join(folders[0], name)
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


def decoded_png(src: Path) -> bytes:
    """The photo's first frame, turned upright as its EXIF says (as LoadImage would), encoded as PNG."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not src.is_file():
        if src.exists():  # a folder, a FIFO, a device: reading it could block or mean nothing
            raise RunnerError(f"{src} is not a regular file (a folder, pipe or device); pass a .png or .jpg photo")
        raise RunnerError(f"image not found: {src}")
    size = src.stat().st_size
    if size > MAX_PHOTO_BYTES:
        raise RunnerError(f"{src} is {size / 2**20:.0f} MB, more than a photo ({MAX_PHOTO_BYTES >> 20} MB at most); "
                          f"save the photo again as .png or .jpg")
    try:
        with Image.open(src) as img:
            if img.width * img.height > MAX_PHOTO_PIXELS:
                raise RunnerError(f"{src} is {img.width}x{img.height} pixels; at most {MAX_PHOTO_PIXELS // 10**6} "
                                  f"megapixels are accepted: scale the photo down")
            img = ImageOps.exif_transpose(img)
            if img.mode not in ("RGB", "RGBA", "L", "LA", "P", "I", "I;16"):
                img = img.convert("RGB")
            out = io.BytesIO()
            img.save(out, format="PNG")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise RunnerError(f"{src} is not an image PIL can read ({exc}); pass a .png or .jpg photo") from exc
    return out.getvalue()


def apply_overrides(api: dict, staging: Staging, faces: Sequence[str] = (), pose: Optional[str] = None,
                    target: Optional[str] = None,
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
        staged = [(f, staging.add_identity(f) if f.lower().endswith(".safetensors") else staging.add(f))
                  for f in faces]
        for i, nid in enumerate(face_nodes):
            source, name = staged[i if len(staged) > 1 else 0]
            if source.lower().endswith(".safetensors"):
                try:
                    scoring.use_saved_identity(api, nid, name)
                except scoring.ScoreSetupError as exc:
                    raise RunnerError(f"--face {source}: {exc}") from exc
            else:
                api[nid]["inputs"]["image"] = name
    if pose:
        put(_titled(api, "LoadImage", "pose"), "image", staging.add(pose))
    if target:
        targets = _titled(api, "LoadImage", "target")
        if not targets:
            raise RunnerError("--target: this workflow has no 'Target photo' input (it is for the face swap and "
                              "group photo workflows)")
        put(targets, "image", staging.add(target))
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
            put(_of_class(api, FACE_KEYPOINTS, MANUAL_KEYPOINTS), key, value)
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
