"""Run API-format prompts in-process with ComfyUI's own executor: the runner's PromptRunner (runner/executor.py),
plus the test-only set-up of model and I/O folders."""
from __future__ import annotations

import os

from runner.boot import load_custom_node
from runner.in_process_comfy import MessageLog as ServerStub
from runner.in_process_comfy import PromptError, PromptRunner, RunResult

__all__ = ["ServerStub", "PromptRunner", "PromptError", "RunResult", "run_prompt", "load_custom_node",
           "use_model_dir", "set_io_dirs"]

_DEFAULT_RUNNER: PromptRunner | None = None


def run_prompt(api_prompt: dict, runner: PromptRunner | None = None, raise_on_error: bool = True) -> RunResult:
    """Validate and execute an API-format prompt with a process-wide :class:`PromptRunner` (so repeated
    calls share ComfyUI's output cache, as queued prompts do in the server)."""
    global _DEFAULT_RUNNER
    if runner is None:
        if _DEFAULT_RUNNER is None:
            _DEFAULT_RUNNER = PromptRunner()
        runner = _DEFAULT_RUNNER
    return runner.run(api_prompt, raise_on_error=raise_on_error)


def use_model_dir(root: str, folders=("checkpoints", "controlnet", "diffusion_models", "vae", "text_encoders")) -> dict:
    """Register ``<root>/<folder>`` as the first search path of each model folder (creating the dirs),
    exactly as an extra_model_paths.yaml entry with ``is_default: true`` does. Returns {folder: path}."""
    import folder_paths

    out = {}
    for name in folders:
        p = os.path.join(root, name)
        os.makedirs(p, exist_ok=True)
        folder_paths.add_model_folder_path(name, p, is_default=True)
        out[name] = p
    folder_paths.filename_list_cache.clear()
    return out


def set_io_dirs(root: str) -> dict:
    """Point ComfyUI's output/temp/input directories at ``<root>/{output,temp,input}``."""
    import folder_paths

    d = {k: os.path.join(root, k) for k in ("output", "temp", "input")}
    for p in d.values():
        os.makedirs(p, exist_ok=True)
    folder_paths.set_output_directory(d["output"])
    folder_paths.set_temp_directory(d["temp"])
    folder_paths.set_input_directory(d["input"])
    return d
