"""Start ComfyUI's machinery in this process the way main.py does (arguments, model paths, nodes), without the
server. ComfyUI keeps its arguments and device state in module globals, so this happens once per process."""
from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

_BOOTED: Optional[dict] = None
# libraries ComfyUI imports while it starts that log one INFO line per plugin or module they set up (v0.33:
# alembic through ComfyUI's database, PyOpenGL through its GLSL nodes)
QUIET_LIBRARIES = ("alembic", "OpenGL")


def boot_comfy(comfy_root, comfy_args: Sequence[str] = ("--cpu",), custom_nodes: bool = False) -> dict:
    """Make ComfyUI importable, parse ``comfy_args`` as its command line, load extra_model_paths.yaml and the
    built-in extra nodes (and the user's custom nodes with ``custom_nodes``). Returns {"path", "args"}; a second
    call returns the first result."""
    global _BOOTED
    if _BOOTED is not None:
        return _BOOTED
    for library in QUIET_LIBRARIES:  # their start-up chatter says nothing about the run (warnings still show)
        logging.getLogger(library).setLevel(logging.WARNING)
    root = str(Path(comfy_root).resolve())
    if root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)
    if "comfy.cli_args" in sys.modules:
        from comfy.cli_args import args  # parsed by someone else already: keep it
    else:
        import comfy.options
        comfy.options.enable_args_parsing()
        saved, sys.argv = sys.argv, [os.path.join(root, "main.py"), *comfy_args]
        try:
            from comfy.cli_args import args
        finally:
            sys.argv = saved
    import folder_paths
    # ComfyUI's root package `utils` must be imported before `nodes`: nodes.py puts <ComfyUI>/comfy first on
    # the import path, after which a bare `import utils` would find comfy/utils.py (main.py has the same order)
    import utils.extra_config
    main_yaml = Path(root) / "extra_model_paths.yaml"
    configs = ([str(main_yaml)] if main_yaml.is_file() else []) + \
        [c for group in (getattr(args, "extra_model_paths_config", None) or []) for c in group]
    for cfg in configs:
        utils.extra_config.load_extra_path_config(cfg)
    for attr, setter in (("output_directory", folder_paths.set_output_directory),
                         ("input_directory", folder_paths.set_input_directory)):
        if getattr(args, attr, None):
            setter(os.path.abspath(getattr(args, attr)))
    import comfy.model_management  # noqa: F401  (device state is decided here, from args)
    import execution  # noqa: F401
    import nodes
    # what built-in nodes expect of the web server we do not start (v0.33 registers node replacements into it
    # at start-up, and logs "IMPORT FAILED … pip install -r requirements.txt" without it)
    from .core_execution import install_headless_server
    install_headless_server()
    if custom_nodes:  # ComfyUI names the pack after the path it finds it at: the modules already here stay the ones
        from .pack_import import follow_comfyui_names
        follow_comfyui_names(folder_paths.get_folder_paths("custom_nodes"))
    asyncio.run(nodes.init_extra_nodes(init_custom_nodes=custom_nodes, init_api_nodes=False))
    _BOOTED = {"path": root, "args": args}
    return _BOOTED


def load_custom_node(path, ignore_existing: bool = False) -> bool:
    """Load a custom node pack (a folder with __init__.py, or a .py file) the way ComfyUI does at start-up;
    its NODE_CLASS_MAPPINGS join ComfyUI's. ComfyUI logs import errors instead of raising: returns success."""
    import nodes
    ignore = set(nodes.NODE_CLASS_MAPPINGS) if ignore_existing else set()
    return asyncio.run(nodes.load_custom_node(os.path.abspath(path), ignore=ignore, module_parent="custom_nodes"))


def loaded_pack(pack_dir):
    """The module ComfyUI made of this pack (from custom_nodes, or loaded here if it is installed elsewhere)."""
    init = Path(pack_dir).resolve() / "__init__.py"

    def find():
        # the package ComfyUI ran (the command line registers it earlier without running it: runner/pack_import.py)
        return next((m for m in list(sys.modules.values()) if Path(getattr(m, "__file__", "") or "").resolve() == init
                     and "NODE_CLASS_MAPPINGS" in vars(m)), None)

    module = find()
    if module is None:
        if not load_custom_node(pack_dir):
            raise RuntimeError("ComfyUI could not import this pack; see the messages above")
        module = find()
    return importlib.import_module(module.__name__)
