"""Find a ComfyUI checkout and make it importable in-process.

Nothing here imports ComfyUI at module import time.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from instantid_core.comfy_location import find_comfyui, is_comfy_root  # noqa: F401 (re-exported)

__all__ = ["comfy_path", "is_comfy_root", "bootstrap_comfy"]


def comfy_path() -> str | None:
    """Path of ComfyUI: $COMFYUI_PATH, else the ComfyUI whose custom_nodes holds this checkout, else None
    (the pack's own discovery, so tests find ComfyUI exactly where the command line does)."""
    found = find_comfyui(Path(__file__))
    return None if found is None else str(found)


_BOOTSTRAPPED: dict | None = None


def bootstrap_comfy(path: str | None = None, argv=("--cpu",), extra_nodes: bool = True):
    """Make ComfyUI importable and parse ``argv`` as its command line, exactly once per process.

    * puts ``path`` (default: :func:`comfy_path`) first on ``sys.path``;
    * sets ``sys.argv`` to ``[prog, *argv]`` only while ``comfy.cli_args`` is imported (so pytest's own
      arguments are not parsed by ComfyUI) after ``comfy.options.enable_args_parsing()``;
    * imports ``folder_paths``, ``utils.extra_config`` (before ``nodes``, as main.py does), ``nodes``, ``execution``;
    * with ``extra_nodes``: runs ``nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False)``
      so the comfy_extras nodes (V1 and V3) are registered too.

    Returns a dict with the path and the parsed args. A second call returns the first result
    (ComfyUI's args and device state are module globals: they cannot be re-parsed in one process).
    """
    global _BOOTSTRAPPED
    if _BOOTSTRAPPED is not None:
        return _BOOTSTRAPPED
    path = path or comfy_path()
    if path is None:
        raise RuntimeError("ComfyUI not found: set COMFYUI_PATH or put the pack under <ComfyUI>/custom_nodes/")
    path = str(Path(path).resolve())
    if path in sys.path:
        sys.path.remove(path)
    sys.path.insert(0, path)
    if "comfy.cli_args" in sys.modules:
        from comfy.cli_args import args  # already parsed by someone else: keep it
    else:
        import comfy.options
        comfy.options.enable_args_parsing()
        saved = sys.argv
        sys.argv = [saved[0] if saved else "comfyui", *argv]
        try:
            from comfy.cli_args import args
        finally:
            sys.argv = saved
    import folder_paths  # noqa: F401
    # ComfyUI's root package `utils` must be imported before `nodes`: nodes.py puts <ComfyUI>/comfy first on
    # sys.path, after which a bare `import utils` finds comfy/utils.py (main.py imports utils.extra_config early).
    import utils.extra_config  # noqa: F401
    import comfy.model_management  # noqa: F401  (device state is decided here, from args)
    import nodes
    import execution  # noqa: F401
    if extra_nodes and not getattr(nodes, "_comfy_support_extra_nodes", False):
        import asyncio
        asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
        nodes._comfy_support_extra_nodes = True
    _BOOTSTRAPPED = {"path": path, "args": args}
    return _BOOTSTRAPPED
