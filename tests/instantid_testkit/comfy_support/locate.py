"""Find a ComfyUI checkout and boot it in-process: the runner's own discovery and boot (runner/), so the tests
find and start ComfyUI exactly as `python <pack> run` does. Nothing here imports ComfyUI at import time."""
from __future__ import annotations

from pathlib import Path

from runner.boot import boot_comfy
from runner.comfy_location import find_comfyui, is_comfy_root  # noqa: F401 (re-exported)

__all__ = ["comfy_path", "is_comfy_root", "bootstrap_comfy"]


def comfy_path() -> str | None:
    """$COMFYUI_PATH, else the ComfyUI whose custom_nodes holds this checkout, else None."""
    found = find_comfyui(Path(__file__))
    return None if found is None else str(found)


def bootstrap_comfy(path: str | None = None, argv=("--cpu",)):
    """Boot ComfyUI once per process with ``argv`` as its command line (the first call wins: ComfyUI keeps its
    arguments and device state in module globals). Returns {"path", "args"}."""
    path = path or comfy_path()
    if path is None:
        raise RuntimeError("ComfyUI not found: set COMFYUI_PATH or put the pack under <ComfyUI>/custom_nodes/")
    return boot_comfy(path, argv, custom_nodes=False)
