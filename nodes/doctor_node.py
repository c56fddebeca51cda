"""The model doctor as a node: the same report as `python <pack> doctor`, shown on the node."""
from __future__ import annotations

from pathlib import Path

import folder_paths

from ..instantid_core.files.doctor import run_doctor
from .folders import INSIGHTFACE, INSTANTID
from .node_base import InstantIDNode


def doctor_report(verify_sha256: bool = False):
    folders = lambda name: [Path(p) for p in folder_paths.get_folder_paths(name)]  # noqa: E731
    return run_doctor(folders(INSTANTID), folders("controlnet"), folders(INSIGHTFACE), folders("checkpoints"),
                      verify_sha256=verify_sha256)


class InstantIDModelDoctor(InstantIDNode):
    NODE_ID = "ModelDoctor"
    DISPLAY_NAME = "InstantID Model Doctor"
    DESCRIPTION = ("Checks InstantID's model files (adapter, IdentityNet, antelopev2, an SDXL checkpoint), "
                   "onnxruntime and torch, and says how to fix each problem.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"verify_sha256": ("BOOLEAN", {"default": False, "tooltip":
                "Also verify the antelopev2 checksums (reads about 430 MB)."})}}

    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("report",)
    OUTPUT_TOOLTIPS = ("Text: every check, each problem with its fix (also shown on the node).",)
    FUNCTION = "check"
    OUTPUT_NODE = True

    @classmethod
    def IS_CHANGED(cls, verify_sha256):
        return float("nan")  # files change outside ComfyUI: always look again

    def check(self, verify_sha256):
        text = doctor_report(verify_sha256).text()
        return {"ui": {"text": [text]}, "result": (text,)}
