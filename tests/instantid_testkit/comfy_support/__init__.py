"""Test support for running the pack against a real ComfyUI, in-process and CPU-only.

Nothing here imports ComfyUI at import time. Typical use (ComfyUI has its own top-level ``tests`` package, so
the fixtures live in the named package ``instantid_testkit``, not under ``tests.``)::

    from instantid_testkit import comfy_support as cs
    root = cs.comfy_path()                  # $COMFYUI_PATH or <ComfyUI>/custom_nodes/<pack>/..; None -> skip
    cs.bootstrap_comfy(root, argv=("--cpu",))
    cs.register_tiny_sdxl()                 # let ComfyUI's loaders recognise the tiny SDXL family
    dirs = cs.use_model_dir(tmp / "models"); cs.set_io_dirs(tmp)
    cs.write_tiny_checkpoint(f"{dirs['checkpoints']}/tiny.safetensors")
    cs.write_tiny_controlnet(f"{dirs['controlnet']}/tiny_cn.safetensors")
    cs.load_custom_node(pack_dir)           # the way ComfyUI imports custom_nodes/<pack>
    result = cs.run_prompt(api_prompt)      # ComfyUI's PromptExecutor, outputs cached between runs
"""
from .layers import list_cross_attention_layers
from .locate import bootstrap_comfy, comfy_path, is_comfy_root
from .in_process import (PromptError, PromptRunner, RunResult, ServerStub, load_custom_node, run_prompt,
                     set_io_dirs, use_model_dir)
from .tiny_controlnet import build_tiny_controlnet_module, tiny_controlnet_state_dict, write_tiny_controlnet
from .tiny_sdxl import (TINY_CONTEXT_DIM, TINY_SDXL_UNET_CONFIG, build_tiny_clip, build_tiny_sdxl_model,
                        build_tiny_vae, register_tiny_sdxl, write_tiny_checkpoint, write_tiny_unet)
from .weights import init_weights_

__all__ = [
    "comfy_path", "is_comfy_root", "bootstrap_comfy",
    "TINY_SDXL_UNET_CONFIG", "TINY_CONTEXT_DIM", "build_tiny_sdxl_model", "build_tiny_clip", "build_tiny_vae",
    "register_tiny_sdxl", "write_tiny_checkpoint", "write_tiny_unet",
    "build_tiny_controlnet_module", "tiny_controlnet_state_dict", "write_tiny_controlnet",
    "list_cross_attention_layers", "init_weights_",
    "ServerStub", "PromptRunner", "PromptError", "RunResult", "run_prompt", "load_custom_node",
    "use_model_dir", "set_io_dirs",
]
