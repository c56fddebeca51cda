"""At pack import: the example photos into ComfyUI's input folder (only names not there yet; see
instantid_core/files/example_inputs.py)."""
from __future__ import annotations

import logging

import folder_paths

from ..instantid_core.files.example_inputs import copy_example_inputs


def install_example_inputs() -> None:
    copied = copy_example_inputs(folder_paths.get_input_directory())
    if copied:
        logging.info("[InstantID] example photos for the workflows copied into ComfyUI's input folder: %s",
                     ", ".join(copied))
