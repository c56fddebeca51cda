"""Start ComfyUI in this process the way `python main.py <flags>` sets up its devices, without the server.

main.py does three device things before it serves: it imports ``cuda_malloc`` (which picks the cudaMallocAsync
allocator on CUDA 13 builds of torch), starts comfy-aimdo when dynamic VRAM is on for these flags, and, once
``comfy.model_management`` has chosen the device, hands the GPUs to aimdo and makes ``ModelPatcherDynamic`` the
patcher every loader builds. The pack's own boot (runner/boot.py) does none of this, so a check booted through it
would never see dynamic VRAM; here the same steps run through ComfyUI's own modules, in main.py's order.
ComfyUI keeps all of it in module globals: one flag set per process.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

PACK = Path(__file__).resolve().parents[2]


def _start_aimdo(args) -> bool:
    """Before torch touches the GPU, as main.py: True when this ComfyUI would use dynamic VRAM for these flags."""
    try:
        from comfy.cli_args import enables_dynamic_vram
    except ImportError:  # ComfyUI before dynamic VRAM (0.3.x)
        return False
    if not enables_dynamic_vram():
        return False
    import comfy_aimdo.control
    headroom = None if args.reserve_vram is None else int(args.reserve_vram * 1024 ** 3)
    try:  # the call's keywords grew over aimdo releases; the pinned one takes both
        comfy_aimdo.control.init(simple_vram_headroom=headroom, nvml_pressure=not args.disable_nvml_pressure)
    except TypeError:
        comfy_aimdo.control.init()
    return True


def _enable_dynamic_vram(args, aimdo_started: bool) -> bool:
    """After the device is chosen, as main.py: give the GPUs to aimdo and switch loaders to ModelPatcherDynamic."""
    if not aimdo_started and not getattr(args, "enable_dynamic_vram", False):
        return False
    import comfy.memory_management
    import comfy.model_management as mm
    import comfy.model_patcher
    import comfy_aimdo.control
    supported = mm.is_nvidia() or (mm.is_amd() and getattr(mm, "rocm_version", (0, 0)) >= (7, 14))
    if not (args.enable_dynamic_vram or supported) or mm.torch_version_numeric < (2, 8):
        return False
    devices = mm.get_all_torch_devices()
    try:
        ready = comfy_aimdo.control.init_devices((d.index, int(args.vram_headroom * 1024 ** 3)) for d in devices)
    except TypeError:
        ready = comfy_aimdo.control.init_devices(d.index for d in devices)
    if ready:
        comfy.model_patcher.CoreModelPatcher = comfy.model_patcher.ModelPatcherDynamic
        comfy.memory_management.aimdo_enabled = True
    return bool(ready)


def boot(comfy_root: str, flags) -> dict:
    """Parse ``flags`` as ComfyUI's command line and set up its devices; returns the facts the JSON reports."""
    root = str(Path(comfy_root).resolve())
    sys.path.insert(0, root)
    import testkit
    testkit.load()  # the pack, as ComfyUI names it (runner/pack_import.py)
    import comfy.options
    comfy.options.enable_args_parsing()
    saved, sys.argv = sys.argv, [os.path.join(root, "main.py"), *flags]
    try:
        from comfy.cli_args import args
    finally:
        sys.argv = saved
    if not args.cpu:
        import cuda_malloc  # noqa: F401  (main.py's allocator choice, made before torch starts CUDA)
    aimdo_started = _start_aimdo(args)
    import comfy.model_management as mm
    dynamic = _enable_dynamic_vram(args, aimdo_started)
    import comfy.utils
    import nodes  # noqa: F401  (common_ksampler; also what the pack's nodes expect to find)
    comfy.utils.PROGRESS_BAR_ENABLED = False
    logging.getLogger().setLevel(logging.WARNING)
    import torch
    import comfyui_version
    device = mm.get_torch_device()
    return {"comfyui": comfyui_version.__version__, "torch": torch.__version__, "torch_device": str(device),
            "device_name": mm.get_torch_device_name(device), "offload_device": str(mm.unet_offload_device()),
            "vram_state": mm.vram_state.name, "dynamic_vram": dynamic,
            "total_memory_mb": round(mm.get_total_memory(device) / 2**20),
            "allocator": os.environ.get("PYTORCH_CUDA_ALLOC_CONF", "")}


def load_pack():
    """The pack as ComfyUI imports a custom node (relative imports inside it need that); returns a function that
    gives one of its modules by dotted name, e.g. pack("nodes.apply_nodes")."""
    import importlib

    from runner.boot import loaded_pack
    module = loaded_pack(PACK)
    return lambda name: importlib.import_module(f"{module.__name__}.{name}")
