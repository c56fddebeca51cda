"""Small bridges to ComfyUI's progress, interrupt and error conventions."""
from __future__ import annotations

import comfy.model_management as mm
import comfy.utils


class NodeInputError(ValueError):
    """An error that names the node and the input the user should change."""

    def __init__(self, node: str, input_name: str, problem: str):
        super().__init__(f"{node}: check the '{input_name}' input — {problem}")


def layer_progress(total: int):
    """A callback for per-item loops: advances ComfyUI's progress bar and honours Cancel."""
    bar = comfy.utils.ProgressBar(total)

    def step(done: int, _total: int) -> None:
        mm.throw_exception_if_processing_interrupted()
        bar.update_absolute(done, total)

    return step
