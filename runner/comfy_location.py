"""Finding the ComfyUI this pack belongs to, without importing it."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional


def is_comfy_root(path) -> bool:
    p = Path(path)
    return (p / "main.py").is_file() and (p / "comfy").is_dir() and (p / "folder_paths.py").is_file()


def find_comfyui(start: Path, explicit: Optional[str] = None) -> Optional[Path]:
    """``explicit`` (--comfyui), else $COMFYUI_PATH, else the ComfyUI whose custom_nodes holds ``start``.

    A symlinked install is found too: the unresolved path and the shell's logical working directory ($PWD,
    which tools such as pytest do not resolve away) are searched as well as the resolved path."""
    for candidate in (explicit, os.environ.get("COMFYUI_PATH")):
        if candidate:
            path = Path(candidate).expanduser()
            return path.resolve() if is_comfy_root(path) else None
    bases = [Path(os.path.abspath(start)), Path(start).resolve()]
    if os.environ.get("PWD"):
        bases.append(Path(os.environ["PWD"]) / "_")
    for base in bases:
        for parent in base.parents:
            if is_comfy_root(parent):
                return parent
    return None
