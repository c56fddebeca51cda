"""Small bridges to ComfyUI's progress and interrupt conventions."""
from __future__ import annotations

import comfy.model_management as mm
import comfy.utils


def layer_progress(total: int):
    """A callback for per-item loops: advances ComfyUI's progress bar and honours Cancel."""
    bar = comfy.utils.ProgressBar(total)

    def step(done: int, _total: int) -> None:
        mm.throw_exception_if_processing_interrupted()
        bar.update_absolute(done, total)

    return step
