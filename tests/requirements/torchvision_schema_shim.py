"""Test-venv only (scripts/test.sh installs it when needed; never shipped): lets the real torchvision wheel import
next to the CPU build of torch.

PyPI's Linux torchvision wheels are CUDA builds. Their C extension cannot load without CUDA torch, and
`import torchvision` then fails on two unguarded operator registrations (torchvision::nms / qnms). ComfyUI imports
torchvision while it starts (comfy/sd.py -> SD Cascade), although SDXL never calls it. Declaring those two schemas
(no kernels) just before torchvision is first imported lets it import with its C ops reported as unavailable;
calling one raises torch's own "no kernel" error instead of computing anything.
"""
import sys


class _DeclareSchemasFirst:
    def find_spec(self, name, path=None, target=None):
        if name == "torchvision":
            sys.meta_path.remove(self)
            import torch

            lib = torch.library.Library("torchvision", "FRAGMENT")
            for op in ("nms", "qnms"):
                try:
                    lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
                except RuntimeError:  # already defined by a working extension
                    pass
            _DeclareSchemasFirst.library = lib  # keep the registration alive
        return None


sys.meta_path.insert(0, _DeclareSchemasFirst())
