"""Finding the ComfyUI this pack belongs to, without importing it."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional


def is_comfy_root(path) -> bool:
    p = Path(path)
    return (p / "main.py").is_file() and (p / "comfy").is_dir() and (p / "folder_paths.py").is_file()


def find_comfyui(start: Path, explicit: Optional[str] = None) -> Optional[Path]:
    """``explicit`` (--comfyui), else $COMFYUI_PATH, else the ComfyUI whose custom_nodes holds ``start``
    (checked on the resolved and on the unresolved path, so a symlinked install is found too)."""
    for candidate in (explicit, os.environ.get("COMFYUI_PATH")):
        if candidate:
            path = Path(candidate).expanduser()
            return path.resolve() if is_comfy_root(path) else None
    for base in (Path(os.path.abspath(start)), Path(start).resolve()):
        for parent in base.parents:
            if is_comfy_root(parent):
                return parent
    return None
